//! Upload storage, below the store: the storage port and its local-directory adapter, safe
//! relative paths, file kinds and served media types, image checks and thumbnails. The upload
//! rules (naming, ownership, records, expiry) are `domain::files`.
//!
//! Layout under the root (URL path == file path): `u/<userId % 10000>/<userId>/<yyyyMM>/` with
//! images in `o/` (original) and `t/` (100 px thumbnail), other files directly in the month
//! directory; user avatars `avatar/o|t/<userId % 10000>/<userId>.jpg`; room avatars
//! `avatar/o|t/<|hash(jid)| % 10000>/<|hash(jid)| % 20000>/<jid>.jpg`.

pub mod local;
pub mod path;
pub mod storage;
pub mod thumb;

pub use local::LocalDir;
pub use path::RelPath;
pub use storage::Storage;

/// What a file is, by extension (the reference's `imageFilter`, `audioFilter`, `videoFilter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Image,
    Audio,
    Video,
    Other,
}

impl Kind {
    /// The kind of a lower-case extension.
    pub fn of(ext: Option<&str>) -> Kind {
        match ext {
            Some("gif" | "jpg" | "jpeg" | "bmp" | "png" | "webp") => Kind::Image,
            Some("mp4" | "flv" | "wmv") => Kind::Video,
            // "acc" is the reference's (mis)spelling of aac; both are accepted.
            Some("acc" | "aac" | "amr" | "mp3") => Kind::Audio,
            _ => Kind::Other,
        }
    }

    /// The response array this kind is listed in.
    pub fn array(self) -> &'static str {
        match self {
            Kind::Image => "images",
            Kind::Audio => "audios",
            Kind::Video => "videos",
            Kind::Other => "others",
        }
    }
}

/// The media type a file is served with: only the listed image, audio and video extensions get
/// their own; None means "serve as an opaque download".
pub fn media_type(ext: Option<&str>) -> Option<&'static str> {
    Some(match ext? {
        "gif" => "image/gif",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "bmp" => "image/bmp",
        "webp" => "image/webp",
        "mp4" => "video/mp4",
        "flv" => "video/x-flv",
        "wmv" => "video/x-ms-wmv",
        "mp3" => "audio/mpeg",
        "amr" => "audio/amr",
        "acc" | "aac" => "audio/aac",
        _ => return None,
    })
}

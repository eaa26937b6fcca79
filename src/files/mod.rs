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
pub mod thumb;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

pub use local::LocalDir;
pub use path::RelPath;

/// Where stored files live: a local directory today, an object store later.
#[async_trait]
pub trait Storage: Send + Sync {
    /// A fresh local path where an incoming upload is written before it is placed.
    async fn temp_file(&self) -> io::Result<PathBuf>;
    /// Places a finished temporary file at `rel` (parents created). Without `overwrite`, an
    /// existing `rel` fails with `AlreadyExists` and the temporary file stays.
    async fn put(&self, temp: &Path, rel: &RelPath, overwrite: bool) -> io::Result<()>;
    /// Deletes `rel`; false when it did not exist.
    async fn delete(&self, rel: &RelPath) -> io::Result<bool>;
    /// Copies `from` to a new `to` (never overwriting).
    async fn copy(&self, from: &RelPath, to: &RelPath) -> io::Result<()>;
    /// Whether `rel` is a stored file.
    async fn exists(&self, rel: &RelPath) -> bool;
    /// The `path` recorded in `resources` for `rel` (the reference's absolute path).
    fn record_path(&self, rel: &RelPath) -> String;
    /// The prefix `record_path` puts before the relative path, if it is a plain prefix.
    fn root_prefix(&self) -> Option<String>;
    /// The local file to serve for `rel` (inside the root after symlinks), if any.
    async fn local_file(&self, rel: &RelPath) -> Option<PathBuf>;
    /// Removes temporary files older than `max_age` (left by a crash mid-upload); returns how
    /// many.
    async fn sweep_temp(&self, max_age: Duration) -> io::Result<usize>;
}

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

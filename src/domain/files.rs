//! Uploads (spec/reference-server.md 7.2–7.5): the reference's naming and directory layout,
//! upload records, copy and delete with their ownership rules, the `validTime` expiry task, and
//! the hooks the message and room code call when a recalled message or a dissolved room takes
//! its files with it. Bytes live behind `crate::files::Storage`.
//!
//! Layout under the root (URL path == file path): `u/<userId % 10000>/<userId>/<yyyyMM>/` with
//! images in `o/` (original) and `t/` (100 px thumbnail), other files directly in the month
//! directory; user avatars `avatar/o|t/<userId % 10000>/<userId>.jpg`; room avatars
//! `avatar/o|t/<|hash(jid)| % 10000>/<|hash(jid)| % 20000>/<jid>.jpg`.

use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::quota::Quota;
use super::util::{now_secs, uuid32};
use super::{Code, Error, Result};
use crate::config::Config;
use crate::documents::{Resource, RESOURCE_LOCAL};
use crate::files::thumb::{ImageLimits, ImagePool};
use crate::files::{path, thumb, Kind, LocalDir, RelPath, Storage};
use crate::store::Store;

/// The reference's message for an image that does not decode.
pub const BAD_IMAGE: &str = "文件异常，请上传正确有效格式的文件";
/// The answer to an image larger than `files.max_image_pixels`.
pub const IMAGE_TOO_LARGE: &str = "图片尺寸超过限制 (image has too many pixels)";
/// Records handled per expiry round trip.
const EXPIRY_BATCH: u32 = 500;

/// Who asks for a copy or a deletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A user: only their own uploads.
    User(i32),
    /// The server itself or the admin console: anything in the tree.
    System,
}

/// An upload read from the request into a temporary file.
#[derive(Debug)]
pub struct Incoming {
    /// The client's file name (path components already removed).
    pub original_name: String,
    pub temp: PathBuf,
    pub size: u64,
    /// Set when the part was refused while streaming (too large); no temporary file then.
    pub refused: Option<String>,
}

/// One file's outcome, as listed in the `UploadServlet` response.
#[derive(Debug, Clone)]
pub struct UploadItem {
    pub kind: Kind,
    pub original_name: String,
    /// `(oUrl, tUrl)` on success, the message on failure.
    pub outcome: std::result::Result<(String, Option<String>), String>,
}

/// The file service of one configuration: storage, records and limits.
#[derive(Clone)]
pub struct Files {
    storage: Arc<dyn Storage>,
    /// Every image decode of the process (one pool per `Ctx`).
    images: Arc<ImagePool>,
    /// Anonymous upload requests per address.
    anonymous: Arc<Quota<IpAddr>>,
    store: Store,
    /// `files.public_url` without its trailing slash (empty: per request).
    public_url: String,
}

/// The name a file is stored under (reference rule): a name whose part before the first `.` is
/// exactly 32 characters is kept, other names become `<uuid>.<ext>`; names without a `.` are
/// kept. Anything that is not a plain safe name becomes a fresh uuid (with its extension).
pub fn stored_name(original: &str) -> String {
    let ext = path::extension_of(original);
    let fresh = || match &ext {
        Some(e) => format!("{}.{e}", uuid32()),
        None => uuid32(),
    };
    let plain = |s: &str| {
        !s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-')
            && path::safe_segment(s)
    };
    match original.split_once('.') {
        Some((stem, _)) if stem.len() == 32 && plain(original) && ext.is_some() => {
            original.to_string()
        }
        Some(_) => fresh(),
        None if plain(original) => original.to_string(),
        None => fresh(),
    }
}

/// The client's file name without any directory part (browsers on Windows send full paths).
pub fn base_name(name: &str) -> String {
    name.rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

/// Java's `String.hashCode` (room avatar directories are derived from it).
pub fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

/// `endTime` of a record: `createTime + validTime` days, or -1 (permanent) for 0, negative or
/// unparsable values.
pub fn end_time(create: i64, valid_days: f64) -> i64 {
    if valid_days.is_finite() && valid_days > 0.0 {
        create + ((valid_days * 86_400.0).ceil() as i64).max(1)
    } else {
        -1
    }
}

/// The answer to an image that was not decoded.
fn image_refusal(e: thumb::ImageError) -> Error {
    match e {
        thumb::ImageError::Undecodable(_) => Error::failure(BAD_IMAGE),
        thumb::ImageError::TooLarge(_) => Error::failure(IMAGE_TOO_LARGE),
        thumb::ImageError::Busy => Error::Busy,
        thumb::ImageError::Io(m) => Error::Internal(m),
    }
}

fn io_error(e: io::Error) -> Error {
    Error::Internal(format!("file storage: {e}"))
}

impl Files {
    /// The service of `config` over `store`: the local directory `files.root`.
    pub fn new(config: &Config, store: &Store) -> Files {
        let root = config.files.root_dir(&config.data_dir);
        let f = &config.files;
        let images = ImagePool::new(
            f.image_decoders,
            f.image_queue,
            Duration::from_millis(f.image_wait_ms),
            ImageLimits {
                max_pixels: f.max_image_pixels,
                avatar_side: f.avatar_max_side,
            },
        );
        let mut files = Files::with_storage(
            Arc::new(LocalDir::new(root)),
            Arc::new(images),
            store,
            &f.public_url,
        );
        files.anonymous = Arc::new(Quota::per_minute(f.anonymous_uploads_per_minute));
        files
    }

    /// Takes one anonymous upload request of `source` from its quota; false when used up.
    pub fn admit_anonymous(&self, source: Option<IpAddr>) -> bool {
        source.is_none_or(|ip| self.anonymous.take(ip))
    }

    /// The service over any storage adapter.
    pub fn with_storage(
        storage: Arc<dyn Storage>,
        images: Arc<ImagePool>,
        store: &Store,
        public_url: &str,
    ) -> Files {
        Files {
            storage,
            images,
            anonymous: Arc::new(Quota::per_minute(0)),
            store: store.clone(),
            public_url: public_url.trim_end_matches('/').to_string(),
        }
    }

    /// The storage adapter.
    pub fn storage(&self) -> &Arc<dyn Storage> {
        &self.storage
    }

    /// The URL prefix: the configured one, else `request_base` (`scheme://host` of the request).
    pub fn base_url(&self, request_base: &str) -> String {
        if self.public_url.is_empty() {
            request_base.trim_end_matches('/').to_string()
        } else {
            self.public_url.clone()
        }
    }

    fn url(base: &str, rel: &RelPath) -> String {
        format!("{base}/{rel}")
    }

    /// The stored path a URL, URL path or reference absolute path names, if it is in our tree:
    /// scheme and host are dropped, then the configured URL's own path, the root directory or
    /// the reference's `/resources` prefix.
    pub fn rel_from_url(&self, url: &str) -> Option<RelPath> {
        let url = url.trim();
        let mut p = match url.split_once("://") {
            Some((_, rest)) => &rest[rest.find('/')?..],
            None => url,
        };
        if let Some(prefix) = self.public_url.split_once("://").and_then(|(_, r)| {
            r.find('/')
                .map(|i| r[i..].trim_end_matches('/').to_string())
        }) {
            if !prefix.is_empty() {
                if let Some(rest) = p.strip_prefix(prefix.as_str()) {
                    p = rest;
                }
            }
        }
        if let Some(root) = self.storage.root_prefix() {
            let root = root.trim_end_matches('/');
            if !root.is_empty() {
                if let Some(rest) = p.strip_prefix(root).filter(|r| r.starts_with('/')) {
                    p = rest;
                }
            }
        }
        if let Some(rest) = p.strip_prefix("/resources/") {
            p = rest;
        }
        RelPath::from_url_path(p)
    }

    /// Stores one upload of `user_id` (the reference's `UploadServlet` rule for one part) and
    /// records it; the temporary file is consumed either way.
    pub async fn store_upload(
        &self,
        inc: Incoming,
        user_id: i64,
        valid_days: f64,
        base: &str,
    ) -> UploadItem {
        let ext = path::extension_of(&inc.original_name);
        let kind = Kind::of(ext.as_deref());
        let item = |outcome| UploadItem {
            kind,
            original_name: inc.original_name.clone(),
            outcome,
        };
        if let Some(reason) = &inc.refused {
            return item(Err(reason.clone()));
        }
        let r = self
            .place_upload(
                &inc.temp,
                &inc.original_name,
                kind,
                user_id,
                valid_days,
                base,
            )
            .await;
        // Whatever happened, nothing of this upload stays in the temporary directory.
        let _ = tokio::fs::remove_file(&inc.temp).await;
        item(r)
    }

    async fn place_upload(
        &self,
        temp: &Path,
        original: &str,
        kind: Kind,
        user_id: i64,
        valid_days: f64,
        base: &str,
    ) -> std::result::Result<(String, Option<String>), String> {
        let failed = |e: &dyn std::fmt::Display| e.to_string();
        let month = chrono::Utc::now().format("%Y%m").to_string();
        let dir = [
            "u".to_string(),
            (user_id % 10_000).to_string(),
            user_id.to_string(),
            month,
        ];
        let rel_for = |name: &str| {
            let mut segs = dir.to_vec();
            if kind == Kind::Image {
                segs.push("o".into());
            }
            segs.push(name.to_string());
            RelPath::from_segments(&segs)
        };
        // Images are checked (and their thumbnail made) before anything is placed.
        let thumb_temp = if kind == Kind::Image {
            let t = self.storage.temp_file().await.map_err(|e| failed(&e))?;
            let (src, dst) = (temp.to_path_buf(), t.clone());
            let made = self
                .images
                .run(move |limits| thumb::make_thumbnail(&src, &dst, limits))
                .await;
            if let Err(e) = made {
                let _ = tokio::fs::remove_file(&t).await;
                return Err(image_refusal(e).to_string());
            }
            Some(t)
        } else {
            None
        };
        let mut rel = rel_for(&stored_name(original)).ok_or("invalid name")?;
        match self.storage.put(temp, &rel, false).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                // A kept name already taken: never overwrite someone's file, rename instead.
                let ext = rel.extension();
                let fresh = match ext {
                    Some(e) => format!("{}.{e}", uuid32()),
                    None => uuid32(),
                };
                rel = rel_for(&fresh).ok_or("invalid name")?;
                self.storage
                    .put(temp, &rel, false)
                    .await
                    .map_err(|e| failed(&e))?;
            }
            Err(e) => {
                if let Some(t) = &thumb_temp {
                    let _ = tokio::fs::remove_file(t).await;
                }
                return Err(failed(&e));
            }
        }
        let create = now_secs();
        let end = end_time(create, valid_days);
        let owner = i32::try_from(user_id).ok();
        let o_url = Files::url(base, &rel);
        let mut t_url = None;
        if let Some(t) = thumb_temp {
            let trel = rel.thumbnail().ok_or("invalid name")?;
            if let Err(e) = self.storage.put(&t, &trel, true).await {
                let _ = tokio::fs::remove_file(&t).await;
                let _ = self.storage.delete(&rel).await;
                return Err(failed(&e));
            }
            let url = Files::url(base, &trel);
            self.record(&trel, &url, create, end, owner).await;
            t_url = Some(url);
        }
        self.record(&rel, &o_url, create, end, owner).await;
        Ok((o_url, t_url))
    }

    /// Writes the `resources` record of a placed file. A failed write is logged: the file is
    /// served either way, it only escapes expiry.
    async fn record(&self, rel: &RelPath, url: &str, create: i64, end: i64, owner: Option<i32>) {
        let r = Resource {
            id: None,
            create_time: create,
            end_time: end,
            url: url.to_string(),
            path: self.storage.record_path(rel),
            kind: RESOURCE_LOCAL,
            status: 1,
            user_id: owner,
        };
        if let Err(e) = self.store.files.insert_resource(&r).await {
            tracing::warn!(path = %rel, error = %e, "upload record not written");
        }
    }

    /// Stores a user's avatar (`UploadAvatarServlet`): re-encoded as JPEG at
    /// `avatar/o/<userId % 10000>/<userId>.jpg` with its thumbnail in `avatar/t/…`, replacing
    /// the previous one. Returns `(oUrl, tUrl)`.
    pub async fn store_avatar(
        &self,
        temp: &Path,
        user_id: i64,
        base: &str,
    ) -> Result<(String, String)> {
        let dir = [(user_id % 10_000).to_string()];
        self.place_avatar(temp, &dir, &format!("{user_id}.jpg"), base)
            .await
    }

    /// Stores a room's avatar (`GroupAvatarServlet`) under
    /// `avatar/o|t/<|hash(jid)| % 10000>/<|hash(jid)| % 20000>/<jid>.jpg`.
    pub async fn store_group_avatar(
        &self,
        temp: &Path,
        jid: &str,
        base: &str,
    ) -> Result<(String, String)> {
        let h = i64::from(java_hash(jid)).abs();
        let dir = [(h % 10_000).to_string(), (h % 20_000).to_string()];
        self.place_avatar(temp, &dir, &format!("{jid}.jpg"), base)
            .await
    }

    async fn place_avatar(
        &self,
        temp: &Path,
        dir: &[String],
        name: &str,
        base: &str,
    ) -> Result<(String, String)> {
        let build = |side: &str| {
            let mut segs = vec!["avatar".to_string(), side.to_string()];
            segs.extend(dir.iter().cloned());
            segs.push(name.to_string());
            RelPath::from_segments(&segs).ok_or_else(|| Error::invalid("jid", "不是有效的名称"))
        };
        let (orel, trel) = (build("o")?, build("t")?);
        let o_temp = self.storage.temp_file().await.map_err(io_error)?;
        let t_temp = self.storage.temp_file().await.map_err(io_error)?;
        let (src, o, t) = (temp.to_path_buf(), o_temp.clone(), t_temp.clone());
        let made = self
            .images
            .run(move |limits| thumb::make_avatar(&src, &o, &t, limits))
            .await;
        let placed = match made {
            Ok(()) => match self.storage.put(&o_temp, &orel, true).await {
                Ok(()) => self
                    .storage
                    .put(&t_temp, &trel, true)
                    .await
                    .map_err(io_error),
                Err(e) => Err(io_error(e)),
            },
            Err(e) => Err(image_refusal(e)),
        };
        for t in [&o_temp, &t_temp] {
            let _ = tokio::fs::remove_file(t).await;
        }
        placed?;
        Ok((Files::url(base, &orel), Files::url(base, &trel)))
    }

    /// The owner of a stored file: its record's `userId`, else the `u/<n>/<userId>/` directory.
    async fn owner_of(&self, rel: &RelPath) -> Result<Option<i32>> {
        let rec = self
            .store
            .files
            .resource_by_path(&self.storage.record_path(rel))
            .await?;
        Ok(rec
            .and_then(|r| r.user_id)
            .or_else(|| rel.owner_from_layout()))
    }

    /// Deletes the file a URL names, with its thumbnail and records (`deleteFileServlet`).
    /// A user may delete only their own uploads. Ok(false): nothing of ours was there.
    pub async fn delete_url(&self, url: &str, actor: Actor) -> Result<bool> {
        let Some(rel) = self.rel_from_url(url) else {
            return Ok(false);
        };
        if let Actor::User(me) = actor {
            if self.owner_of(&rel).await? != Some(me) {
                if !self.storage.exists(&rel).await {
                    return Ok(false);
                }
                return Err(Error::Code(Code::NotPermissionDelete));
            }
        }
        let mut targets = vec![rel.clone()];
        if Kind::of(rel.extension().as_deref()) == Kind::Image {
            targets.extend(rel.thumbnail());
        }
        let mut any = false;
        for t in &targets {
            any |= self.storage.delete(t).await.map_err(io_error)?;
            let n = self
                .store
                .files
                .delete_resources_by_path(&self.storage.record_path(t))
                .await?;
            any |= n > 0;
        }
        Ok(any)
    }

    /// Copies the file a URL names to a new `<uuid>.<ext>` (with its thumbnail) in `owner`'s
    /// month directory (the system's copies stay beside the source), recorded as `owner`'s
    /// with `valid_days`; returns `(new path, new URL)`.
    /// "源文件不存在" when the source is not a stored file.
    pub async fn copy_url(
        &self,
        url: &str,
        valid_days: f64,
        owner: Option<i32>,
        base: &str,
    ) -> Result<(String, String)> {
        let missing = || Error::failure("源文件不存在");
        let rel = self.rel_from_url(url).ok_or_else(missing)?;
        if !self.storage.exists(&rel).await {
            return Err(missing());
        }
        let name = match rel.extension() {
            Some(e) => format!("{}.{e}", uuid32()),
            None => uuid32(),
        };
        // The copy is the caller's: it goes into their own month directory, never into the
        // source owner's (whose files they could otherwise fill or shadow).
        let new = match owner {
            Some(uid) => {
                let mut segs = vec![
                    "u".to_string(),
                    (uid % 10_000).to_string(),
                    uid.to_string(),
                    chrono::Utc::now().format("%Y%m").to_string(),
                ];
                if Kind::of(rel.extension().as_deref()) == Kind::Image && rel.thumbnail().is_some()
                {
                    segs.push("o".into());
                }
                segs.push(name);
                RelPath::from_segments(&segs)
            }
            None => rel.with_file_name(&name),
        }
        .ok_or_else(missing)?;
        self.storage.copy(&rel, &new).await.map_err(io_error)?;
        let create = now_secs();
        let end = end_time(create, valid_days);
        if Kind::of(rel.extension().as_deref()) == Kind::Image {
            if let (Some(t), Some(nt)) = (rel.thumbnail(), new.thumbnail()) {
                if self.storage.exists(&t).await && self.storage.copy(&t, &nt).await.is_ok() {
                    self.record(&nt, &Files::url(base, &nt), create, end, owner)
                        .await;
                }
            }
        }
        let new_url = Files::url(base, &new);
        self.record(&new, &new_url, create, end, owner).await;
        Ok((format!("/{new}"), new_url))
    }

    /// Deletes every file whose record expired before `now` (seconds), and the records;
    /// returns how many records were removed.
    pub async fn expire(&self, now: i64) -> Result<usize> {
        let mut removed = 0;
        loop {
            let batch = self
                .store
                .files
                .expired_resources(now, EXPIRY_BATCH)
                .await?;
            if batch.is_empty() {
                break;
            }
            let mut progress = false;
            for r in &batch {
                let rel = self
                    .rel_from_url(&r.path)
                    .or_else(|| self.rel_from_url(&r.url));
                if let Some(rel) = rel {
                    if let Err(e) = self.storage.delete(&rel).await {
                        tracing::warn!(path = %rel, error = %e, "expired file not deleted");
                    }
                }
                let Some(id) = &r.id else { continue };
                if self.store.files.delete_resource(id).await? {
                    removed += 1;
                    progress = true;
                }
            }
            // A batch nobody could remove would come back forever.
            if !progress {
                break;
            }
        }
        Ok(removed)
    }
}

/// Starts the periodic expiry task (`files.expiry_interval_secs`, first run one interval after
/// start, as the reference's `FileDeleteTask`).
pub fn spawn_expiry(config: Arc<Config>, store: Store) -> tokio::task::JoinHandle<()> {
    let files = Files::new(&config, &store);
    let every = Duration::from_secs(config.files.expiry_interval_secs.max(1));
    tokio::spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match files.expire(now_secs()).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(records = n, "expired uploads deleted"),
                Err(e) => tracing::warn!(error = %e, "upload expiry failed"),
            }
            // No upload takes a day: older temporary files are leftovers of a crash.
            if let Err(e) = files.storage.sweep_temp(Duration::from_secs(86_400)).await {
                tracing::warn!(error = %e, "temporary upload files not swept");
            }
        }
    })
}

/// Deletes the upload a message or share pointed at, when it is in our tree and belongs to
/// `owner` (a recalled file message takes its file along; someone else's file never goes).
/// Failures are logged: the message or room change they follow has already happened.
pub async fn delete_owned_url(config: &Config, store: &Store, url: &str, owner: i32) {
    let files = Files::new(config, store);
    match files.delete_url(url, Actor::User(owner)).await {
        Ok(_) => {}
        Err(Error::Code(Code::NotPermissionDelete)) => {
            tracing::debug!(%url, owner, "file of another user left in place");
        }
        Err(e) => tracing::warn!(%url, error = %e, "file not deleted"),
    }
}

/// Whether a message of this content type carries an uploaded file's URL as its `content`
/// (2 image, 3 voice, 6 video, 9 file).
pub fn is_file_message(content_type: i32) -> bool {
    matches!(content_type, 2 | 3 | 6 | 9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::files::media_type;

    #[test]
    fn names_follow_the_reference_rule() {
        let kept = "0123456789abcdef0123456789abcdef.png";
        assert_eq!(stored_name(kept), kept);
        let n = stored_name("首页.png");
        assert!(n.ends_with(".png") && n.len() == 36, "{n}");
        assert_eq!(stored_name("README"), "README");
        let odd = stored_name("..");
        assert_eq!(odd.len(), 32);
        let traversal = stored_name("0123456789abcdef0123456789abcde/.png");
        assert!(!traversal.contains('/'));
        assert_eq!(base_name("C:\\x\\y\\a.mp3"), "a.mp3");
        assert_eq!(base_name("../../a.mp3"), "a.mp3");
    }

    #[test]
    fn kinds_types_and_times() {
        assert_eq!(Kind::of(Some("jpeg")), Kind::Image);
        assert_eq!(Kind::of(Some("amr")), Kind::Audio);
        assert_eq!(Kind::of(Some("mp4")), Kind::Video);
        assert_eq!(Kind::of(Some("html")), Kind::Other);
        assert_eq!(Kind::of(None), Kind::Other);
        assert_eq!(media_type(Some("html")), None);
        assert_eq!(media_type(Some("svg")), None);
        assert_eq!(media_type(Some("mp3")), Some("audio/mpeg"));
        assert_eq!(end_time(100, 0.0), -1);
        assert_eq!(end_time(100, -1.0), -1);
        assert_eq!(end_time(100, 1.0), 100 + 86_400);
        assert_eq!(java_hash("abc"), 96354);
    }
}

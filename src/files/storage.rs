//! The storage port: where uploaded files live.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;

use super::path::RelPath;

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

//! The local-directory adapter of the storage port: the stored tree under one root, incoming
//! uploads in `<root>/.tmp` (same file system, so placing a file is a rename), every access
//! checked to resolve inside the root after symlinks.

use std::io;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::path::RelPath;
use super::storage::Storage;

/// Directory of incoming uploads under the root (hidden: never served, never a `RelPath`).
const TEMP_DIR: &str = ".tmp";

/// The stored tree in a local directory.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

fn outside() -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        "path resolves outside the root",
    )
}

impl LocalDir {
    /// The tree under `root` (created on first write).
    pub fn new(root: impl Into<PathBuf>) -> LocalDir {
        LocalDir { root: root.into() }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn join(&self, rel: &RelPath) -> PathBuf {
        rel.segments().fold(self.root.clone(), |p, s| p.join(s))
    }

    /// The canonical root (created when missing, so a fresh server can canonicalize it).
    async fn canonical_root(&self) -> io::Result<PathBuf> {
        tokio::fs::create_dir_all(&self.root).await?;
        tokio::fs::canonicalize(&self.root).await
    }

    /// The absolute path of an existing entry, refused when a symlink leads outside the root.
    async fn resolve_existing(&self, rel: &RelPath) -> io::Result<PathBuf> {
        let root = self.canonical_root().await?;
        let real = tokio::fs::canonicalize(self.join(rel)).await?;
        if !real.starts_with(&root) {
            return Err(outside());
        }
        Ok(real)
    }

    /// Creates the parent directory of `rel` and returns the target path, refused when the
    /// directory resolves outside the root (a symlinked directory).
    async fn prepare_target(&self, rel: &RelPath) -> io::Result<PathBuf> {
        let root = self.canonical_root().await?;
        let target = self.join(rel);
        let parent = target.parent().ok_or_else(outside)?;
        tokio::fs::create_dir_all(parent).await?;
        let real_parent = tokio::fs::canonicalize(parent).await?;
        if !real_parent.starts_with(&root) {
            return Err(outside());
        }
        // A symlink at the target itself would be followed by a copy; refuse it.
        if let Ok(m) = tokio::fs::symlink_metadata(&target).await {
            if m.file_type().is_symlink() {
                return Err(outside());
            }
        }
        Ok(real_parent.join(rel.file_name()))
    }
}

#[async_trait]
impl Storage for LocalDir {
    async fn temp_file(&self) -> io::Result<PathBuf> {
        let dir = self.root.join(TEMP_DIR);
        tokio::fs::create_dir_all(&dir).await?;
        Ok(dir.join(format!("{}.part", uuid::Uuid::new_v4().simple())))
    }

    async fn put(&self, temp: &Path, rel: &RelPath, overwrite: bool) -> io::Result<()> {
        let target = self.prepare_target(rel).await?;
        if !overwrite {
            // Hard-link first: it fails when the name exists, so two uploads racing for the
            // same kept name cannot replace each other's file.
            match tokio::fs::hard_link(temp, &target).await {
                Ok(()) => {
                    let _ = tokio::fs::remove_file(temp).await;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Err(e),
                // File systems without hard links fall back to a checked rename.
                Err(_) if tokio::fs::try_exists(&target).await.unwrap_or(false) => {
                    return Err(io::Error::new(io::ErrorKind::AlreadyExists, "exists"));
                }
                Err(_) => {}
            }
        }
        tokio::fs::rename(temp, &target).await
    }

    async fn delete(&self, rel: &RelPath) -> io::Result<bool> {
        match self.resolve_existing(rel).await {
            Ok(p) => match tokio::fs::remove_file(&p).await {
                Ok(()) => Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(e) => Err(e),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn copy(&self, from: &RelPath, to: &RelPath) -> io::Result<()> {
        let src = self.resolve_existing(from).await?;
        if !tokio::fs::metadata(&src).await?.is_file() {
            return Err(io::Error::new(io::ErrorKind::NotFound, "not a file"));
        }
        // Copy to a temporary name first, then place it without overwriting.
        let temp = self.temp_file().await?;
        if let Err(e) = tokio::fs::copy(&src, &temp).await {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
        let r = self.put(&temp, to, false).await;
        if r.is_err() {
            let _ = tokio::fs::remove_file(&temp).await;
        }
        r
    }

    async fn exists(&self, rel: &RelPath) -> bool {
        match self.resolve_existing(rel).await {
            Ok(p) => tokio::fs::metadata(p)
                .await
                .map(|m| m.is_file())
                .unwrap_or(false),
            Err(_) => false,
        }
    }

    fn record_path(&self, rel: &RelPath) -> String {
        self.join(rel).to_string_lossy().into_owned()
    }

    fn root_prefix(&self) -> Option<String> {
        Some(self.root.to_string_lossy().into_owned())
    }

    async fn local_file(&self, rel: &RelPath) -> Option<PathBuf> {
        let p = self.resolve_existing(rel).await.ok()?;
        let m = tokio::fs::metadata(&p).await.ok()?;
        m.is_file().then_some(p)
    }

    async fn sweep_temp(&self, max_age: std::time::Duration) -> io::Result<usize> {
        let mut dir = match tokio::fs::read_dir(self.root.join(TEMP_DIR)).await {
            Ok(d) => d,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        let mut removed = 0;
        while let Some(entry) = dir.next_entry().await? {
            let Ok(m) = entry.metadata().await else {
                continue;
            };
            let old = m
                .modified()
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > max_age);
            if m.is_file() && old && tokio::fs::remove_file(entry.path()).await.is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn symlinks_out_of_the_root_are_neither_read_nor_written() {
        let dir = tempfile::tempdir().unwrap();
        let outside_dir = tempfile::tempdir().unwrap();
        std::fs::write(outside_dir.path().join("secret.txt"), b"s").unwrap();
        let root = dir.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(outside_dir.path(), root.join("evil")).unwrap();
        let s = LocalDir::new(&root);
        let rel = RelPath::from_segments(&["evil", "secret.txt"]).unwrap();
        assert!(s.local_file(&rel).await.is_none());
        assert!(!s.exists(&rel).await);
        assert!(s.delete(&rel).await.is_err());
        let temp = s.temp_file().await.unwrap();
        std::fs::write(&temp, b"x").unwrap();
        let w = RelPath::from_segments(&["evil", "new.txt"]).unwrap();
        assert!(s.put(&temp, &w, true).await.is_err());
        assert!(!outside_dir.path().join("new.txt").exists());
        assert!(outside_dir.path().join("secret.txt").exists());
        // Inside the root, a kept name is never overwritten.
        let ok = RelPath::from_segments(&["a", "b.txt"]).unwrap();
        s.put(&temp, &ok, false).await.unwrap();
        let temp2 = s.temp_file().await.unwrap();
        std::fs::write(&temp2, b"y").unwrap();
        let e = s.put(&temp2, &ok, false).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(root.join("a/b.txt")).unwrap(), b"x");
        // Only old temporary files are swept.
        let fresh = s.temp_file().await.unwrap();
        std::fs::write(&fresh, b"z").unwrap();
        assert_eq!(
            s.sweep_temp(std::time::Duration::from_secs(3600))
                .await
                .unwrap(),
            0
        );
        // The refused second file and the fresh one.
        assert_eq!(s.sweep_temp(std::time::Duration::ZERO).await.unwrap(), 2);
        assert!(!temp2.exists());
        assert!(!fresh.exists());
    }
}

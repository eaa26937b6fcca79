//! Relative paths inside the stored tree. Every path the server reads, writes or deletes is a
//! [`RelPath`], and a `RelPath` can only be built from segments that cannot leave the root:
//! no `..` or `.`, nothing hidden (`.tmp` holds incoming uploads), no separators, NUL or
//! control characters, no absolute paths. Symlinks are handled by the storage adapter.

use std::fmt;

/// Most segments a stored path may have (the deepest layout, `u/<n>/<id>/<month>/o/<name>`,
/// has six).
const MAX_SEGMENTS: usize = 12;
/// Longest segment, bytes (common file-system limit).
const MAX_SEGMENT: usize = 255;

/// A validated path relative to the root, `/`-separated, without a leading slash.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RelPath(String);

/// Whether one decoded segment is safe to use as a file or directory name.
pub fn safe_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SEGMENT
        && !s.starts_with('.')
        && !s
            .chars()
            .any(|c| c == '/' || c == '\\' || c == ':' || c.is_control())
}

impl RelPath {
    /// Joins already-separate segments; None when any is unsafe.
    pub fn from_segments<S: AsRef<str>>(segments: &[S]) -> Option<RelPath> {
        if segments.is_empty() || segments.len() > MAX_SEGMENTS {
            return None;
        }
        let mut out = String::new();
        for s in segments {
            let s = s.as_ref();
            if !safe_segment(s) {
                return None;
            }
            if !out.is_empty() {
                out.push('/');
            }
            out.push_str(s);
        }
        Some(RelPath(out))
    }

    /// Parses a URL path (`/u/1/100100/202611/o/x.png`, percent-encoded): each segment is
    /// decoded on its own, so an encoded `%2F` or `%5C` cannot smuggle a separator in.
    pub fn from_url_path(path: &str) -> Option<RelPath> {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let mut segments = Vec::new();
        for raw in path.split('/').filter(|s| !s.is_empty()) {
            let decoded = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .ok()?
                .into_owned();
            segments.push(decoded);
        }
        RelPath::from_segments(&segments)
    }

    /// The path as stored (`a/b/c`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }

    /// The last segment (the file name).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or_default()
    }

    /// The same directory with another file name; None when the name is unsafe.
    pub fn with_file_name(&self, name: &str) -> Option<RelPath> {
        let mut segs: Vec<&str> = self.segments().collect();
        segs.pop();
        segs.push(name);
        RelPath::from_segments(&segs)
    }

    /// The lower-case extension of the file name (after the last `.`), if any.
    pub fn extension(&self) -> Option<String> {
        extension_of(self.file_name())
    }

    /// The thumbnail of an image original (`…/o/<name>` → `…/t/<name>`, and likewise for
    /// avatars `avatar/o/…` → `avatar/t/…`); None for paths without an `o` directory.
    pub fn thumbnail(&self) -> Option<RelPath> {
        let segs: Vec<&str> = self.segments().collect();
        if segs.first() == Some(&"avatar") && segs.get(1) == Some(&"o") {
            let mut v = segs.clone();
            v[1] = "t";
            return RelPath::from_segments(&v);
        }
        let n = segs.len();
        if n >= 2 && segs[n - 2] == "o" {
            let mut v = segs.clone();
            v[n - 2] = "t";
            return RelPath::from_segments(&v);
        }
        None
    }

    /// The uploader a `u/<n>/<userId>/…` path belongs to (the reference's layout).
    pub fn owner_from_layout(&self) -> Option<i32> {
        let segs: Vec<&str> = self.segments().collect();
        if segs.first() == Some(&"u") && segs.len() >= 4 {
            return segs[2].parse().ok();
        }
        None
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The lower-case extension of a name (after the last `.`), if it is 1–16 ASCII alphanumerics.
pub fn extension_of(name: &str) -> Option<String> {
    let (_, ext) = name.rsplit_once('.')?;
    if ext.is_empty() || ext.len() > 16 || !ext.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    Some(ext.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_and_odd_names_are_refused() {
        for bad in [
            "/../etc/passwd",
            "/u/../../x",
            "/u/%2e%2e/x",
            "/u/a%2Fb",
            "/u/a%5Cb",
            "/u/a%00b",
            "/.tmp/x",
            "/u/./x",
            "/",
            "/u/%FF",
            "/C:/x",
        ] {
            assert!(RelPath::from_url_path(bad).is_none(), "{bad}");
        }
        let p = RelPath::from_url_path("/u/100/100100/202611/o/a%20b.png?x=1").unwrap();
        assert_eq!(p.as_str(), "u/100/100100/202611/o/a b.png");
        assert_eq!(p.extension().as_deref(), Some("png"));
        assert_eq!(
            p.thumbnail().unwrap().as_str(),
            "u/100/100100/202611/t/a b.png"
        );
        assert_eq!(p.owner_from_layout(), Some(100100));
        let a = RelPath::from_url_path("/avatar/o/100/100100.jpg").unwrap();
        assert_eq!(a.thumbnail().unwrap().as_str(), "avatar/t/100/100100.jpg");
        assert!(RelPath::from_segments(&["a", ".."]).is_none());
    }

    #[test]
    fn extensions() {
        assert_eq!(extension_of("A.PNG").as_deref(), Some("png"));
        assert_eq!(extension_of("noext"), None);
        assert_eq!(extension_of("x.p/g"), None);
        assert_eq!(extension_of("x."), None);
    }
}

//! Documents a store hands out shared ([`Shared`]), so that what is made of one document for
//! clients is made once for every reader.

use std::any::Any;
use std::ops::Deref;
use std::sync::{Arc, OnceLock};

/// A document as a store hands it out: shared by every reader while the store keeps it (the
/// embedded store keeps history rows and profiles, `cache`), with room for one thing made of
/// it for clients (its JSON writing, say), made by the first reader that shows it and reused by
/// the others for as long as the document lives. A store that keeps nothing hands out a new one
/// per read.
pub struct Shared<T> {
    doc: T,
    /// What was made of it, and the tag of how (its reader's choice, e.g. a time unit).
    made: OnceLock<(u64, Box<dyn Any + Send + Sync>)>,
}

/// What [`Shared::made`] gives: the kept one, or one made for this reader alone.
pub enum Made<'a, W> {
    Kept(&'a W),
    Fresh(W),
}

impl<W> Deref for Made<'_, W> {
    type Target = W;

    fn deref(&self) -> &W {
        match self {
            Made::Kept(w) => w,
            Made::Fresh(w) => w,
        }
    }
}

impl<T> Shared<T> {
    /// A document nothing was made of yet.
    pub fn new(doc: T) -> Arc<Shared<T>> {
        Arc::new(Shared {
            doc,
            made: OnceLock::new(),
        })
    }

    /// What `make` makes of the document in the way `tag` names: the kept one when it was
    /// made that way (and is a `W`), else `make`'s (kept when it is the first).
    pub fn made<W: Any + Send + Sync, E>(
        &self,
        tag: u64,
        make: impl FnOnce(&T) -> Result<W, E>,
    ) -> Result<Made<'_, W>, E> {
        if let Some((at, kept)) = self.made.get() {
            return Ok(match kept.downcast_ref::<W>().filter(|_| *at == tag) {
                Some(w) => Made::Kept(w),
                None => Made::Fresh(make(&self.doc)?),
            });
        }
        let fresh = make(&self.doc)?;
        // Another reader may have made it meanwhile: theirs is kept, this one is given.
        let mut offered = Some(fresh);
        let made = self.made.get_or_init(|| {
            (
                tag,
                Box::new(offered.take().expect("offered once")) as Box<dyn Any + Send + Sync>,
            )
        });
        Ok(match offered {
            Some(fresh) => Made::Fresh(fresh),
            None => Made::Kept(
                made.1
                    .downcast_ref::<W>()
                    .expect("what was just kept is a W"),
            ),
        })
    }
}

impl<T> Deref for Shared<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.doc
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.doc.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_per_tag_and_kept_others_made_each_time() {
        let doc = Shared::new(7);
        let made = std::cell::Cell::new(0);
        let make = |n: &i32| -> Result<String, ()> {
            made.set(made.get() + 1);
            Ok(format!("[{n}]"))
        };
        assert_eq!(*doc.made(1, make).unwrap(), "[7]");
        assert!(matches!(doc.made(1, make).unwrap(), Made::Kept(_)));
        assert_eq!(made.get(), 1, "kept after the first");
        assert!(matches!(doc.made(2, make).unwrap(), Made::Fresh(_)));
        assert_eq!(made.get(), 2, "another tag is made each time, never kept");
        let other = doc.made(1, |_| Ok::<_, ()>(1u8)).unwrap();
        assert!(
            matches!(other, Made::Fresh(1)),
            "another type is not the kept one"
        );
        assert_eq!(**doc, 7);
        assert!(doc.made(3, |_| Err::<String, _>("bad")).is_err());
    }
}

//! The one failure type of every port.

/// A storage failure. `Duplicate` is the only one the domain reacts to; the rest are reported.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key (e.g. `telephone`) is already taken.
    #[error("duplicate key: {0}")]
    Duplicate(String),
    /// A stored document could not be decoded into our types.
    #[error("undecodable document in {collection}: {reason}")]
    Decode { collection: String, reason: String },
    /// The backend failed (I/O, connection, SQL/driver error).
    #[error("store backend error: {0}")]
    Backend(String),
}

/// Result type of every port method.
pub type StoreResult<T> = Result<T, StoreError>;

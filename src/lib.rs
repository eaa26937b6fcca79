//! shiku-server: a drop-in replacement for the Shiku IM server.
//!
//! Layers, each importing only those below it: `http` and `gateway` (front-ends) → `domain`
//! (Shiku rules) → `delivery` (live routing) → `store` (ports and adapters). See
//! ARCHITECTURE.md.

pub mod config;
pub mod delivery;
pub mod documents;
pub mod domain;
pub mod files;
pub mod fixtures;
pub mod gateway;
pub mod http;
pub mod startup;
pub mod store;

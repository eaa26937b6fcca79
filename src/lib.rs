//! shiku-server: a drop-in replacement for the Shiku IM server.
//!
//! Layers, each importing only those below it: `startup` → `http`, `gateway` and `fixtures`
//! (front-ends) → `domain` (Shiku rules) → `delivery` (live routing) → `store` adapters →
//! `store` ports and `files` → `documents` (the stored Shiku shapes) → `config`. See
//! ARCHITECTURE.md; `tests/layers.rs` checks it.

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

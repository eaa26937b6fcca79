//! The state every handler shares.

use std::sync::Arc;

use crate::domain::Ctx;

/// State shared by every handler.
pub struct AppState {
    pub ctx: Arc<Ctx>,
}

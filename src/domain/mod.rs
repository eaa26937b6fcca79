//! Shiku rules: who may do what, which documents a change writes, what each view shows.
//! No HTTP, no driver types: the domain takes the store (and later the router) through `Ctx`.

pub mod auth;
pub mod client_config;
pub mod console;
pub mod error;
pub mod files;
pub mod friends;
pub mod history;
pub mod lenient;
pub mod messages;
pub mod model;
pub mod org;
pub mod presence;
pub mod profiles;
pub mod rooms;
pub mod users;
pub mod util;
pub mod view;

use std::sync::Arc;

use crate::config::Config;
use crate::delivery::Router;
use crate::store::Store;

pub use error::{Code, Error, Result};
pub use view::PageResult;

/// Everything a domain operation needs, shared by every front-end.
pub struct Ctx {
    pub store: Store,
    pub tokens: auth::Tokens,
    pub config: Arc<Config>,
    /// Live sessions on this node.
    pub router: Arc<Router>,
    /// Users the message path reads for every message, cached for a second.
    pub profiles: profiles::Profiles,
    /// The `/config` values set in the admin console (applied without a restart).
    pub console: console::ConsoleState,
}

/// System account every user is auto-friended with ("客服公众号", public account).
pub const SYSTEM_PUBLIC_ID: i32 = 10000;
/// System sender of server notifications (XMPP resource `Server`).
pub const SYSTEM_SENDER_ID: i32 = 10005;

impl Ctx {
    /// Builds the context, taking the token key from configuration or the store (generated and
    /// kept there on first start so every node and every restart agrees).
    pub async fn new(store: Store, config: Arc<Config>) -> Result<Ctx> {
        let secret = if config.auth.jwt_secret.is_empty() {
            let fresh = format!("{}{}", util::uuid32(), util::uuid32());
            store.meta.init_meta("jwt_secret", &fresh).await?
        } else {
            config.auth.jwt_secret.clone()
        };
        let tokens = auth::Tokens::new(secret.as_bytes(), config.auth.token_ttl_secs);
        let ctx = Ctx {
            store,
            tokens,
            config,
            router: Router::new(),
            profiles: profiles::Profiles::default(),
            console: console::ConsoleState::default(),
        };
        console::reload_overrides(&ctx).await?;
        users::ensure_system_users(&ctx).await?;
        Ok(ctx)
    }
}

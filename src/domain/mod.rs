//! Shiku rules: who may do what, which documents a change writes, what each view shows.
//! No HTTP, no driver types: the domain takes the store and the delivery router through `Ctx`.
//!
//! This file only names the modules and builds the context; the modules import each other
//! (never this file) and the layers below.

pub mod auth;
pub mod captcha;
pub mod client_config;
pub mod client_settings;
pub mod console;
pub mod console_friends;
pub mod console_rooms;
pub mod courses;
pub mod credentials;
pub mod ctx;
pub mod error;
pub mod favourites;
pub mod files;
pub mod friends;
pub mod handshake;
pub mod hardened;
pub mod hardened_login;
pub mod history;
pub mod login_guard;
pub mod messages;
pub mod nearby;
pub mod org;
pub mod password_pool;
pub mod passwords;
pub mod peer;
pub mod presence;
pub mod profiles;
pub mod public_accounts;
pub mod quota;
pub mod reports;
pub mod rooms;
pub mod server_key;
pub mod signed_calls;
pub mod sms;
pub mod times;
pub mod users;
pub mod util;
pub mod view;

use std::sync::Arc;

use crate::config::Config;
use crate::delivery::Router;
use crate::store::Store;

pub use ctx::{Ctx, SYSTEM_PUBLIC_ID, SYSTEM_SENDER_ID};
pub use error::{Code, Error, Result};
pub use view::PageResult;

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
        let files = files::Files::new(&config, &store);
        let ctx = Ctx {
            store,
            tokens,
            passwords: passwords::Passwords::start(&config.passwords).await?,
            server_key: server_key::ServerKey::load(&config)?,
            signed_calls: signed_calls::SignedCalls::new(&config.auth),
            sms: crate::delivery::sms::SmsSender::from_config(&config.sms)
                .map_err(Error::Internal)?,
            router: Router::new(&config.cluster.node_id),
            files,
            connections: quota::Slots::new(config.limits.max_connections_per_address),
            pages: Arc::new(tokio::sync::Semaphore::new(
                (config.limits.max_pages_bytes / 1024)
                    .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
            )),
            profiles: profiles::Profiles::default(),
            member_lists: view::Renderings::default(),
            console: client_settings::ClientOverrides::default(),
            config,
        };
        console::reload_overrides(&ctx).await?;
        users::ensure_system_users(&ctx).await?;
        Ok(ctx)
    }
}

//! The context every domain operation takes: the store, the router, the configuration and the
//! node's caches. Built by `Ctx::new` (in `domain/mod.rs`, which also prepares the data).

use std::sync::Arc;

use super::auth::Tokens;
use super::client_settings::ClientOverrides;
use super::files::Files;
use super::passwords::Passwords;
use super::profiles::Profiles;
use super::server_key::ServerKey;
use super::signed_calls::SignedCalls;
use super::view::Renderings;
use crate::config::Config;
use crate::delivery::sms::SmsSender;
use crate::delivery::Router;
use crate::documents::Member;
use crate::store::Store;

/// Everything a domain operation needs, shared by every front-end.
pub struct Ctx {
    pub store: Store,
    pub tokens: Tokens,
    /// Password hashing, repeat-login verifiers and the guessing limiter.
    pub passwords: Passwords,
    /// Seals login verifiers and derives session keys (held outside the store).
    pub server_key: ServerKey,
    /// The hardened dialect's signed requests seen lately (its replay check).
    pub signed_calls: SignedCalls,
    /// Where SMS codes go (`sms.sender`).
    pub sms: SmsSender,
    pub config: Arc<Config>,
    /// Live sessions on this node.
    pub router: Arc<Router>,
    /// Uploads and their one image-decoding pool.
    pub files: Files,
    /// What each client address holds at once: connections on the dedicated listeners and
    /// requests in flight on HTTP (`limits.max_connections_per_address`).
    pub connections: Arc<super::quota::Slots>,
    /// Users the message path reads for every message, cached for a second.
    pub profiles: Profiles,
    /// Rooms' member lists as `/room/member/list` writes them, while the store keeps the list.
    pub member_lists: Renderings<Vec<Member>>,
    /// The `/config` values set in the admin console (applied without a restart).
    pub console: ClientOverrides,
    /// KiB of message text all history pages being built hold together
    /// (`limits.max_pages_bytes`).
    pub pages: Arc<tokio::sync::Semaphore>,
}

/// System account every user is auto-friended with ("客服公众号", public account).
pub const SYSTEM_PUBLIC_ID: i32 = 10000;
/// System sender of server notifications (XMPP resource `Server`).
pub const SYSTEM_SENDER_ID: i32 = 10005;

//! The one password check of every entry point (`/user/login`, `/console/login`, SASL on each
//! transport, the binary protocol, the old password of `/user/password/update`) and the one
//! revocation of a user's credentials (logout, password change, lock, reset, deletion).

use std::net::IpAddr;

use super::error::Result;
use super::passwords::PasswordCheck;
use super::Ctx;
use crate::documents::User;
use crate::store::Patch;

/// Checks `client_md5` for `user` (None: no account matched what the client typed, `typed`),
/// through the limiter and the bounded pool; upgrades a legacy md5 row to argon2. True when the
/// password is right. A throttled or busy check is an error ([`super::Error::TooManyAttempts`],
/// [`super::Error::Busy`]).
pub async fn check_password(
    ctx: &Ctx,
    user: Option<&User>,
    typed: &str,
    source: Option<IpAddr>,
    client_md5: &str,
) -> Result<bool> {
    let account = match user {
        Some(u) => super::login_guard::account_key(u.user_id),
        // Bounded: what the client typed is only a key here.
        None => format!("unknown:{}", typed.chars().take(64).collect::<String>()),
    };
    let ticket = ctx.passwords.guard().admit(&account, source)?;
    let stored = user.map(|u| (u.user_id, u.password.as_str()));
    match ctx.passwords.verify(stored, client_md5).await? {
        PasswordCheck::Mismatch => {
            ticket.failed();
            Ok(false)
        }
        PasswordCheck::Ok => {
            ticket.succeeded();
            Ok(true)
        }
        PasswordCheck::OkLegacy => {
            let Some(u) = user else {
                return Ok(false);
            };
            let upgraded = ctx.passwords.hash(client_md5).await?;
            ctx.store
                .users
                .update_user(u.user_id, &Patch::new().set("password", upgraded.as_str()))
                .await?;
            ctx.passwords.remember(u.user_id, &upgraded, client_md5);
            ticket.succeeded();
            Ok(true)
        }
    }
}

/// Ends every credential of a user: all tokens (via the token version) and the remembered
/// password check.
pub async fn revoke_all(ctx: &Ctx, user_id: i32) -> Result<()> {
    ctx.passwords.forget(user_id);
    ctx.tokens.revoke_all(&ctx.store, user_id).await
}

/// The client's address as text (`peer_ip` of a request or session), when it parses.
pub fn source(peer_ip: Option<&str>) -> Option<IpAddr> {
    peer_ip.and_then(|ip| ip.trim().parse().ok())
}

//! Live-channel identity and presence, protocol-neutral: who a SASL login is (md5 password or the
//! REST `access_token`), and the online state the REST API shows (`onlinestate`, the login log's
//! `offlineTime` and device map) as resources come and go.

use std::net::IpAddr;

use super::auth::USER_AUDIENCE;
use super::credentials;
use super::error::{Error, Result};
use super::util::{is_md5_hex, now_secs};
use super::Ctx;
use crate::store::Patch;

/// Why a live-channel login was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown user, wrong password, or a token that is invalid, revoked or someone else's.
    NotAuthorized(String),
    /// The account is locked (`status` -1).
    Disabled,
    /// Not checked now: too many failed attempts, or every password worker busy. The text
    /// says when to retry.
    RetryLater(String),
}

/// The userId an authentication identity names: `userId` or `userId@domain` (any domain the
/// client was told about is accepted by the caller's check).
fn user_id_of(authcid: &str, domain: &str) -> Option<i32> {
    let local = match authcid.split_once('@') {
        Some((local, host)) => {
            // A resource part is not part of an authcid; tolerate it anyway.
            let host = host.split('/').next().unwrap_or(host);
            if !host.eq_ignore_ascii_case(domain) {
                return None;
            }
            local
        }
        None => authcid,
    };
    local.parse::<i32>().ok().filter(|id| *id > 0)
}

/// Checks a live-channel login from `source`: `authcid` is `userId` or `userId@domain`,
/// `secret` the md5 the client sends to `/user/login` or the user's current access token.
/// Returns the userId. An md5 goes through the one password check (limiter, bounded pool), and
/// an unknown user is refused exactly like a wrong password.
pub async fn authenticate(
    ctx: &Ctx,
    authcid: &str,
    secret: &str,
    source: Option<IpAddr>,
) -> Result<std::result::Result<i32, Refusal>> {
    let refused = |why: &str| Ok(Err(Refusal::NotAuthorized(why.to_string())));
    let user = match user_id_of(authcid, &ctx.config.client.xmpp_domain) {
        Some(id) => ctx.store.users.get_user(id).await?,
        None => None,
    };
    if is_md5_hex(secret) {
        match credentials::check_password(ctx, user.as_ref(), authcid, source, secret).await {
            Ok(true) => {}
            Ok(false) => return refused("wrong user or password"),
            Err(e @ (Error::Busy | Error::TooManyAttempts { .. })) => {
                return Ok(Err(Refusal::RetryLater(e.to_string())))
            }
            Err(e) => return Err(e),
        }
    }
    let Some(user) = user else {
        return refused("unknown user");
    };
    let user_id = user.user_id;
    if !is_md5_hex(secret) {
        // Not an md5: the REST access token (checked cheaply, no password hash involved).
        match ctx.tokens.check(&ctx.store, secret, USER_AUDIENCE).await? {
            Ok(uid) if uid == user_id => {}
            Ok(_) => return refused("token belongs to another user"),
            Err(_) => return refused("invalid or expired token"),
        }
    }
    if user.status == -1 {
        return Ok(Err(Refusal::Disabled));
    }
    Ok(Ok(user_id))
}

/// Whether the user allows only one connected device (`settings.multipleDevices` 0).
pub async fn single_device(ctx: &Ctx, user_id: i32) -> Result<bool> {
    Ok(ctx
        .store
        .users
        .get_user(user_id)
        .await?
        .is_some_and(|u| u.settings.multiple_devices == 0))
}

/// Device-map keys are path segments: keep them to safe characters (as `/user/login` does).
fn device_key(resource: &str) -> String {
    resource
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// At start-up no session exists yet: users still marked online were left so by a process
/// that ended without closing its sessions (a crash, a kill), and are marked offline.
pub async fn clear_stale_online(ctx: &Ctx) -> Result<()> {
    let n = ctx.store.users.mark_all_offline().await?;
    if n > 0 {
        tracing::info!(
            users = n,
            "marked users offline that were online when the server last stopped"
        );
    }
    Ok(())
}

/// A resource became available: the user is online, the resource's device entry says so.
pub async fn resource_online(ctx: &Ctx, user_id: i32, resource: &str) -> Result<()> {
    let now = now_secs();
    let dk = device_key(resource);
    // Field by field, so push tokens stored by `/user/login` under the same key survive.
    let log = Patch::new()
        .set("loginLog.loginTime", now)
        .set(&format!("deviceMap.{dk}.deviceKey"), resource)
        .set(&format!("deviceMap.{dk}.loginTime"), now)
        .set(&format!("deviceMap.{dk}.online"), 1);
    ctx.store.users.update_login_log(user_id, &log).await?;
    ctx.store
        .users
        .update_user(
            user_id,
            &Patch::new().set("onlinestate", 1).set("active", now),
        )
        .await?;
    Ok(())
}

/// A resource went away; when it was the user's last one, the user is offline.
pub async fn resource_offline(ctx: &Ctx, user_id: i32, resource: &str, last: bool) -> Result<()> {
    let now = now_secs();
    let dk = device_key(resource);
    let mut log = Patch::new()
        .set(&format!("deviceMap.{dk}.online"), 0)
        .set(&format!("deviceMap.{dk}.offlineTime"), now);
    if last {
        log.push_set("loginLog.offlineTime", now);
    }
    ctx.store.users.update_login_log(user_id, &log).await?;
    if last {
        ctx.store
            .users
            .update_user(user_id, &Patch::new().set("onlinestate", 0))
            .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authcid_forms() {
        assert_eq!(user_id_of("10000001", "im.x"), Some(10000001));
        assert_eq!(user_id_of("10000001@im.x", "im.x"), Some(10000001));
        assert_eq!(user_id_of("10000001@IM.X/web", "im.x"), Some(10000001));
        assert_eq!(user_id_of("10000001@other", "im.x"), None);
        assert_eq!(user_id_of("alice", "im.x"), None);
        assert_eq!(user_id_of("-5", "im.x"), None);
    }

    #[test]
    fn device_keys_are_path_safe() {
        assert_eq!(device_key("web"), "web");
        assert_eq!(device_key("a.b$c"), "a_b_c");
    }
}

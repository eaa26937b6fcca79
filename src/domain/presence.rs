//! Live-channel identity and presence, protocol-neutral: who a SASL login is (md5 password or the
//! REST `access_token`), and the online state the REST API shows (`onlinestate`, the login log's
//! `offlineTime` and device map) as resources come and go, on this node and, in a cluster, as
//! other nodes start, stop and die.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use super::auth::USER_AUDIENCE;
use super::credentials;
use super::error::{Error, Result};
use super::util::{is_md5_hex, now_millis, now_secs};
use super::Ctx;
use crate::delivery::{PushSender, SessionId};
use crate::store::{Patch, SessionEntry, SessionStore};

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
async fn single_device(ctx: &Ctx, user_id: i32) -> Result<bool> {
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

/// At start-up this node holds no session yet. A single node marks every user still online
/// offline (a process that ended without closing its sessions left them so); a cluster node
/// clears only the sessions it held in its previous life, and users with no session on
/// another node go offline.
pub async fn node_started(ctx: &Ctx) -> Result<()> {
    let Some(directory) = cluster_directory(ctx) else {
        let n = ctx.store.users.mark_all_offline().await?;
        if n > 0 {
            tracing::info!(
                users = n,
                "marked users offline that were online when the server last stopped"
            );
        }
        return Ok(());
    };
    let node = ctx.router.node();
    let gone = directory.take_sessions(node, i64::MAX).await?;
    let n = sessions_gone(ctx, directory, &gone).await?;
    if n > 0 {
        tracing::info!(
            node,
            users = n,
            "marked this node's users of its last run offline"
        );
    }
    Ok(())
}

/// The shared session directory, when this node is one of several.
fn cluster_directory(ctx: &Ctx) -> Option<&dyn SessionStore> {
    ctx.store
        .sessions
        .as_deref()
        .filter(|_| ctx.router.clustered())
}

/// Sessions that ended without closing (their node died or restarted): their devices are
/// offline, and their users too unless connected on another node. Answers how many users went
/// offline.
async fn sessions_gone(
    ctx: &Ctx,
    directory: &dyn SessionStore,
    gone: &[SessionEntry],
) -> Result<usize> {
    let mut offline = 0;
    for chunk in gone.chunks(500) {
        let mut users: Vec<i32> = chunk.iter().map(|e| e.user_id).collect();
        users.sort_unstable();
        users.dedup();
        let elsewhere: Vec<SessionEntry> = directory.sessions_of(&users).await?;
        for e in chunk {
            if elsewhere
                .iter()
                .any(|o| o.user_id == e.user_id && o.resource == e.resource)
            {
                continue;
            }
            let last = !elsewhere.iter().any(|o| o.user_id == e.user_id);
            resource_offline(ctx, e.user_id, &e.resource, last).await?;
        }
        offline += users
            .iter()
            .filter(|u| !elsewhere.iter().any(|o| o.user_id == **u))
            .count();
    }
    Ok(offline)
}

/// Starts this node's heartbeat in the shared directory and the watch over the others: a node
/// whose heartbeat stopped for `cluster.dead_after_secs` is dead, and the first survivor to
/// notice clears its sessions. A crashed node's users are offline everywhere within
/// `dead_after_secs` + `heartbeat_secs`. Ends with the context. Nothing to do on one node.
pub fn spawn_node_watch(ctx: &Arc<Ctx>) {
    if cluster_directory(ctx).is_none() {
        return;
    }
    let weak = Arc::downgrade(ctx);
    let cfg = ctx.config.cluster.clone();
    let instance = super::util::uuid32();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(cfg.heartbeat_secs));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut first = true;
        loop {
            tick.tick().await;
            let Some(ctx) = weak.upgrade() else { return };
            let Some(directory) = cluster_directory(&ctx) else {
                return;
            };
            let now = now_millis();
            match directory.beat(ctx.router.node(), &instance, now).await {
                Ok(true) => {}
                Ok(false) if first => {}
                Ok(false) => {
                    // A survivor took this node for dead (it was too slow to beat): record its
                    // sessions again.
                    tracing::warn!("this node was declared dead by another: re-recording");
                    match ctx.router.rewrite_directory().await {
                        Ok(entries) => {
                            for e in entries {
                                if let Err(err) =
                                    resource_online(&ctx, e.user_id, &e.resource).await
                                {
                                    tracing::warn!(error = %err, "online state not recorded");
                                }
                            }
                        }
                        Err(e) => tracing::warn!(error = %e, "sessions not re-recorded"),
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "heartbeat not recorded");
                    continue;
                }
            }
            first = false;
            let cutoff = now - (cfg.dead_after_secs * 1000) as i64;
            if let Err(e) = sweep_dead_nodes(&ctx, directory, cutoff).await {
                tracing::warn!(error = %e, "dead nodes not swept");
            }
        }
    });
}

/// Clears the sessions of nodes whose heartbeat is older than `cutoff` (ms).
async fn sweep_dead_nodes(ctx: &Ctx, directory: &dyn SessionStore, cutoff: i64) -> Result<()> {
    for node in directory.stale_nodes(cutoff).await? {
        if node == ctx.router.node() || !directory.claim_stale(&node, cutoff).await? {
            continue;
        }
        // Every session recorded before the claim belonged to the dead node; one recorded after
        // it means the node was only slow and is back (it re-records all of its sessions).
        let gone = directory.take_sessions(&node, now_millis()).await?;
        let n = sessions_gone(ctx, directory, &gone).await?;
        tracing::warn!(
            node,
            sessions = gone.len(),
            users = n,
            "a node stopped beating: its users are offline"
        );
    }
    Ok(())
}

/// Opens a live session: registers it (on every node, in cluster mode), ends the sessions it
/// replaces (same resource, or all when the user allows one device) and answers its id.
pub async fn session_opened(
    ctx: &Ctx,
    user_id: i32,
    resource: &str,
    tx: PushSender,
) -> Result<SessionId> {
    let single = single_device(ctx, user_id).await?;
    Ok(ctx.router.open(user_id, resource, tx, single).await?)
}

/// A live session ended: unless a newer login holds its resource now, the device is offline,
/// and the user too when it was their last session on any node.
pub async fn session_closed(ctx: &Ctx, user_id: i32, resource: &str, id: SessionId) {
    let closed = ctx.router.close(user_id, id, resource).await;
    if closed.resource_taken {
        return;
    }
    if let Err(e) = resource_offline(ctx, user_id, resource, closed.last).await {
        tracing::error!(error = %e, "offline state not recorded");
    }
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

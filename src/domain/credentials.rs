//! The one password check of every entry point (`/user/login`, `/console/login`, SASL on each
//! transport, the binary protocol, the old password of `/user/password/update`) and the one
//! revocation of a user's credentials (logout, password change, lock, reset, deletion). Where a
//! password is set or checked, the hardened dialect's login verifier (`loginPwdHex`, a function
//! of the md5) is derived and kept sealed under the server key (`loginVerifier`).

use std::net::IpAddr;

use super::error::Result;
use super::hardened::login_pwd_hex;
use super::passwords::PasswordCheck;
use super::Ctx;
use crate::documents::User;
use crate::store::Patch;

fn verifier_label(user_id: i32) -> String {
    format!("loginVerifier:{user_id}")
}

/// The patch setting a user's password from the client's md5: the argon2 hash and the sealed
/// login verifier, written together.
pub async fn password_patch(ctx: &Ctx, user_id: i32, client_md5: &str) -> Result<Patch> {
    let hash = ctx.passwords.hash(client_md5).await?;
    let mut patch = Patch::new().set("password", hash);
    patch.append(verifier_patch(ctx, user_id, client_md5));
    Ok(patch)
}

/// The patch keeping the login verifier of the client's md5 (sealed; nothing when the md5 is
/// malformed, which the callers have refused before).
pub fn verifier_patch(ctx: &Ctx, user_id: i32, client_md5: &str) -> Patch {
    match login_pwd_hex(client_md5) {
        Ok(verifier) => Patch::new().set(
            "loginVerifier",
            ctx.server_key.seal(&verifier_label(user_id), &verifier),
        ),
        Err(_) => Patch::new(),
    }
}

/// A stored password that is still the legacy bare md5 (rows of an existing Shiku database or
/// an import, until their first login rehashes them).
fn legacy_md5(stored: &str) -> Option<&str> {
    (stored.len() == 32 && stored.bytes().all(|b| b.is_ascii_hexdigit())).then_some(stored)
}

/// The user's login verifier, opened (None: none kept, or sealed under a key this server no
/// longer has). One sealed under an earlier server key is sealed again under the current one;
/// a user whose stored password is still the legacy md5 gets one derived from it here.
pub async fn login_verifier(ctx: &Ctx, user_id: i32) -> Result<Option<String>> {
    let sealed = match ctx.store.users.login_keys(user_id).await? {
        Some(keys) => keys.login_verifier,
        None => return Ok(None),
    };
    let Some(opened) = ctx.server_key.open(&verifier_label(user_id), &sealed) else {
        let Some(user) = ctx.store.users.get_user(user_id).await? else {
            return Ok(None);
        };
        let Some(md5) = legacy_md5(&user.password) else {
            return Ok(None);
        };
        ctx.store
            .users
            .update_user(user_id, &verifier_patch(ctx, user_id, md5))
            .await?;
        return Ok(login_pwd_hex(md5).ok());
    };
    if opened.stale {
        let fresh = ctx.server_key.seal(&verifier_label(user_id), &opened.plain);
        ctx.store
            .users
            .update_user(user_id, &Patch::new().set("loginVerifier", fresh))
            .await?;
    }
    Ok(Some(opened.plain))
}

/// After a right password in any other dialect: keeps the login verifier of that md5 unless the
/// user already has it (users from before this server, or from a data import, get theirs here).
async fn note_verifier(ctx: &Ctx, user_id: i32, client_md5: &str) -> Result<()> {
    let Ok(verifier) = login_pwd_hex(client_md5) else {
        return Ok(());
    };
    if login_verifier(ctx, user_id).await?.as_deref() == Some(&verifier) {
        return Ok(());
    }
    let sealed = ctx.server_key.seal(&verifier_label(user_id), &verifier);
    ctx.store
        .users
        .update_user(user_id, &Patch::new().set("loginVerifier", sealed))
        .await?;
    Ok(())
}

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
            if let Some(u) = user {
                note_verifier(ctx, u.user_id, client_md5).await?;
            }
            Ok(true)
        }
        PasswordCheck::OkLegacy => {
            let Some(u) = user else {
                return Ok(false);
            };
            let patch = password_patch(ctx, u.user_id, client_md5).await?;
            if let Some(upgraded) = ctx.store.users.update_user(u.user_id, &patch).await? {
                ctx.passwords
                    .remember(u.user_id, &upgraded.password, client_md5);
            }
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

//! The admin console's rules (spec/reference-server.md 2.6, 3.7; issue 8): who may do what,
//! console sessions (30 minutes, renewed on use, revoked on logout), the TOTP second factor,
//! admin accounts, user management for the console and the task-management system, the
//! push to every user, online statistics and the `/config` values an admin may change.
//!
//! Console roles (`userRoles.role`, reference `Role.java`): 1 tourist, 4 customer service,
//! 5 admin, 6 super admin, 7 finance. Every console role may read; 5 and 6 may change users,
//! rooms and messages; only 6 manages admin accounts and the configuration. The integration
//! key of the task-management system may only send messages and keep users in sync.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use serde_json::{json, Map, Value};

use super::client_settings::{Kind, OVERRIDES_KEY, SETTABLE};
use super::credentials;
use super::error::{Code, Error, Result};
use super::messages::{self, Notice, Outgoing, Target};
use super::passwords::PasswordCheck;
use super::users::{self, Registration};
use super::util::{md5_hex, now_millis, now_secs, uuid32};
use super::view::{to_map, Page, PageResult};
use super::{rooms, Ctx, SYSTEM_PUBLIC_ID, SYSTEM_SENDER_ID};
use crate::delivery::ClusterEvent;
use crate::documents::{User, UserRole};
use crate::store::{ChatLogQuery, ConsoleUserQuery, FriendQuery, Patch, RoomLogQuery, UserQuery};

/// Audience of console tokens: a user token never opens the console, a console token never
/// acts as a user token.
pub const CONSOLE_AUDIENCE: &str = "shiku-console";
/// Idle lifetime of a console session, seconds (the reference's admin token TTL).
pub const SESSION_IDLE_SECS: i64 = 1800;
/// A session's last-use time is written at most this often (a request every second must not
/// mean a write every second).
const SESSION_TOUCH_SECS: i64 = 60;

/// Tourist: reads only.
pub const ROLE_TOURIST: i32 = 1;
/// Customer service: reads only here.
pub const ROLE_SERVICE: i32 = 4;
/// Admin: manages users, rooms and messages.
pub const ROLE_ADMIN: i32 = 5;
/// Super admin: also admin accounts and configuration.
pub const ROLE_SUPER: i32 = 6;
/// Finance: reads only here (the finance pages are out of scope).
pub const ROLE_FINANCE: i32 = 7;
/// Roles that may log in to the console.
pub const CONSOLE_ROLES: &[i32] = &[
    ROLE_TOURIST,
    ROLE_SERVICE,
    ROLE_ADMIN,
    ROLE_SUPER,
    ROLE_FINANCE,
];

/// Who is acting in the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// A console user with their (highest) active console role.
    Admin { user_id: i32, role: i32 },
    /// The task-management system, by its integration key.
    Integration,
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Any console role.
    Read,
    /// Role 5 or 6.
    Manage,
    /// Role 5 or 6, or the integration key (messages and user sync).
    Sync,
    /// Role 6.
    Super,
}

fn refused(what: &str) -> Error {
    Error::CodeMsg {
        code: Code::AuthFailed,
        msg: format!("权限不足 ({what})"),
    }
}

impl Actor {
    /// Refuses with 1030103 unless the actor may do what `need` says.
    pub fn require(&self, need: Need) -> Result<()> {
        let ok = match (self, need) {
            (Actor::Integration, Need::Sync) => true,
            (Actor::Integration, _) => false,
            (Actor::Admin { .. }, Need::Read) => true,
            (Actor::Admin { role, .. }, Need::Manage | Need::Sync) => {
                *role == ROLE_ADMIN || *role == ROLE_SUPER
            }
            (Actor::Admin { role, .. }, Need::Super) => *role == ROLE_SUPER,
        };
        if ok {
            return Ok(());
        }
        Err(refused(match need {
            Need::Read => "需要后台账号 (console account required)",
            Need::Manage | Need::Sync => "需要管理员角色 5/6 (role 5 or 6 required)",
            Need::Super => "需要超级管理员角色 6 (role 6 required)",
        }))
    }

    /// The acting userId (0 for the integration key).
    pub fn user_id(&self) -> i32 {
        match self {
            Actor::Admin { user_id, .. } => *user_id,
            Actor::Integration => 0,
        }
    }
}

/// Precedence when a user holds several console roles: the most powerful counts.
fn rank(role: i32) -> i32 {
    match role {
        ROLE_SUPER => 5,
        ROLE_ADMIN => 4,
        ROLE_FINANCE => 3,
        ROLE_SERVICE => 2,
        ROLE_TOURIST => 1,
        _ => 0,
    }
}

/// The user's active console role, if any (a disabled role, `status` -1, does not count).
pub async fn admin_role(ctx: &Ctx, user_id: i32) -> Result<Option<i32>> {
    Ok(ctx
        .store
        .users
        .roles_of(user_id)
        .await?
        .iter()
        .filter(|r| r.status != -1 && CONSOLE_ROLES.contains(&r.role))
        .map(|r| r.role)
        .max_by_key(|r| rank(*r)))
}

// ---------------------------------------------------------------------------------------------
// Sessions: a console token is a JWT of its own audience; its idle expiry slides in the store
// (`console_session:<md5(token)>` = last use, seconds, or "revoked"), so every node agrees and
// a logout ends it everywhere.

fn session_key(token: &str) -> String {
    format!("console_session:{}", md5_hex(token))
}

/// Whether a verified console token's session is still alive; renews it when it is. Only a
/// token with the session row its login wrote has one: a token signed by the key alone (or
/// whose row is gone) is refused.
pub async fn touch_session(ctx: &Ctx, token: &str) -> Result<bool> {
    let key = session_key(token);
    let now = now_secs();
    let last = match ctx.store.meta.get_meta(&key).await? {
        Some(v) if v == "revoked" => return Ok(false),
        Some(v) => v.parse::<i64>().unwrap_or(0),
        None => return Ok(false),
    };
    if now - last > SESSION_IDLE_SECS {
        return Ok(false);
    }
    if now - last >= SESSION_TOUCH_SECS {
        ctx.store.console.set_meta(&key, &now.to_string()).await?;
    }
    Ok(true)
}

/// Opens the session of a token just issued (console and public-account logins).
pub async fn start_session(ctx: &Ctx, token: &str) -> Result<()> {
    ctx.store
        .console
        .set_meta(&session_key(token), &now_secs().to_string())
        .await?;
    Ok(())
}

/// Ends a console session (`/console/logout`).
pub async fn end_session(ctx: &Ctx, token: &str) -> Result<()> {
    ctx.store
        .console
        .set_meta(&session_key(token), "revoked")
        .await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// TOTP (RFC 6238, SHA-1, 6 digits, 30 s, one step of skew: what Google Authenticator uses).

fn totp_key(user_id: i32) -> String {
    format!("console_totp:{user_id}")
}

fn totp_pending_key(user_id: i32) -> String {
    format!("console_totp_pending:{user_id}")
}

fn totp_last_key(user_id: i32) -> String {
    format!("console_totp_last:{user_id}")
}

fn totp_of(secret_b32: &str) -> Result<totp_rs::TOTP> {
    let bytes = totp_rs::Secret::Encoded(secret_b32.to_string())
        .to_bytes()
        .map_err(|e| Error::Internal(format!("stored TOTP secret: {e:?}")))?;
    totp_rs::TOTP::new(totp_rs::Algorithm::SHA1, 6, 1, 30, bytes)
        .map_err(|e| Error::Internal(format!("TOTP: {e}")))
}

/// The 30-second step a code matches (now, one before or one after), if any.
fn totp_step(secret_b32: &str, code: &str, now: i64) -> Result<Option<i64>> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    let totp = totp_of(secret_b32)?;
    for step in [now / 30, now / 30 - 1, now / 30 + 1] {
        if step >= 0 && totp.generate((step * 30) as u64) == code {
            return Ok(Some(step));
        }
    }
    Ok(None)
}

/// Checks a code against a user's active secret, refusing a code already used (replay).
async fn check_totp(ctx: &Ctx, user_id: i32, secret: &str, code: &str) -> Result<bool> {
    let Some(step) = totp_step(secret, code, now_secs())? else {
        return Ok(false);
    };
    let last_key = totp_last_key(user_id);
    let last = ctx
        .store
        .meta
        .get_meta(&last_key)
        .await?
        .and_then(|v| v.parse::<i64>().ok())
        .unwrap_or(-1);
    if step <= last {
        return Ok(false);
    }
    ctx.store
        .console
        .set_meta(&last_key, &step.to_string())
        .await?;
    Ok(true)
}

/// Whether the admin has the second factor on.
pub async fn totp_enabled(ctx: &Ctx, user_id: i32) -> Result<bool> {
    Ok(ctx.store.meta.get_meta(&totp_key(user_id)).await?.is_some())
}

/// Starts enabling TOTP: a fresh secret (pending until confirmed with a code) and its
/// `otpauth://` URL for an authenticator app.
pub async fn totp_setup(ctx: &Ctx, user_id: i32) -> Result<Value> {
    use rand::RngCore;
    let mut raw = [0u8; 20];
    rand::thread_rng().fill_bytes(&mut raw);
    let secret = match totp_rs::Secret::Raw(raw.to_vec()).to_encoded() {
        totp_rs::Secret::Encoded(s) => s,
        totp_rs::Secret::Raw(_) => return Err(Error::Internal("TOTP secret encoding".into())),
    };
    ctx.store
        .console
        .set_meta(&totp_pending_key(user_id), &secret)
        .await?;
    let account = ctx
        .store
        .users
        .get_user(user_id)
        .await?
        .map(|u| u.telephone)
        .unwrap_or_else(|| user_id.to_string());
    let issuer = "shiku-server";
    let url = format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits=6&period=30"
    );
    Ok(json!({ "secret": secret, "otpauthUrl": url, "enabled": false }))
}

/// Confirms the pending secret with a current code: the second factor is on from now.
pub async fn totp_enable(ctx: &Ctx, user_id: i32, code: &str) -> Result<()> {
    let pending = ctx
        .store
        .meta
        .get_meta(&totp_pending_key(user_id))
        .await?
        .ok_or_else(|| Error::failure("请先获取谷歌验证密钥 (call /console/totp/setup first)"))?;
    if !check_totp(ctx, user_id, &pending, code).await? {
        return Err(Error::failure("谷歌验证失败"));
    }
    ctx.store
        .console
        .set_meta(&totp_key(user_id), &pending)
        .await?;
    ctx.store
        .console
        .delete_meta(&totp_pending_key(user_id))
        .await?;
    Ok(())
}

/// Turns the second factor off (a current code proves the admin still holds the device).
pub async fn totp_disable(ctx: &Ctx, user_id: i32, code: &str) -> Result<()> {
    let Some(secret) = ctx.store.meta.get_meta(&totp_key(user_id)).await? else {
        return Err(Error::failure("未开启谷歌验证"));
    };
    if !check_totp(ctx, user_id, &secret, code).await? {
        return Err(Error::failure("谷歌验证失败"));
    }
    ctx.store.console.delete_meta(&totp_key(user_id)).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Login

/// `/console/login` input.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// National phone number, plain.
    pub account: String,
    /// md5 of the password, as `/user/login` receives it.
    pub password: String,
    /// Country code, default 86.
    pub area_code: String,
    /// The TOTP code (`googlecode`), needed when the admin enabled the second factor.
    pub code: Option<String>,
    /// The client's address (the login limiter counts it).
    pub source: Option<std::net::IpAddr>,
}

/// `/console/login`: password first, then role, then the second factor, so that nobody can
/// learn which phones are admin accounts without their password.
pub async fn login(ctx: &Ctx, r: LoginRequest) -> Result<Value> {
    let account = r.account.trim();
    if account.is_empty() {
        return Err(Error::missing("account"));
    }
    if !super::util::is_md5_hex(r.password.trim()) {
        return Err(Error::invalid(
            "password",
            "应为 32 位 md5 (md5 of the password)",
        ));
    }
    let area = if r.area_code.trim().is_empty() {
        "86"
    } else {
        r.area_code.trim()
    };
    let wrong = || Error::failure("帐号或密码错误！");
    let phone = format!("{area}{account}");
    let user = ctx.store.users.find_by_telephone(&phone).await?;
    let right =
        credentials::check_password(ctx, user.as_ref(), &phone, r.source, r.password.trim())
            .await?;
    let Some(user) = user.filter(|_| right) else {
        return Err(wrong());
    };
    if user.status == -1 {
        return Err(Error::failure("您的账号已被禁用"));
    }
    let roles = ctx.store.users.roles_of(user.user_id).await?;
    let console_roles: Vec<&UserRole> = roles
        .iter()
        .filter(|x| CONSOLE_ROLES.contains(&x.role))
        .collect();
    if console_roles.is_empty() {
        return Err(Error::failure("权限不足"));
    }
    let Some(role) = admin_role(ctx, user.user_id).await? else {
        return Err(Error::failure("您的账号已被禁用"));
    };
    if let Some(secret) = ctx.store.meta.get_meta(&totp_key(user.user_id)).await? {
        let code = r.code.as_deref().unwrap_or("").trim();
        if code.is_empty() {
            return Err(Error::failure("请输入谷歌验证码 (googlecode required)"));
        }
        if !check_totp(ctx, user.user_id, &secret, code).await? {
            return Err(Error::failure("谷歌验证失败"));
        }
    }
    let token = ctx
        .tokens
        .issue(&ctx.store, user.user_id, CONSOLE_AUDIENCE)
        .await?;
    start_session(ctx, &token).await?;
    ctx.store
        .console
        .touch_roles(user.user_id, CONSOLE_ROLES, now_secs())
        .await?;
    let totp = totp_enabled(ctx, user.user_id).await?;
    let mut m = Map::new();
    m.insert("access_Token".into(), json!(token));
    m.insert("access_token".into(), json!(token));
    m.insert("account".into(), json!(user.user_id.to_string()));
    m.insert("adminId".into(), json!(user.telephone));
    m.insert("apiKey".into(), json!(ctx.config.auth.api_key));
    m.insert("expires_in".into(), json!(SESSION_IDLE_SECS));
    m.insert("nickname".into(), json!(user.nickname));
    m.insert(
        "registerInviteCode".into(),
        json!(ctx
            .console
            .int("registerInviteCode", ctx.config.client.register_invite_code)),
    );
    m.insert("role".into(), json!(role.to_string()));
    m.insert("totpEnabled".into(), json!(totp));
    m.insert("userId".into(), json!(user.user_id));
    Ok(Value::Object(m))
}

// ---------------------------------------------------------------------------------------------
// Users

/// Fields the console may set on a user (`UserExample`); None = unchanged.
#[derive(Debug, Clone, Default)]
pub struct UserFields {
    /// National phone number.
    pub telephone: Option<String>,
    pub area_code: Option<String>,
    pub nickname: Option<String>,
    /// Plain password (hashed to md5 here, as the reference's console does).
    pub password: Option<String>,
    pub sex: Option<i32>,
    pub birthday: Option<i64>,
    pub user_type: Option<i32>,
    pub description: Option<String>,
    pub name: Option<String>,
}

impl UserFields {
    fn is_empty(&self) -> bool {
        self.telephone.is_none()
            && self.nickname.is_none()
            && self.password.is_none()
            && self.sex.is_none()
            && self.birthday.is_none()
            && self.user_type.is_none()
            && self.description.is_none()
            && self.name.is_none()
    }
}

/// How the console addresses a user: by userId, or by phone (the task system knows phones).
#[derive(Debug, Clone)]
pub enum UserRef {
    Id(i32),
    Phone { phone: String, area_code: String },
}

fn clean_phone(name: &str, raw: &str) -> Result<String> {
    let p = raw.trim();
    let p = p.strip_prefix('+').unwrap_or(p);
    if p.is_empty() {
        return Err(Error::missing(name));
    }
    if p.len() > 20 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(name, "应为手机号码 (digits)"));
    }
    Ok(p.to_string())
}

fn clean_area(raw: Option<&str>) -> Result<String> {
    let a = raw.map(str::trim).unwrap_or("");
    let a = a.strip_prefix('+').unwrap_or(a);
    if a.is_empty() {
        return Ok("86".into());
    }
    if a.len() > 6 || !a.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("areaCode", "应为国家代码 (digits)"));
    }
    Ok(a.to_string())
}

fn no_such_user(what: impl std::fmt::Display) -> Error {
    Error::CodeMsg {
        code: Code::AccountNotExist,
        msg: format!("{}: {what}", Code::AccountNotExist.text()),
    }
}

/// Finds the user a reference names: by id, or by `areaCode + phone` then the phone as given.
pub async fn find_user(ctx: &Ctx, r: &UserRef) -> Result<Option<User>> {
    match r {
        UserRef::Id(id) => Ok(ctx.store.users.get_user(*id).await?),
        UserRef::Phone { phone, area_code } => {
            let phone = clean_phone("phone", phone)?;
            for t in [format!("{area_code}{phone}"), phone.clone()] {
                if let Some(u) = ctx.store.users.find_by_telephone(&t).await? {
                    return Ok(Some(u));
                }
            }
            Ok(None)
        }
    }
}

/// Like [`find_user`], but a missing user is 1040101.
pub async fn require_user(ctx: &Ctx, r: &UserRef) -> Result<User> {
    find_user(ctx, r).await?.ok_or_else(|| {
        no_such_user(match r {
            UserRef::Id(id) => format!("userId {id}"),
            UserRef::Phone { phone, .. } => format!("phone {phone}"),
        })
    })
}

/// A user as the console shows it: the stored fields without secrets, with the login log.
async fn admin_user_view(ctx: &Ctx, u: &User) -> Result<Value> {
    let mut m = to_map(u);
    for secret in ["password", "payPassword"] {
        m.remove(secret);
    }
    let log = ctx.store.users.get_login_log(u.user_id).await?;
    m.insert(
        "loginLog".into(),
        log.map(|l| serde_json::to_value(l.login_log).unwrap_or(Value::Null))
            .unwrap_or(Value::Null),
    );
    m.insert("userId".into(), json!(u.user_id));
    Ok(Value::Object(m))
}

/// 1-based console paging.
#[derive(Debug, Clone, Copy)]
pub struct ConsolePage {
    /// 1-based.
    pub page: u64,
    pub limit: u64,
}

impl ConsolePage {
    /// Rows before this page.
    pub fn skip(&self) -> u64 {
        (self.page.max(1) - 1).saturating_mul(self.limit)
    }
}

/// `/console/userList` filter.
#[derive(Debug, Clone, Default)]
pub struct UserListRequest {
    /// `keyWorld`: nickname/phone substring, or an exact userId when numeric (≤ 9 digits).
    pub keyword: Option<String>,
    pub online: Option<i32>,
    /// createTime bounds, seconds.
    pub created_from: Option<i64>,
    pub created_to: Option<i64>,
    pub user_type: Option<i32>,
}

/// `/console/userList`.
pub async fn user_list(ctx: &Ctx, r: &UserListRequest, page: ConsolePage) -> Result<PageResult> {
    let keyword = r
        .keyword
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty());
    let user_id = keyword
        .filter(|k| k.len() <= 9 && k.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|k| k.parse::<i32>().ok());
    let q = ConsoleUserQuery {
        keyword: keyword.map(str::to_string),
        user_id,
        online: r.online,
        created_from: r.created_from,
        created_to: r.created_to,
        user_type: r.user_type,
        skip: page.skip(),
        limit: page.limit,
    };
    let (rows, count) = ctx.store.console.list_users(&q).await?;
    let mut data = Vec::with_capacity(rows.len());
    for u in &rows {
        data.push(admin_user_view(ctx, u).await?);
    }
    Ok(PageResult { data, count })
}

/// One user as the console shows it (`/console/updateUser` without changes).
pub async fn user_detail(ctx: &Ctx, r: &UserRef) -> Result<Value> {
    let u = require_user(ctx, r).await?;
    admin_user_view(ctx, &u).await
}

fn check_text(name: &str, v: &str, max: usize) -> Result<()> {
    if v.chars().count() > max {
        return Err(Error::invalid(
            name,
            format!("过长 (at most {max} characters)"),
        ));
    }
    Ok(())
}

/// Creates a user through the registration path (default friends, login log) without the
/// self-registration switches, which do not bind the console. Returns the new userId.
pub async fn create_user(ctx: &Ctx, f: &UserFields) -> Result<i32> {
    let phone = clean_phone("telephone", f.telephone.as_deref().unwrap_or(""))?;
    let area = clean_area(f.area_code.as_deref())?;
    let password = f
        .password
        .as_deref()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| Error::missing("password"))?;
    let user_type = f.user_type.unwrap_or(0);
    let r = Registration {
        telephone: phone,
        area_code: area,
        password: md5_hex(password),
        nickname: f.nickname.clone(),
        user_type,
        description: f.description.clone(),
        sex: f.sex.unwrap_or(0),
        birthday: f.birthday.unwrap_or(0),
        name: f.name.clone(),
        ..Registration::default()
    };
    let v = users::create_account(ctx, r).await?;
    v.get("userId")
        .and_then(Value::as_i64)
        .map(|id| id as i32)
        .ok_or_else(|| Error::Internal("registration answered no userId".into()))
}

/// Applies console changes to an existing user. A new password or phone ends the user's
/// sessions (their credentials changed).
pub async fn update_user(ctx: &Ctx, user: &User, f: &UserFields) -> Result<()> {
    let mut patch = Patch::new();
    let mut revoke = false;
    if let Some(n) = f
        .nickname
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
    {
        check_text("nickname", n, 100)?;
        patch.push_set("nickname", n);
    }
    if let Some(d) = &f.description {
        check_text("description", d, 1024)?;
        patch.push_set("description", d.as_str());
    }
    if let Some(n) = &f.name {
        check_text("name", n, 100)?;
        patch.push_set("name", n.as_str());
    }
    if let Some(s) = f.sex {
        if !(0..=1).contains(&s) {
            return Err(Error::invalid("sex", "应为 0 或 1"));
        }
        patch.push_set("sex", s);
    }
    if let Some(b) = f.birthday {
        patch.push_set("birthday", b);
    }
    if let Some(t) = f.user_type {
        if !(0..=3).contains(&t) {
            return Err(Error::invalid("userType", "应为 0/1/2/3"));
        }
        patch.push_set("userType", t);
    }
    if let Some(raw) = f.telephone.as_deref().filter(|t| !t.trim().is_empty()) {
        let phone = clean_phone("telephone", raw)?;
        let area = match &f.area_code {
            Some(_) => clean_area(f.area_code.as_deref())?,
            None if user.area_code.is_empty() => "86".into(),
            None => user.area_code.clone(),
        };
        let telephone = format!("{area}{phone}");
        if telephone != user.telephone {
            if let Some(other) = ctx.store.users.find_by_telephone(&telephone).await? {
                if other.user_id != user.user_id {
                    return Err(Error::failure("手机号已被注册"));
                }
            }
            patch.push_set("telephone", telephone);
            patch.push_set("phone", phone.as_str());
            patch.push_set("areaCode", area);
            patch.push_set("userKey", md5_hex(&phone));
            revoke = true;
        }
    }
    if let Some(p) = f.password.as_deref().filter(|p| !p.is_empty()) {
        patch.append(credentials::password_patch(ctx, user.user_id, &md5_hex(p)).await?);
        revoke = true;
    }
    if patch.is_empty() {
        return Ok(());
    }
    patch.push_set("modifyTime", now_secs());
    let updated = ctx
        .store
        .users
        .update_user(user.user_id, &patch)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Duplicate(_) => Error::failure("手机号已被注册"),
            e => e.into(),
        })?
        .ok_or_else(|| no_such_user(format!("userId {}", user.user_id)))?;
    if updated.nickname != user.nickname {
        // Friends show the nickname they stored with the relation.
        ctx.store
            .friends
            .update_friends_to(
                user.user_id,
                &Patch::new().set("toNickname", updated.nickname.as_str()),
            )
            .await?;
    }
    if revoke {
        credentials::revoke_all(ctx, user.user_id).await?;
        ctx.router.kick(user.user_id, None).await;
    }
    Ok(())
}

/// `/console/updateUser`: userId 0 (and no phone of an existing user) creates, otherwise
/// updates; without any field it shows the user. Returns `{userId, created}` or the user.
pub async fn save_user(
    ctx: &Ctx,
    actor: &Actor,
    target: Option<UserRef>,
    f: &UserFields,
) -> Result<Value> {
    match target {
        None => {
            let id = create_user(ctx, f).await?;
            Ok(json!({ "userId": id, "created": true }))
        }
        Some(r) => {
            let u = require_user(ctx, &r).await?;
            if f.is_empty() {
                return admin_user_view(ctx, &u).await;
            }
            refuse_system(u.user_id)?;
            guard_admin_target(ctx, actor, u.user_id).await?;
            let mut f = f.clone();
            if guard_password(ctx, actor, &u, &f).await? {
                f.password = None;
            }
            update_user(ctx, &u, &f).await?;
            Ok(json!({ "userId": u.user_id, "created": false }))
        }
    }
}

/// `/console/useralladd`: creates the user with this phone, or updates it when the phone is
/// already registered (so the task system may call it again for the same person).
pub async fn upsert_by_phone(ctx: &Ctx, actor: &Actor, f: &UserFields) -> Result<Value> {
    let phone = clean_phone("telephone", f.telephone.as_deref().unwrap_or(""))?;
    let area = clean_area(f.area_code.as_deref())?;
    let existing = find_user(
        ctx,
        &UserRef::Phone {
            phone: phone.clone(),
            area_code: area,
        },
    )
    .await?;
    match existing {
        Some(u) => {
            refuse_system(u.user_id)?;
            guard_admin_target(ctx, actor, u.user_id).await?;
            let mut f = f.clone();
            if guard_password(ctx, actor, &u, &f).await? {
                f.password = None;
            }
            // The phone is the key here, not a change.
            f.telephone = None;
            f.area_code = None;
            update_user(ctx, &u, &f).await?;
            Ok(json!({ "userId": u.user_id, "created": false }))
        }
        None => {
            let id = create_user(ctx, f).await?;
            Ok(json!({ "userId": id, "created": true }))
        }
    }
}

fn refuse_system(user_id: i32) -> Result<()> {
    if user_id == SYSTEM_PUBLIC_ID || user_id == SYSTEM_SENDER_ID {
        return Err(Error::failure("系统用户不能修改或删除"));
    }
    Ok(())
}

/// The integration key gives a new user its first password but never changes an existing
/// user's: whoever holds the key could otherwise take over any account. Repeating the password
/// the user already has (a sync sent again) is let through; answers whether the password is to
/// be left out of the update for that reason.
async fn guard_password(ctx: &Ctx, actor: &Actor, user: &User, f: &UserFields) -> Result<bool> {
    let Some(p) = f.password.as_deref().filter(|p| !p.is_empty()) else {
        return Ok(false);
    };
    if !matches!(actor, Actor::Integration) {
        return Ok(false);
    }
    let same = ctx
        .passwords
        .verify(Some((user.user_id, &user.password)), &md5_hex(p))
        .await?;
    if matches!(same, PasswordCheck::Ok | PasswordCheck::OkLegacy) {
        return Ok(true);
    }
    Err(Error::CodeMsg {
        code: Code::AuthFailed,
        msg: "集成密钥不能修改已有用户的密码 (the integration key cannot change an existing user's password)".into(),
    })
}

/// Admin accounts may only be changed by a super admin (role 6).
async fn guard_admin_target(ctx: &Ctx, actor: &Actor, user_id: i32) -> Result<()> {
    if has_console_role(ctx, user_id).await? {
        actor.require(Need::Super)?;
    }
    Ok(())
}

async fn has_console_role(ctx: &Ctx, user_id: i32) -> Result<bool> {
    Ok(ctx
        .store
        .users
        .roles_of(user_id)
        .await?
        .iter()
        .any(|r| CONSOLE_ROLES.contains(&r.role)))
}

/// Ends every session of a user: tokens (every device, via the token version) and live
/// connections on every node (the XMPP gateway answers a `conflict` stream error).
async fn end_user_sessions(ctx: &Ctx, user_id: i32) -> Result<()> {
    credentials::revoke_all(ctx, user_id).await?;
    ctx.router.kick(user_id, None).await;
    Ok(())
}

/// `/console/deleteUser`: really deletes each user: 512 to each friend, out of every room
/// (a room they own is dissolved), sessions ended, then the user, login log, roles and
/// relations. Returns the userIds deleted.
pub async fn delete_users(ctx: &Ctx, actor: &Actor, refs: &[UserRef]) -> Result<Vec<i32>> {
    let mut targets = Vec::new();
    for r in refs {
        let u = require_user(ctx, r).await?;
        refuse_system(u.user_id)?;
        if u.user_id == actor.user_id() {
            return Err(Error::failure("不能删除自己"));
        }
        guard_admin_target(ctx, actor, u.user_id).await?;
        targets.push(u);
    }
    let mut deleted = Vec::new();
    for u in targets {
        delete_one_user(ctx, &u).await?;
        deleted.push(u.user_id);
    }
    Ok(deleted)
}

async fn delete_one_user(ctx: &Ctx, u: &User) -> Result<()> {
    let uid = u.user_id;
    let owned = ctx
        .store
        .friends
        .query_friends(&FriendQuery {
            user_id: uid,
            ..FriendQuery::default()
        })
        .await?;
    let followers = ctx.store.friends.followers(uid, None, 0, 0).await?;
    // 512 ("deleted as a friend") to everyone who had the user as a friend.
    for f in owned
        .iter()
        .filter(|f| f.status == 2 && f.to_user_id != SYSTEM_PUBLIC_ID)
    {
        let n = Notice {
            msg_type: 512,
            content: json!(""),
            from_user_id: Some(uid.to_string()),
            from_user_name: Some(u.nickname.clone()),
            to_user_id: Some(f.to_user_id.to_string()),
            to_user_name: Some(f.to_nickname.clone()),
            ..Notice::default()
        };
        if let Err(e) = messages::notify_user(ctx, f.to_user_id, &n).await {
            tracing::warn!(error = %e, to = f.to_user_id, "512 not sent");
        }
    }
    for jid in ctx.store.rooms.room_jids_of(uid).await? {
        let Some(room) = ctx.store.rooms.get_room_by_jid(&jid).await? else {
            continue;
        };
        let room_id = room.id.clone().unwrap_or_default();
        if room.user_id == uid {
            rooms::console_delete(ctx, &room_id).await?;
        } else {
            rooms::console_remove_members(ctx, &room_id, &[uid]).await?;
        }
    }
    // Through the relation port, so its cache forgets them too.
    for f in &owned {
        ctx.store.friends.delete_friend(uid, f.to_user_id).await?;
    }
    for f in &followers {
        ctx.store.friends.delete_friend(f.user_id, uid).await?;
    }
    end_user_sessions(ctx, uid).await?;
    ctx.store.console.delete_user(uid).await?;
    Ok(())
}

/// `/console/changeStatus`: locks (-1) or unlocks (1) a user. Locking ends their tokens and
/// live sessions.
pub async fn change_status(ctx: &Ctx, actor: &Actor, r: &UserRef, status: i32) -> Result<i32> {
    if status != 1 && status != -1 {
        return Err(Error::invalid("status", "应为 1 (正常) 或 -1 (锁定)"));
    }
    let u = require_user(ctx, r).await?;
    refuse_system(u.user_id)?;
    if u.user_id == actor.user_id() {
        return Err(Error::failure("不能锁定自己"));
    }
    guard_admin_target(ctx, actor, u.user_id).await?;
    ctx.store
        .users
        .update_user(u.user_id, &Patch::new().set("status", status))
        .await?;
    if status == -1 {
        end_user_sessions(ctx, u.user_id).await?;
    }
    Ok(u.user_id)
}

/// `/console/restPwd`: sets a new password (plain, hashed like the client's md5), default
/// "123456" as the reference; the user's sessions end.
pub async fn reset_password(
    ctx: &Ctx,
    actor: &Actor,
    r: &UserRef,
    password: Option<&str>,
) -> Result<i32> {
    let u = require_user(ctx, r).await?;
    refuse_system(u.user_id)?;
    guard_admin_target(ctx, actor, u.user_id).await?;
    let plain = password.filter(|p| !p.is_empty()).unwrap_or("123456");
    let patch = credentials::password_patch(ctx, u.user_id, &md5_hex(plain))
        .await?
        .set("modifyTime", now_secs());
    ctx.store.users.update_user(u.user_id, &patch).await?;
    end_user_sessions(ctx, u.user_id).await?;
    Ok(u.user_id)
}

/// Rows `/console/loginBlocks` answers at most.
const LOGIN_BLOCKS_SHOWN: usize = 1000;

/// `/console/loginBlocks`: accounts and addresses with failed password attempts counted by the
/// login limiter, most recent first; `retrySecs` > 0 means attempts are refused that long.
pub fn login_blocks(ctx: &Ctx) -> Value {
    let rows: Vec<Value> = ctx
        .passwords
        .guard()
        // A flood of guessers can be counted by the hundred thousand; the console shows the
        // most recent ones.
        .blocks(LOGIN_BLOCKS_SHOWN)
        .into_iter()
        .map(|b| {
            let user_id = b
                .key
                .strip_prefix("account:user:")
                .and_then(|id| id.parse::<i32>().ok());
            json!({
                "key": b.key,
                "userId": user_id,
                "failures": b.failures,
                "retrySecs": b.retry_secs,
                "blocked": b.retry_secs > 0,
                "lastSecsAgo": b.last_secs_ago,
            })
        })
        .collect();
    json!(rows)
}

/// `/console/loginBlocks/clear`: forgets the counted attempts of one key (as listed), of a
/// user's account, or of everything; answers how many were cleared (all: -1).
pub fn clear_login_blocks(ctx: &Ctx, key: Option<&str>, user_id: Option<i32>) -> Result<i64> {
    let guard = ctx.passwords.guard();
    match (key.filter(|k| !k.is_empty()), user_id) {
        (Some(k), _) => Ok(i64::from(guard.clear(k))),
        (None, Some(id)) => Ok(i64::from(guard.clear(&format!("account:user:{id}")))),
        (None, None) => {
            guard.clear_all();
            Ok(-1)
        }
    }
}

/// `/console/initSysUser`: (re)creates the system users 10000 and 10005 when missing. Other
/// ids are refused: the reference gave them the password md5(userId), a backdoor.
pub async fn init_sys_user(ctx: &Ctx, user_id: i32) -> Result<Value> {
    if user_id != 0 && user_id != SYSTEM_PUBLIC_ID && user_id != SYSTEM_SENDER_ID {
        return Err(Error::invalid(
            "userId",
            "只能初始化系统用户 10000 / 10005 (system users only)",
        ));
    }
    let mut missing = Vec::new();
    for id in [SYSTEM_PUBLIC_ID, SYSTEM_SENDER_ID] {
        if (user_id == 0 || user_id == id) && ctx.store.users.get_user(id).await?.is_none() {
            missing.push(id);
        }
    }
    users::ensure_system_users(ctx).await?;
    Ok(json!({ "created": missing }))
}

// ---------------------------------------------------------------------------------------------
// Admin accounts

/// `/console/adminList`: console accounts with their role and user.
pub async fn admin_list(ctx: &Ctx, page: ConsolePage) -> Result<PageResult> {
    let (roles, count) = ctx
        .store
        .console
        .list_roles(CONSOLE_ROLES, page.skip(), page.limit)
        .await?;
    let mut data = Vec::new();
    for r in roles {
        let u = ctx.store.users.get_user(r.user_id).await?;
        data.push(json!({
            "userId": r.user_id,
            "role": r.role,
            "status": r.status,
            "createTime": r.create_time,
            "lastLoginTime": r.last_login_time,
            "telephone": u.as_ref().map(|u| u.telephone.clone()),
            "nickname": u.as_ref().map(|u| u.nickname.clone()),
            "totpEnabled": totp_enabled(ctx, r.user_id).await?,
        }));
    }
    Ok(PageResult { data, count })
}

fn check_role(role: i32) -> Result<i32> {
    if CONSOLE_ROLES.contains(&role) {
        Ok(role)
    } else {
        Err(Error::invalid("role", "应为 1/4/5/6/7"))
    }
}

/// Replaces a user's console role document.
async fn put_role(ctx: &Ctx, u: &User, role: i32, status: i32, create_time: i64) -> Result<()> {
    ctx.store
        .console
        .delete_roles(u.user_id, CONSOLE_ROLES)
        .await?;
    ctx.store
        .users
        .insert_role(&UserRole {
            user_id: u.user_id,
            phone: Some(u.telephone.clone()),
            role,
            status,
            create_time,
            last_login_time: 0,
        })
        .await?;
    Ok(())
}

/// Grants a console role to a user; the user is created when `create` holds a phone and a
/// password and nobody has that phone yet. Used by `/console/addAdmin` and `admin create`.
pub async fn grant_admin(
    ctx: &Ctx,
    target: &UserRef,
    role: i32,
    create: Option<&UserFields>,
) -> Result<i32> {
    let role = check_role(role)?;
    let user = match find_user(ctx, target).await? {
        Some(u) => u,
        None => match create {
            Some(f) if f.password.as_deref().is_some_and(|p| !p.is_empty()) => {
                let id = create_user(ctx, f).await?;
                require_user(ctx, &UserRef::Id(id)).await?
            }
            _ => {
                return Err(require_user(ctx, target)
                    .await
                    .err()
                    .unwrap_or_else(|| no_such_user("?")))
            }
        },
    };
    refuse_system(user.user_id)?;
    if user.status == -1 {
        return Err(Error::failure("该用户已被锁定"));
    }
    put_role(ctx, &user, role, 1, now_secs()).await?;
    Ok(user.user_id)
}

/// How many active super admins there are besides `except`.
async fn other_super_admins(ctx: &Ctx, except: i32) -> Result<u64> {
    let (roles, _) = ctx.store.console.list_roles(&[ROLE_SUPER], 0, 1000).await?;
    Ok(roles
        .iter()
        .filter(|r| r.user_id != except && r.status != -1)
        .count() as u64)
}

/// `/console/modifyAdmin`: changes an admin's role and/or status (1 enabled, -1 disabled).
/// Nobody changes their own account here, and the last super admin stays.
pub async fn modify_admin(
    ctx: &Ctx,
    actor: &Actor,
    user_id: i32,
    role: Option<i32>,
    status: Option<i32>,
) -> Result<()> {
    if user_id == actor.user_id() {
        return Err(Error::failure("不能修改自己的后台账号"));
    }
    let roles = ctx.store.users.roles_of(user_id).await?;
    let current = roles
        .iter()
        .filter(|r| CONSOLE_ROLES.contains(&r.role))
        .max_by_key(|r| rank(r.role))
        .cloned()
        .ok_or_else(|| Error::failure("该用户不是后台账号"))?;
    let role = role.map(check_role).transpose()?.unwrap_or(current.role);
    let status = match status {
        None => current.status,
        Some(s) if s == 1 || s == -1 => s,
        Some(_) => return Err(Error::invalid("status", "应为 1 (启用) 或 -1 (禁用)")),
    };
    if current.role == ROLE_SUPER
        && (role != ROLE_SUPER || status == -1)
        && other_super_admins(ctx, user_id).await? == 0
    {
        return Err(Error::failure("至少保留一个超级管理员"));
    }
    let u = require_user(ctx, &UserRef::Id(user_id)).await?;
    put_role(ctx, &u, role, status, current.create_time).await
}

/// `/console/delAdmin`: removes the console roles of a user (the user itself stays).
pub async fn del_admin(ctx: &Ctx, actor: &Actor, user_id: i32) -> Result<()> {
    if user_id == actor.user_id() {
        return Err(Error::failure("不能删除自己的后台账号"));
    }
    if admin_role(ctx, user_id).await? == Some(ROLE_SUPER)
        && other_super_admins(ctx, user_id).await? == 0
    {
        return Err(Error::failure("至少保留一个超级管理员"));
    }
    let n = ctx
        .store
        .console
        .delete_roles(user_id, CONSOLE_ROLES)
        .await?;
    if n == 0 {
        return Err(Error::failure("该用户不是后台账号"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Rooms

/// `/console/roomList`: rooms whose name or description contains `keyword`, with more than
/// `least` members, newest first. The member filter has no store index, so the matching rooms
/// are read once and paged here.
pub async fn room_list(
    ctx: &Ctx,
    keyword: Option<&str>,
    least: i32,
    page: ConsolePage,
) -> Result<PageResult> {
    let rooms = ctx
        .store
        .rooms
        .query_rooms(&crate::store::RoomQuery {
            keyword: keyword
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(str::to_string),
            ..crate::store::RoomQuery::default()
        })
        .await?;
    let matching: Vec<_> = rooms.into_iter().filter(|r| r.user_size > least).collect();
    let count = matching.len() as u64;
    let data = matching
        .iter()
        .skip(usize::try_from(page.skip()).unwrap_or(usize::MAX))
        .take(usize::try_from(page.limit).unwrap_or(usize::MAX))
        .map(|r| rooms::room_view(r, Vec::new(), Vec::new(), None))
        .collect();
    Ok(PageResult { data, count })
}

/// `/console/getRoomMember`: a room with all its members and notices.
pub async fn room_detail(ctx: &Ctx, room_id: &str) -> Result<Value> {
    let room = rooms::load_room(ctx, room_id).await?;
    let id = room.id.clone().unwrap_or_default();
    let members = ctx
        .store
        .rooms
        .query_members(&crate::store::MemberQuery {
            room_id: id.clone(),
            ..crate::store::MemberQuery::default()
        })
        .await?;
    let notices = ctx.store.rooms.notices(&id, 0, 0).await?;
    Ok(rooms::room_view(
        &room,
        members.iter().map(rooms::member_view).collect(),
        notices.iter().map(rooms::notice_view).collect(),
        None,
    ))
}

// ---------------------------------------------------------------------------------------------
// Push to every user

/// Users per batch of `/console/pushToAll`.
const PUSH_BATCH: u32 = 200;

fn push_key(job: &str) -> String {
    format!("console_push:{job}")
}

/// Who a mass-sending job sends to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// Every user (userId descending), `/console/pushToAll`.
    AllUsers,
    /// The followers (friends) of this public account, `/mp/*ToAll`.
    Fans(i32),
}

/// `/console/pushToAll`: checks the sender and body, then sends the message to every user
/// (userId descending, the sender and 10005 left out) in batches on a background task, so the
/// request returns at once. Progress is kept under the returned `jobId`.
pub async fn push_to_all(ctx: &Arc<Ctx>, from: i32, body: Map<String, Value>) -> Result<Value> {
    start_push(ctx, from, body, Recipients::AllUsers).await
}

/// Starts a mass-sending job: the message from `from` to each of `to`, in batches of
/// [`PUSH_BATCH`] on a background task; answers its `jobId` at once.
pub async fn start_push(
    ctx: &Arc<Ctx>,
    from: i32,
    body: Map<String, Value>,
    to: Recipients,
) -> Result<Value> {
    let sender = ctx
        .store
        .users
        .get_user(from)
        .await?
        .ok_or_else(|| no_such_user(format!("fromUserId {from}")))?;
    if sender.status == -1 {
        return Err(Error::Code(Code::AccountIsLocked));
    }
    let msg_type = body.get("type").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=99).contains(&msg_type) {
        return Err(Error::invalid("body", "type 应为聊天消息类型 1–99"));
    }
    let job = uuid32();
    let state = json!({ "jobId": job, "from": from, "done": false, "sent": 0, "failed": 0, "startTime": now_millis() });
    ctx.store
        .console
        .set_meta(&push_key(&job), &state.to_string())
        .await?;
    let weak = Arc::downgrade(ctx);
    let job_id = job.clone();
    tokio::spawn(async move {
        if let Err(e) = run_push(weak, &job_id, from, body, to).await {
            tracing::error!(error = %e, job = %job_id, "mass sending stopped");
        }
    });
    Ok(json!({ "jobId": job }))
}

/// The next batch of a job's recipients after `cursor` (a userId for every user, a count of
/// fans already read for a public account's), and the cursor after it.
async fn next_recipients(ctx: &Ctx, to: Recipients, cursor: i64) -> Result<(Vec<i32>, i64)> {
    match to {
        Recipients::AllUsers => {
            let batch = ctx
                .store
                .users
                .query_users(&UserQuery {
                    before: (cursor != 0).then_some(cursor as i32),
                    min_user_id: i32::MIN,
                    limit: PUSH_BATCH,
                    ..UserQuery::default()
                })
                .await?;
            let next = batch.last().map_or(cursor, |u| i64::from(u.user_id));
            Ok((batch.iter().map(|u| u.user_id).collect(), next))
        }
        Recipients::Fans(account) => {
            let batch = ctx
                .store
                .friends
                .query_friends(&super::friends::fans_query(
                    ctx,
                    account,
                    cursor as u64,
                    u64::from(PUSH_BATCH),
                ))
                .await?;
            let next = cursor + batch.len() as i64;
            Ok((batch.iter().map(|f| f.to_user_id).collect(), next))
        }
    }
}

async fn run_push(
    weak: Weak<Ctx>,
    job: &str,
    from: i32,
    body: Map<String, Value>,
    to: Recipients,
) -> Result<()> {
    let (mut sent, mut failed) = (0u64, 0u64);
    let mut cursor = 0_i64;
    loop {
        // The server may be shutting down: the task then ends with the context.
        let Some(ctx) = weak.upgrade() else {
            return Ok(());
        };
        let (batch, next) = next_recipients(&ctx, to, cursor).await?;
        if batch.is_empty() {
            break;
        }
        cursor = next;
        for user_id in batch {
            if user_id == from || user_id == SYSTEM_SENDER_ID {
                continue;
            }
            let mut b = body.clone();
            b.insert("messageId".into(), json!(uuid32()));
            b.insert("timeSend".into(), json!(now_millis()));
            let out = Outgoing {
                from,
                resource: "console".into(),
                target: Target::User(user_id),
                body: b,
                origin: None,
            };
            match messages::send(&ctx, out).await {
                Ok(_) => sent += 1,
                Err(_) => failed += 1,
            }
        }
        let state =
            json!({ "jobId": job, "from": from, "done": false, "sent": sent, "failed": failed });
        ctx.store
            .console
            .set_meta(&push_key(job), &state.to_string())
            .await?;
        drop(ctx);
        // Between batches the runtime serves everything else first.
        tokio::task::yield_now().await;
    }
    if let Some(ctx) = weak.upgrade() {
        let state = json!({ "jobId": job, "from": from, "done": true, "sent": sent, "failed": failed, "endTime": now_millis() });
        ctx.store
            .console
            .set_meta(&push_key(job), &state.to_string())
            .await?;
    }
    Ok(())
}

/// Progress of a `/console/pushToAll` job.
pub async fn push_status(ctx: &Ctx, job: &str) -> Result<Value> {
    let text = ctx
        .store
        .meta
        .get_meta(&push_key(job))
        .await?
        .ok_or_else(|| Error::failure("任务不存在 (no such jobId)"))?;
    serde_json::from_str(&text).map_err(|e| Error::Internal(format!("push state: {e}")))
}

// ---------------------------------------------------------------------------------------------
// Chat logs

fn body_text(message: &str, body: &str) -> String {
    [message, body]
        .into_iter()
        .find(|s| s.trim_start().starts_with('{'))
        .unwrap_or(message)
        .to_string()
}

/// Nicknames of users, looked up once each.
struct Names<'a> {
    ctx: &'a Ctx,
    seen: HashMap<String, String>,
}

impl Names<'_> {
    async fn of(&mut self, id: &str) -> Result<String> {
        if let Some(n) = self.seen.get(id) {
            return Ok(n.clone());
        }
        let name = match id.trim().parse::<i32>() {
            Ok(uid) => self
                .ctx
                .store
                .users
                .get_user(uid)
                .await?
                .map(|u| u.nickname)
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        self.seen.insert(id.to_string(), name.clone());
        Ok(name)
    }
}

/// `content` of a stored body, "--" when it cannot be read (as the reference).
fn content_of(row_content: &str, body: &str) -> String {
    if !row_content.is_empty() {
        return row_content.to_string();
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(m)) => match m.get("content") {
            Some(Value::String(s)) => s.clone(),
            Some(v) => v.to_string(),
            None => "--".into(),
        },
        _ => "--".into(),
    }
}

/// `/console/chat_logs_all`.
pub async fn chat_logs(ctx: &Ctx, mut q: ChatLogQuery, page: ConsolePage) -> Result<PageResult> {
    q.exclude_users = vec![SYSTEM_SENDER_ID];
    q.skip = page.skip();
    q.limit = page.limit;
    let (rows, count) = ctx.store.console.chat_logs(&q).await?;
    let mut names = Names {
        ctx,
        seen: HashMap::new(),
    };
    let mut data = Vec::with_capacity(rows.len());
    for row in &rows {
        let text = body_text(&row.message, &row.body);
        let mut m = to_map(row);
        m.insert("message".into(), json!(text));
        m.insert("body".into(), json!(text));
        m.insert("isEncrypt".into(), json!(row.is_encrypt as i32));
        m.insert("content".into(), json!(content_of(&row.content, &text)));
        m.insert(
            "sender_nickname".into(),
            json!(names.of(&row.sender).await?),
        );
        m.insert(
            "receiver_nickname".into(),
            json!(names.of(&row.receiver).await?),
        );
        data.push(Value::Object(m));
    }
    Ok(PageResult { data, count })
}

/// `/console/chat_logs_all/del`: deletes every copy of the matching messages. Without any
/// filter it only runs with `all` (deleting the whole single-chat history is never implicit).
pub async fn delete_chat_logs(ctx: &Ctx, mut q: ChatLogQuery, all: bool) -> Result<u64> {
    let filtered = q.start_ms.is_some()
        || q.end_ms.is_some()
        || q.sender.is_some()
        || q.receiver.is_some()
        || q.keyword.is_some();
    if !filtered && !all {
        return Err(Error::invalid(
            "sender",
            "至少需要一个筛选条件 (startTime/endTime/sender/receiver/keyWord), 或 all=1",
        ));
    }
    q.exclude_users = Vec::new();
    Ok(ctx.store.console.delete_chat_logs(&q).await?)
}

/// `/console/deleteChatMsgs`: by row `_id`s, or type 1 (older than a month) / 2 (keep the
/// newest 100000).
pub async fn delete_chat_msgs(ctx: &Ctx, ids: &[String], kind: i32) -> Result<u64> {
    if !ids.is_empty() {
        return Ok(ctx.store.console.delete_chat_rows(ids).await?);
    }
    match kind {
        1 => {
            let month_ago = now_millis() - 30 * 24 * 3600 * 1000;
            Ok(ctx.store.console.delete_chats_before(month_ago).await?)
        }
        2 => Ok(ctx.store.console.trim_chats(100_000).await?),
        _ => Err(Error::invalid(
            "msgId",
            "缺失: 需要 msgId, 或 type=1 / type=2",
        )),
    }
}

/// `/console/groupchat_logs_all` and `/console/roomMsgDetail`.
pub async fn room_logs(ctx: &Ctx, mut q: RoomLogQuery, page: ConsolePage) -> Result<PageResult> {
    if ctx.store.rooms.get_room_by_jid(&q.jid).await?.is_none() {
        return Err(Error::failure("群组不存在！"));
    }
    q.skip = page.skip();
    q.limit = page.limit;
    let (rows, count) = ctx.store.console.room_logs(&q).await?;
    let mut names = Names {
        ctx,
        seen: HashMap::new(),
    };
    let mut data = Vec::with_capacity(rows.len());
    for row in &rows {
        let mut v = super::history::muc_view(row, None)?;
        let text = body_text(&row.message, &row.body);
        if let Value::Object(m) = &mut v {
            let from = if row.sender.is_empty() {
                row.sender_jid.split('/').next().unwrap_or("").to_string()
            } else {
                row.sender.clone()
            };
            m.insert(
                "isEncrypt".into(),
                json!(text.contains("\"isEncrypt\":true") as i32),
            );
            m.insert("content".into(), json!(content_of(&row.content, &text)));
            m.insert("fromUserName".into(), json!(names.of(&from).await?));
        }
        data.push(v);
    }
    Ok(PageResult { data, count })
}

/// `/console/groupchat_logs_all/del`.
pub async fn delete_room_logs(ctx: &Ctx, jid: &str, ids: &[String]) -> Result<u64> {
    if ctx.store.rooms.get_room_by_jid(jid).await?.is_none() {
        return Err(Error::failure("群组不存在！"));
    }
    Ok(ctx.store.console.delete_room_rows(jid, ids).await?)
}

// ---------------------------------------------------------------------------------------------
// Online statistics: sampled, not derived from login logs (a login log keeps only the last
// login, so past online counts cannot be rebuilt from it). Every node samples the shared
// `onlinestate` count into the same 5-minute bucket, so several nodes write one sample.

/// Seconds between samples.
pub const SAMPLE_SECS: i64 = 300;
/// How long samples are kept, seconds (90 days).
const SAMPLE_KEEP_SECS: i64 = 90 * 24 * 3600;

async fn online_now(ctx: &Ctx) -> Result<u64> {
    let (_, n) = ctx
        .store
        .console
        .list_users(&ConsoleUserQuery {
            online: Some(1),
            ..ConsoleUserQuery::default()
        })
        .await?;
    Ok(n)
}

/// Records the current online count in this 5-minute bucket.
pub async fn sample_online(ctx: &Ctx) -> Result<()> {
    let now = now_secs();
    let n = online_now(ctx).await?;
    ctx.store
        .console
        .put_online_sample(now - now % SAMPLE_SECS, n)
        .await?;
    ctx.store
        .console
        .prune_online_samples(now - SAMPLE_KEEP_SECS)
        .await?;
    Ok(())
}

/// `/console/userStatus`: online users now and the samples of the last `hours` hours.
pub async fn user_status(ctx: &Ctx, hours: i64) -> Result<Value> {
    let now = now_secs();
    let samples = ctx
        .store
        .console
        .online_samples(now - hours * 3600, now)
        .await?;
    let (_, users) = ctx
        .store
        .console
        .list_users(&ConsoleUserQuery::default())
        .await?;
    Ok(json!({
        "onlineNow": online_now(ctx).await?,
        "userCount": users,
        "intervalSecs": SAMPLE_SECS,
        "samples": samples.iter().map(|(ts, n)| json!({ "time": ts, "count": n })).collect::<Vec<_>>(),
    }))
}

/// `/user/getUserStatusCount`: the online samples between `from` and `to` (seconds) as
/// `{time (s), count, type}` rows, oldest first, paged: `kind` 1 the online count, 0 the
/// offline count (users now less those online then; users are not sampled).
pub async fn user_status_count(
    ctx: &Ctx,
    from: i64,
    to: i64,
    kind: i32,
    page: Page,
) -> Result<Vec<Value>> {
    if !(0..=1).contains(&kind) {
        return Err(Error::invalid("type", "应为 0 (离线) 或 1 (在线)"));
    }
    if to < from || to - from > SAMPLE_KEEP_SECS {
        return Err(Error::invalid(
            "endData",
            "应在 startData 之后且相距不超过 90 天",
        ));
    }
    let samples = ctx.store.console.online_samples(from, to).await?;
    let users = if kind == 0 {
        ctx.store
            .console
            .list_users(&ConsoleUserQuery::default())
            .await?
            .1
    } else {
        0
    };
    Ok(samples
        .iter()
        .skip(usize::try_from(page.skip()).unwrap_or(usize::MAX))
        .take(page.size as usize)
        .map(|(ts, online)| {
            let count = if kind == 1 {
                *online
            } else {
                users.saturating_sub(*online)
            };
            json!({ "time": ts, "count": count, "type": kind })
        })
        .collect())
}

/// `/console/addAllUser`: the reference copied every user into Tigase's `tig_users`. Here the
/// XMPP service authenticates against the users themselves, so every user already has its
/// XMPP account: nothing is copied; the answer counts the users that can log in over XMPP.
pub async fn add_all_user(ctx: &Ctx) -> Result<Value> {
    let (_, users) = ctx
        .store
        .console
        .list_users(&ConsoleUserQuery::default())
        .await?;
    Ok(json!({ "userCount": users, "copied": 0 }))
}

/// `/console/summary`: the dashboard's numbers.
pub async fn summary(ctx: &Ctx) -> Result<Value> {
    let (_, users) = ctx
        .store
        .console
        .list_users(&ConsoleUserQuery::default())
        .await?;
    let now = chrono::Local::now();
    let midnight = now
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
        .map(|t| t.timestamp_millis())
        .unwrap_or(0);
    let (_, today) = ctx
        .store
        .console
        .chat_logs(&ChatLogQuery {
            start_ms: Some(midnight),
            exclude_users: vec![SYSTEM_SENDER_ID],
            ..ChatLogQuery::default()
        })
        .await?;
    let rooms = ctx.store.console.count_rooms().await?;
    Ok(json!({
        "userCount": users,
        "onlineNow": online_now(ctx).await?,
        "roomCount": rooms,
        "messagesToday": today,
    }))
}

/// Loads the persisted `/config` overrides into this node.
pub async fn reload_overrides(ctx: &Ctx) -> Result<()> {
    ctx.console.reload(&ctx.store).await
}

/// `/console/config`: every settable value as `/config` serves it now, and which are set in the
/// console (the rest come from the configuration file).
pub fn config_get(ctx: &Ctx) -> Value {
    let served = super::client_config::client_config(ctx, "", "");
    let mut values = Map::new();
    for (k, _) in SETTABLE {
        values.insert(
            (*k).to_string(),
            served.get(*k).cloned().unwrap_or(Value::Null),
        );
    }
    let overridden: Vec<String> = ctx.console.snapshot().keys().cloned().collect();
    json!({ "values": values, "overridden": overridden })
}

fn parse_setting(key: &str, kind: Kind, raw: &str) -> Result<Value> {
    let raw = raw.trim();
    Ok(match kind {
        Kind::Text => {
            check_text(key, raw, 1024)?;
            json!(raw)
        }
        Kind::Int => json!(raw
            .parse::<i32>()
            .map_err(|_| Error::invalid(key, "应为整数"))?),
        Kind::Flag => match raw {
            "0" => json!(0),
            "1" => json!(1),
            _ => return Err(Error::invalid(key, "应为 0 或 1")),
        },
        Kind::Number => {
            let f = raw
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite())
                .ok_or_else(|| Error::invalid(key, "应为数字"))?;
            json!(f)
        }
    })
}

/// `/console/config/set`: sets the given keys (a key sent as `-` goes back to the
/// configuration file's value); unknown parameters are ignored as everywhere. Nothing is saved
/// unless every given value is valid.
pub async fn config_set(ctx: &Ctx, params: &[(String, String)]) -> Result<Value> {
    let mut m = ctx.console.snapshot();
    let mut changed = 0;
    for (k, raw) in params {
        let Some((key, kind)) = SETTABLE.iter().find(|(s, _)| s == k) else {
            continue;
        };
        if raw.trim() == "-" {
            m.remove(*key);
        } else {
            m.insert((*key).to_string(), parse_setting(key, *kind, raw)?);
        }
        changed += 1;
    }
    if changed == 0 {
        return Err(Error::invalid(
            "config",
            "缺失: 没有可设置的参数 (no settable /config key given)",
        ));
    }
    ctx.store
        .console
        .set_meta(OVERRIDES_KEY, &Value::Object(m.clone()).to_string())
        .await?;
    ctx.console.replace(m);
    ctx.router.settings_changed().await;
    Ok(config_get(ctx))
}

/// Starts this node's console background work: the online sample every 5 minutes and the
/// refresh of the `/config` overrides (set on another node) every 30 seconds, and at once when
/// another node says they changed. It ends with the context.
pub fn spawn_background(ctx: &Arc<Ctx>) {
    let mut events = ctx.router.events();
    let weak = Arc::downgrade(ctx);
    tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(ClusterEvent::SettingsChanged)
                | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
            let Some(ctx) = weak.upgrade() else { return };
            if let Err(e) = reload_overrides(&ctx).await {
                tracing::warn!(error = %e, "console overrides not reloaded");
            }
        }
    });
    let weak = Arc::downgrade(ctx);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        let mut last_bucket = -1;
        loop {
            tick.tick().await;
            let Some(ctx) = weak.upgrade() else { return };
            if let Err(e) = reload_overrides(&ctx).await {
                tracing::warn!(error = %e, "console overrides not refreshed");
            }
            let bucket = now_secs() / SAMPLE_SECS;
            if bucket != last_bucket {
                match sample_online(&ctx).await {
                    Ok(()) => last_bucket = bucket,
                    Err(e) => tracing::warn!(error = %e, "online sample not recorded"),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_decide_what_an_actor_may_do() {
        let admin = |role| Actor::Admin { user_id: 1, role };
        for role in CONSOLE_ROLES {
            assert!(admin(*role).require(Need::Read).is_ok());
        }
        for role in [ROLE_TOURIST, ROLE_SERVICE, ROLE_FINANCE] {
            let e = admin(role).require(Need::Manage).unwrap_err();
            assert_eq!(e.code(), 1030103);
            assert!(admin(role).require(Need::Sync).is_err());
        }
        assert!(admin(ROLE_ADMIN).require(Need::Manage).is_ok());
        assert!(admin(ROLE_ADMIN).require(Need::Super).is_err());
        assert!(admin(ROLE_SUPER).require(Need::Super).is_ok());
        assert!(Actor::Integration.require(Need::Sync).is_ok());
        assert!(Actor::Integration.require(Need::Read).is_err());
        assert!(Actor::Integration.require(Need::Manage).is_err());
        assert_eq!(rank(ROLE_SUPER).max(rank(ROLE_TOURIST)), rank(ROLE_SUPER));
    }

    #[test]
    fn totp_matches_rfc_6238_and_refuses_garbage() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 s → 94287082
        // (8 digits); its last 6 digits are the 6-digit code.
        let secret = match totp_rs::Secret::Raw(b"12345678901234567890".to_vec()).to_encoded() {
            totp_rs::Secret::Encoded(s) => s,
            _ => unreachable!(),
        };
        assert_eq!(totp_step(&secret, "287082", 59).unwrap(), Some(1));
        assert_eq!(totp_step(&secret, "287083", 59).unwrap(), None);
        assert_eq!(totp_step(&secret, "28708", 59).unwrap(), None);
        assert_eq!(totp_step(&secret, "abcdef", 59).unwrap(), None);
    }

    #[test]
    fn settings_are_typed() {
        assert_eq!(
            parse_setting("isOpenRegister", Kind::Flag, "1").unwrap(),
            json!(1)
        );
        assert!(parse_setting("isOpenRegister", Kind::Flag, "2").is_err());
        assert!(parse_setting("XMPPTimeout", Kind::Int, "x").is_err());
        assert!(parse_setting("chatRecordTimeOut", Kind::Number, "NaN").is_err());
        assert_eq!(
            parse_setting("apiUrl", Kind::Text, " u ").unwrap(),
            json!("u")
        );
    }
}

//! Users and authentication (spec/reference-server.md 2.3–2.5 and 3.2): registration, login,
//! profile and settings, with the reference's side effects and views.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use rand::Rng;
use serde::Serialize;
use serde_json::{json, Map, Value};

use super::auth::{TokenProblem, USER_AUDIENCE};
use super::credentials;
use super::error::{Code, Error, Result};
use super::util::{is_md5_hex, md5_hex, now_secs};
use super::view::{java_double, sorted, to_map, Field, JsonText, SortedFields};
use super::{Ctx, SYSTEM_PUBLIC_ID, SYSTEM_SENDER_ID};
use crate::documents::{
    DeviceInfo, Friend, Loc, LoginLog, User, UserLoginLog, UserRole, UserSettings,
};
use crate::store::users::is_position;
use crate::store::{Patch, Shared, StoreError, UserQuery, Val};

/// Longest nickname accepted (characters).
const MAX_NICKNAME: usize = 64;
/// Users below this id are system accounts no search lists (reference: `_id > 100050`).
pub const SEARCH_FLOOR: i32 = 100051;
/// Longest free-text profile field accepted (characters).
const MAX_TEXT: usize = 1024;

/// Device facts a client reports at registration and login.
#[derive(Debug, Clone, Default)]
pub struct DeviceReport {
    pub api_version: Option<String>,
    pub os_version: Option<String>,
    pub model: Option<String>,
    pub serial: Option<String>,
    pub latitude: f64,
    pub longitude: f64,
    pub location: Option<String>,
    pub address: Option<String>,
    pub area: Option<String>,
    pub app_id: Option<String>,
    pub device_key: Option<String>,
}

/// `/user/register` input (reference `UserExample`).
#[derive(Debug, Clone, Default)]
pub struct Registration {
    /// Plain national number.
    pub telephone: String,
    pub area_code: String,
    /// md5 of the password.
    pub password: String,
    pub nickname: Option<String>,
    pub user_type: i32,
    pub description: Option<String>,
    pub sex: i32,
    pub birthday: i64,
    pub country_id: i32,
    pub province_id: i32,
    pub city_id: i32,
    pub area_id: i32,
    pub name: Option<String>,
    pub invite_code: Option<String>,
    pub is_sms_register: i32,
    /// The SMS code sent to the telephone (required when `isOpenSMSCode` is on).
    pub sms_code: Option<String>,
    pub device: DeviceReport,
}

/// `/user/login` input.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// md5(phone) or md5(account).
    pub telephone: Option<String>,
    pub user_id: i32,
    /// None: not sent (prefer "86", then any); Some(""): no area filter.
    pub area_code: Option<String>,
    pub password: String,
    pub login_type: i32,
    pub device: DeviceReport,
    /// The client's address (the login limiter counts it).
    pub source: Option<std::net::IpAddr>,
}

/// `/user/update` input: only the present, non-empty fields are applied.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub nickname: Option<String>,
    pub description: Option<String>,
    pub sex: Option<i32>,
    pub birthday: Option<i64>,
    pub country_id: Option<i32>,
    pub province_id: Option<i32>,
    pub city_id: Option<i32>,
    pub area_id: Option<i32>,
    pub name: Option<String>,
    pub idcard: Option<String>,
    pub idcard_url: Option<String>,
    pub msg_back_ground_url: Option<String>,
    pub multiple_devices: Option<i32>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub user_type: Option<i32>,
    pub phone: Option<String>,
    pub area_code: Option<String>,
    pub account: Option<String>,
}

/// `/user/settings/update` input with the reference's defaults (`UserSettingVO`).
#[derive(Debug, Clone)]
pub struct SettingsUpdate {
    pub allow_att: i32,
    pub allow_greet: i32,
    pub friends_verify: i32,
    pub open_service: i32,
    pub is_vibration: i32,
    pub is_typing: i32,
    pub is_use_google_map: i32,
    pub is_encrypt: i32,
    pub multiple_devices: i32,
    pub close_telephone_find: i32,
    /// Days as sent ("天" already stripped); "0" = unchanged.
    pub chat_record_time_out: String,
    pub chat_sync_time_len: f64,
    pub is_keepalive: i32,
    pub show_last_login_time: i32,
    pub show_telephone: i32,
    pub phone_search: i32,
    pub name_search: i32,
    pub friend_from_list: Option<String>,
    /// Location services for me (1 on, 0 off: nobody sees my position); -1 unchanged.
    pub is_open_privacy_position: i32,
}

impl Default for SettingsUpdate {
    fn default() -> Self {
        SettingsUpdate {
            allow_att: 1,
            allow_greet: 1,
            friends_verify: -1,
            open_service: -1,
            is_vibration: -1,
            is_typing: -1,
            is_use_google_map: -1,
            is_encrypt: -1,
            multiple_devices: 1,
            close_telephone_find: 0,
            chat_record_time_out: "0".into(),
            chat_sync_time_len: 0.0,
            is_keepalive: -1,
            show_last_login_time: 0,
            show_telephone: 0,
            phone_search: -1,
            name_search: -1,
            friend_from_list: None,
            is_open_privacy_position: -1,
        }
    }
}

fn check_len(name: &str, v: &str, max: usize) -> Result<()> {
    if v.chars().count() > max {
        return Err(Error::invalid(
            name,
            format!("超过 {max} 个字符 (too long)"),
        ));
    }
    Ok(())
}

fn check_phone(name: &str, phone: &str) -> Result<()> {
    if phone.is_empty() {
        return Err(Error::missing(name));
    }
    if phone.len() > 20 || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(name, "应为数字手机号 (digits only)"));
    }
    Ok(())
}

fn check_area_code(code: &str) -> Result<()> {
    if code.is_empty() || code.len() > 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid("areaCode", "应为数字区号 (digits only)"));
    }
    Ok(())
}

fn check_md5(name: &str, v: &str) -> Result<()> {
    if v.is_empty() {
        return Err(Error::missing(name));
    }
    if !is_md5_hex(v) {
        return Err(Error::invalid(name, "应为 md5 (32 hex)"));
    }
    Ok(())
}

/// Settings of a new user, from the system configuration (reference `registerIMUser`).
fn initial_settings(ctx: &Ctx) -> UserSettings {
    let c = &ctx.config.client;
    UserSettings {
        friends_verify: c.friends_verify,
        multiple_devices: c.multiple_devices,
        close_telephone_find: c.telephone_search_user,
        chat_record_time_out: c.chat_record_time_out,
        chat_sync_time_len: c.roaming_time,
        show_last_login_time: c.show_last_login_time,
        show_telephone: c.show_telephone,
        ..UserSettings::default()
    }
}

fn blank_user(user_id: i32, phone: &str, area_code: &str, nickname: &str, now: i64) -> User {
    User {
        user_id,
        user_key: md5_hex(phone),
        username: String::new(),
        password: String::new(),
        pay_password: None,
        user_type: 0,
        telephone: format!("{area_code}{phone}"),
        phone: phone.to_string(),
        account: String::new(),
        encry_account: String::new(),
        set_account_count: 0,
        area_code: area_code.to_string(),
        name: String::new(),
        nickname: nickname.to_string(),
        description: String::new(),
        birthday: 0,
        sex: 0,
        loc: Loc::default(),
        country_id: 0,
        province_id: 0,
        city_id: 0,
        area_id: 0,
        money: 0.0,
        money_total: 0.0,
        balance: 0.0,
        total_recharge: 0.0,
        total_consume: 0.0,
        level: 0,
        vip: 0,
        friends_count: 0,
        fans_count: 0,
        att_count: 0,
        msg_num: 0,
        create_time: now,
        modify_time: now,
        idcard: String::new(),
        idcard_url: String::new(),
        is_auth: 0,
        status: 1,
        onlinestate: 0,
        reg_invite_code: None,
        active: 0,
        offline_no_push_msg: 0,
        area: None,
        app_id: None,
        msg_back_ground_url: None,
        multiple_devices: None,
        num: 0,
        is_pasuse: 0,
        settings: UserSettings::default(),
    }
}

/// Creates the system users 10000 and 10005 when absent (reference `/console/initSysUser`), so
/// a fresh server needs no manual step. They cannot log in: their password matches nothing.
pub async fn ensure_system_users(ctx: &Ctx) -> Result<()> {
    for (id, nickname, user_type) in [
        (SYSTEM_PUBLIC_ID, "客服公众号", 2),
        (SYSTEM_SENDER_ID, "后台管理员", 0),
    ] {
        if ctx.store.users.get_user(id).await?.is_some() {
            continue;
        }
        let now = now_secs();
        let mut u = blank_user(id, &id.to_string(), "86", nickname, now);
        u.name = id.to_string();
        u.user_type = user_type;
        u.account = id.to_string();
        u.encry_account = md5_hex(&u.account);
        u.settings = initial_settings(ctx);
        match ctx.store.users.insert_user(&u).await {
            Ok(()) | Err(StoreError::Duplicate(_)) => {}
            Err(e) => return Err(e.into()),
        }
        if user_type == 2 {
            ctx.store
                .users
                .insert_role(&UserRole {
                    user_id: id,
                    phone: Some(u.telephone.clone()),
                    role: 2,
                    status: 1,
                    create_time: now,
                    last_login_time: 0,
                })
                .await?;
        }
    }
    Ok(())
}

fn login_log_from(device: &DeviceReport, first: bool, now: i64) -> LoginLog {
    LoginLog {
        is_first_login: first as i32,
        login_time: now,
        api_version: device.api_version.clone(),
        os_version: device.os_version.clone(),
        model: device.model.clone(),
        serial: device.serial.clone(),
        latitude: device.latitude,
        longitude: device.longitude,
        location: device.location.clone(),
        address: device.address.clone(),
        offline_time: 0,
    }
}

/// A relation document as `/friends/add` writes it (both directions status 2).
fn friend_doc(owner: &User, to: &User, to_roles: &[i32], now: i64) -> Friend {
    Friend {
        user_id: owner.user_id,
        to_user_id: to.user_id,
        to_nickname: to.nickname.clone(),
        remark_name: None,
        describe: None,
        status: 2,
        blacklist: 0,
        is_been_black: 0,
        offline_no_push_msg: 0,
        is_open_snapchat: 0,
        open_top_chat_time: 0,
        chat_record_time_out: owner.settings.chat_record_time_out,
        from_add_type: 0,
        to_user_type: if to_roles.contains(&2) || to.user_type == 2 {
            2
        } else {
            0
        },
        to_friends_role: to_roles.to_vec(),
        create_time: now,
        modify_time: now,
        last_talk_time: 0,
        msg_num: 0,
    }
}

async fn make_friends(ctx: &Ctx, a: &User, b: &User) -> Result<()> {
    let now = now_secs();
    let a_roles = active_roles(ctx, a.user_id).await?;
    let b_roles = active_roles(ctx, b.user_id).await?;
    ctx.store
        .friends
        .put_friend(&friend_doc(a, b, &b_roles, now))
        .await?;
    ctx.store
        .friends
        .put_friend(&friend_doc(b, a, &a_roles, now))
        .await?;
    Ok(())
}

async fn active_roles(ctx: &Ctx, user_id: i32) -> Result<Vec<i32>> {
    Ok(ctx
        .store
        .users
        .roles_of(user_id)
        .await?
        .into_iter()
        .filter(|r| r.status != -1)
        .map(|r| r.role)
        .collect())
}

fn new_user(
    ctx: &Ctx,
    r: &Registration,
    user_id: i32,
    area_code: &str,
    nickname: &str,
    password: &str,
    now: i64,
) -> User {
    let mut u = blank_user(user_id, &r.telephone, area_code, nickname, now);
    u.password = password.to_string();
    u.user_type = r.user_type;
    u.description = r.description.clone().unwrap_or_default();
    u.sex = r.sex;
    u.birthday = r.birthday;
    u.country_id = r.country_id;
    u.province_id = r.province_id;
    u.city_id = r.city_id;
    u.area_id = r.area_id;
    u.name = r.name.clone().unwrap_or_default();
    u.is_auth = r.is_sms_register.clamp(0, 1);
    u.account = format!("{user_id}{}", rand::thread_rng().gen_range(100000..1000000));
    u.encry_account = md5_hex(&u.account);
    u.area = r.device.area.clone();
    u.app_id = r.device.app_id.clone();
    if is_position(r.device.latitude, r.device.longitude) {
        u.loc = Loc {
            lng: r.device.longitude,
            lat: r.device.latitude,
        };
    }
    u.settings = initial_settings(ctx);
    u
}

/// Records a reported position as the user's `loc` when it is one a user can have (others,
/// such as 0,0 from a device without location, leave it alone). Written whole, `lng` first:
/// MongoDB's geo index reads the first field of `{lng, lat}` as the longitude.
fn set_position(patch: &mut Patch, lat: f64, lng: f64) {
    if is_position(lat, lng) {
        patch.push_set("loc", Val::Json(json!({"lng": lng, "lat": lat})));
    }
}

/// `/user/register`: creates the user, its login log, its token and its default friends.
pub async fn register(ctx: &Ctx, r: Registration) -> Result<Value> {
    register_with(ctx, r, true).await
}

/// The admin console's user creation: the registration path without the self-registration
/// switches (`isOpenRegister`, invite codes), which bind users, not the operator.
pub async fn create_account(ctx: &Ctx, r: Registration) -> Result<Value> {
    register_with(ctx, r, false).await
}

/// Refuses a registration for a telephone (areaCode + number) somebody holds.
async fn refuse_taken_phone(ctx: &Ctx, telephone: &str) -> Result<()> {
    if ctx
        .store
        .users
        .find_by_telephone(telephone)
        .await?
        .is_some()
    {
        return Err(Error::failure("手机号已被注册"));
    }
    Ok(())
}

async fn register_with(ctx: &Ctx, r: Registration, gated: bool) -> Result<Value> {
    check_phone("telephone", &r.telephone)?;
    let area_code = if r.area_code.is_empty() {
        "86".to_string()
    } else {
        r.area_code.clone()
    };
    check_area_code(&area_code)?;
    check_md5("password", &r.password)?;
    let nickname = r.nickname.clone().unwrap_or_default();
    check_len("nickname", &nickname, MAX_NICKNAME)?;
    if let Some(d) = &r.description {
        check_len("description", d, MAX_TEXT)?;
    }
    if let Some(n) = &r.name {
        check_len("name", n, MAX_NICKNAME)?;
    }
    if !(0..=3).contains(&r.user_type) {
        return Err(Error::invalid("userType", "应为 0/1/2/3"));
    }
    let client_i32 = |k: &str, v: i32| ctx.console.int(k, v);
    if gated && client_i32("isOpenRegister", ctx.config.client.is_open_register) == 0 {
        return Err(Error::failure("注册功能已关闭"));
    }
    if gated && client_i32("registerInviteCode", ctx.config.client.register_invite_code) != 0 {
        // Invite codes are issued by the admin console, which this server does not have yet:
        // a deployment that requires them cannot register anybody.
        return Err(Error::failure(
            if r.invite_code.as_deref().unwrap_or("").is_empty() {
                "请填写邀请码"
            } else {
                "邀请码无效"
            },
        ));
    }
    let telephone = format!("{area_code}{}", r.telephone);
    let sms_required =
        gated && client_i32("isOpenSMSCode", ctx.config.client.is_open_sms_code) != 0;
    if sms_required {
        // Refused before anything is written; the code is spent only by a registration that
        // can go ahead (the phone not yet taken).
        refuse_taken_phone(ctx, &telephone).await?;
        super::sms::check_sms_code(ctx, &telephone, r.sms_code.as_deref().unwrap_or("")).await?;
    }
    let password = ctx.passwords.hash(&r.password).await?;
    let nickname = if nickname.trim().is_empty() {
        r.telephone.clone()
    } else {
        nickname
    };
    // The counter can lag behind imported users: a taken userId is skipped, a taken telephone
    // (checked first, and again by the store's unique key) is refused.
    let mut attempts = 0;
    let (u, now) = loop {
        refuse_taken_phone(ctx, &telephone).await?;
        let user_id = ctx
            .store
            .users
            .next_user_id(ctx.config.first_user_id)
            .await?;
        let now = now_secs();
        let mut u = new_user(ctx, &r, user_id, &area_code, &nickname, &password, now);
        if gated {
            // isAuth: the phone was proven by an SMS code, not merely claimed.
            u.is_auth = i32::from(sms_required);
        }
        match ctx.store.users.insert_user(&u).await {
            Ok(()) => break (u, now),
            Err(StoreError::Duplicate(_)) if attempts < 20 => attempts += 1,
            Err(StoreError::Duplicate(_)) => return Err(Error::failure("手机号已被注册")),
            Err(e) => return Err(e.into()),
        }
    };
    let user_id = u.user_id;
    ctx.store
        .users
        .update_user(
            user_id,
            &credentials::verifier_patch(ctx, user_id, &r.password),
        )
        .await?;
    ctx.store
        .users
        .put_login_log(&UserLoginLog {
            user_id,
            login_log: login_log_from(&r.device, true, now),
            device_map: Default::default(),
        })
        .await?;
    if r.user_type == 2 {
        ctx.store
            .users
            .insert_role(&UserRole {
                user_id,
                phone: Some(u.telephone.clone()),
                role: 2,
                status: 1,
                create_time: now,
                last_login_time: 0,
            })
            .await?;
    }
    // Every user follows the system public account, then the configured default contacts.
    if let Some(system) = ctx.store.users.get_user(SYSTEM_PUBLIC_ID).await? {
        make_friends(ctx, &u, &system).await?;
    }
    for tel in ctx
        .config
        .client
        .default_telephones
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if let Some(other) = ctx.store.users.find_by_telephone(tel).await? {
            if other.user_id != user_id {
                make_friends(ctx, &u, &other).await?;
            }
        }
    }
    let token = ctx.tokens.issue(&ctx.store, user_id, USER_AUDIENCE).await?;
    let mut m = Map::new();
    m.insert("access_token".into(), json!(token));
    m.insert("createTime".into(), json!(now));
    m.insert("expires_in".into(), json!(ctx.tokens.ttl_secs()));
    m.insert("name".into(), json!(u.name));
    m.insert("nickname".into(), json!(u.nickname));
    m.insert("userId".into(), json!(user_id));
    Ok(sorted(m))
}

/// The settings object as clients read it: `chatRecordTimeOut` as a string ("-1.0") and the
/// newer generation's keys present.
pub fn settings_view(s: &UserSettings) -> Value {
    let mut m = to_map(s);
    m.insert(
        "chatRecordTimeOut".into(),
        json!(java_double(s.chat_record_time_out)),
    );
    for (k, v) in [
        ("authSwitch", json!(0)),
        ("beInvitedJoinRoom", json!(0)),
        ("hiding", json!(-1)),
        ("isOpenPrivacyPosition", json!(1)),
        ("isShowMsgState", json!(1)),
        ("isSkidRemoveHistoryMsg", json!(1)),
    ] {
        m.entry(k).or_insert(v);
    }
    sorted(m)
}

/// `/user/login`.
pub async fn login(ctx: &Ctx, r: LoginRequest) -> Result<Value> {
    check_md5("password", &r.password)?;
    if r.login_type != 0 {
        // SMS login needs an SMS gateway, which this server does not have.
        return Err(Error::failure("短信验证码登录未开启"));
    }
    let user = if r.user_id != 0 {
        ctx.store.users.get_user(r.user_id).await?
    } else {
        let key = r.telephone.clone().unwrap_or_default().to_ascii_lowercase();
        check_md5("telephone", &key)?;
        match r.area_code.as_deref() {
            Some("") => ctx.store.users.find_for_login(&key, None).await?,
            Some(code) => ctx.store.users.find_for_login(&key, Some(code)).await?,
            None => match ctx.store.users.find_for_login(&key, Some("86")).await? {
                Some(u) => Some(u),
                None => ctx.store.users.find_for_login(&key, None).await?,
            },
        }
    };
    // Unknown account and wrong password answer alike, after a check of the same cost; the
    // lock is told only to someone who knows the password.
    let typed = match r.user_id {
        0 => r.telephone.clone().unwrap_or_default(),
        id => id.to_string(),
    };
    let right =
        credentials::check_password(ctx, user.as_ref(), &typed, r.source, &r.password).await?;
    let Some(user) = user.filter(|_| right) else {
        return Err(Error::failure("帐号或密码错误"));
    };
    Ok(sorted(signed_in(ctx, user, &r.device).await?))
}

/// What every login does once the user has proven who they are (`/user/login`,
/// `/user/login/v1`): refuses a locked account, records the login, issues the token and answers
/// the reference's fields.
pub async fn signed_in(ctx: &Ctx, user: User, device: &DeviceReport) -> Result<Map<String, Value>> {
    if user.status == -1 {
        return Err(Error::failure("您的账号已被锁定"));
    }
    let now = now_secs();
    let previous = ctx.store.users.get_login_log(user.user_id).await?;
    // The reference deletes expired, read messages at every login (spec 5.6).
    super::messages::expire(ctx, user.user_id).await?;
    let mut log_patch = Patch::new().set("loginLog", json_val(&login_log_from(device, false, now)));
    if let Some(dk) = device.device_key.as_deref().filter(|d| !d.is_empty()) {
        check_len("deviceKey", dk, 32)?;
        let device = DeviceInfo {
            login_time: now,
            device_key: dk.to_string(),
            online: 1,
            app_id: device.app_id.clone(),
            ..Default::default()
        };
        log_patch.push_set(&format!("deviceMap.{}", path_key(dk)), json_val(&device));
    }
    ctx.store
        .users
        .update_login_log(user.user_id, &log_patch)
        .await?;
    let mut patch = Patch::new()
        .set("settings.openService", 0)
        .set("active", now);
    if let Some(area) = &device.area {
        patch.push_set("area", area.clone());
    }
    set_position(&mut patch, device.latitude, device.longitude);
    if user.account.is_empty() {
        let account = format!(
            "{}{}",
            user.user_id,
            rand::thread_rng().gen_range(100000..1000000)
        );
        patch.push_set("encryAccount", md5_hex(&account));
        patch.push_set("account", account);
    } else if user.encry_account.is_empty() {
        patch.push_set("encryAccount", md5_hex(&user.account));
    }
    let user = ctx
        .store
        .users
        .update_user(user.user_id, &patch)
        .await?
        .ok_or_else(|| Error::failure("帐号不存在, 请注册!"))?;
    let token = ctx
        .tokens
        .issue(&ctx.store, user.user_id, USER_AUDIENCE)
        .await?;
    let roles = active_roles(ctx, user.user_id).await?;
    let friend_count = ctx.store.friends.count_friends(user.user_id, None).await?;
    let prev_log = previous.map(|p| p.login_log).unwrap_or_default();
    let isupdate = match (&prev_log.serial, &device.serial) {
        (Some(a), Some(b)) if !a.is_empty() && a == b => 0,
        _ => 1,
    };
    let mut m = Map::new();
    m.insert("access_token".into(), json!(token));
    m.insert("expires_in".into(), json!(ctx.tokens.ttl_secs()));
    m.insert("userId".into(), json!(user.user_id));
    m.insert("nickname".into(), json!(user.nickname));
    m.insert("payPassword".into(), json!(pay_password_set(&user) as i32));
    m.insert("sex".into(), json!(user.sex));
    m.insert("birthday".into(), json!(user.birthday));
    m.insert("offlineNoPushMsg".into(), json!(user.offline_no_push_msg));
    m.insert(
        "multipleDevices".into(),
        json!(user.settings.multiple_devices),
    );
    m.insert("login".into(), json_val(&prev_log).to_json());
    m.insert("settings".into(), settings_view(&user.settings));
    m.insert("isupdate".into(), json!(isupdate));
    m.insert("friendCount".into(), json!(friend_count));
    if !roles.is_empty() {
        m.insert("role".into(), json!(roles));
    }
    m.insert("fourElements".into(), json!(0));
    Ok(m)
}

/// Device keys become a path segment: keep them to safe characters.
fn path_key(k: &str) -> String {
    k.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

fn json_val<T: serde::Serialize>(doc: &T) -> crate::store::Val {
    crate::store::Val::Json(serde_json::to_value(doc).unwrap_or(Value::Null))
}

fn pay_password_set(u: &User) -> bool {
    u.pay_password.as_deref().is_some_and(|p| !p.is_empty())
}

/// Loads a user that must exist (the caller of a token call), refusing locked accounts.
pub async fn caller_user(ctx: &Ctx, me: i32) -> Result<User> {
    let u = ctx
        .store
        .users
        .get_user(me)
        .await?
        .ok_or_else(|| Error::failure("该用户不存在!"))?;
    if u.status == -1 {
        return Err(Error::Code(Code::AccountIsLocked));
    }
    Ok(u)
}

/// `/user/login/auto`: re-validates a stored session.
pub async fn login_auto(
    ctx: &Ctx,
    me: i32,
    serial: &str,
    latitude: f64,
    longitude: f64,
) -> Result<Value> {
    let user = caller_user(ctx, me).await?;
    super::messages::expire(ctx, me).await?;
    let now = now_secs();
    let log = ctx.store.users.get_login_log(me).await?;
    let serial_status = match &log {
        None => 1,
        Some(l) if l.login_log.serial.as_deref().unwrap_or("") == serial => 2,
        Some(_) => 3,
    };
    let mut patch = Patch::new().set("active", now);
    set_position(&mut patch, latitude, longitude);
    ctx.store.users.update_user(me, &patch).await?;
    ctx.store
        .users
        .update_login_log(me, &Patch::new().set("loginLog.loginTime", now))
        .await?;
    let log = ctx
        .store
        .users
        .get_login_log(me)
        .await?
        .map(|l| l.login_log)
        .unwrap_or_default();
    let roles = active_roles(ctx, me).await?;
    let mut m = Map::new();
    m.insert("serialStatus".into(), json!(serial_status));
    // The reference's check is broken (always 0); the token was just validated, so 1.
    m.insert("tokenExists".into(), json!(1));
    m.insert("userId".into(), json!(me));
    m.insert("nickname".into(), json!(user.nickname));
    m.insert("name".into(), json!(user.name));
    m.insert("login".into(), json_val(&log).to_json());
    m.insert("settings".into(), settings_view(&user.settings));
    m.insert(
        "multipleDevices".into(),
        json!(user.settings.multiple_devices),
    );
    if !roles.is_empty() {
        m.insert("role".into(), json!(roles));
    }
    m.insert(
        "payPassword".into(),
        json!(if pay_password_set(&user) { "1" } else { "0" }),
    );
    m.insert("fourElements".into(), json!(0));
    Ok(sorted(m))
}

/// `/user/logout`: clears the device's push token, records the offline time and revokes every
/// token of the user (the reference shares one token across devices).
pub async fn logout(ctx: &Ctx, me: i32, device_key: Option<&str>) -> Result<()> {
    let now = now_secs();
    let mut patch = Patch::new().set("loginLog.offlineTime", now);
    if let Some(dk) = device_key.filter(|d| !d.is_empty()) {
        let dk = path_key(dk);
        patch.push_set(&format!("deviceMap.{dk}.pushServer"), "");
        patch.push_set(&format!("deviceMap.{dk}.pushToken"), "");
        patch.push_set(&format!("deviceMap.{dk}.offlineTime"), now);
        patch.push_set(&format!("deviceMap.{dk}.online"), 0);
    }
    ctx.store.users.update_login_log(me, &patch).await?;
    credentials::revoke_all(ctx, me).await
}

/// `/user/outtime`: records the offline time.
pub async fn outtime(ctx: &Ctx, me: i32) -> Result<()> {
    ctx.store
        .users
        .update_login_log(me, &Patch::new().set("loginLog.offlineTime", now_secs()))
        .await
        .map_err(Into::into)
}

/// Finds a user by numeric userId, falling back to the communication `account`.
async fn find_user(ctx: &Ctx, key: &str) -> Result<Option<User>> {
    Ok(find_shared_user(ctx, key).await?.map(|u| User::clone(&u)))
}

/// [`find_user`] as the store shares it (`UserStore::shared_user`): by id, the profile whose
/// `/user/get` base is made once.
async fn find_shared_user(ctx: &Ctx, key: &str) -> Result<Option<Arc<Shared<User>>>> {
    if let Ok(id) = key.parse::<i32>() {
        if let Some(u) = ctx.store.users.shared_user(id).await? {
            return Ok(Some(u));
        }
    }
    if key.len() > 64 {
        return Ok(None);
    }
    Ok(ctx.store.users.find_by_account(key).await?.map(Shared::new))
}

/// Whether `setting` (showTelephone / showLastLoginTime: -1 nobody, 2 friends, 3 contacts,
/// else everybody) lets `viewer` see the value.
fn privacy_allows(setting: i32, relation: Option<&Friend>) -> bool {
    match setting {
        -1 => false,
        2 => is_friend(relation),
        // Phone contacts: there is no address book on this server yet, so nobody qualifies.
        3 => false,
        _ => true,
    }
}

/// Whether the viewer's relation to the shown user is a friendship (not blacklisted).
fn is_friend(relation: Option<&Friend>) -> bool {
    relation.is_some_and(|f| f.status == 2 && f.blacklist == 0 && f.is_been_black == 0)
}

/// The user's `isOpenPrivacyPosition` (1: location services on, shown to friends; 0: off).
/// Stored by the newer generation only; absent means on, as the clients assume.
fn position_open(u: &User) -> bool {
    u.settings
        .extra
        .get("isOpenPrivacyPosition")
        .and_then(Value::as_i64)
        .is_none_or(|v| v != 0)
}

/// Hides what `u` shares with friends only from a viewer who is not one: the exact position
/// (unless the owner turned location services on, friends do not see it either), the real
/// name, and the phone numbers as `showTelephone` says. Blanked, not removed: clients read
/// these fields.
fn apply_privacy(shown: &mut Overlay, u: &User, relation: Option<&Friend>) -> Result<()> {
    let friend = is_friend(relation);
    if !(friend && position_open(u)) {
        shown.insert("loc", Some(Cow::Borrowed(r#"{"lat":0.0,"lng":0.0}"#)));
    }
    if !friend {
        shown.insert("name", Some(Cow::Borrowed(EMPTY)));
    }
    if !privacy_allows(u.settings.show_telephone, relation) {
        for k in ["areaCode", "telephone", "phone"] {
            shown.insert(k, Some(Cow::Borrowed(EMPTY)));
        }
    }
    Ok(())
}

/// A user's fields as `/user/get` shows them to every viewer before what depends on the viewer
/// ([`Overlay`]): sorted by key, each with its `"key":value` JSON. Made once per kept profile
/// (`store::Shared`), not once per request.
pub struct UserBase(Vec<(String, Value, String)>);

impl UserBase {
    fn of(u: &User) -> serde_json::Result<UserBase> {
        let mut m = to_map(u);
        m.remove("_id");
        m.insert("userId".into(), json!(u.user_id));
        // Never sent: hashes and secrets (the reference leaks the md5 password; we do not).
        for k in ["password", "username", "balance", "money", "moneyTotal"] {
            m.remove(k);
        }
        m.insert("settings".into(), settings_view(&u.settings));
        m.insert("loc".into(), json!({"lat": u.loc.lat, "lng": u.loc.lng}));
        m.insert("fourElements".into(), json!(0));
        for (k, v) in [
            ("isOpenResetPwd", json!(0)),
            ("myInviteCode", json!("")),
            ("notLetSeeHim", json!(false)),
            ("notSeeHim", json!(false)),
            ("realNameCertified", json!(0)),
            ("walletUserNo", json!(0)),
            ("withdrawBurnReadTime", json!(0)),
        ] {
            m.entry(k).or_insert(v);
        }
        m.sort_keys();
        m.into_iter()
            .map(|(k, v)| {
                let entry = format!(
                    "{}:{}",
                    serde_json::to_string(&k)?,
                    serde_json::to_string(&v)?
                );
                Ok((k, v, entry))
            })
            .collect::<serde_json::Result<_>>()
            .map(UserBase)
    }
}

/// What one viewer is shown beyond a [`UserBase`]: fields set (Some) or taken away (None).
type Overlay = BTreeMap<&'static str, Option<Cow<'static, str>>>;

/// The empty string, written.
const EMPTY: &str = "\"\"";

/// A value of the [`Overlay`], written.
fn raw(v: impl Serialize) -> Result<Cow<'static, str>> {
    serde_json::to_string(&v)
        .map(Cow::Owned)
        .map_err(|e| Error::Internal(e.to_string()))
}

/// A relation document's fields as clients read them, unsorted (`toNickname` as given): under
/// `friends` in `/user/get` and, with more, in friend lists.
pub(super) fn relation_fields<'a>(f: &'a Friend, to_nickname: &'a str) -> SortedFields<'a> {
    let mut m = SortedFields::with_capacity(24);
    m.put("blacklist", Field::Int(f.blacklist.into()));
    m.put("chatRecordTimeOut", Field::Float(f.chat_record_time_out));
    m.put("createTime", Field::Int(f.create_time));
    if let Some(d) = &f.describe {
        m.put("describe", Field::Str(d));
    }
    m.put("fromAddType", Field::Int(f.from_add_type.into()));
    m.put("isBeenBlack", Field::Int(f.is_been_black.into()));
    m.put("isOpenSnapchat", Field::Int(f.is_open_snapchat.into()));
    m.put("lastTalkTime", Field::Int(f.last_talk_time));
    m.put("modifyTime", Field::Int(f.modify_time));
    m.put("msgNum", Field::Int(f.msg_num.into()));
    m.put("offlineNoPushMsg", Field::Int(f.offline_no_push_msg.into()));
    m.put("openTopChatTime", Field::Int(f.open_top_chat_time));
    if let Some(r) = &f.remark_name {
        m.put("remarkName", Field::Str(r));
    }
    m.put("status", Field::Int(f.status.into()));
    if !f.to_friends_role.is_empty() {
        m.put("toFriendsRole", Field::Ints(&f.to_friends_role));
    }
    m.put("toNickname", Field::Str(to_nickname));
    m.put("toUserId", Field::Int(f.to_user_id.into()));
    m.put("toUserType", Field::Int(f.to_user_type.into()));
    m.put("userId", Field::Int(f.user_id.into()));
    m
}

/// A field of the merged view: the base's, or the overlay's.
enum ShownField<'a> {
    Base(&'a (String, Value, String)),
    Over(&'static str, &'a str),
}

/// The base and the overlay merged in key order (the order `/user/get` has always had); the
/// overlay's field wins over the base's of the same key.
fn merged<'a>(base: &'a UserBase, over: &'a Overlay) -> Vec<ShownField<'a>> {
    let mut out = Vec::with_capacity(base.0.len() + over.len());
    let mut over = over.iter().peekable();
    for field in &base.0 {
        let key = field.0.as_str();
        let mut replaced = false;
        while let Some((k, v)) = over.next_if(|(k, _)| **k <= key) {
            replaced |= *k == key;
            if let Some(v) = v {
                out.push(ShownField::Over(k, v));
            }
        }
        if !replaced {
            out.push(ShownField::Base(field));
        }
    }
    out.extend(over.filter_map(|(k, v)| v.as_ref().map(|v| ShownField::Over(k, v))));
    out
}

/// What `viewer` is shown of `u` beyond its [`UserBase`]: the relation, the last login as
/// privacy allows, and for others, what only the owner sees taken away.
async fn overlay(ctx: &Ctx, viewer: i32, u: &User) -> Result<Overlay> {
    let is_self = viewer == u.user_id;
    let mut shown = Overlay::new();
    let relation = if is_self {
        None
    } else {
        let rel = ctx.store.friends.get_friend(viewer, u.user_id).await?;
        match rel {
            Some(mut f) => {
                let back = ctx.store.friends.get_friend(u.user_id, viewer).await?;
                f.is_been_black = back.map(|b| b.blacklist).unwrap_or(0);
                Some(f)
            }
            None => None,
        }
    };
    if let Some(f) = &relation {
        shown.insert(
            "friends",
            Some(raw(relation_fields(f, &f.to_nickname).sorted())?),
        );
    }
    let last_login = ctx
        .store
        .users
        .get_login_log(u.user_id)
        .await?
        .map(|l| l.login_log.login_time)
        .unwrap_or(0);
    if is_self {
        shown.insert(
            "payPassword",
            Some(Cow::Borrowed(if pay_password_set(u) {
                "\"1\""
            } else {
                "\"0\""
            })),
        );
        let roles = active_roles(ctx, u.user_id).await?;
        if !roles.is_empty() {
            shown.insert("role", Some(raw(&roles)?));
        }
        shown.insert("showLastLoginTime", Some(raw(last_login)?));
    } else {
        for k in [
            "payPassword",
            "userKey",
            "offlineNoPushMsg",
            "encryAccount",
            "appId",
            "setAccountCount",
            "idcard",
            "idcardUrl",
            "multipleDevices",
        ] {
            shown.insert(k, None);
        }
        for k in ["attCount", "fansCount", "friendsCount", "msgNum"] {
            shown.insert(k, Some(Cow::Borrowed("0")));
        }
        shown.insert("totalRecharge", Some(Cow::Borrowed("0.0")));
        shown.insert("totalConsume", Some(Cow::Borrowed("0.0")));
        apply_privacy(&mut shown, u, relation.as_ref())?;
        if privacy_allows(u.settings.show_last_login_time, relation.as_ref()) {
            shown.insert("showLastLoginTime", Some(raw(last_login)?));
        }
    }
    Ok(shown)
}

/// The User object as `/user/get` shows it to `viewer` (self or another user).
pub async fn user_view(ctx: &Ctx, viewer: i32, u: &User) -> Result<Value> {
    let over = overlay(ctx, viewer, u).await?;
    let internal = |e: serde_json::Error| Error::Internal(e.to_string());
    let base = UserBase::of(u).map_err(internal)?;
    let mut fields = Map::new();
    for field in merged(&base, &over) {
        match field {
            ShownField::Base((k, v, _)) => fields.insert(k.clone(), v.clone()),
            ShownField::Over(k, v) => {
                fields.insert(k.to_string(), serde_json::from_str(v).map_err(internal)?)
            }
        };
    }
    Ok(Value::Object(fields))
}

/// [`user_view`] written straight to JSON, from the profile's base made once while the store
/// keeps it.
async fn user_text(ctx: &Ctx, viewer: i32, u: &Shared<User>) -> Result<JsonText> {
    let over = overlay(ctx, viewer, u).await?;
    let internal = |e: serde_json::Error| Error::Internal(e.to_string());
    let base = u.made(0, UserBase::of).map_err(internal)?;
    let fields = merged(&base, &over);
    let mut text = String::with_capacity(fields.len() * 32 + 64);
    text.push('{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        match field {
            ShownField::Base((_, _, entry)) => text.push_str(entry),
            ShownField::Over(k, v) => {
                text.push_str(&serde_json::to_string(k).map_err(internal)?);
                text.push(':');
                text.push_str(v);
            }
        }
    }
    text.push('}');
    Ok(JsonText::written(text))
}

/// `/user/get`: `user_id` empty = me; a numeric userId or a communication account otherwise.
pub async fn get(ctx: &Ctx, me: i32, user_id: &str) -> Result<JsonText> {
    let key = user_id.trim();
    let user = if key.is_empty() || key == "0" {
        ctx.store.users.shared_user(me).await?
    } else {
        find_shared_user(ctx, key).await?
    };
    let user = user.ok_or_else(|| Error::failure("该用户不存在!"))?;
    user_text(ctx, me, &user).await
}

/// `/user/getByAccount`: by account or numeric userId; others' phone numbers are hidden.
pub async fn get_by_account(ctx: &Ctx, me: i32, account: &str) -> Result<Value> {
    if account.trim().is_empty() {
        return Err(Error::missing("account"));
    }
    let user = find_user(ctx, account.trim())
        .await?
        .ok_or_else(|| Error::failure("该用户不存在!"))?;
    let mut v = user_view(ctx, me, &user).await?;
    if user.user_id != me {
        if let Some(o) = v.as_object_mut() {
            for k in ["telephone", "phone"] {
                o.insert(k.into(), json!(""));
            }
        }
    }
    Ok(v)
}

/// `/user/update`.
pub async fn update(ctx: &Ctx, me: i32, p: ProfileUpdate) -> Result<Value> {
    let user = caller_user(ctx, me).await?;
    let now = now_secs();
    // The communication account may be set once, and then nothing else is applied.
    if let Some(account) = p.account.as_deref().filter(|a| !a.is_empty()) {
        check_len("account", account, 18)?;
        if !account
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(Error::invalid("account", "只能包含字母、数字和下划线"));
        }
        if user.set_account_count > 0 {
            return Err(Error::failure("通讯号只能修改一次"));
        }
        if ctx.store.users.account_taken(account, me).await? {
            return Err(Error::failure("该通讯号已存在"));
        }
        let patch = Patch::new()
            .set("account", account)
            .set("encryAccount", md5_hex(account))
            .inc("setAccountCount", 1)
            .set("modifyTime", now);
        let u = ctx
            .store
            .users
            .update_user(me, &patch)
            .await?
            .ok_or_else(|| Error::failure("该用户不存在!"))?;
        return user_view(ctx, me, &u).await;
    }
    let mut patch = Patch::new();
    let text = |name: &str, v: &Option<String>, max: usize| -> Result<Option<String>> {
        match v.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => {
                check_len(name, s, max)?;
                Ok(Some(s.to_string()))
            }
            None => Ok(None),
        }
    };
    let new_nickname = text("nickname", &p.nickname, MAX_NICKNAME)?;
    if let Some(n) = &new_nickname {
        if n.trim().is_empty() {
            return Err(Error::invalid("nickname", "不能为空白"));
        }
        patch.push_set("nickname", n.clone());
    }
    for (name, field, max) in [
        ("description", &p.description, MAX_TEXT),
        ("name", &p.name, MAX_NICKNAME),
        ("idcard", &p.idcard, 32),
        ("idcardUrl", &p.idcard_url, MAX_TEXT),
        ("msgBackGroundUrl", &p.msg_back_ground_url, MAX_TEXT),
    ] {
        if let Some(v) = text(name, field, max)? {
            patch.push_set(name, v);
        }
    }
    if let Some(sex) = p.sex {
        if !(0..=2).contains(&sex) {
            return Err(Error::invalid("sex", "应为 0 或 1"));
        }
        patch.push_set("sex", sex);
    }
    if let Some(b) = p.birthday {
        patch.push_set("birthday", b);
    }
    for (name, v) in [
        ("countryId", p.country_id),
        ("provinceId", p.province_id),
        ("cityId", p.city_id),
        ("areaId", p.area_id),
    ] {
        if let Some(v) = v {
            patch.push_set(name, v);
        }
    }
    if let Some(md) = p.multiple_devices.filter(|v| *v > -1) {
        patch.push_set("multipleDevices", md);
    }
    if let (Some(lat), Some(lng)) = (p.latitude, p.longitude) {
        set_position(&mut patch, lat, lng);
    }
    if let Some(t) = p.user_type {
        match t {
            0 | 1 => patch.push_set("userType", t),
            2 => {
                let roles = active_roles(ctx, me).await?;
                if roles.iter().any(|r| *r != 2) {
                    return Err(Error::failure("该用户已经有其他角色"));
                }
                if roles.is_empty() {
                    ctx.store
                        .users
                        .insert_role(&UserRole {
                            user_id: me,
                            phone: Some(user.telephone.clone()),
                            role: 2,
                            status: 1,
                            create_time: now,
                            last_login_time: 0,
                        })
                        .await?;
                }
                patch.push_set("userType", 2);
                ctx.store
                    .friends
                    .update_friends_to(me, &Patch::new().set("toUserType", 2))
                    .await?;
            }
            _ => return Err(Error::invalid("userType", "应为 0 或 2")),
        }
    }
    if let Some(phone) = p.phone.as_deref().filter(|s| !s.is_empty()) {
        check_phone("phone", phone)?;
        let area = p
            .area_code
            .clone()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| user.area_code.clone());
        check_area_code(&area)?;
        let telephone = format!("{area}{phone}");
        if telephone != user.telephone {
            if let Some(other) = ctx.store.users.find_by_telephone(&telephone).await? {
                if other.user_id != me {
                    return Err(Error::failure("手机号已被注册"));
                }
            }
            patch.push_set("phone", phone);
            patch.push_set("areaCode", area);
            patch.push_set("telephone", telephone);
            patch.push_set("userKey", md5_hex(phone));
        }
    }
    patch.push_set("modifyTime", now);
    let updated = ctx
        .store
        .users
        .update_user(me, &patch)
        .await?
        .ok_or_else(|| Error::failure("该用户不存在!"))?;
    ctx.profiles.forget(me);
    if let Some(n) = new_nickname.filter(|n| *n != user.nickname) {
        ctx.store
            .friends
            .update_friends_to(me, &Patch::new().set("toNickname", n))
            .await?;
    }
    user_view(ctx, me, &updated).await
}

/// `/user/settings`: `user_id` 0 = me. Settings are readable by others (clients check a
/// target's `friendsVerify` before adding).
pub async fn settings(ctx: &Ctx, me: i32, user_id: i32) -> Result<Value> {
    let id = if user_id == 0 { me } else { user_id };
    let u = ctx
        .store
        .users
        .get_user(id)
        .await?
        .ok_or_else(|| Error::failure("该用户不存在!"))?;
    Ok(settings_view(&u.settings))
}

/// `/user/settings/update` with the reference's exact rule (`UserRepositoryImpl.updateSettings`):
/// four fields are always written (so omitted ones fall back to their defaults), the others only
/// when they differ from their "unchanged" value.
pub async fn update_settings(ctx: &Ctx, me: i32, s: SettingsUpdate) -> Result<Value> {
    caller_user(ctx, me).await?;
    let mut p = Patch::new()
        .set("settings.allowAtt", s.allow_att)
        .set("settings.allowGreet", s.allow_greet)
        .set("settings.openService", s.open_service)
        .set("settings.closeTelephoneFind", s.close_telephone_find);
    for (path, v) in [
        ("settings.friendsVerify", s.friends_verify),
        ("settings.isUseGoogleMap", s.is_use_google_map),
        ("settings.multipleDevices", s.multiple_devices),
        ("settings.isKeepalive", s.is_keepalive),
        ("settings.phoneSearch", s.phone_search),
        ("settings.nameSearch", s.name_search),
        ("settings.isEncrypt", s.is_encrypt),
        ("settings.isTyping", s.is_typing),
        ("settings.isVibration", s.is_vibration),
        ("settings.isOpenPrivacyPosition", s.is_open_privacy_position),
    ] {
        if v != -1 {
            p.push_set(path, v);
        }
    }
    let timeout = s.chat_record_time_out.trim().trim_end_matches('天').trim();
    if timeout != "0" && !timeout.is_empty() {
        // Rust also parses "NaN" and "inf", which would be stored as null (read back as 0).
        let days: f64 = timeout
            .parse()
            .ok()
            .filter(|d: &f64| d.is_finite())
            .ok_or_else(|| Error::invalid("chatRecordTimeOut", "应为天数 (number of days)"))?;
        p.push_set("settings.chatRecordTimeOut", days);
    }
    if s.chat_sync_time_len != 0.0 {
        p.push_set("settings.chatSyncTimeLen", s.chat_sync_time_len);
    }
    if s.show_last_login_time != 0 {
        p.push_set("settings.showLastLoginTime", s.show_last_login_time);
    }
    if s.show_telephone != 0 {
        p.push_set("settings.showTelephone", s.show_telephone);
    }
    if let Some(list) = s.friend_from_list {
        check_len("friendFromList", &list, 64)?;
        p.push_set("settings.friendFromList", list);
    }
    let u = ctx
        .store
        .users
        .update_user(me, &p)
        .await?
        .ok_or_else(|| Error::failure("该用户不存在!"))?;
    user_view(ctx, me, &u).await
}

/// `/user/password/update`: checks the old md5, stores the new one and logs out every device.
pub async fn update_password(
    ctx: &Ctx,
    me: i32,
    old: &str,
    new: &str,
    source: Option<std::net::IpAddr>,
) -> Result<()> {
    check_md5("oldPassword", old)?;
    check_md5("newPassword", new)?;
    let user = caller_user(ctx, me).await?;
    if !credentials::check_password(ctx, Some(&user), "", source, old).await? {
        return Err(Error::failure("旧密码错误"));
    }
    let patch = credentials::password_patch(ctx, me, new)
        .await?
        .set("modifyTime", now_secs());
    ctx.store.users.update_user(me, &patch).await?;
    credentials::revoke_all(ctx, me).await
}

/// `/user/query` filter as sent.
#[derive(Debug, Clone, Default)]
pub struct QueryRequest {
    pub user_id: Option<i32>,
    pub page_size: u32,
    pub nickname: Option<String>,
    pub sex: Option<i32>,
    pub start_time: Option<i64>,
    pub end_time: Option<i64>,
}

/// Most rows of one `/user/query` page (the reference takes any `pageSize`).
const MAX_QUERY_PAGE: u32 = 20;

/// `/user/query`: users below a userId cursor, `userId` descending, as others see them. Not a
/// directory: a nickname is required, matched as the server's `nicknameSearchUser` says (0
/// nobody, 1 exactly, else a substring), users who turned `nameSearch` off and system
/// accounts are never listed, and a page holds at most [`MAX_QUERY_PAGE`] users.
pub async fn query(ctx: &Ctx, me: i32, q: QueryRequest) -> Result<Value> {
    let nickname = q.nickname.as_deref().map(str::trim).unwrap_or_default();
    check_len("nickname", nickname, MAX_NICKNAME)?;
    let mode = ctx.config.client.nickname_search_user;
    if nickname.is_empty() || mode == 0 {
        return Ok(Value::Array(Vec::new()));
    }
    let users = ctx
        .store
        .users
        .query_users(&UserQuery {
            before: q.user_id.filter(|id| *id > 0),
            nickname: Some(nickname.to_string()),
            sex: q.sex,
            birthday_from: q.start_time,
            birthday_to: q.end_time,
            min_user_id: ctx.config.first_user_id.min(SEARCH_FLOOR),
            limit: q.page_size.clamp(1, MAX_QUERY_PAGE),
        })
        .await?;
    let mut out = Vec::with_capacity(users.len());
    for u in &users {
        let listed = u.user_id == me
            || (u.settings.name_search != 0 && (mode != 1 || u.nickname == nickname));
        if !listed || u.user_id == SYSTEM_PUBLIC_ID || u.user_id == SYSTEM_SENDER_ID {
            continue;
        }
        let mut v = user_view(ctx, me, u).await?;
        // The reference strips these from every row, the caller's own included.
        if let Some(o) = v.as_object_mut() {
            for k in ["userKey", "status"] {
                o.remove(k);
            }
        }
        out.push(v);
    }
    Ok(Value::Array(out))
}

/// `/user/getOnLine`: 0/1.
pub async fn online(ctx: &Ctx, me: i32, user_id: i32) -> Result<Value> {
    let id = if user_id == 0 { me } else { user_id };
    let u = ctx
        .store
        .users
        .get_user(id)
        .await?
        .ok_or_else(|| Error::failure("该用户不存在!"))?;
    Ok(json!(u.onlinestate))
}

/// `/tigase/OnlineState`: in the reference Tigase reported a user's state to the API. Here the
/// server knows it from the live sessions, so a report is not stored: the caller may report
/// only its own state, and the answer is the state the server holds (`onlineState` 0/1).
pub async fn report_online_state(ctx: &Ctx, me: i32, user_id: i32, state: i32) -> Result<Value> {
    if !(0..=1).contains(&state) {
        return Err(Error::invalid("OnlineState", "应为 0 或 1"));
    }
    if user_id != 0 && user_id != me {
        return Err(Error::failure("只能报告自己的在线状态"));
    }
    let u = caller_user(ctx, me).await?;
    Ok(json!({ "userId": me, "onlineState": u.onlinestate }))
}

/// `/user/getOnLineDevice`: the resources `user_id` (default me) is connected with on any
/// node, sorted and comma-separated ("" when offline). The reference leaves the shape to its
/// clients, which show the string; like `/user/getOnLine`, anyone may ask.
pub async fn online_devices(ctx: &Ctx, me: i32, user_id: i32) -> Result<Value> {
    let id = if user_id == 0 { me } else { user_id };
    if ctx.store.users.get_user(id).await?.is_none() {
        return Err(Error::failure("该用户不存在!"));
    }
    let mut resources = ctx.router.resources(id).await;
    resources.sort();
    resources.dedup();
    Ok(json!(resources.join(",")))
}

/// `/user/update/OfflineNoPushMsg`.
pub async fn set_offline_no_push(ctx: &Ctx, me: i32, value: i32) -> Result<Value> {
    if !(0..=1).contains(&value) {
        return Err(Error::invalid("offlineNoPushMsg", "应为 0 或 1"));
    }
    caller_user(ctx, me).await?;
    let u = ctx
        .store
        .users
        .update_user(me, &Patch::new().set("offlineNoPushMsg", value))
        .await?
        .ok_or_else(|| Error::failure("该用户不存在!"))?;
    user_view(ctx, me, &u).await
}

/// `/verify/telephone`: whether a phone is registered. Ok(message) = success, Err = failure.
pub async fn verify_telephone(
    ctx: &Ctx,
    area_code: &str,
    telephone: &str,
    verify_type: i32,
) -> Result<&'static str> {
    check_phone("telephone", telephone)?;
    let area = if area_code.is_empty() {
        "86"
    } else {
        area_code
    };
    check_area_code(area)?;
    let registered = ctx
        .store
        .users
        .find_by_telephone(&format!("{area}{telephone}"))
        .await?
        .is_some();
    match (verify_type, registered) {
        (1, true) => Ok("手机号已注册"),
        (1, false) => Err(Error::failure("手机号未注册")),
        (_, false) => Ok("手机号未注册"),
        (_, true) => Err(Error::failure("手机号已注册")),
    }
}

/// Resolves an access token to its user for the HTTP and gateway layers.
pub async fn authenticate(
    ctx: &Ctx,
    token: &str,
) -> Result<std::result::Result<i32, TokenProblem>> {
    ctx.tokens.check(&ctx.store, token, USER_AUDIENCE).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `friends` is written as the relation's document sorted by field name always was.
    #[test]
    fn a_relation_is_written_as_its_sorted_document() {
        let mut f: Friend = serde_json::from_value(json!({
            "userId": 100101, "toUserId": 100100, "toNickname": "用户0001", "status": 2,
            "createTime": 1796658247, "modifyTime": 1796658247,
        }))
        .unwrap();
        let mut relations = vec![f.clone()];
        f.remark_name = Some("备注".into());
        f.describe = Some(String::new());
        f.to_friends_role = vec![1, 3];
        f.chat_record_time_out = 7.5;
        f.is_been_black = 1;
        relations.push(f.clone());
        f.chat_record_time_out = f64::NAN;
        relations.push(f);
        for f in &relations {
            let before = serde_json::to_string(&sorted(to_map(f))).unwrap();
            assert_eq!(
                raw(relation_fields(f, &f.to_nickname).sorted()).unwrap(),
                before
            );
        }
    }
}

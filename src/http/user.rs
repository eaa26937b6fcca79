//! `UserController`: registration, login, profile and settings (spec/reference-server.md 2, 3.2).

use actix_web::web;

use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::users::{
    self, DeviceReport, LoginRequest, ProfileUpdate, QueryRequest, Registration, SettingsUpdate,
};
use crate::domain::Error;

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/user/register",
        tag: "user",
        summary: "Register with phone and md5 password; returns a token. New users are friends with 10000",
        access: Access::Open,
        params: &[
            p("telephone", "string", true, "national phone number (plain, digits)"),
            p("areaCode", "string", false, "country code, default 86"),
            p("password", "string", true, "md5(password), 32 hex"),
            p("nickname", "string", false, "nickname (defaults to the phone), at most 64 characters"),
            p("userType", "integer", false, "0 normal (default), 2 public account"),
            p("description", "string", false, "signature"),
            p("sex", "integer", false, "0/1"),
            p("birthday", "long", false, "seconds"),
            p("countryId", "integer", false, ""),
            p("provinceId", "integer", false, ""),
            p("cityId", "integer", false, ""),
            p("areaId", "integer", false, ""),
            p("name", "string", false, "real name"),
            p("inviteCode", "string", false, "invite code (when registerInviteCode != 0)"),
    p("apiVersion", "string", false, "client API version"),
    p("model", "string", false, "device model"),
    p("osVersion", "string", false, "OS version"),
    p("serial", "string", false, "device serial"),
    p("latitude", "number", false, "latitude"),
    p("longitude", "number", false, "longitude"),
    p("location", "string", false, "location text"),
    p("address", "string", false, "address"),
        ],
        codes: &[0],
        data: "{access_token, createTime(s), expires_in(s), name, nickname, userId}",
    },
    EndpointDoc {
        path: "/user/login",
        tag: "user",
        summary: "Log in with md5(phone) (or md5(account), or userId) and md5 password",
        access: Access::Open,
        params: &[
            p("telephone", "string", false, "md5(national phone) or md5(account); required unless userId"),
            p("userId", "integer", false, "log in by userId instead of telephone"),
            p("areaCode", "string", false, "country code; absent: 86 first, then any"),
            p("password", "string", true, "md5(password)"),
            p("loginType", "integer", false, "0 password (only 0 is supported)"),
            p("deviceKey", "string", false, "android, ios, web, pc, mac"),
            p("appId", "string", false, ""),
            p("area", "string", false, ""),
    p("apiVersion", "string", false, "client API version"),
    p("model", "string", false, "device model"),
    p("osVersion", "string", false, "OS version"),
    p("serial", "string", false, "device serial"),
    p("latitude", "number", false, "latitude"),
    p("longitude", "number", false, "longitude"),
    p("location", "string", false, "location text"),
    p("address", "string", false, "address"),
        ],
        codes: &[0],
        data: "{access_token, birthday, expires_in, fourElements, friendCount, isupdate, login{previous LoginLog}, multipleDevices, nickname, offlineNoPushMsg, payPassword(int), role?, settings, sex, userId}",
    },
    EndpointDoc {
        path: "/user/login/auto",
        tag: "user",
        summary: "Re-validate a stored session",
        access: Access::User,
        params: &[
            p("userId", "integer", false, "ignored: the token decides"),
            p("serial", "string", false, "device serial"),
            p("latitude", "number", false, ""),
            p("longitude", "number", false, ""),
        ],
        codes: &[0, 1040304],
        data: "{fourElements, login, multipleDevices, name, nickname, payPassword(\"0\"/\"1\"), role?, serialStatus(1 no log, 2 same serial, 3 different), settings, tokenExists, userId}",
    },
    EndpointDoc {
        path: "/user/logout",
        tag: "user",
        summary: "Log out: every token of the user is revoked (the reference shares one token across devices)",
        access: Access::User,
        params: &[
            p("deviceKey", "string", false, "device whose push token is cleared (also devicekey)"),
            p("areaCode", "string", false, "ignored"),
            p("telephone", "string", false, "ignored"),
        ],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/user/outtime",
        tag: "user",
        summary: "Record the offline time (loginLog.offlineTime)",
        access: Access::User,
        params: &[p("userId", "integer", false, "ignored: the token decides")],
        codes: &[],
        data: "none",
    },
    EndpointDoc {
        path: "/user/get",
        tag: "user",
        summary: "A user's profile (self: full; others: privacy rules applied, no secrets)",
        access: Access::User,
        params: &[p("userId", "string", false, "userId or communication account; empty = me")],
        codes: &[0],
        data: "User object",
    },
    EndpointDoc {
        path: "/user/getByAccount",
        tag: "user",
        summary: "A user by communication account (or userId); others' phone numbers hidden",
        access: Access::User,
        params: &[p("account", "string", true, "communication account")],
        codes: &[0],
        data: "User object",
    },
    EndpointDoc {
        path: "/user/update",
        tag: "user",
        summary: "Update my profile (only non-empty fields); account may be set once",
        access: Access::User,
        params: &[
            p("nickname", "string", false, "at most 64 characters"),
            p("description", "string", false, ""),
            p("sex", "integer", false, ""),
            p("birthday", "long", false, "seconds"),
            p("countryId", "integer", false, ""),
            p("provinceId", "integer", false, ""),
            p("cityId", "integer", false, ""),
            p("areaId", "integer", false, ""),
            p("name", "string", false, ""),
            p("idcard", "string", false, ""),
            p("idcardUrl", "string", false, ""),
            p("msgBackGroundUrl", "string", false, ""),
            p("multipleDevices", "integer", false, "0/1"),
            p("latitude", "number", false, ""),
            p("longitude", "number", false, ""),
            p("userType", "integer", false, "0 or 2 (public account)"),
            p("phone", "string", false, "new national phone (unique)"),
            p("areaCode", "string", false, "with phone"),
            p("account", "string", false, "communication account, once, at most 18 characters"),
        ],
        codes: &[0],
        data: "User object (updated)",
    },
    EndpointDoc {
        path: "/user/settings",
        tag: "user",
        summary: "A user's settings",
        access: Access::User,
        params: &[p("userId", "integer", true, "0 = me")],
        codes: &[0],
        data: "UserSettings object",
    },
    EndpointDoc {
        path: "/user/settings/update",
        tag: "user",
        summary: "Update my settings with the reference's rule (allowAtt, allowGreet, openService, closeTelephoneFind always written)",
        access: Access::User,
        params: &[
            p("allowAtt", "integer", false, "default 1"),
            p("allowGreet", "integer", false, "default 1"),
            p("friendsVerify", "integer", false, "-1 unchanged"),
            p("openService", "integer", false, "default -1"),
            p("isVibration", "integer", false, "-1 unchanged"),
            p("isTyping", "integer", false, "-1 unchanged"),
            p("isUseGoogleMap", "integer", false, "-1 unchanged"),
            p("isEncrypt", "integer", false, "-1 unchanged"),
            p("multipleDevices", "integer", false, "default 1"),
            p("closeTelephoneFind", "integer", false, "default 0"),
            p("chatRecordTimeOut", "string", false, "days; \"0\" unchanged; 天 stripped"),
            p("chatSyncTimeLen", "number", false, "days; 0 unchanged"),
            p("isKeepalive", "integer", false, "-1 unchanged"),
            p("showLastLoginTime", "integer", false, "0 unchanged"),
            p("showTelephone", "integer", false, "0 unchanged"),
            p("phoneSearch", "integer", false, "-1 unchanged"),
            p("nameSearch", "integer", false, "-1 unchanged"),
            p("friendFromList", "string", false, "comma list of allowed fromAddTypes"),
            p("isOpenPrivacyPosition", "integer", false, "-1 unchanged; 0 hides my position from friends too"),
        ],
        codes: &[0],
        data: "User object (updated)",
    },
    EndpointDoc {
        path: "/user/password/update",
        tag: "user",
        summary: "Change my password (md5s); logs out every device",
        access: Access::User,
        params: &[
            p("oldPassword", "string", true, "md5"),
            p("newPassword", "string", true, "md5"),
        ],
        codes: &[0],
        data: "none",
    },
    EndpointDoc {
        path: "/user/query",
        tag: "user",
        summary: "Find users by nickname below a userId cursor, userId descending; honours nameSearch and the owners' privacy (phone, name, position)",
        access: Access::User,
        params: &[
            p("userId", "integer", false, "cursor: users with a smaller userId"),
            p("pageSize", "integer", false, "default 10, at most 20"),
            p("nickname", "string", false, "required to find anyone; substring or exact as nicknameSearchUser says"),
            p("sex", "integer", false, ""),
            p("startTime", "long", false, "birthday from (s)"),
            p("endTime", "long", false, "birthday to (s)"),
        ],
        codes: &[],
        data: "array of User objects",
    },
    EndpointDoc {
        path: "/user/getOnLine",
        tag: "user",
        summary: "Whether a user is online",
        access: Access::User,
        params: &[p("userId", "integer", false, "default me")],
        codes: &[0],
        data: "0 or 1",
    },
    EndpointDoc {
        path: "/user/getOnLineDevice",
        tag: "user",
        summary: "The devices (connection resources) a user is online with",
        access: Access::User,
        params: &[p("userId", "integer", false, "default me")],
        codes: &[0],
        data: "string: the resources, sorted and comma-separated (web, android, ios, pc, …); empty when offline",
    },
    EndpointDoc {
        path: "/user/update/OfflineNoPushMsg",
        tag: "user",
        summary: "Turn offline push off (1) or on (0)",
        access: Access::User,
        params: &[p("offlineNoPushMsg", "integer", true, "0 or 1")],
        codes: &[0],
        data: "User object",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/user/register", register);
    r.add("/user/login", login);
    r.add("/user/login/auto", login_auto);
    r.add("/user/logout", logout);
    r.add("/user/outtime", outtime);
    r.add("/user/get", get);
    r.add("/user/getByAccount", get_by_account);
    r.add("/user/update", update);
    r.add("/user/settings", settings);
    r.add("/user/settings/update", update_settings);
    r.add("/user/password/update", update_password);
    r.add("/user/query", query);
    r.add("/user/getOnLine", online);
    r.add("/user/getOnLineDevice", online_devices);
    r.add("/user/update/OfflineNoPushMsg", offline_no_push);
}

fn device(p: &Params) -> Result<DeviceReport, Error> {
    Ok(DeviceReport {
        api_version: p.string("apiVersion"),
        os_version: p.string("osVersion"),
        model: p.string("model"),
        serial: p.string("serial"),
        latitude: p.f64("latitude")?.unwrap_or(0.0),
        longitude: p.f64("longitude")?.unwrap_or(0.0),
        location: p.string("location"),
        address: p.string("address"),
        area: p.string("area"),
        app_id: p.string("appId"),
        device_key: p.string("deviceKey").or_else(|| p.string("devicekey")),
    })
}

async fn register(state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = Registration {
        telephone: p.required("telephone")?.trim().to_string(),
        area_code: p.str("areaCode").unwrap_or("86").trim().to_string(),
        password: p.required("password")?.to_string(),
        nickname: p.string("nickname"),
        user_type: p.i32_or("userType", 0)?,
        description: p.string("description"),
        sex: p.i32_or("sex", 0)?,
        birthday: p.i64("birthday")?.unwrap_or(0),
        country_id: p.i32_or("countryId", 0)?,
        province_id: p.i32_or("provinceId", 0)?,
        city_id: p.i32_or("cityId", 0)?,
        area_id: p.i32_or("areaId", 0)?,
        name: p.string("name"),
        invite_code: p.string("inviteCode"),
        is_sms_register: p.i32_or("isSmsRegister", 0)?,
        sms_code: p.string("smsCode").or_else(|| p.string("randcode")),
        device: device(&p)?,
    };
    let data = users::register(&state.ctx, r).await?;
    // The new user set their password from here: their anonymous uploads from this address
    // (the jQuery client's avatar form) act for them, as after a password login.
    if let (Some(uid), Some(ip)) = (data["userId"].as_i64(), p.source()) {
        if let Ok(uid) = i32::try_from(uid) {
            state.ctx.passwords.guard().registered_from(uid, ip);
        }
    }
    Ok(Reply::data(data))
}

async fn login(state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = LoginRequest {
        telephone: p.string("telephone"),
        user_id: p.i32_or("userId", 0)?,
        area_code: p.get("areaCode").map(|a| a.trim().to_string()),
        password: p.required("password")?.to_string(),
        login_type: p.i32_or("loginType", 0)?,
        device: device(&p)?,
        source: p.source(),
    };
    if r.user_id == 0 && r.telephone.is_none() {
        return Err(Error::missing("telephone"));
    }
    Ok(Reply::data(users::login(&state.ctx, r).await?))
}

async fn login_auto(state: web::Data<AppState>, p: Params) -> ApiResult {
    let me = p.me()?;
    let data = users::login_auto(
        &state.ctx,
        me,
        p.str("serial").unwrap_or(""),
        p.f64("latitude")?.unwrap_or(0.0),
        p.f64("longitude")?.unwrap_or(0.0),
    )
    .await?;
    Ok(Reply::data(data))
}

async fn logout(state: web::Data<AppState>, p: Params) -> ApiResult {
    let device_key = p.str("deviceKey").or_else(|| p.str("devicekey"));
    users::logout(&state.ctx, p.me()?, device_key).await?;
    Ok(Reply::ok())
}

async fn outtime(state: web::Data<AppState>, p: Params) -> ApiResult {
    users::outtime(&state.ctx, p.me()?).await?;
    Ok(Reply::ok())
}

async fn get(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = users::get(&state.ctx, p.me()?, p.str("userId").unwrap_or("")).await?;
    Ok(Reply::raw(data))
}

async fn get_by_account(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = users::get_by_account(&state.ctx, p.me()?, p.required("account")?).await?;
    Ok(Reply::data(data))
}

async fn update(state: web::Data<AppState>, p: Params) -> ApiResult {
    let u = ProfileUpdate {
        nickname: p.string("nickname"),
        description: p.string("description"),
        sex: p.i32("sex")?,
        birthday: p.i64("birthday")?,
        country_id: p.i32("countryId")?,
        province_id: p.i32("provinceId")?,
        city_id: p.i32("cityId")?,
        area_id: p.i32("areaId")?,
        name: p.string("name"),
        idcard: p.string("idcard"),
        idcard_url: p.string("idcardUrl"),
        msg_back_ground_url: p.string("msgBackGroundUrl"),
        multiple_devices: p.i32("multipleDevices")?,
        latitude: p.f64("latitude")?,
        longitude: p.f64("longitude")?,
        user_type: p.i32("userType")?,
        phone: p.string("phone"),
        area_code: p.string("areaCode"),
        account: p.string("account"),
    };
    Ok(Reply::data(users::update(&state.ctx, p.me()?, u).await?))
}

async fn settings(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = users::settings(&state.ctx, p.me()?, p.required_i32("userId")?).await?;
    Ok(Reply::data(data))
}

async fn update_settings(state: web::Data<AppState>, p: Params) -> ApiResult {
    let d = SettingsUpdate::default();
    let s = SettingsUpdate {
        allow_att: p.i32_or("allowAtt", d.allow_att)?,
        allow_greet: p.i32_or("allowGreet", d.allow_greet)?,
        friends_verify: p.i32_or("friendsVerify", d.friends_verify)?,
        open_service: p.i32_or("openService", d.open_service)?,
        is_vibration: p.i32_or("isVibration", d.is_vibration)?,
        is_typing: p.i32_or("isTyping", d.is_typing)?,
        is_use_google_map: p.i32_or("isUseGoogleMap", d.is_use_google_map)?,
        is_encrypt: p.i32_or("isEncrypt", d.is_encrypt)?,
        multiple_devices: p.i32_or("multipleDevices", d.multiple_devices)?,
        close_telephone_find: p.i32_or("closeTelephoneFind", d.close_telephone_find)?,
        chat_record_time_out: p
            .string("chatRecordTimeOut")
            .unwrap_or(d.chat_record_time_out),
        chat_sync_time_len: p.f64("chatSyncTimeLen")?.unwrap_or(d.chat_sync_time_len),
        is_keepalive: p.i32_or("isKeepalive", d.is_keepalive)?,
        show_last_login_time: p.i32_or("showLastLoginTime", d.show_last_login_time)?,
        show_telephone: p.i32_or("showTelephone", d.show_telephone)?,
        phone_search: p.i32_or("phoneSearch", d.phone_search)?,
        name_search: p.i32_or("nameSearch", d.name_search)?,
        friend_from_list: p.get("friendFromList").map(str::to_string),
        is_open_privacy_position: p.i32_or("isOpenPrivacyPosition", d.is_open_privacy_position)?,
    };
    Ok(Reply::data(
        users::update_settings(&state.ctx, p.me()?, s).await?,
    ))
}

async fn update_password(state: web::Data<AppState>, p: Params) -> ApiResult {
    users::update_password(
        &state.ctx,
        p.me()?,
        p.required("oldPassword")?,
        p.required("newPassword")?,
        p.source(),
    )
    .await?;
    Ok(Reply::ok())
}

async fn query(state: web::Data<AppState>, p: Params) -> ApiResult {
    let q = QueryRequest {
        user_id: p.i32("userId")?,
        page_size: p.i32_or("pageSize", 10)?.max(1) as u32,
        nickname: p.string("nickname"),
        sex: p.i32("sex")?,
        start_time: p.i64("startTime")?,
        end_time: p.i64("endTime")?,
    };
    Ok(Reply::data(users::query(&state.ctx, p.me()?, q).await?))
}

async fn online(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = users::online(&state.ctx, p.me()?, p.i32_or("userId", 0)?).await?;
    Ok(Reply::data(data))
}

async fn online_devices(state: web::Data<AppState>, p: Params) -> ApiResult {
    let data = users::online_devices(&state.ctx, p.me()?, p.i32_or("userId", 0)?).await?;
    Ok(Reply::data(data))
}

async fn offline_no_push(state: web::Data<AppState>, p: Params) -> ApiResult {
    let v = p.required_i32("offlineNoPushMsg")?;
    Ok(Reply::data(
        users::set_offline_no_push(&state.ctx, p.me()?, v).await?,
    ))
}

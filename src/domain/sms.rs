//! SMS codes, image codes and password recovery (seed 003; reference `/basic/randcode/sendSms`,
//! `/getImgCode`, `/user/password/reset`, registration under `isOpenSMSCode`; README "SMS").
//!
//! Codes live among the store's short-lived codes, sealed under the server key, so any node
//! checks a code another node sent: `smsCode:<phone>` (the SMS code, `sms.code_ttl_secs`, at
//! most `sms.max_attempts` guesses, used once) and `imgCode:<telephone>:<address>` (the image
//! code).
//! Counters of the same store bound the sending: one SMS per phone per `sms.resend_secs`,
//! `sms.per_phone_per_day`, and `sms.per_address_per_hour` from one client address.

use std::net::IpAddr;

use serde_json::{json, Value};

use super::captcha;
use super::credentials;
use super::error::{Code, Error, Result};
use super::util::{now_millis, now_secs};
use super::Ctx;
use crate::delivery::sms::Sms;
use crate::store::Patch;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;
/// Guesses at one image code before it is dropped.
const IMAGE_CODE_ATTEMPTS: i64 = 5;

fn check_phone(name: &str, phone: &str) -> Result<()> {
    if phone.is_empty() || phone.len() > 20 || !phone.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::invalid(name, "应为数字 (digits)"));
    }
    Ok(())
}

fn check_area_code(area_code: &str) -> Result<()> {
    if area_code.is_empty() || area_code.len() > 6 || !area_code.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(Error::invalid("areaCode", "应为数字 (digits)"));
    }
    Ok(())
}

/// Counts one more event under `key` in a window of `window_ms` (starting with the first);
/// answers the events so far, this one included.
async fn count(ctx: &Ctx, key: &str, window_ms: i64) -> Result<i64> {
    let now = now_millis();
    if let Some((_, n)) = ctx.store.meta.try_code(key, now).await? {
        return Ok(n);
    }
    ctx.store.meta.put_code(key, "", now, window_ms).await?;
    Ok(ctx
        .store
        .meta
        .try_code(key, now)
        .await?
        .map_or(1, |(_, n)| n))
}

fn too_frequent(secs: i64) -> Error {
    Error::CodeMsg {
        code: Code::TooFrequent,
        msg: format!("请求过于频繁，请 {secs} 秒后再试"),
    }
}

/// Checks a code kept sealed under `key` against `given`: at most `max_attempts` guesses,
/// used once. False when wrong, expired, used or guessed too often.
async fn spend_code(ctx: &Ctx, key: &str, given: &str, max_attempts: i64) -> Result<bool> {
    let given = given.trim();
    if given.is_empty() {
        return Ok(false);
    }
    let Some((sealed, attempts)) = ctx.store.meta.try_code(key, now_millis()).await? else {
        return Ok(false);
    };
    if attempts > max_attempts {
        ctx.store.meta.take_code(key, now_millis()).await?;
        return Ok(false);
    }
    let Some(kept) = ctx.server_key.open(key, &sealed) else {
        return Ok(false);
    };
    if !kept.plain.eq_ignore_ascii_case(given) {
        return Ok(false);
    }
    // Used once: the first of two concurrent right guesses takes it.
    Ok(ctx.store.meta.take_code(key, now_millis()).await?.is_some())
}

fn sms_key(phone: &str) -> String {
    format!("smsCode:{phone}")
}

/// Image codes are kept per telephone and client address: someone else asking for one for the
/// same phone does not replace the code its owner is typing.
fn image_key(telephone: &str, source: Option<IpAddr>) -> String {
    match source {
        Some(ip) => format!("imgCode:{telephone}:{ip}"),
        None => format!("imgCode:{telephone}"),
    }
}

/// `/getImgCode`: a new image code for `telephone` asked from `source` (replacing the last
/// one of that address), as a PNG.
pub async fn image_code(ctx: &Ctx, telephone: &str, source: Option<IpAddr>) -> Result<Vec<u8>> {
    check_phone("telephone", telephone)?;
    let code = captcha::new_code(4);
    let key = image_key(telephone, source);
    let sealed = ctx.server_key.seal(&key, &code);
    let life_ms = ctx.config.sms.image_code_ttl_secs.max(1) * 1000;
    ctx.store
        .meta
        .put_code(&key, &sealed, now_millis(), life_ms)
        .await?;
    Ok(captcha::png(&code))
}

/// `/basic/randcode/sendSms` input.
#[derive(Debug, Clone, Default)]
pub struct SendSmsRequest {
    pub telephone: String,
    pub area_code: String,
    pub img_code: String,
    /// 1: for a registration (refused when the phone is registered).
    pub is_register: i32,
    pub source: Option<IpAddr>,
}

/// `/basic/randcode/sendSms`: checks the image code (when `sms.image_code`), the phone and the
/// limits, then sends a new code. The answer never holds the code (the reference's did).
pub async fn send_code(ctx: &Ctx, r: SendSmsRequest) -> Result<Value> {
    check_phone("telephone", &r.telephone)?;
    check_area_code(&r.area_code)?;
    let cfg = &ctx.config.sms;
    if cfg.image_code {
        if r.img_code.trim().is_empty() {
            return Err(Error::Code(Code::NullImgCode));
        }
        let key = image_key(&r.telephone, r.source);
        if !spend_code(ctx, &key, &r.img_code, IMAGE_CODE_ATTEMPTS).await? {
            return Err(Error::Code(Code::ImgCodeError));
        }
    }
    let phone = format!("{}{}", r.area_code, r.telephone);
    let registered = ctx.store.users.find_by_telephone(&phone).await?.is_some();
    if r.is_register == 1 && registered {
        return Err(Error::CodeMsg {
            code: Code::PhoneRegistered,
            msg: Code::PhoneRegistered.text().into(),
        });
    }
    if let Some(ip) = r.source {
        if count(ctx, &format!("smsAddr:{ip}"), HOUR_MS).await? > cfg.per_address_per_hour {
            return Err(too_frequent(3600));
        }
    }
    let resend_ms = cfg.resend_secs.max(1) * 1000;
    if count(ctx, &format!("smsWait:{phone}"), resend_ms).await? > 1 {
        return Err(too_frequent(cfg.resend_secs.max(1)));
    }
    if count(ctx, &format!("smsDay:{phone}"), DAY_MS).await? > cfg.per_phone_per_day {
        return Err(too_frequent(86_400));
    }
    if r.is_register != 1 && !registered {
        // A recovery code for a phone nobody registered: answered alike, sent to nobody.
        return Ok(json!({}));
    }
    let code = captcha::new_code(cfg.code_length.clamp(4, 10));
    let key = sms_key(&phone);
    let life_ms = cfg.code_ttl_secs.max(1) * 1000;
    ctx.store
        .meta
        .put_code(
            &key,
            &ctx.server_key.seal(&key, &code),
            now_millis(),
            life_ms,
        )
        .await?;
    let sms = Sms {
        area_code: &r.area_code,
        telephone: &r.telephone,
        code: &code,
        minutes: (cfg.code_ttl_secs.max(60) + 59) / 60,
    };
    if let Err(e) = ctx.sms.send(&sms).await {
        tracing::warn!(error = %e, "SMS not sent");
        ctx.store.meta.take_code(&key, now_millis()).await?;
        return Err(Error::Code(Code::SendMsgFail));
    }
    Ok(json!({}))
}

/// Spends the SMS code sent to `phone` (areaCode + number); 1040104 when wrong or expired.
pub async fn check_sms_code(ctx: &Ctx, phone: &str, code: &str) -> Result<()> {
    let max = ctx.config.sms.max_attempts.max(1);
    if spend_code(ctx, &sms_key(phone), code, max).await? {
        Ok(())
    } else {
        Err(Error::Code(Code::VerifyCodeErrOrExpired))
    }
}

/// `/user/password/reset`: a new password (md5) for the user of `areaCode + telephone`, with
/// the SMS code sent there; every session of the user ends.
pub async fn reset_password(
    ctx: &Ctx,
    area_code: &str,
    telephone: &str,
    code: &str,
    new_md5: &str,
) -> Result<()> {
    check_phone("telephone", telephone)?;
    check_area_code(area_code)?;
    if new_md5.len() != 32 || !new_md5.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::invalid("newPassword", "应为 32 位十六进制 md5"));
    }
    let phone = format!("{area_code}{telephone}");
    check_sms_code(ctx, &phone, code).await?;
    let Some(user) = ctx.store.users.find_by_telephone(&phone).await? else {
        return Err(Error::failure("帐号不存在, 请注册!"));
    };
    let patch: Patch = credentials::password_patch(ctx, user.user_id, new_md5)
        .await?
        .set("modifyTime", now_secs());
    ctx.store.users.update_user(user.user_id, &patch).await?;
    credentials::revoke_all(ctx, user.user_id).await
}

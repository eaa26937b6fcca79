//! SMS codes, image codes and password recovery (`BasicController.sendSms`, `/getImgCode`,
//! `UserController.resetPassword`; README "SMS"). Open paths.

use actix_web::{web, HttpResponse};

use super::docs::{p, Access, EndpointDoc, Routes};
use super::envelope::{ApiResult, Reply};
use super::params::Params;
use super::AppState;
use crate::domain::sms::{self, SendSmsRequest};
use crate::domain::Error;

/// Documentation of this module's endpoints.
pub const DOCS: &[EndpointDoc] = &[
    EndpointDoc {
        path: "/basic/randcode/sendSms",
        tag: "basic",
        summary: "Send an SMS code to a phone (registration, password reset, registration under isOpenSMSCode); limited per phone (sms.resend_secs, sms.per_phone_per_day) and per client address (sms.per_address_per_hour); the answer never holds the code",
        access: Access::Open,
        params: &[
            p("telephone", "string", true, "national phone number (digits)"),
            p("areaCode", "string", false, "country code, default 86"),
            p("imgCode", "string", false, "the code of /getImgCode for this telephone (required when sms.image_code)"),
            p("isRegister", "integer", false, "1 (default): for a registration, refused when the phone is registered; 0: for a reset"),
            p("language", "string", false, "ignored (the message is sms.template)"),
            p("version", "string", false, "ignored"),
        ],
        codes: &[1040105, 1040106, 1040107, 1040215, 1040216],
        data: "{}",
    },
    EndpointDoc {
        path: "/getImgCode",
        tag: "basic",
        summary: "A new image code for a telephone and the asking address, as a PNG (not an envelope); used as an <img> source before /basic/randcode/sendSms from the same address",
        access: Access::Open,
        params: &[p("telephone", "string", true, "national phone number (digits)")],
        codes: &[1010101],
        data: "image/png",
    },
    EndpointDoc {
        path: "/user/password/reset",
        tag: "user",
        summary: "Set a new password with the SMS code sent to the phone; every session of the user ends",
        access: Access::Open,
        params: &[
            p("areaCode", "string", false, "country code, default 86"),
            p("telephone", "string", true, "national phone number"),
            p("randcode", "string", true, "the SMS code (also smsCode)"),
            p("newPassword", "string", true, "md5(new password)"),
        ],
        codes: &[0, 1040104],
        data: "none",
    },
];

/// Registers this module's routes.
pub fn routes(r: &mut Routes) {
    r.add("/basic/randcode/sendSms", send_sms);
    r.add("/getImgCode", image_code);
    r.add("/user/password/reset", reset_password);
}

fn area_code(p: &Params) -> String {
    p.str("areaCode").unwrap_or("86").trim().to_string()
}

async fn send_sms(state: web::Data<AppState>, p: Params) -> ApiResult {
    let r = SendSmsRequest {
        telephone: p.required("telephone")?.trim().to_string(),
        area_code: area_code(&p),
        img_code: p.str("imgCode").unwrap_or("").to_string(),
        is_register: p.i32_or("isRegister", 1)?,
        source: p.source(),
    };
    Ok(Reply::data(sms::send_code(&state.ctx, r).await?))
}

async fn image_code(state: web::Data<AppState>, p: Params) -> Result<HttpResponse, Error> {
    let png = sms::image_code(&state.ctx, p.required("telephone")?.trim(), p.source()).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header(("Cache-Control", "no-store"))
        .body(png))
}

async fn reset_password(state: web::Data<AppState>, p: Params) -> ApiResult {
    let code = p.str("randcode").or_else(|| p.str("smsCode")).unwrap_or("");
    sms::reset_password(
        &state.ctx,
        &area_code(&p),
        p.required("telephone")?.trim(),
        code,
        p.required("newPassword")?.trim(),
    )
    .await?;
    Ok(Reply::ok())
}

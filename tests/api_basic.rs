//! Black-box tests of BasicController (`/config`, `/getCurrentTime`, `/verify/telephone`), the
//! CORS headers, the JSON 404 and the envelope shape every answer shares
//! (spec/reference-server.md 1.1, 1.3, 3.1; clients.md 2.1, 7).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::Method;
use serde_json::Value;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `v` is a JSON integer holding "now" in milliseconds (within 5 s).
fn assert_now_ms(v: &Value, what: &str) {
    let t = v
        .as_i64()
        .unwrap_or_else(|| panic!("{what} is not an integer: {v}"));
    assert!(
        (now_ms() - t).abs() < 5_000,
        "{what} = {t} is not now in ms ({})",
        now_ms()
    );
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn assert_cors(h: &reqwest::header::HeaderMap) {
    assert_eq!(h["access-control-allow-origin"], "*");
    assert_eq!(
        h["access-control-allow-methods"],
        "POST, GET, OPTIONS, DELETE"
    );
    assert_eq!(h["access-control-max-age"], "3600");
    let allow = h["access-control-allow-headers"].to_str().unwrap();
    assert!(allow.contains("x-requested-with"), "{allow}");
}

// ---------------------------------------------------------------------------------------------
// /config

#[tokio::test]
async fn config_has_every_field_the_web_client_reads() {
    let app = common::spawn().await;
    // Exactly what WEBIM.initConfig sends before login (clients.md 2.1/2.2).
    let v = app
        .get(
            "/config",
            &[("access_token", ""), ("flag", "rw"), ("time", "1")],
        )
        .await;
    assert_eq!(keys(&v), ["currentTime", "data", "resultCode"], "{v}");
    assert_eq!(v["resultCode"], 1);
    assert_now_ms(&v["currentTime"], "currentTime");
    let d = &v["data"];
    for k in [
        "XMPPDomain",
        "XMPPHost",
        "apiUrl",
        "uploadUrl",
        "downloadUrl",
        "downloadAvatarUrl",
        "jitsiServer",
        "ipAddress",
    ] {
        assert!(d[k].is_string(), "{k} is not a string: {d}");
    }
    for k in [
        "XMPPTimeout",
        "xmppPingTime",
        "isOpenReceipt",
        "isOpenSMSCode",
        "registerInviteCode",
        "regeditPhoneOrName",
        "isOpenRoomSearch",
        "isOpenRegister",
        "fileValidTime",
    ] {
        assert!(d[k].is_i64(), "{k} is not an integer: {d}");
    }
    assert_eq!(d["XMPPDomain"], "im.shiku.local");
    assert_eq!(d["XMPPTimeout"], 180);
    // 180 / 2.5: the jQuery client floods pings without it (clients.md 2.6).
    assert_eq!(d["xmppPingTime"], 72);
    assert_eq!(d["fileValidTime"], -1);
    assert_eq!(d["isOpenRegister"], 1);
    assert_eq!(d["registerInviteCode"], 0);
    assert_eq!(d["ipAddress"], "127.0.0.1");
    // fastjson emits bean properties in alphabetical order.
    let ks = keys(d);
    let mut sorted = ks.clone();
    sorted.sort();
    assert_eq!(ks, sorted);
}

#[tokio::test]
async fn config_reflects_the_server_configuration() {
    let app = common::spawn_with(|c| {
        c.client.xmpp_domain = "chat.example.org".into();
        c.client.xmpp_host = "10.0.0.7".into();
        c.client.xmpp_timeout = 100;
        c.client.api_url = "http://api.example.org:8092".into();
        c.client.is_open_sms_code = 1;
        c.auth.api_key = "mihuanim".into();
    })
    .await;
    let v = app.post("/config", &[]).await;
    let d = &v["data"];
    assert_eq!(d["XMPPDomain"], "chat.example.org");
    assert_eq!(d["XMPPHost"], "10.0.0.7");
    assert_eq!(d["XMPPTimeout"], 100);
    assert_eq!(d["xmppPingTime"], 40);
    assert_eq!(d["apiUrl"], "http://api.example.org:8092");
    assert_eq!(d["isOpenSMSCode"], 1);
    // The Vue clients take the apiKey from /config (clients.md 7).
    assert_eq!(d["apiKey"], "mihuanim");
}

#[tokio::test]
async fn config_needs_no_token_by_get_or_post() {
    let app = common::spawn().await;
    // GET and POST, with and without the empty access_token of the pre-login client.
    for v in [
        app.get("/config", &[]).await,
        app.post("/config", &[("access_token", "")]).await,
    ] {
        assert_eq!(v["resultCode"], 1, "{v}");
        assert!(v["data"]["XMPPDomain"].is_string());
    }
}

// ---------------------------------------------------------------------------------------------
// /getCurrentTime

#[tokio::test]
async fn current_time_is_ms_in_data_and_top_level() {
    let app = common::spawn().await;
    for v in [
        app.get("/getCurrentTime", &[]).await,
        app.post("/getCurrentTime", &[("access_token", ""), ("flag", "rw")])
            .await,
    ] {
        assert_eq!(keys(&v), ["currentTime", "data", "resultCode"], "{v}");
        assert_eq!(v["resultCode"], 1);
        assert_now_ms(&v["currentTime"], "currentTime");
        assert_now_ms(&v["data"], "data");
        let skew = v["currentTime"].as_i64().unwrap() - v["data"].as_i64().unwrap();
        assert!(
            (0..1_000).contains(&skew),
            "data and currentTime differ by {skew} ms"
        );
    }
}

/// `/_ping`: the newest Vue client times the round trip every 2 s, before and after login.
#[tokio::test]
async fn ping_answers_without_a_token() {
    let app = common::spawn().await;
    for v in [
        app.get("/_ping", &[]).await,
        app.get("/_ping", &[("access_token", ""), ("salt", "1700000000000")])
            .await,
    ] {
        assert_eq!(keys(&v), ["currentTime", "resultCode"], "{v}");
        assert_eq!(v["resultCode"], 1);
    }
}

#[tokio::test]
async fn any_http_method_is_accepted() {
    // The reference's @RequestMapping has no method: PUT and DELETE work like GET.
    let app = common::spawn().await;
    for m in [Method::PUT, Method::DELETE, Method::PATCH] {
        let r = app
            .client
            .request(m.clone(), format!("{}/getCurrentTime", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{m}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["resultCode"], 1, "{m}: {v}");
        assert_now_ms(&v["data"], "data");
    }
}

// ---------------------------------------------------------------------------------------------
// /verify/telephone

#[tokio::test]
async fn verify_telephone_both_directions() {
    let app = common::spawn().await;
    app.register("13911112222", "pw", "v").await;

    // verifyType 0 (default): success when NOT registered.
    let v = app
        .post("/verify/telephone", &[("telephone", "13933334444")])
        .await;
    assert_eq!(keys(&v), ["currentTime", "resultCode", "resultMsg"], "{v}");
    assert_eq!(v["resultCode"], 1);
    assert_eq!(v["resultMsg"], "手机号未注册");
    assert_now_ms(&v["currentTime"], "currentTime");

    let v = app
        .post(
            "/verify/telephone",
            &[("telephone", "13911112222"), ("areaCode", "86")],
        )
        .await;
    assert_eq!(keys(&v), ["currentTime", "resultCode", "resultMsg"], "{v}");
    assert_eq!(v["resultCode"], 0);
    assert_eq!(v["resultMsg"], "手机号已注册");

    // verifyType 1: the inverse.
    let v = app
        .get(
            "/verify/telephone",
            &[("telephone", "13911112222"), ("verifyType", "1")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["resultMsg"], "手机号已注册");
    let v = app
        .get(
            "/verify/telephone",
            &[("telephone", "13933334444"), ("verifyType", "1")],
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(v["resultMsg"], "手机号未注册");

    // The identity is areaCode + phone: the same number under another country code is free.
    let v = app
        .post(
            "/verify/telephone",
            &[("telephone", "13911112222"), ("areaCode", "852")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["resultMsg"], "手机号未注册");
    // An empty areaCode means 86.
    let v = app
        .post(
            "/verify/telephone",
            &[("telephone", "13911112222"), ("areaCode", "")],
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
}

#[tokio::test]
async fn verify_telephone_refuses_bad_input() {
    let app = common::spawn().await;
    let v = app.post("/verify/telephone", &[]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert!(
        v["resultMsg"].as_str().unwrap().contains("telephone"),
        "{v}"
    );
    let v = app
        .post("/verify/telephone", &[("telephone", "1391'; drop")])
        .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert!(
        v["resultMsg"].as_str().unwrap().contains("telephone"),
        "{v}"
    );
    let v = app
        .post(
            "/verify/telephone",
            &[("telephone", "13911112222"), ("verifyType", "x")],
        )
        .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert!(
        v["resultMsg"].as_str().unwrap().contains("verifyType"),
        "{v}"
    );
}

// ---------------------------------------------------------------------------------------------
// CORS, OPTIONS, 404

#[tokio::test]
async fn cors_headers_on_success_error_and_404() {
    let app = common::spawn().await;
    for (path, status) in [
        ("/config", 200),
        ("/user/get", 200), // 1030101
        ("/no/such/path", 404),
    ] {
        let r = app
            .client
            .get(format!("{}{}", app.base, path))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status, "{path}");
        assert_cors(r.headers());
        assert_eq!(
            r.headers()["content-type"],
            "application/json; charset=UTF-8",
            "{path}"
        );
        let _: Value = r.json().await.expect("JSON body");
    }
}

#[tokio::test]
async fn options_preflight_answers_200_json_with_cors() {
    let app = common::spawn().await;
    for path in ["/user/get", "/config", "/user/login", "/no/such/path"] {
        let r = app
            .client
            .request(Method::OPTIONS, format!("{}{}", app.base, path))
            .header("Origin", "http://localhost")
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "x-requested-with")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        assert_cors(r.headers());
        let v: Value = r.json().await.expect("JSON body");
        assert!(v["resultCode"].is_i64(), "{path}: {v}");
        assert_now_ms(&v["currentTime"], "currentTime");
    }
}

#[tokio::test]
async fn unknown_path_is_a_json_404() {
    let app = common::spawn().await;
    for m in [Method::GET, Method::POST] {
        let r = app
            .client
            .request(m, format!("{}/user/noSuchEndpoint?x=1", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
        let v: Value = r.json().await.expect("JSON 404");
        // Spring Boot's error body (spec/reference-server.md 1.4).
        assert_eq!(v["status"], 404);
        assert_eq!(v["error"], "Not Found");
        assert_eq!(v["path"], "/user/noSuchEndpoint");
        assert!(v["message"].is_string());
        assert_now_ms(&v["timestamp"], "timestamp");
    }
}

// ---------------------------------------------------------------------------------------------
// Envelope shape

#[tokio::test]
async fn envelope_omits_null_fields_and_is_alphabetical() {
    let app = common::spawn().await;
    let (_, token) = app.register("13955556666", "pw", "env").await;

    // success(data)
    let v = app.post("/user/get", &[("access_token", &token)]).await;
    assert_eq!(keys(&v), ["currentTime", "data", "resultCode"], "{v}");
    // success() — no data, no resultMsg
    let v = app.post("/user/outtime", &[("access_token", &token)]).await;
    assert_eq!(keys(&v), ["currentTime", "resultCode"], "{v}");
    assert_eq!(v["resultCode"], 1);
    // failure(msg)
    let v = app
        .post(
            "/user/get",
            &[("access_token", &token), ("userId", "99999")],
        )
        .await;
    assert_eq!(keys(&v), ["currentTime", "resultCode", "resultMsg"], "{v}");
    assert_eq!(v["resultCode"], 0);
    assert_eq!(v["resultMsg"], "该用户不存在!");
}

#[tokio::test]
async fn current_time_is_on_every_answer_including_errors() {
    let app = common::spawn().await;
    let answers = [
        app.post("/user/get", &[]).await, // 1030101
        app.post("/user/get", &[("access_token", "garbage")]).await, // 1030102
        app.post("/user/login", &[("password", "x")]).await, // 1010101
        app.post("/user/settings", &[("access_token", "garbage")])
            .await, // 1030102
        app.post(
            "/user/login",
            &[
                ("telephone", "0123456789abcdef0123456789abcdef"),
                ("password", "0123456789abcdef0123456789abcdef"),
            ],
        )
        .await, // 0
        app.get("/getCurrentTime", &[]).await,
    ];
    let codes: Vec<i64> = answers
        .iter()
        .map(|v| v["resultCode"].as_i64().unwrap())
        .collect();
    assert_eq!(codes, [1030101, 1030102, 1010101, 1030102, 0, 1]);
    for v in &answers {
        assert_now_ms(&v["currentTime"], "currentTime");
        assert!(v.get("data").is_none() || v["resultCode"] == 1, "{v}");
        if v["resultCode"] != 1 {
            assert!(v["resultMsg"].is_string(), "{v}");
        }
    }
    assert_eq!(answers[0]["resultMsg"], "缺少访问令牌");
    assert_eq!(answers[1]["resultMsg"], "访问令牌过期或无效");
}

#[tokio::test]
async fn flag_and_unknown_parameters_are_ignored() {
    let app = common::spawn().await;
    let (uid, token) = app.register("13977778888", "pw", "flag").await;
    let v = app
        .get(
            "/user/get",
            &[
                ("access_token", &token),
                ("flag", "rw"),
                ("whatever", "1"),
                ("pwd", "dzt"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["userId"], uid);
    // The reference's `pwd=dzt` backdoor must not exist (Appendix B).
    let v = app.get("/user/get", &[("pwd", "dzt")]).await;
    assert_eq!(v["resultCode"], 1030101, "{v}");
}

#[tokio::test]
async fn logined_config_needs_a_token_and_serves_the_config() {
    let app = common::spawn().await;
    let v = app.get("/logined/config", &[]).await;
    assert_eq!(v["resultCode"], 1030101);
    let (_, token) = app.register("13700000077", "pw", "cfg").await;
    let v = app
        .get("/logined/config", &[("access_token", &token)])
        .await;
    assert_eq!(v["resultCode"], 1);
    assert_eq!(v["data"]["xmppPingTime"], 72);
    assert_eq!(v["data"], {
        let mut c = app.get("/config", &[]).await["data"].clone();
        c["ipAddress"] = v["data"]["ipAddress"].clone();
        c
    });
}

//! Black-box tests of parameter handling and refusals: missing and mistyped parameters,
//! oversized bodies, bad encodings, very long values, multipart bodies, GET/POST equivalence.
//! None of them may panic or answer HTTP 500 (spec/reference-server.md 1.4, 1.5).

mod common;

use std::time::{SystemTime, UNIX_EPOCH};

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use shiku_server::domain::util::md5_hex;

const PARAMS_FAIL: &str = "请求参数验证失败，缺少必填参数或参数错误";

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn assert_param_error(v: &Value, name: &str) {
    assert_eq!(v["resultCode"], 1010101, "{v}");
    let msg = v["resultMsg"].as_str().expect("resultMsg");
    assert!(msg.starts_with(PARAMS_FAIL), "{msg}");
    assert!(msg.contains(name), "{msg} does not name {name}");
    assert!(v.get("data").is_none(), "{v}");
    assert!((now_ms() - v["currentTime"].as_i64().unwrap()).abs() < 5_000);
}

/// Sends a raw body with a content type and returns (status, JSON body).
async fn raw(
    app: &common::TestApp,
    path: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> (u16, Value) {
    let r = app
        .client
        .post(format!("{}{}", app.base, path))
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("request sent");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    let v = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{path}: HTTP {status}, not JSON ({e}): {text:?}"));
    (status, v)
}

const FORM: &str = "application/x-www-form-urlencoded";

async fn token(app: &common::TestApp) -> (i64, String) {
    app.register("13700000001", "pw", "errors").await
}

// ---------------------------------------------------------------------------------------------
// Missing and mistyped parameters

#[tokio::test]
async fn missing_required_parameters_name_the_parameter() {
    let app = common::spawn().await;
    let (_, t) = token(&app).await;
    let t = t.as_str();
    for (path, pairs, name) in [
        ("/user/settings", vec![("access_token", t)], "userId"),
        (
            "/user/settings",
            vec![("access_token", t), ("userId", "")],
            "userId",
        ),
        ("/user/getByAccount", vec![("access_token", t)], "account"),
        (
            "/user/update/OfflineNoPushMsg",
            vec![("access_token", t)],
            "offlineNoPushMsg",
        ),
        (
            "/user/password/update",
            vec![
                ("access_token", t),
                ("newPassword", "0123456789abcdef0123456789abcdef"),
            ],
            "oldPassword",
        ),
        ("/user/register", vec![("password", "x")], "telephone"),
        ("/user/login", vec![("telephone", "x")], "password"),
        ("/verify/telephone", vec![("areaCode", "86")], "telephone"),
    ] {
        let v = app.post(path, &pairs).await;
        assert_param_error(&v, name);
        // The same by GET.
        let v = app.get(path, &pairs).await;
        assert_param_error(&v, name);
    }
}

#[tokio::test]
async fn mistyped_parameters_name_the_parameter() {
    let app = common::spawn().await;
    let (_, t) = token(&app).await;
    let t = t.as_str();
    let pw = md5_hex("pw");
    for (path, pairs, name) in [
        ("/user/settings", vec![("userId", "abc")], "userId"),
        ("/user/settings", vec![("userId", "1.5")], "userId"),
        ("/user/settings", vec![("userId", "99999999999")], "userId"),
        ("/user/getOnLine", vec![("userId", "0x10")], "userId"),
        ("/user/update", vec![("sex", "male")], "sex"),
        ("/user/update", vec![("birthday", "1e9")], "birthday"),
        (
            "/user/update",
            vec![("countryId", "9999999999")],
            "countryId",
        ),
        ("/user/update", vec![("latitude", "north")], "latitude"),
        ("/user/update", vec![("longitude", "inf")], "longitude"),
        (
            "/user/update",
            vec![("multipleDevices", "true")],
            "multipleDevices",
        ),
        ("/user/query", vec![("userId", "last")], "userId"),
        ("/user/query", vec![("startTime", "today")], "startTime"),
        (
            "/user/settings/update",
            vec![("isTyping", "on")],
            "isTyping",
        ),
        (
            "/user/update/OfflineNoPushMsg",
            vec![("offlineNoPushMsg", "1.0")],
            "offlineNoPushMsg",
        ),
        ("/user/login/auto", vec![("latitude", "NaN")], "latitude"),
    ] {
        let mut p = vec![("access_token", t)];
        p.extend(pairs.iter().copied());
        let v = app.post(path, &p).await;
        assert_param_error(&v, name);
    }
    // Open paths too.
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "13700000002"),
                ("password", &pw),
                ("birthday", "1990-01-01"),
            ],
        )
        .await;
    assert_param_error(&v, "birthday");
    let v = app
        .post(
            "/user/login",
            &[
                ("telephone", &md5_hex("13700000001")),
                ("password", &pw),
                ("longitude", "east"),
            ],
        )
        .await;
    assert_param_error(&v, "longitude");
    // Surrounding blanks are tolerated.
    let v = app
        .post("/user/settings", &[("access_token", t), ("userId", " 0 ")])
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
}

#[tokio::test]
async fn json_bodies_are_not_read() {
    // The reference binds request parameters only; a JSON body carries none.
    let app = common::spawn().await;
    let body = serde_json::json!({"telephone": "13700000003", "password": md5_hex("pw")});
    let (status, v) = raw(&app, "/user/register", "application/json", body.to_string()).await;
    assert_eq!(status, 200);
    assert_param_error(&v, "telephone");
}

// ---------------------------------------------------------------------------------------------
// Sizes

#[tokio::test]
async fn oversized_bodies_are_413_json_envelopes() {
    let app = common::spawn_with(|c| c.limits.max_form_bytes = 16 * 1024).await;
    let big = format!("nickname={}&flag=rw", "a".repeat(64 * 1024));
    let (status, v) = raw(&app, "/user/register", FORM, big).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().starts_with(PARAMS_FAIL));
    assert!((now_ms() - v["currentTime"].as_i64().unwrap()).abs() < 5_000);

    // multipart counts too.
    let form = Form::new().text("telephone", "13700000004").part(
        "file",
        Part::bytes(vec![b'x'; 64 * 1024]).file_name("a.bin"),
    );
    let r = app
        .client
        .post(format!("{}/user/register", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.expect("JSON 413");
    assert_eq!(v["resultCode"], 1010101, "{v}");

    // And the query string.
    let r = app
        .client
        .get(format!(
            "{}/getCurrentTime?pad={}",
            app.base,
            "b".repeat(20 * 1024)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let v: Value = r.json().await.expect("JSON 413");
    assert_eq!(v["resultCode"], 1010101, "{v}");

    // The default limit (1 MiB) on a 2 MiB form.
    let default = common::spawn().await;
    let big = format!("nickname={}", "n".repeat(2 * 1024 * 1024));
    let (status, v) = raw(&default, "/user/login", FORM, big).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["resultCode"], 1010101, "{v}");

    // A body just under the limit is read normally.
    let ok = format!(
        "telephone=13700000005&password={}&x={}",
        md5_hex("pw"),
        "c".repeat(8 * 1024)
    );
    let (status, v) = raw(&app, "/user/register", FORM, ok).await;
    assert_eq!((status, v["resultCode"].as_i64()), (200, Some(1)), "{v}");
}

#[tokio::test]
async fn very_long_strings_are_refused_cleanly() {
    let app = common::spawn().await;
    let (uid, t) = token(&app).await;
    let huge = "长".repeat(100 * 1024 / 3 + 1); // > 100 KB of UTF-8
    let long = "x".repeat(100 * 1024);

    let v = app
        .post("/user/update", &[("access_token", &t), ("nickname", &huge)])
        .await;
    assert_param_error(&v, "nickname");
    let v = app
        .post(
            "/user/update",
            &[("access_token", &t), ("description", &long)],
        )
        .await;
    assert_param_error(&v, "description");
    let me = app.post("/user/get", &[("access_token", &t)]).await;
    assert_eq!(me["data"]["nickname"], "errors");

    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", "13700000006"),
                ("password", &md5_hex("pw")),
                ("nickname", &long),
            ],
        )
        .await;
    assert_param_error(&v, "nickname");
    let v = app
        .post(
            "/user/register",
            &[
                ("telephone", &"1".repeat(100 * 1024)),
                ("password", &md5_hex("pw")),
            ],
        )
        .await;
    assert_param_error(&v, "telephone");
    let v = app
        .post(
            "/user/login",
            &[("telephone", &long), ("password", &md5_hex("pw"))],
        )
        .await;
    assert_param_error(&v, "telephone");
    let v = app
        .post(
            "/user/settings/update",
            &[("access_token", &t), ("friendFromList", &long)],
        )
        .await;
    assert_param_error(&v, "friendFromList");
    let v = app
        .post("/user/query", &[("access_token", &t), ("nickname", &long)])
        .await;
    assert_param_error(&v, "nickname");
    // Lookups by a huge key find nobody; a huge token is just invalid.
    let v = app
        .post("/user/get", &[("access_token", &t), ("userId", &long)])
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(v["resultMsg"], "该用户不存在!");
    let v = app.post("/user/get", &[("access_token", &long)]).await;
    assert_eq!(v["resultCode"], 1030102, "{v}");
    // The 64-character nickname limit is inclusive; emoji count as one character.
    let max = "😀".repeat(64);
    let v = app
        .post("/user/update", &[("access_token", &t), ("nickname", &max)])
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["nickname"], max.as_str());
    assert_eq!(v["data"]["userId"], uid);
}

// ---------------------------------------------------------------------------------------------
// Encodings

#[tokio::test]
async fn non_utf8_values_are_refused_naming_the_parameter() {
    let app = common::spawn().await;
    let (_, t) = token(&app).await;
    // Percent-encoded GBK "张" (D5 C5) in a form body, and raw bytes.
    let body = format!("access_token={t}&nickname=%D5%C5");
    let (status, v) = raw(&app, "/user/update", FORM, body).await;
    assert_eq!(status, 200);
    assert_param_error(&v, "nickname");
    let mut body = format!("access_token={t}&description=").into_bytes();
    body.extend_from_slice(&[0xff, 0xfe, 0x41]);
    let (status, v) = raw(&app, "/user/update", FORM, body).await;
    assert_eq!(status, 200);
    assert_param_error(&v, "description");
    // In the query string.
    let r = app
        .client
        .get(format!(
            "{}/user/update?access_token={t}&name=%FF%FE",
            app.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_param_error(&r.json().await.unwrap(), "name");
    // A charset label does not change the rule (the reference decodes as UTF-8).
    let (_, v) = raw(
        &app,
        "/user/update",
        "application/x-www-form-urlencoded; charset=GBK",
        format!("access_token={t}&nickname=%D5%C5"),
    )
    .await;
    assert_param_error(&v, "nickname");
    // Nothing was changed.
    let me = app.post("/user/get", &[("access_token", &t)]).await;
    assert_eq!(me["data"]["nickname"], "errors");
    assert_eq!(me["data"]["description"], "");
}

#[tokio::test]
async fn utf8_plus_and_percent_are_decoded_like_a_browser_form() {
    let app = common::spawn().await;
    let (_, t) = token(&app).await;
    // jQuery encodes spaces as '+', '+' as %2B, and UTF-8 as %XX.
    let body = format!("access_token={t}&nickname=%E5%BC%A0+%2B1&description=50%25+off%ZZ");
    let (_, v) = raw(&app, "/user/update", FORM, body).await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["nickname"], "张 +1");
    assert_eq!(v["data"]["description"], "50% off%ZZ");
    // 4-byte UTF-8 survives the round trip through the store.
    let v = app
        .post(
            "/user/update",
            &[("access_token", &t), ("nickname", "🐼熊猫")],
        )
        .await;
    assert_eq!(v["data"]["nickname"], "🐼熊猫", "{v}");
    let me = app.get("/user/get", &[("access_token", &t)]).await;
    assert_eq!(me["data"]["nickname"], "🐼熊猫");
}

// ---------------------------------------------------------------------------------------------
// Body kinds and GET/POST

#[tokio::test]
async fn multipart_bodies_are_read_like_urlencoded() {
    let app = common::spawn().await;
    let form = Form::new()
        .text("telephone", "13700000007")
        .text("areaCode", "86")
        .text("password", md5_hex("pw"))
        .text("nickname", "多部分")
        .text("access_token", "");
    let r = app
        .client
        .post(format!("{}/user/register", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["nickname"], "多部分");

    let form = Form::new()
        .text("telephone", md5_hex("13700000007"))
        .text("password", md5_hex("pw"))
        .part(
            "avatar",
            Part::bytes(b"\x89PNG....".to_vec()).file_name("a.png"),
        );
    let r = app
        .client
        .post(format!("{}/user/login", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resultCode"], 1, "{v}");
    let t = v["data"]["access_token"].as_str().unwrap().to_string();

    // Token in the query string, fields in a multipart body.
    let form = Form::new().text("nickname", "mp2").text("sex", "1");
    let r = app
        .client
        .post(format!("{}/user/update?access_token={t}", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["nickname"], "mp2");
    assert_eq!(v["data"]["sex"], 1);

    // Missing parameters in a multipart body are named like in a form.
    let form = Form::new().text("telephone", "13700000008");
    let r = app
        .client
        .post(format!("{}/user/register", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_param_error(&r.json().await.unwrap(), "password");

    // Non-UTF-8 text in a multipart field.
    let form = Form::new()
        .text("access_token", t.clone())
        .part("nickname", Part::bytes(vec![0xd5, 0xc5]));
    let r = app
        .client
        .post(format!("{}/user/update", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_param_error(&r.json().await.unwrap(), "nickname");
}

#[tokio::test]
async fn get_query_and_post_form_are_equivalent() {
    let app = common::spawn().await;
    let (uid, t) = token(&app).await;
    let (other, _) = app.register("13700000009", "pw", "other").await;
    let other_s = other.to_string();
    let pairs = [
        ("access_token", t.as_str()),
        ("userId", other_s.as_str()),
        ("flag", "rw"),
    ];
    let mut a = app.get("/user/get", &pairs).await;
    let mut b = app.post("/user/get", &pairs).await;
    a.as_object_mut().unwrap().remove("currentTime");
    b.as_object_mut().unwrap().remove("currentTime");
    assert_eq!(a, b);
    assert_eq!(a["data"]["userId"], other);

    // Split between the query string and the body.
    let r = app
        .client
        .post(format!("{}/user/settings?access_token={t}", app.base))
        .form(&[("userId", "0")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["allowAtt"], 1);

    // The first value wins, query before body (Spring's getParameter).
    let r = app
        .client
        .post(format!(
            "{}/user/get?access_token={t}&userId={other}",
            app.base
        ))
        .form(&[("userId", uid.to_string())])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["data"]["userId"], other, "{v}");

    // A text/plain body (some old clients) is read as a form as well.
    let (_, v) = raw(
        &app,
        "/user/settings",
        "text/plain;charset=UTF-8",
        format!("access_token={t}&userId=0"),
    )
    .await;
    assert_eq!(v["resultCode"], 1, "{v}");
}

#[tokio::test]
async fn nothing_panics_or_answers_500() {
    let app = common::spawn().await;
    let (_, t) = token(&app).await;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("/user/login", "multipart/form-data", b"garbage".to_vec()),
        (
            "/user/login",
            "multipart/form-data; boundary=XYZ",
            b"--XYZ\r\nContent-Disposition: form-data\r\n\r\nno name\r\n--XYZ--\r\n".to_vec(),
        ),
        (
            "/user/register",
            "multipart/form-data; boundary=XYZ",
            b"--XYZ\r\nContent-Disposition: form-data; name=\"telephone\"\r\n\r\n1370".to_vec(),
        ),
        ("/user/login", FORM, b"&&&==&=&a=%&b=%F".to_vec()),
        ("/user/login", FORM, b"%FF=1".to_vec()),
        (
            "/user/register",
            FORM,
            b"telephone=%00%00&password=%00".to_vec(),
        ),
        (
            "/user/get",
            FORM,
            format!("access_token={t}&userId=-2147483648").into_bytes(),
        ),
        (
            "/user/get",
            FORM,
            format!("access_token={t}&userId=%00").into_bytes(),
        ),
        (
            "/user/query",
            FORM,
            format!("access_token={t}&pageSize=-5&userId=-1").into_bytes(),
        ),
        (
            "/user/query",
            FORM,
            format!("access_token={t}&pageSize=2147483647").into_bytes(),
        ),
        (
            "/user/query",
            FORM,
            format!("access_token={t}&nickname=%25_%5C'\"").into_bytes(),
        ),
        (
            "/user/settings",
            FORM,
            format!("access_token={t}&userId=-2147483648").into_bytes(),
        ),
        (
            "/user/settings/update",
            FORM,
            format!("access_token={t}&chatRecordTimeOut=1e308&chatSyncTimeLen=1e308").into_bytes(),
        ),
        (
            "/user/update",
            FORM,
            format!(
                "access_token={t}&birthday=-9223372036854775808&latitude=1e308&longitude=1e308"
            )
            .into_bytes(),
        ),
        (
            "/user/update",
            FORM,
            format!("access_token={t}&userType=3").into_bytes(),
        ),
        (
            "/user/login/auto",
            FORM,
            format!("access_token={t}&serial=%00").into_bytes(),
        ),
        (
            "/user/logout",
            "application/octet-stream",
            vec![0, 159, 146, 150],
        ),
        ("/config", "application/json", b"{not json".to_vec()),
    ];
    for (path, ct, body) in cases {
        let (status, v) = raw(&app, path, ct, body.clone()).await;
        assert!(
            status == 200 || status == 413,
            "{path} {ct} {:?}: HTTP {status} {v}",
            String::from_utf8_lossy(&body)
        );
        let code = v["resultCode"].as_i64().expect("integer resultCode");
        assert_ne!(
            code,
            1020101,
            "{path} {:?}: internal error {v}",
            String::from_utf8_lossy(&body)
        );
        assert!(v["currentTime"].is_i64(), "{v}");
    }
    // Still serving, and the session still works (logout above had no token).
    let v = app.get("/getCurrentTime", &[]).await;
    assert_eq!(v["resultCode"], 1);
    let v = app.post("/user/get", &[("access_token", &t)]).await;
    assert_eq!(v["resultCode"], 1, "{v}");
}

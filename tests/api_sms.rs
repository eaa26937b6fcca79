//! SMS codes, image codes and password recovery, black-box: the `http` sender talks to a local
//! HTTP server started here (the stand-in for an SMS gateway), which records each request as it
//! arrives and answers with the status the test sets; the codes are read from what it received.

mod common;

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::Value;
use shiku_server::config::{Config, SmsSenderKind};
use shiku_server::domain::util::md5_hex;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use common::{ok, spawn_with, TestApp};

/// One request the gateway stand-in received.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The SMS gateway stand-in.
#[derive(Clone)]
struct Gateway {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    status: Arc<AtomicU16>,
}

impl Gateway {
    async fn start() -> Gateway {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/sms/send?key=k1", listener.local_addr().unwrap());
        let gw = Gateway {
            url,
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
        };
        let g = gw.clone();
        tokio::spawn(async move {
            loop {
                let (sock, _) = listener.accept().await.unwrap();
                let g = g.clone();
                tokio::spawn(async move { g.serve(sock).await });
            }
        });
        gw
    }

    async fn serve(&self, sock: tokio::net::TcpStream) {
        let mut r = BufReader::new(sock);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line).await.unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let (method, target) = (
                parts.next().unwrap_or("").to_string(),
                parts.next().unwrap_or("").to_string(),
            );
            let mut headers = Vec::new();
            loop {
                let mut h = String::new();
                r.read_line(&mut h).await.unwrap();
                let h = h.trim_end();
                if h.is_empty() {
                    break;
                }
                let (k, v) = h.split_once(':').unwrap();
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = vec![0; len];
            r.read_exact(&mut body).await.unwrap();
            self.received.lock().unwrap().push(Received {
                method,
                target,
                headers,
                body: String::from_utf8(body).unwrap(),
            });
            let status = self.status.load(Ordering::SeqCst);
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{{\"ok\":true}}"
            );
            r.get_mut().write_all(answer.as_bytes()).await.unwrap();
        }
    }

    fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn last(&self) -> Received {
        self.received
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("a request")
    }

    /// The code in the last message's text.
    fn last_code(&self) -> String {
        let body: Value = serde_json::from_str(&self.last().body).unwrap();
        body["text"]
            .as_str()
            .unwrap()
            .chars()
            .filter(char::is_ascii_digit)
            .take(6)
            .collect()
    }
}

async fn spawn_sms(tweak: impl FnOnce(&mut Config)) -> (TestApp, Gateway) {
    let gw = Gateway::start().await;
    let url = gw.url.clone();
    let app = spawn_with(move |c| {
        c.sms.sender = SmsSenderKind::Http;
        c.sms.http.url = url;
        c.sms
            .http
            .headers
            .insert("Authorization".into(), "Bearer gw-key".into());
        c.sms.http.body = r#"{"to":"{phone}","text":"{text}","sign":"shiku"}"#.into();
        tweak(c);
    })
    .await;
    (app, gw)
}

async fn send_sms(app: &TestApp, phone: &str, is_register: &str) -> Value {
    app.post(
        "/basic/randcode/sendSms",
        &[
            ("telephone", phone),
            ("areaCode", "86"),
            ("isRegister", is_register),
            ("access_token", ""),
        ],
    )
    .await
}

fn code_of(v: &Value) -> i64 {
    v["resultCode"].as_i64().unwrap()
}

async fn register_with_code(app: &TestApp, phone: &str, code: &str) -> Value {
    app.post(
        "/user/register",
        &[
            ("telephone", phone),
            ("areaCode", "86"),
            ("password", &md5_hex("pw")),
            ("nickname", "sms"),
            ("smsCode", code),
            ("isSmsRegister", "1"),
            ("access_token", ""),
        ],
    )
    .await
}

#[tokio::test]
async fn the_http_sender_posts_what_the_configuration_says() {
    let (app, gw) = spawn_sms(|_| {}).await;
    let v = send_sms(&app, "13900000001", "1").await;
    ok(&v);
    assert!(
        v["data"].get("code").is_none(),
        "the answer never holds the code: {v}"
    );
    assert_eq!(gw.count(), 1);
    let r = gw.last();
    assert_eq!(
        (r.method.as_str(), r.target.as_str()),
        ("POST", "/sms/send?key=k1")
    );
    assert_eq!(r.header("authorization"), Some("Bearer gw-key"));
    assert_eq!(r.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_str(&r.body).unwrap();
    let code = gw.last_code();
    assert_eq!(code.len(), 6);
    assert_eq!(
        body,
        serde_json::json!({
            "to": "8613900000001",
            "text": format!("您的验证码是 {code}，5 分钟内有效。"),
            "sign": "shiku",
        })
    );
    // A gateway that refuses: 1040105, and the code it was given is not usable.
    gw.status.store(500, Ordering::SeqCst);
    let v = send_sms(&app, "13900000002", "1").await;
    assert_eq!(code_of(&v), 1040105, "{v}");
    let kept = app
        .app
        .store
        .meta
        .try_code(
            "smsCode:8613900000002",
            shiku_server::domain::util::now_millis(),
        )
        .await
        .unwrap();
    assert!(kept.is_none(), "an unsent code is dropped");
}

#[tokio::test]
async fn registration_under_is_open_sms_code_needs_the_code() {
    let (app, gw) = spawn_sms(|c| c.client.is_open_sms_code = 1).await;
    ok(&app.get("/config", &[]).await);
    let v = register_with_code(&app, "13900000011", "").await;
    assert_eq!(code_of(&v), 1040104, "{v}");
    ok(&send_sms(&app, "13900000011", "1").await);
    let code = gw.last_code();
    let v = register_with_code(&app, "13900000011", "000000x").await;
    assert_eq!(code_of(&v), 1040104, "{v}");
    let v = register_with_code(&app, "13900000011", &code).await;
    let d = ok(&v);
    let token = d["access_token"].as_str().unwrap();
    let me = app.post("/user/get", &[("access_token", token)]).await;
    assert_eq!(ok(&me)["isAuth"], 1, "the phone was proven");
    // A registered phone gets no registration code.
    let v = send_sms(&app, "13900000011", "1").await;
    assert_eq!(code_of(&v), 1040107, "{v}");
}

#[tokio::test]
async fn a_password_is_reset_with_a_code() {
    let (app, gw) = spawn_sms(|_| {}).await;
    let (_, token) = app.register("13900000021", "old", "r").await;
    ok(&send_sms(&app, "13900000021", "0").await);
    let code = gw.last_code();
    let reset = |code: String, password: &'static str| {
        let app = &app;
        async move {
            app.post(
                "/user/password/reset",
                &[
                    ("areaCode", "86"),
                    ("telephone", "13900000021"),
                    ("randcode", &code),
                    ("newPassword", &md5_hex(password)),
                    ("access_token", ""),
                ],
            )
            .await
        }
    };
    assert_eq!(code_of(&reset("999999".into(), "new").await), 1040104);
    ok(&reset(code.clone(), "new").await);
    // Every session ended; the new password logs in, the old does not; the code is spent.
    let v = app.post("/user/get", &[("access_token", &token)]).await;
    assert_eq!(code_of(&v), 1030102, "{v}");
    ok(&app.login("13900000021", "new").await);
    assert_eq!(code_of(&app.login("13900000021", "old").await), 0);
    assert_eq!(code_of(&reset(code, "again").await), 1040104);
    // A recovery code for a phone nobody registered: answered alike, nothing sent.
    let before = gw.count();
    ok(&send_sms(&app, "13900000029", "0").await);
    assert_eq!(gw.count(), before);
}

#[tokio::test]
async fn codes_expire_and_bound_guesses_and_sending_is_limited() {
    let (app, gw) = spawn_sms(|c| {
        c.client.is_open_sms_code = 1;
        c.sms.code_ttl_secs = 1;
        c.sms.max_attempts = 2;
        c.sms.resend_secs = 1;
        c.sms.per_phone_per_day = 3;
        c.sms.per_address_per_hour = 6;
    })
    .await;
    // Guesses: two wrong ones, then the right one is refused (the code was dropped).
    ok(&send_sms(&app, "13900000031", "1").await);
    let code = gw.last_code();
    for _ in 0..2 {
        assert_eq!(
            code_of(&register_with_code(&app, "13900000031", "1").await),
            1040104
        );
    }
    assert_eq!(
        code_of(&register_with_code(&app, "13900000031", &code).await),
        1040104
    );
    // Again within resend_secs: too frequent.
    let v = send_sms(&app, "13900000031", "1").await;
    assert_eq!(code_of(&v), 1040106, "{v}");
    // Expiry (life 1 s).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    ok(&send_sms(&app, "13900000031", "1").await);
    let code = gw.last_code();
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    assert_eq!(
        code_of(&register_with_code(&app, "13900000031", &code).await),
        1040104
    );
    // The third code of the day is the last.
    ok(&send_sms(&app, "13900000031", "1").await);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let v = send_sms(&app, "13900000031", "1").await;
    assert_eq!(code_of(&v), 1040106, "{v}");
    // One address asks for at most 6 per hour (5 so far, refused ones included).
    ok(&send_sms(&app, "13900000032", "1").await);
    let v = send_sms(&app, "13900000033", "1").await;
    assert_eq!(code_of(&v), 1040106, "{v}");
    assert_eq!(gw.count(), 4);
}

#[tokio::test]
async fn an_image_code_comes_before_the_sms_when_configured() {
    let (app, gw) = spawn_sms(|c| c.sms.image_code = true).await;
    let v = send_sms(&app, "13900000041", "1").await;
    assert_eq!(code_of(&v), 1040215, "{v}");
    let answer = app
        .client
        .get(format!("{}/getImgCode?telephone=13900000041", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.headers()["content-type"], "image/png");
    let png = answer.bytes().await.unwrap();
    let img = image::load_from_memory(&png).unwrap();
    assert!(img.width() >= 80 && img.height() >= 30);
    let send = |img_code: String| {
        let app = &app;
        async move {
            app.post(
                "/basic/randcode/sendSms",
                &[
                    ("telephone", "13900000041"),
                    ("imgCode", &img_code),
                    ("access_token", ""),
                ],
            )
            .await
        }
    };
    assert_eq!(code_of(&send("xxxx".into()).await), 1040216);
    // What the picture shows (read from the store: the test cannot read the picture).
    let key = "imgCode:13900000041:127.0.0.1";
    let (sealed, _) = app
        .app
        .store
        .meta
        .try_code(key, shiku_server::domain::util::now_millis())
        .await
        .unwrap()
        .unwrap();
    let shown = app.app.server_key.open(key, &sealed).unwrap().plain;
    assert!(!sealed.contains(&shown), "kept sealed");
    ok(&send(shown.clone()).await);
    assert_eq!(gw.count(), 1);
    // Used once.
    assert_eq!(code_of(&send(shown).await), 1040216);
}

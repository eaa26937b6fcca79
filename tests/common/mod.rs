//! Black-box test harness: spawns the real server on port 0 with a fresh data directory and
//! talks to it over HTTP exactly as a Shiku client does (form POST / GET query, md5 values).
#![allow(dead_code)]

pub mod binary;
pub mod stores;

use std::path::PathBuf;

use serde_json::Value;
use shiku_server::config::Config;
use shiku_server::domain::util::md5_hex;
use shiku_server::startup::Application;

/// A running server and a client for it.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    pub app: std::sync::Arc<shiku_server::domain::Ctx>,
    /// The MongoDB databases of this server, dropped with it (`SHIKU_TEST_STORE=mongodb`).
    pub databases: Option<stores::Dropped>,
}

/// What a listener answers a plain HTTP request (not a WebSocket upgrade) with, read until it
/// closes the connection (10 s at most).
pub async fn plain_http_answer(addr: std::net::SocketAddr) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    sock.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        sock.read_to_end(&mut answer),
    )
    .await
    .expect("answered and closed")
    .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

/// The fixtures directory of the repository.
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Spawns a server with the default configuration (embedded store).
pub async fn spawn() -> TestApp {
    spawn_with(|_| {}).await
}

/// Spawns a server after `tweak` adjusts the configuration.
pub async fn spawn_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    tweak(&mut config);
    let databases = stores::choose(&mut config, data_dir.path());
    let app = Application::build(config).await.expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let ctx = app.ctx.clone();
    tokio::spawn(app.run());
    TestApp {
        base,
        client: reqwest::Client::new(),
        data_dir,
        app: ctx,
        databases,
    }
}

/// Form pairs from `&[("k","v")]`.
pub fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

impl TestApp {
    /// POSTs an urlencoded form and parses the JSON answer (any HTTP status).
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Value {
        let r = self
            .client
            .post(format!("{}{}", self.base, path))
            .form(&form(pairs))
            .send()
            .await
            .expect("request sent");
        r.json().await.expect("JSON answer")
    }

    /// GETs with a query string and parses the JSON answer.
    pub async fn get(&self, path: &str, pairs: &[(&str, &str)]) -> Value {
        let r = self
            .client
            .get(format!("{}{}", self.base, path))
            .query(&form(pairs))
            .send()
            .await
            .expect("request sent");
        r.json().await.expect("JSON answer")
    }

    /// Registers a user with the jQuery client's form and returns (userId, access_token).
    pub async fn register(&self, phone: &str, password: &str, nickname: &str) -> (i64, String) {
        let v = self
            .post(
                "/user/register",
                &[
                    ("telephone", phone),
                    ("areaCode", "86"),
                    ("password", &md5_hex(password)),
                    ("nickname", nickname),
                    ("access_token", ""),
                    ("flag", "rw"),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "register failed: {v}");
        (
            v["data"]["userId"].as_i64().expect("userId"),
            v["data"]["access_token"]
                .as_str()
                .expect("token")
                .to_string(),
        )
    }

    /// Logs in with md5(phone) and md5(password) as the web client does.
    pub async fn login(&self, phone: &str, password: &str) -> Value {
        self.post(
            "/user/login",
            &[
                ("telephone", &md5_hex(phone)),
                ("password", &md5_hex(password)),
                ("areaCode", "86"),
                ("access_token", ""),
            ],
        )
        .await
    }

    /// Imports the repository fixtures into this server's store.
    pub async fn import_fixtures(&self) {
        shiku_server::fixtures::import(&self.app.store, &fixtures_dir())
            .await
            .expect("fixtures import");
    }
}

/// The XMPP listeners of their own a spawned server has (port 0 resolved).
pub struct XmppAddrs {
    /// `xmpp.listen_websocket`: RFC 7395 on any path.
    pub websocket: Option<std::net::SocketAddr>,
    /// `xmpp.listen_bosh`: BOSH on any path.
    pub bosh: Option<std::net::SocketAddr>,
    /// `xmpp.listen_tcp`: TCP c2s.
    pub tcp: Option<std::net::SocketAddr>,
}

/// Spawns a server whose XMPP WebSocket and BOSH listeners are on port 0 too, after `tweak`.
pub async fn spawn_xmpp(tweak: impl FnOnce(&mut Config)) -> (TestApp, XmppAddrs) {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    config.xmpp.listen_websocket = Some("127.0.0.1:0".into());
    config.xmpp.listen_bosh = Some("127.0.0.1:0".into());
    tweak(&mut config);
    let databases = stores::choose(&mut config, data_dir.path());
    let app = Application::build(config).await.expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let addrs = XmppAddrs {
        websocket: app.xmpp_websocket_addr,
        bosh: app.bosh_addr,
        tcp: app.xmpp_tcp_addr,
    };
    let ctx = app.ctx.clone();
    tokio::spawn(app.run());
    (
        TestApp {
            base,
            client: reqwest::Client::new(),
            data_dir,
            app: ctx,
            databases,
        },
        addrs,
    )
}

/// Spawns a server whose Shiku binary WebSocket listener (`xmpp.listen_shiku_ws`) and XMPP
/// WebSocket listener are on port 0 too, after `tweak`; returns the binary listener's address.
pub async fn spawn_shiku(
    tweak: impl FnOnce(&mut Config),
) -> (TestApp, std::net::SocketAddr, XmppAddrs) {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: data_dir.path().to_path_buf(),
        ..Config::default()
    };
    config.xmpp.listen_shiku_ws = Some("127.0.0.1:0".into());
    config.xmpp.listen_websocket = Some("127.0.0.1:0".into());
    tweak(&mut config);
    let databases = stores::choose(&mut config, data_dir.path());
    let app = Application::build(config).await.expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let shiku = app.shiku_ws_addr.expect("binary listener bound");
    let addrs = XmppAddrs {
        websocket: app.xmpp_websocket_addr,
        bosh: app.bosh_addr,
        tcp: app.xmpp_tcp_addr,
    };
    let ctx = app.ctx.clone();
    tokio::spawn(app.run());
    (
        TestApp {
            base,
            client: reqwest::Client::new(),
            data_dir,
            app: ctx,
            databases,
        },
        shiku,
        addrs,
    )
}

/// A registered user as the black-box tests hold it.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub id: i64,
    pub token: String,
    /// The phone number it registered with (national, as `/user/register` got it).
    pub phone: String,
}

impl TestUser {
    /// The userId as a parameter value.
    pub fn sid(&self) -> String {
        self.id.to_string()
    }
    /// The userId as the domain types hold it.
    pub fn uid(&self) -> i32 {
        self.id as i32
    }
}

/// Registers a user with the password "pw".
pub async fn user(app: &TestApp, phone: &str, nickname: &str) -> TestUser {
    let (id, token) = app.register(phone, "pw", nickname).await;
    TestUser {
        id,
        token,
        phone: phone.to_string(),
    }
}

/// A successful envelope's `data`.
pub fn ok(v: &Value) -> &Value {
    assert_eq!(v["resultCode"], 1, "{v}");
    assert!(v["currentTime"].is_i64(), "{v}");
    &v["data"]
}

/// A refusal with resultCode 0 and exactly `msg`.
pub fn refused(v: &Value, msg: &str) {
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(v["resultMsg"], msg, "{v}");
}

/// Registers a user holding console `role` and logs it in to the console: (userId, console
/// token).
pub async fn console_admin(app: &TestApp, phone: &str, role: i32) -> (i64, String) {
    let (uid, _) = app
        .register(phone, "secret-pw", &format!("admin{role}"))
        .await;
    app.app
        .store
        .users
        .insert_role(&shiku_server::documents::UserRole {
            user_id: uid as i32,
            phone: None,
            role,
            status: 1,
            create_time: shiku_server::domain::util::now_secs(),
            last_login_time: 0,
        })
        .await
        .unwrap();
    let v = app
        .post(
            "/console/login",
            &[
                ("account", phone),
                ("password", &md5_hex("secret-pw")),
                ("areaCode", "86"),
            ],
        )
        .await;
    let token = ok(&v)["access_Token"].as_str().expect("token").to_string();
    (uid, token)
}

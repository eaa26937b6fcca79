//! The unit of `timeSend` each reader gets (issue 15, README "Times"): live pushes carry it in
//! the unit of the session they are written to, over XMPP and the binary protocol, for the
//! server's own messages and for what clients of another generation sent; what clients sent
//! is stored as they sent it.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shiku_server::config::HistoryTimeUnit;
use shiku_server::documents::UserRole;
use shiku_server::domain::util::{md5_hex, uuid32};
use shiku_server::gateway::shiku::proto::{
    AuthMessage, AuthRespMessageProBuf, ChatMessage, MessageHead, MessageReceiptStatusProBuf,
    PullMessageHistoryRecordReqProBuf, PullMessageHistoryRecordRespProBuf,
};
use shiku_server::gateway::xmpp::xml::{parse_fragment, Element};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use common::TestApp;

const DOMAIN: &str = "units.shiku.test";
const TIMEOUT: Duration = Duration::from_secs(10);
const SASL: &str = "urn:ietf:params:xml:ns:xmpp-sasl";
const BIND: &str = "urn:ietf:params:xml:ns:xmpp-bind";
const FRAMING: &str = "urn:ietf:params:xml:ns:xmpp-framing";
/// The task-management system's key (`/console/oneSendOne`).
const KEY: &str = "units-integration-key";
const AUTH_REQ: i8 = 5;
const AUTH_RESP: i8 = 6;
const CHAT: i8 = 10;
const RECEIPT: i8 = 11;
const PULL_REQ: i8 = 12;
const PULL_RESP: i8 = 13;

type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A REST call of the room owner that makes the server send a room event: path, parameters,
/// the event's type.
type RoomEvent<'a> = (&'static str, Vec<(&'static str, &'a str)>, i64);

/// Which unit a value is in, as the clients would read it.
fn is_seconds(v: i64) -> bool {
    v > 0 && v < 100_000_000_000
}

fn now_secs() -> i64 {
    shiku_server::domain::util::now_secs()
}

/// Asserts `v` is now, in seconds.
fn assert_now_seconds(v: i64, what: &str) {
    assert!(is_seconds(v), "{what}: {v} is not seconds");
    assert!((v - now_secs()).abs() < 60, "{what}: {v} is not now");
}

/// Asserts `v` is now, in milliseconds.
fn assert_now_millis(v: i64, what: &str) {
    assert!(!is_seconds(v), "{what}: {v} is not milliseconds");
    assert!((v / 1000 - now_secs()).abs() < 60, "{what}: {v} is not now");
}

// ---- an XMPP client (RFC 7395 WebSocket) ---------------------------------------------------

struct Xmpp {
    stream: Stream,
    uid: i64,
}

impl Xmpp {
    async fn login(addr: SocketAddr, uid: i64, md5_password: &str) -> Xmpp {
        let mut x = Xmpp::login_quietly(addr, uid, md5_password).await;
        x.ping("p0").await;
        x
    }

    /// Logs in and sends the initial presence without waiting for anything after it (what the
    /// server flushes from the offline queue stays unread).
    async fn login_quietly(addr: SocketAddr, uid: i64, md5_password: &str) -> Xmpp {
        let mut req = format!("ws://{addr}/ws").into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
        let (stream, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let mut x = Xmpp { stream, uid };
        x.open().await;
        let creds =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{md5_password}"));
        x.send(&format!(
            r#"<auth xmlns="{SASL}" mechanism="PLAIN">{creds}</auth>"#
        ))
        .await;
        assert!(x.recv().await.is("success", SASL));
        x.open().await;
        x.send(&format!(
            r#"<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="{BIND}"><resource>web</resource></bind></iq>"#
        ))
        .await;
        x.recv_until(|e| e.get_attr("id") == Some("b1")).await;
        x.send(r#"<presence xmlns="jabber:client"/>"#).await;
        x
    }

    async fn open(&mut self) {
        self.send(&format!(
            r#"<open xmlns="{FRAMING}" to="{DOMAIN}" version="1.0"/>"#
        ))
        .await;
        self.recv_until(|e| e.local_name() == "features").await;
    }

    async fn send(&mut self, xml: &str) {
        self.stream
            .send(Message::text(xml.to_string()))
            .await
            .unwrap();
    }

    async fn recv(&mut self) -> Element {
        loop {
            let m = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("a frame in time")
                .expect("stream open")
                .expect("frame");
            if let Message::Text(t) = m {
                return parse_fragment(t.as_str(), 1 << 20).expect("XML");
            }
        }
    }

    async fn recv_until(&mut self, pred: impl Fn(&Element) -> bool) -> Element {
        loop {
            let e = self.recv().await;
            if pred(&e) {
                return e;
            }
        }
    }

    async fn ping(&mut self, id: &str) {
        self.send(&format!(
            r#"<iq xmlns="jabber:client" type="get" to="{DOMAIN}" id="{id}"><ping xmlns="urn:xmpp:ping"/></iq>"#
        ))
        .await;
        self.recv_until(|e| e.get_attr("id") == Some(id)).await;
    }

    /// Sends a 1:1 text with this `timeSend` and waits for the server's receipt.
    async fn say(&mut self, to: i64, id: &str, time_send: Value) {
        let body = json!({"messageId": id, "fromUserId": self.uid.to_string(), "toUserId": to.to_string(),
                          "type": 1, "content": "hi", "timeSend": time_send});
        self.send(&format!(
            r#"<message xmlns="jabber:client" to="{to}@{DOMAIN}" type="chat" id="{id}"><body>{}</body><request xmlns="urn:xmpp:receipts"/></message>"#,
            escape(&body.to_string())
        ))
        .await;
        self.recv_until(|e| e.find("received").is_some()).await;
    }

    /// The body of the next message whose body's `type` is `ty`.
    async fn body_of_type(&mut self, ty: i64) -> Value {
        loop {
            let e = self.recv_until(|e| e.local_name() == "message").await;
            let Some(b) = e.find("body") else { continue };
            let v: Value = serde_json::from_str(&b.text_content()).expect("JSON body");
            if v["type"] == ty {
                return v;
            }
        }
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

// ---- a binary-protocol client ----------------------------------------------------------------

struct Bin {
    stream: Stream,
    me: String,
}

fn head(from: &str, to: &str, id: &str, chat_type: i32) -> Option<MessageHead> {
    Some(MessageHead {
        from: from.into(),
        to: to.into(),
        message_id: id.into(),
        chat_type,
        offline: false,
    })
}

impl Bin {
    /// Logs in; `device_id` empty as newchat and the jQuery socket SDK send it, set as
    /// xiaoshifeifei does.
    async fn login(addr: SocketAddr, uid: i64, token: &str, device_id: &str) -> Bin {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        let me = format!("{uid}/web");
        let mut b = Bin { stream, me };
        b.send(
            AUTH_REQ,
            &AuthMessage {
                message_head: head(&b.me.clone(), "server", "a1", 5),
                token: token.into(),
                password: String::new(),
                device_id: device_id.into(),
            },
        )
        .await;
        let r: AuthRespMessageProBuf = b.recv(AUTH_RESP).await;
        assert_eq!(r.status, 1);
        b
    }

    async fn send(&mut self, cmd: i8, m: &impl prost::Message) {
        let mut v = vec![cmd as u8];
        m.encode(&mut v).unwrap();
        self.stream.send(Message::binary(v)).await.unwrap();
    }

    async fn recv<M: prost::Message + Default>(&mut self, cmd: i8) -> M {
        loop {
            let m = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("a frame in time")
                .expect("stream open")
                .expect("frame");
            if let Message::Binary(b) = m {
                if b[0] as i8 == cmd {
                    return M::decode(&b[1..]).unwrap();
                }
            }
        }
    }

    async fn say(&mut self, to: i64, id: &str, time_send: i64) {
        let m = ChatMessage {
            message_head: head(&self.me, &to.to_string(), id, 1),
            from_user_id: self.me.split('/').next().unwrap().into(),
            to_user_id: to.to_string(),
            time_send,
            r#type: 1,
            content: "hi".into(),
            ..Default::default()
        };
        self.send(CHAT, &m).await;
        let r: MessageReceiptStatusProBuf = self.recv(RECEIPT).await;
        assert_eq!(r.status, 1);
    }

    async fn chat_of_type(&mut self, ty: i32) -> ChatMessage {
        loop {
            let m: ChatMessage = self.recv(CHAT).await;
            if m.r#type == ty {
                return m;
            }
        }
    }
}

/// Waits until the server has seen a user's last session go.
async fn wait_offline(app: &TestApp, token: &str, uid: i64) {
    for _ in 0..100 {
        let v = app
            .get(
                "/user/getOnLine",
                &[("access_token", token), ("userId", &uid.to_string())],
            )
            .await;
        if v["data"] == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("user {uid} still online");
}

async fn user(app: &TestApp, phone: &str) -> (i64, String) {
    app.register(phone, "secret-1", phone).await
}

#[tokio::test]
async fn live_pushes_arrive_in_each_sessions_unit() {
    let (app, bin_addr, x) = common::spawn_shiku(|c| {
        c.client.xmpp_domain = DOMAIN.into();
        c.integration_key = KEY.into();
    })
    .await;
    let ws = x.websocket.expect("XMPP listener");
    let pw = md5_hex("secret-1");
    let (owner, owner_token) = user(&app, "13710000001").await;
    let (jq, _) = user(&app, "13710000002").await; // XMPP, the jQuery client: seconds
    let (app_user, _) = user(&app, "13710000003").await; // XMPP client that sends ms
    let (vue, vue_token) = user(&app, "13710000004").await; // binary with deviceId: ms
    let (newchat, newchat_token) = user(&app, "13710000005").await; // binary, no deviceId: s

    let mut x_jq = Xmpp::login(ws, jq, &pw).await;
    let mut x_app = Xmpp::login(ws, app_user, &pw).await;
    let mut b_vue = Bin::login(bin_addr, vue, &vue_token, "dev-vue").await;
    let mut b_new = Bin::login(bin_addr, newchat, &newchat_token, "").await;

    // What a session's client sends tells its unit.
    x_app
        .say(owner, "learn-ms", json!(1_796_460_973_000i64))
        .await;

    // The server's own messages: 907 room notices, made by the server in ms.
    let jid = uuid32();
    let members = serde_json::to_string(&[jq, app_user, vue, newchat]).unwrap();
    let v = app
        .get(
            "/room/add",
            &[
                ("access_token", &owner_token),
                ("jid", &jid),
                ("name", "units"),
                ("desc", "d"),
                ("text", &members),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let room_id = v["data"]["id"].as_str().expect("room id").to_string();
    let n = x_jq.body_of_type(907).await;
    assert_now_seconds(n["timeSend"].as_i64().unwrap(), "907 to the jQuery session");
    let n = x_app.body_of_type(907).await;
    assert_now_millis(
        n["timeSend"].as_i64().unwrap(),
        "907 to the ms XMPP session",
    );
    let n = b_vue.chat_of_type(907).await;
    assert_now_millis(n.time_send, "907 to the xiaoshifeifei session");
    let n = b_new.chat_of_type(907).await;
    assert_now_seconds(n.time_send, "907 to the newchat session");

    // Another room event (902, renamed) and the task system's message (`oneSendOne`, made by
    // the server in ms).
    let v = app
        .get(
            "/room/update",
            &[
                ("access_token", &owner_token),
                ("roomId", &room_id),
                ("roomName", "renamed"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let n = x_jq.body_of_type(902).await;
    assert_now_seconds(n["timeSend"].as_i64().unwrap(), "902 to the jQuery session");
    let n = b_vue.chat_of_type(902).await;
    assert_now_millis(n.time_send, "902 to the xiaoshifeifei session");
    for to_phone in ["13710000002", "13710000004"] {
        let v = app
            .get(
                "/console/oneSendOne",
                &[
                    ("access_token", KEY),
                    ("type", "1"),
                    ("content", "task"),
                    ("sendPhone", "13710000001"),
                    ("toUserPhone", to_phone),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "{v}");
    }
    let n = x_jq.body_of_type(1).await;
    assert_eq!(n["content"], "task");
    assert_now_seconds(
        n["timeSend"].as_i64().unwrap(),
        "oneSendOne to the jQuery session",
    );
    let n = b_vue.chat_of_type(1).await;
    assert_eq!(n.content, "task");
    assert_now_millis(n.time_send, "oneSendOne to the xiaoshifeifei session");

    // A friend event (510: the owner made friends with both directly, which only users who
    // need no verification allow).
    for uid in [jq, vue] {
        let patch = shiku_server::store::Patch::new().set("settings.friendsVerify", 0);
        app.app
            .store
            .users
            .update_user(uid as i32, &patch)
            .await
            .unwrap();
    }
    let v = app
        .get(
            "/friends/attention/batchAdd",
            &[
                ("access_token", &owner_token),
                ("toUserIds", &format!("{jq},{vue}")),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let n = x_jq.body_of_type(510).await;
    assert_now_seconds(n["timeSend"].as_i64().unwrap(), "510 to the jQuery session");
    let n = b_vue.chat_of_type(510).await;
    assert_now_millis(n.time_send, "510 to the xiaoshifeifei session");

    // The binary protocol's history pull, in the session's unit (the deployment's is seconds).
    b_vue
        .send(
            PULL_REQ,
            &PullMessageHistoryRecordReqProBuf {
                message_head: head(&b_vue.me.clone(), "server", "pull-room", 2),
                jid: jid.clone(),
                size: 20,
                start_time: 0,
                end_time: 0,
            },
        )
        .await;
    let r: PullMessageHistoryRecordRespProBuf = b_vue.recv(PULL_RESP).await;
    let notices: Vec<&ChatMessage> = r
        .message_list
        .iter()
        .filter(|m| m.r#type == 907 || m.r#type == 902)
        .collect();
    assert!(!notices.is_empty(), "{r:?}");
    for m in notices {
        assert_now_millis(
            m.time_send,
            "a room notice pulled by the xiaoshifeifei session",
        );
    }

    // The other room events, each read by both generations.
    let later = (now_secs() + 3600).to_string();
    let nc = newchat.to_string();
    let events: Vec<RoomEvent> = vec![
        ("/room/update", vec![("notice", "公告")], 905),
        ("/room/update", vec![("showRead", "1")], 915),
        ("/room/update", vec![("isNeedVerify", "1")], 916),
        ("/room/update", vec![("talkTime", &later)], 920),
        (
            "/room/member/update",
            vec![("userId", &nc), ("talkTime", &later)],
            906,
        ),
        (
            "/room/set/admin",
            vec![("touserId", &nc), ("type", "2")],
            913,
        ),
        ("/room/member/delete", vec![("userId", &nc)], 904),
        ("/room/delete", vec![], 903),
    ];
    for (path, extra, ty) in events {
        let mut pairs = vec![("access_token", owner_token.as_str()), ("roomId", &room_id)];
        pairs.extend(extra);
        let v = app.get(path, &pairs).await;
        assert_eq!(v["resultCode"], 1, "{path}: {v}");
        let n = x_jq.body_of_type(ty).await;
        assert_now_seconds(n["timeSend"].as_i64().unwrap(), &format!("{ty} to jQuery"));
        let n = b_vue.chat_of_type(ty as i32).await;
        assert_now_millis(n.time_send, &format!("{ty} to xiaoshifeifei"));
    }

    // The console's push to every user (made by the server in ms), from an admin.
    app.app
        .store
        .users
        .insert_role(&UserRole {
            user_id: owner as i32,
            phone: None,
            role: 5,
            status: 1,
            create_time: now_secs(),
            last_login_time: 0,
        })
        .await
        .unwrap();
    let v = app
        .post(
            "/console/login",
            &[
                ("account", "13710000001"),
                ("password", &md5_hex("secret-1")),
                ("areaCode", "86"),
            ],
        )
        .await;
    let console_token = v["data"]["access_Token"].as_str().expect("console token");
    let v = app
        .post(
            "/console/pushToAll",
            &[
                ("access_token", console_token),
                ("fromUserId", &owner.to_string()),
                ("body", r#"{"type":1,"content":"全员通知"}"#),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let n = x_jq.body_of_type(1).await;
    assert_eq!(n["content"], "全员通知");
    assert_now_seconds(n["timeSend"].as_i64().unwrap(), "pushToAll to jQuery");
    let n = b_vue.chat_of_type(1).await;
    assert_eq!(n.content, "全员通知");
    assert_now_millis(n.time_send, "pushToAll to xiaoshifeifei");

    // Offline delivery: queued while away, flushed at login in the new session's unit.
    drop(x_app);
    wait_offline(&app, &owner_token, app_user).await;
    let v = app
        .get(
            "/console/oneSendOne",
            &[
                ("access_token", KEY),
                ("type", "1"),
                ("content", "while away"),
                ("sendPhone", "13710000001"),
                ("toUserPhone", "13710000003"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let mut x_back = Xmpp::login_quietly(ws, app_user, &pw).await;
    let n = loop {
        let n = x_back.body_of_type(1).await;
        if n["content"] == "while away" {
            break n;
        }
    };
    assert_now_seconds(
        n["timeSend"].as_i64().unwrap(),
        "offline flush to a new XMPP session",
    );

    // What another generation's client sent: converted for the reader, stored as sent.
    let sent_ms = shiku_server::domain::util::now_millis();
    b_vue.say(jq, "vue-to-jq", sent_ms).await;
    let m = x_jq.body_of_type(1).await;
    assert_eq!(m["messageId"], "vue-to-jq");
    assert_eq!(m["timeSend"], sent_ms / 1000);
    let sent_s = now_secs();
    x_jq.say(vue, "jq-to-vue", json!(sent_s)).await;
    let m = b_vue.chat_of_type(1).await;
    assert_eq!(m.message_head.unwrap().message_id, "jq-to-vue");
    assert_eq!(m.time_send, sent_s * 1000);

    // An encrypted body keeps its timeSend: the key is derived from it.
    let enc = json!({"messageId": "enc-1", "fromUserId": jq.to_string(), "toUserId": vue.to_string(),
                     "type": 1, "content": "AAAA", "isEncrypt": 1, "timeSend": sent_s});
    x_jq.send(&format!(
        r#"<message xmlns="jabber:client" to="{vue}@{DOMAIN}" type="chat" id="enc-1"><body>{}</body></message>"#,
        escape(&enc.to_string())
    ))
    .await;
    let m = b_vue.chat_of_type(1).await;
    assert_eq!(m.message_head.unwrap().message_id, "enc-1");
    assert_eq!(m.time_send, sent_s);

    // History in the deployment's unit (default: seconds, what the stock client reads).
    let token = app.login("13710000002", "secret-1").await["data"]["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let rows = shiku_msgs(&app, &token, vue).await;
    let row = by_id(&rows, "vue-to-jq");
    assert_eq!(row["timeSend"], sent_ms / 1000);
    assert_eq!(body_time(row, "body"), json!(sent_ms / 1000));
    assert_eq!(body_time(row, "message"), json!(sent_ms / 1000));
    assert_eq!(body_time(by_id(&rows, "jq-to-vue"), "body"), json!(sent_s));
    assert_eq!(body_time(by_id(&rows, "enc-1"), "body"), json!(sent_s));
}

async fn shiku_msgs(app: &TestApp, token: &str, peer: i64) -> Vec<Value> {
    let h = app
        .get(
            "/tigase/shiku_msgs",
            &[
                ("access_token", token),
                ("receiver", &peer.to_string()),
                ("pageSize", "10"),
            ],
        )
        .await;
    h["data"].as_array().expect("rows").clone()
}

fn by_id<'a>(rows: &'a [Value], id: &str) -> &'a Value {
    rows.iter()
        .find(|r| r["messageId"] == id)
        .unwrap_or_else(|| panic!("{id} in {rows:?}"))
}

/// `timeSend` inside a row's `body` or `message` JSON text.
fn body_time(row: &Value, field: &str) -> Value {
    let text = row[field].as_str().expect("JSON text");
    serde_json::from_str::<Value>(text).expect("JSON")["timeSend"].clone()
}

/// Every history endpoint gives `timeSend` in the configured unit: the server's own messages
/// (907 room notices, made in ms) and a client's (sent in seconds), stored as sent.
#[tokio::test]
async fn history_follows_the_deployment_setting() {
    for (setting, expect) in [
        (HistoryTimeUnit::Seconds, "s"),
        (HistoryTimeUnit::Ms, "ms"),
        (HistoryTimeUnit::AsSent, "as sent"),
    ] {
        let app = common::spawn_with(|c| c.client.history_time_unit = setting).await;
        let (owner, owner_token) = user(&app, "13720000001").await;
        let (member, member_token) = user(&app, "13720000002").await;
        let jid = uuid32();
        let v = app
            .get(
                "/room/add",
                &[
                    ("access_token", &owner_token),
                    ("jid", &jid),
                    ("name", "h"),
                    ("desc", "d"),
                    ("text", &serde_json::to_string(&[member]).unwrap()),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "{v}");
        // A client's 1:1 message, sent in seconds (`/tigase/push` takes the message path).
        let v = app
            .get(
                "/tigase/push",
                &[
                    ("access_token", &owner_token),
                    ("text", &format!("[{member}]")),
                    (
                        "body",
                        &json!({"type": 1, "content": "s", "messageId": "cli-s",
                                "timeSend": now_secs()})
                        .to_string(),
                    ),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "{v}");
        let check = |v: i64, what: &str, made_ms: bool| match expect {
            "s" => assert_now_seconds(v, what),
            "ms" => assert_now_millis(v, what),
            _ if made_ms => assert_now_millis(v, what),
            _ => assert_now_seconds(v, what),
        };
        // shiku_muc_msgs: the 907 notices.
        let muc = app
            .get(
                "/tigase/shiku_muc_msgs",
                &[
                    ("access_token", &member_token),
                    ("roomId", &jid),
                    ("pageSize", "20"),
                ],
            )
            .await;
        let rows = muc["data"].as_array().expect("rows").clone();
        let notice = rows
            .iter()
            .find(|r| r["contentType"] == 907)
            .unwrap_or_else(|| panic!("a 907 in {muc}"));
        check(
            notice["timeSend"].as_i64().unwrap(),
            "shiku_muc_msgs row",
            true,
        );
        for field in ["body", "message"] {
            check(
                body_time(notice, field).as_i64().unwrap(),
                "shiku_muc_msgs body",
                true,
            );
        }
        // getMessage type 2 of the same notice.
        let one = app
            .get(
                "/tigase/getMessage",
                &[
                    ("access_token", &member_token),
                    ("type", "2"),
                    ("roomJid", &jid),
                    ("messageId", notice["messageId"].as_str().unwrap()),
                ],
            )
            .await;
        check(
            one["data"]["timeSend"].as_i64().unwrap(),
            "getMessage type 2",
            true,
        );
        // getLastChatList: the room's row shows its last (server-made) message.
        let list = app
            .get(
                "/tigase/getLastChatList",
                &[("access_token", &member_token)],
            )
            .await;
        let room_row = list["data"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["jid"] == jid.as_str())
            .unwrap_or_else(|| panic!("the room in {list}"))
            .clone();
        check(
            room_row["timeSend"].as_i64().unwrap(),
            "getLastChatList",
            true,
        );
        // shiku_msgs: the client's message (sent in seconds).
        let rows = shiku_msgs(&app, &member_token, owner).await;
        let row = by_id(&rows, "cli-s");
        check(row["timeSend"].as_i64().unwrap(), "shiku_msgs row", false);
        check(
            body_time(row, "body").as_i64().unwrap(),
            "shiku_msgs body",
            false,
        );
    }
}

//! Issue 17 items 9–12, black-box: what one user sees of another (phone, real name, position)
//! and how far `/user/query` lists users; `/friends/add` only with the target's consent; the
//! message types a client may send (server notices, recalls of others' messages, unsolicited
//! 501s) over REST and XMPP; a recall that reaches only the recaller's own message; the
//! integration key and passwords; console tokens without their session row; and the bound on
//! rooms one XMPP session may have in creation.

mod common;

use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use shiku_server::documents::UserRole;
use shiku_server::domain::auth::USER_AUDIENCE;
use shiku_server::domain::console::CONSOLE_AUDIENCE;
use shiku_server::domain::util::{md5_hex, now_secs, uuid32};
use shiku_server::gateway::xmpp::xml::{parse_fragment, Element};
use shiku_server::store::Patch;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use common::{ok, refused, user, TestApp, TestUser as U};

const KEY: &str = "task-system-key-privacy-0123";
const DOMAIN: &str = "privacy.shiku.test";
/// `/friends/add` towards a user who verifies friends and has not asked.
const NEEDS_VERIFICATION_MSG: &str = "对方开启了好友验证，请先发送好友申请";

async fn spawn() -> TestApp {
    common::spawn_with(|c| c.integration_key = KEY.into()).await
}

/// POSTs `path` as `me`.
async fn call(app: &TestApp, path: &str, me: &U, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", me.token.as_str())];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

async fn get_user(app: &TestApp, me: &U, of: &U) -> Value {
    ok(&call(app, "/user/get", me, &[("userId", &of.sid())]).await).clone()
}

/// `/tigase/push` of `body` from `a` to `b`: the per-recipient result row (with one recipient a
/// refusal is the whole answer).
async fn push(app: &TestApp, a: &U, b: &U, body: Value) -> Value {
    let v = call(
        app,
        "/tigase/push",
        a,
        &[
            ("text", &json!([b.id]).to_string()),
            ("body", &body.to_string()),
        ],
    )
    .await;
    if v["resultCode"] == 1 {
        v["data"][0].clone()
    } else {
        v
    }
}

fn pushed(row: &Value) -> String {
    assert_eq!(row["resultCode"], 1, "{row}");
    row["messageId"].as_str().expect("messageId").to_string()
}

fn push_refused(row: &Value, mentions: &str) {
    assert_eq!(row["resultCode"], 0, "{row}");
    let msg = row["resultMsg"].as_str().unwrap_or_default();
    assert!(msg.contains(mentions), "{row}");
}

async fn history_ids(app: &TestApp, me: &U, peer: &U) -> Vec<String> {
    let v = app
        .get(
            "/tigase/shiku_msgs",
            &[
                ("access_token", &me.token),
                ("receiver", &peer.sid()),
                ("pageSize", "50"),
            ],
        )
        .await;
    ok(&v)
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| r["messageId"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn hidden_phone(v: &Value) {
    for k in ["telephone", "phone", "areaCode"] {
        assert_eq!(v[k], "", "{k} shown: {v}");
    }
}

fn hidden_position(v: &Value) {
    assert_eq!(v["loc"], json!({"lat": 0.0, "lng": 0.0}), "{v}");
}

#[tokio::test]
async fn strangers_see_no_phone_name_or_position_and_cannot_list_everyone() {
    let app = spawn().await;
    let a = user(&app, "13600000001", "看客").await;
    let b = user(&app, "13600000002", "隐私甲").await;
    ok(&call(
        &app,
        "/user/update",
        &b,
        &[
            ("latitude", "31.2304"),
            ("longitude", "121.4737"),
            ("name", "张真名"),
        ],
    )
    .await);

    // A stranger: no phone, no real name, no position (/user/get, /user/getByAccount).
    let v = get_user(&app, &a, &b).await;
    hidden_phone(&v);
    hidden_position(&v);
    assert_eq!(v["name"], "", "{v}");
    assert_eq!(v["nickname"], "隐私甲");
    // The owner sees everything.
    let me = get_user(&app, &b, &b).await;
    assert_eq!(me["phone"], "13600000002");
    assert_eq!(me["loc"]["lat"], 31.2304);
    assert_eq!(me["name"], "张真名");

    // Found by the exact phone (phoneSearch on), still shown without phone or position.
    let v = call(&app, "/nearby/user", &a, &[("nickname", "13600000002")]).await;
    let rows = ok(&v).as_array().expect("rows").clone();
    assert_eq!(rows.len(), 1, "{v}");
    hidden_phone(&rows[0]);
    hidden_position(&rows[0]);

    // /user/query lists nobody without a nickname, never pages beyond 20, never shows phones.
    for i in 0..22 {
        user(&app, &format!("136000001{i:02}"), &format!("同名{i}")).await;
    }
    let v = call(&app, "/user/query", &a, &[("pageSize", "100")]).await;
    assert_eq!(ok(&v), &json!([]), "a blank query lists nobody");
    let v = call(
        &app,
        "/user/query",
        &a,
        &[("pageSize", "100"), ("nickname", "同名")],
    )
    .await;
    let rows = ok(&v).as_array().expect("rows").clone();
    assert_eq!(rows.len(), 20, "{v}");
    for r in &rows {
        hidden_phone(r);
        hidden_position(r);
    }
    let v = call(&app, "/user/query", &a, &[("nickname", "隐私甲")]).await;
    assert_eq!(ok(&v).as_array().unwrap().len(), 1, "{v}");
    hidden_phone(&ok(&v)[0]);
    // nameSearch 0: not listed by nickname.
    ok(&call(&app, "/user/settings/update", &b, &[("nameSearch", "0")]).await);
    let v = call(&app, "/user/query", &a, &[("nickname", "隐私甲")]).await;
    assert_eq!(ok(&v), &json!([]), "{v}");

    // A friend sees what the owner's settings allow: phone (showTelephone 2 by default), name,
    // position while location services are on.
    ok(&call(&app, "/user/settings/update", &b, &[("friendsVerify", "0")]).await);
    ok(&call(&app, "/friends/add", &a, &[("toUserId", &b.sid())]).await);
    let v = get_user(&app, &a, &b).await;
    assert_eq!(v["phone"], "13600000002", "{v}");
    assert_eq!(v["loc"]["lat"], 31.2304, "{v}");
    assert_eq!(v["name"], "张真名", "{v}");
    ok(&call(
        &app,
        "/user/settings/update",
        &b,
        &[("showTelephone", "-1"), ("isOpenPrivacyPosition", "0")],
    )
    .await);
    let v = get_user(&app, &a, &b).await;
    hidden_phone(&v);
    hidden_position(&v);
    assert_eq!(v["settings"]["isOpenPrivacyPosition"], 0, "{v}");
}

#[tokio::test]
async fn friends_add_needs_the_targets_consent() {
    let app = spawn().await;
    let a = user(&app, "13600000011", "甲").await;
    let b = user(&app, "13600000012", "乙").await;
    // b verifies friends (the default): no friendship by a's say-so alone.
    refused(
        &call(&app, "/friends/add", &a, &[("toUserId", &b.sid())]).await,
        NEEDS_VERIFICATION_MSG,
    );
    let rel = |x: &U, y: &U| {
        let (x, y) = (x.uid(), y.uid());
        let store = app.app.store.clone();
        async move { store.friends.get_friend(x, y).await.unwrap() }
    };
    assert!(rel(&a, &b).await.is_none() && rel(&b, &a).await.is_none());

    // The handshake: a says hello (500); that is a's request, not b's consent.
    pushed(&push(&app, &a, &b, json!({"type": 500, "content": "hi"})).await);
    refused(
        &call(&app, "/friends/add", &a, &[("toUserId", &b.sid())]).await,
        NEEDS_VERIFICATION_MSG,
    );
    // b may pass it (501) and add a; a may add b once b passed.
    pushed(&push(&app, &b, &a, json!({"type": 501, "content": ""})).await);
    ok(&call(&app, "/friends/add", &a, &[("toUserId", &b.sid())]).await);
    assert_eq!(rel(&a, &b).await.unwrap().status, 2);
    assert_eq!(rel(&b, &a).await.unwrap().status, 2);

    // The one asked accepts by adding the asker (before or without a 501).
    let c = user(&app, "13600000013", "丙").await;
    let d = user(&app, "13600000014", "丁").await;
    pushed(&push(&app, &c, &d, json!({"type": 500, "content": "hi"})).await);
    // A reply within the request keeps who asked.
    pushed(&push(&app, &c, &d, json!({"type": 502, "content": "it's me"})).await);
    ok(&call(&app, "/friends/add", &d, &[("toUserId", &c.sid())]).await);

    // A 501 nobody asked for is refused, and grants nothing.
    let e = user(&app, "13600000015", "戊").await;
    push_refused(
        &push(&app, &e, &a, json!({"type": 501, "content": ""})).await,
        "",
    );
    refused(
        &call(&app, "/friends/add", &e, &[("toUserId", &a.sid())]).await,
        NEEDS_VERIFICATION_MSG,
    );
    // A follow awaiting verification is a request too.
    let v = call(
        &app,
        "/friends/attention/add",
        &e,
        &[("toUserId", &c.sid())],
    )
    .await;
    assert_eq!(ok(&v)["type"], 1, "{v}");
    ok(&call(&app, "/friends/add", &c, &[("toUserId", &e.sid())]).await);

    // No verification: added at once, unless friendFromList forbids every way.
    let f = user(&app, "13600000016", "己").await;
    app.app
        .store
        .users
        .update_user(
            f.uid(),
            &Patch::new()
                .set("settings.friendsVerify", 0)
                .set("settings.friendFromList", ""),
        )
        .await
        .unwrap();
    refused(
        &call(&app, "/friends/add", &a, &[("toUserId", &f.sid())]).await,
        "添加失败,该用户禁止该方式添加好友",
    );
    ok(&call(
        &app,
        "/user/settings/update",
        &f,
        &[("friendFromList", "1,2,3,4,5")],
    )
    .await);
    ok(&call(&app, "/friends/add", &a, &[("toUserId", &f.sid())]).await);
}

#[tokio::test]
async fn clients_cannot_send_server_notices_or_recall_others_messages() {
    let app = spawn().await;
    let a = user(&app, "13600000021", "甲").await;
    let b = user(&app, "13600000022", "乙").await;
    // Server notices and friend events beyond the handshakes: refused, nothing stored.
    for t in [903, 907, 800, 801, 510, 515] {
        push_refused(
            &push(&app, &a, &b, json!({"type": t, "content": "x"})).await,
            "reserved",
        );
    }
    assert!(history_ids(&app, &b, &a).await.is_empty());

    // b's message: a cannot announce its recall; its own it can.
    let theirs = pushed(&push(&app, &b, &a, json!({"type": 1, "content": "b's"})).await);
    let mine = pushed(&push(&app, &a, &b, json!({"type": 1, "content": "a's"})).await);
    push_refused(
        &push(&app, &a, &b, json!({"type": 202, "content": theirs})).await,
        "recalled",
    );
    // Even after deleting its own copy of it.
    ok(&call(
        &app,
        "/tigase/deleteMsg",
        &a,
        &[("type", "1"), ("delete", "1"), ("messageId", &theirs)],
    )
    .await);
    push_refused(
        &push(&app, &a, &b, json!({"type": 202, "content": theirs})).await,
        "recalled",
    );
    pushed(&push(&app, &a, &b, json!({"type": 202, "content": mine})).await);
}

/// One RFC 7395 client on the API port's `/xmpp-websocket`.
struct Ws {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Ws {
    async fn connect(app: &TestApp) -> Ws {
        let url = format!(
            "{}/xmpp-websocket",
            app.base.replacen("http://", "ws://", 1)
        );
        let mut req = url.into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
        let (stream, _) = tokio_tungstenite::connect_async(req)
            .await
            .expect("WebSocket handshake");
        Ws { stream }
    }

    async fn send(&mut self, xml: &str) {
        self.stream
            .send(Message::text(xml.to_string()))
            .await
            .expect("frame sent");
    }

    async fn recv(&mut self) -> Element {
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), self.stream.next())
                .await
                .expect("a frame within the timeout");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return parse_fragment(t.as_str(), 1 << 20).expect("server XML parses")
                }
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
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

    async fn open(&mut self) {
        self.send(&format!(
            r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{DOMAIN}" version="1.0"/>"#
        ))
        .await;
        self.recv_until(|e| e.local_name() == "features").await;
    }

    async fn login(app: &TestApp, uid: i64) -> Ws {
        let mut ws = Ws::connect(app).await;
        ws.open().await;
        let creds =
            base64::engine::general_purpose::STANDARD.encode(format!("\0{uid}\0{}", md5_hex("pw")));
        ws.send(&format!(
            r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">{creds}</auth>"#
        ))
        .await;
        let ok = ws.recv().await;
        assert_eq!(ok.local_name(), "success", "{}", ok.to_xml());
        ws.open().await;
        ws.send(r#"<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>web</resource></bind></iq>"#).await;
        ws.recv_until(|e| e.get_attr("id") == Some("b1")).await;
        ws
    }

    /// Sends a Shiku body (chat or groupchat) with id `id`; answers the receipt or the error.
    async fn say(&mut self, to: &str, kind: &str, id: &str, body: Value) -> Element {
        let msg = Element::new("message")
            .attr("xmlns", "jabber:client")
            .attr("to", to)
            .attr("type", kind)
            .attr("id", id)
            .child(Element::new("body").text(body.to_string()));
        self.send(&msg.to_xml()).await;
        self.recv_until(|e| {
            e.local_name() == "message"
                && (e.get_attr("type") == Some("error")
                    || e.find_ns("received", "urn:xmpp:receipts")
                        .is_some_and(|r| r.get_attr("id") == Some(id)))
        })
        .await
    }
}

fn is_error(e: &Element) -> bool {
    e.get_attr("type") == Some("error")
}

async fn xmpp_spawn() -> TestApp {
    let (app, _) = common::spawn_xmpp(|c| {
        c.client.xmpp_domain = DOMAIN.into();
        c.integration_key = KEY.into();
    })
    .await;
    app
}

#[tokio::test]
async fn xmpp_refuses_reserved_types_and_recalls_of_others_messages_in_rooms() {
    let app = xmpp_spawn().await;
    let owner = user(&app, "13600000031", "群主").await;
    let m1 = user(&app, "13600000032", "成员一").await;
    let m2 = user(&app, "13600000033", "成员二").await;
    let jid = uuid32();
    let members = json!([m1.id, m2.id]).to_string();
    ok(&call(
        &app,
        "/room/add",
        &owner,
        &[("jid", &jid), ("name", "房"), ("text", &members)],
    )
    .await);
    let room = format!("{jid}@muc.{DOMAIN}");
    let mut w1 = Ws::login(&app, m1.id).await;
    let mut w2 = Ws::login(&app, m2.id).await;
    let mut wo = Ws::login(&app, owner.id).await;

    // A member's "room dissolved": an error stanza, nothing stored.
    let r = w1
        .say(
            &room,
            "groupchat",
            "fake903",
            json!({"type": 903, "content": jid}),
        )
        .await;
    assert!(is_error(&r), "{}", r.to_xml());
    // m2's message: m1 cannot recall it; m2 and the owner can.
    let r = w2
        .say(
            &room,
            "groupchat",
            "m2msg",
            json!({"type": 1, "content": "hello"}),
        )
        .await;
    assert!(!is_error(&r), "{}", r.to_xml());
    let r = w1
        .say(
            &room,
            "groupchat",
            "fake202",
            json!({"type": 202, "content": "m2msg"}),
        )
        .await;
    assert!(is_error(&r), "{}", r.to_xml());
    let r = w2
        .say(
            &room,
            "groupchat",
            "own202",
            json!({"type": 202, "content": "m2msg"}),
        )
        .await;
    assert!(!is_error(&r), "{}", r.to_xml());
    let r = wo
        .say(
            &room,
            "groupchat",
            "owner202",
            json!({"type": 202, "content": "m2msg"}),
        )
        .await;
    assert!(!is_error(&r), "{}", r.to_xml());
    let ids: Vec<String> = app
        .app
        .store
        .rooms
        .muc_history(&shiku_server::store::MucQuery {
            jid: jid.clone(),
            start_ms: None,
            end_ms: None,
            max_type: None,
            hidden: Vec::new(),
            skip: 0,
            limit: 100,
        })
        .await
        .unwrap()
        .iter()
        .map(|r| r.message_id.clone())
        .collect();
    assert!(!ids.contains(&"fake903".to_string()), "{ids:?}");
    assert!(!ids.contains(&"fake202".to_string()), "{ids:?}");
    assert!(ids.contains(&"own202".to_string()), "{ids:?}");

    // Single chat: a 501 nobody asked for, a 800: errors.
    let to = format!("{}@{DOMAIN}", m2.id);
    for (id, t) in [("x501", 501), ("x800", 800), ("x513", 513)] {
        let r = w1
            .say(&to, "chat", id, json!({"type": t, "content": ""}))
            .await;
        assert!(is_error(&r), "{t}: {}", r.to_xml());
    }
    // The handshake clients send goes through.
    let r = w1
        .say(
            &to,
            "chat",
            "hello500",
            json!({"type": 500, "content": "hi"}),
        )
        .await;
    assert!(!is_error(&r), "{}", r.to_xml());
    let r = w2
        .say(
            &format!("{}@{DOMAIN}", m1.id),
            "chat",
            "pass501",
            json!({"type": 501, "content": ""}),
        )
        .await;
    assert!(!is_error(&r), "{}", r.to_xml());
}

#[tokio::test]
async fn xmpp_bounds_the_rooms_a_session_is_creating() {
    let app = xmpp_spawn().await;
    let a = user(&app, "13600000041", "建群").await;
    let mut w = Ws::login(&app, a.id).await;
    let mut refused_at = None;
    for i in 0..40 {
        let room = uuid32();
        w.send(&format!(
            r#"<presence xmlns="jabber:client" id="p{i}" to="{room}@muc.{DOMAIN}/{}"><x xmlns="http://jabber.org/protocol/muc"/></presence>"#,
            a.id
        ))
        .await;
        let p = w
            .recv_until(|e| {
                e.local_name() == "presence" && e.get_attr("id") == Some(&format!("p{i}"))
                    || e.local_name() == "presence"
                        && e.get_attr("from").is_some_and(|f| f.starts_with(&room))
            })
            .await;
        if p.get_attr("type") == Some("error") {
            refused_at = Some(i);
            break;
        }
    }
    assert_eq!(refused_at, Some(16), "the 17th pending creation is refused");
}

#[tokio::test]
async fn a_recall_reaches_only_the_recallers_own_message() {
    let app = spawn().await;
    let victim = user(&app, "13600000051", "受害").await;
    let mallory = user(&app, "13600000052", "攻击").await;
    let x = pushed(
        &push(
            &app,
            &victim,
            &mallory,
            json!({"type": 1, "content": "mine"}),
        )
        .await,
    );
    // Mallory sends a message of its own under the victim's messageId, then recalls it.
    let again = pushed(
        &push(
            &app,
            &mallory,
            &victim,
            json!({"type": 1, "content": "bait", "messageId": x}),
        )
        .await,
    );
    assert_eq!(again, x);
    ok(&call(
        &app,
        "/tigase/deleteMsg",
        &mallory,
        &[("type", "1"), ("delete", "2"), ("messageId", &x)],
    )
    .await);
    // The victim's own message survives (its copy of Mallory's bait is gone).
    let left = app
        .app
        .store
        .messages
        .find_copy(victim.uid(), &x)
        .await
        .unwrap()
        .expect("the victim's message is kept");
    assert_eq!(left.direction, 0);
    assert!(left.message.contains("mine"), "{}", left.message);
}

#[tokio::test]
async fn the_integration_key_never_sets_an_existing_users_password() {
    let app = spawn().await;
    let (uid, _) = app.register("13600000061", "original", "老用户").await;
    for path in ["/console/updateUser", "/console/useralladd"] {
        let v = app
            .post(
                path,
                &[
                    ("access_token", KEY),
                    ("telephone", "13600000061"),
                    ("phone", "13600000061"),
                    ("password", "taken-over"),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1030103, "{path}: {v}");
    }
    assert_eq!(
        ok(&app.login("13600000061", "original").await)["userId"],
        uid
    );
    assert_ne!(
        app.login("13600000061", "taken-over").await["resultCode"],
        1
    );
    // Profile sync and new users with their first password still work.
    let v = app
        .post(
            "/console/useralladd",
            &[
                ("access_token", KEY),
                ("telephone", "13600000061"),
                ("nickname", "改名"),
            ],
        )
        .await;
    assert_eq!(ok(&v)["created"], false);
    let v = app
        .post(
            "/console/useralladd",
            &[
                ("access_token", KEY),
                ("telephone", "13600000062"),
                ("password", "first-pw"),
            ],
        )
        .await;
    assert_eq!(ok(&v)["created"], true);
    ok(&app.login("13600000062", "first-pw").await);
    // Sending the same user again, password included, is still safe.
    let v = app
        .post(
            "/console/useralladd",
            &[
                ("access_token", KEY),
                ("telephone", "13600000062"),
                ("password", "first-pw"),
                ("nickname", "再同步"),
            ],
        )
        .await;
    assert_eq!(ok(&v)["created"], false);
    ok(&app.login("13600000062", "first-pw").await);
}

#[tokio::test]
async fn a_console_token_needs_its_session_row() {
    let app = spawn().await;
    let (uid, _) = app.register("13600000071", "admin-pw", "管理").await;
    app.app
        .store
        .users
        .insert_role(&UserRole {
            user_id: uid as i32,
            phone: None,
            role: 6,
            status: 1,
            create_time: now_secs(),
            last_login_time: 0,
        })
        .await
        .unwrap();
    // Signed with the server's key but never logged in: no session row.
    let forged = app
        .app
        .tokens
        .issue(&app.app.store, uid as i32, CONSOLE_AUDIENCE)
        .await
        .unwrap();
    let v = app
        .post("/console/userList", &[("access_token", &forged)])
        .await;
    assert_eq!(v["resultCode"], 1030102, "{v}");
    // A real login's token works.
    let v = app
        .post(
            "/console/login",
            &[
                ("account", "13600000071"),
                ("password", &md5_hex("admin-pw")),
                ("areaCode", "86"),
            ],
        )
        .await;
    let token = ok(&v)["access_Token"].as_str().unwrap().to_string();
    let v = app
        .post("/console/userList", &[("access_token", &token)])
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    // A user token is no console token anyway.
    let t = app
        .app
        .tokens
        .issue(&app.app.store, uid as i32, USER_AUDIENCE)
        .await
        .unwrap();
    assert_ne!(
        app.post("/console/userList", &[("access_token", &t)]).await["resultCode"],
        1
    );
}

//! Shiku's binary WebSocket protocol (spec/clients.md 5), driven with our own frames through
//! tokio-tungstenite: login with the REST token, 1:1 and room chat with status-1 receipts,
//! offline delivery, history pull and room catch-up, ping, conflict kick, malformed frames that
//! leave every session serving, and interop with an RFC 7395 XMPP client.
//!
//! One test drives the server with an independent implementation: protobufjs (node), which
//! compiles `proto/shiku.proto` itself, from `tests/interop-proto/` (set-up: `npm ci --prefix
//! tests/interop-proto`). Without node or those modules it reports itself skipped, unless
//! `SHIKU_TEST_REQUIRE_INTEROP=1`.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use serde_json::{json, Value};
use shiku_server::domain::util::{md5_hex, uuid32};
use shiku_server::gateway::shiku::proto::{
    AuthMessage, AuthRespMessageProBuf, ChatMessage, CommonErrorProBuf, ExitGroupMessageProBuf,
    GroupMessageRespProBuf, JoinGroupMessageProBuf, MessageReceiptStatusProBuf, PingMessageProBuf,
    PullBatchGroupMessageReqProBuf, PullGroupMessageRespProBuf, PullMessageHistoryRecordReqProBuf,
    PullMessageHistoryRecordRespProBuf,
};
use shiku_server::gateway::xmpp::xml::{parse_fragment, Element};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use common::binary::*;
use common::TestApp;

const DOMAIN: &str = "bin.shiku.test";

/// A registered user.
struct U {
    id: i64,
    token: String,
}

async fn user(app: &TestApp, phone: &str, nickname: &str) -> U {
    let (id, token) = app.register(phone, "secret-1", nickname).await;
    U { id, token }
}

/// A deployment of the binary protocol's clients (xiaoshifeifei: `timeSend` in ms, so history
/// answers in ms too; README "Times").
async fn server() -> (TestApp, SocketAddr, Option<SocketAddr>) {
    let (app, bin, x) = common::spawn_shiku(|c| {
        c.client.xmpp_domain = DOMAIN.into();
        c.client.history_time_unit = shiku_server::config::HistoryTimeUnit::Ms;
    })
    .await;
    (app, bin, x.websocket)
}

/// `/room/add` by `owner` with `members`; returns the jid.
async fn room(app: &TestApp, owner: &U, members: &[&U]) -> String {
    let jid = uuid32();
    let ids: Vec<i64> = members.iter().map(|u| u.id).collect();
    let v = app
        .get(
            "/room/add",
            &[
                ("access_token", &owner.token),
                ("jid", &jid),
                ("name", "群"),
                ("desc", "d"),
                ("text", &serde_json::to_string(&ids).unwrap()),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    jid
}

#[tokio::test]
async fn auth_with_good_bad_and_expired_tokens() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000001", "a").await;

    // Nothing but login before login.
    let mut c = Bin::at(bin).await;
    c.send(CHAT, &ChatMessage::default()).await;
    let e = c.expect_error().await;
    assert!(e.arg.contains("authenticate"), "{e:?}");

    let bad = c.auth_raw(a.id, "not-a-token", "web").await;
    assert_eq!(bad.status, 0);
    assert!(bad.resources.is_empty());
    let other = user(&app, "13600000002", "b").await;
    let stolen = c.auth_raw(a.id, &other.token, "web").await;
    assert_eq!(stolen.status, 0, "another user's token");

    let ok = c.auth(a.id, &a.token, "web").await;
    assert_eq!(ok.message_head.unwrap().from, format!("{}/web", a.id));
    assert_eq!(ok.resources, "web");
    // A second device lists both resources.
    let mut d = Bin::connect(&format!(
        "{}/im-websocket",
        app.base.replacen("http://", "ws://", 1)
    ))
    .await;
    let r = d.auth(a.id, &a.token, "android").await;
    let mut res: Vec<&str> = r.resources.split(',').collect();
    res.sort();
    assert_eq!(res, ["android", "web"]);
    let u: Value = app.get("/user/get", &[("access_token", &a.token)]).await;
    assert_eq!(u["data"]["onlinestate"], 1, "{u}");

    // Three refusals close the connection.
    let mut e = Bin::at(bin).await;
    for _ in 0..3 {
        assert_eq!(e.auth_raw(a.id, "nope", "web").await.status, 0);
    }
    assert!(e.next().await.is_none());

    // An expired token is refused.
    let (app2, bin2, _) = common::spawn_shiku(|c| {
        c.client.xmpp_domain = DOMAIN.into();
        c.auth.token_ttl_secs = 1;
    })
    .await;
    let x = user(&app2, "13600000003", "x").await;
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let mut c2 = Bin::at(bin2).await;
    assert_eq!(c2.auth_raw(x.id, &x.token, "web").await.status, 0);
}

#[tokio::test]
async fn one_to_one_both_ways_with_status_1_receipts() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000011", "甲").await;
    let b = user(&app, "13600000012", "乙").await;
    let mut ca = Bin::at(bin).await;
    let mut cb = Bin::at(bin).await;
    ca.auth(a.id, &a.token, "web").await;
    cb.auth(b.id, &b.token, "web").await;

    let mut m = ca.chat(&b.id.to_string(), 1, "skimweb_bin_1", "你好 binary");
    m.r#type = 3;
    m.file_time = 7;
    m.location_x = 22.5;
    m.location_y = 113.25;
    ca.send(CHAT, &m).await;
    let r: MessageReceiptStatusProBuf = ca.recv(RECEIPT).await;
    assert_eq!((r.status, r.message_id.as_str()), (1, "skimweb_bin_1"));
    assert_eq!(r.message_head.unwrap().chat_type, 1);

    let got: ChatMessage = cb.chat_msg().await;
    let h = got.message_head.clone().unwrap();
    assert_eq!(h.from, format!("{}/web", a.id));
    assert_eq!(h.to, b.id.to_string());
    assert_eq!(h.message_id, "skimweb_bin_1");
    assert_eq!((h.chat_type, h.offline), (1, false));
    assert_eq!(got.content, "你好 binary");
    assert_eq!(got.from_user_name, "甲");
    assert_eq!(got.to_user_name, "乙");
    assert_eq!(got.time_send, 1_613_789_795_464, "timeSend kept as sent");
    assert_eq!(
        (got.file_time, got.location_x, got.location_y),
        (7, 22.5, 113.25)
    );
    cb.send(
        RECEIPT,
        &MessageReceiptStatusProBuf {
            message_head: head(&cb.me, DOMAIN, "rc-1", 1),
            status: 2,
            message_id: "skimweb_bin_1,".into(),
        },
    )
    .await;

    cb.say(&a.id.to_string(), 1, "skimweb_bin_2", "back").await;
    let back: ChatMessage = ca.chat_msg().await;
    assert_eq!(back.content, "back");
    assert_eq!(back.message_head.unwrap().from, format!("{}/web", b.id));

    // Stored as the JSON body REST history serves, audio length under both names.
    let h: Value = app
        .get(
            "/tigase/shiku_msgs",
            &[("access_token", &b.token), ("receiver", &a.id.to_string())],
        )
        .await;
    let rows = h["data"].as_array().expect("history rows");
    let row = rows
        .iter()
        .find(|r| r["messageId"] == "skimweb_bin_1")
        .expect("stored");
    let body: Value = serde_json::from_str(row["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["timeLen"], 7);
    assert_eq!(body["fileTime"], 7);
    assert_eq!(body["location_x"], 22.5);
    assert_eq!(body["messageHead"]["chatType"], 1);

    // A duplicate is acknowledged again but not delivered twice.
    ca.send(CHAT, &m).await;
    let again: MessageReceiptStatusProBuf = ca.recv(RECEIPT).await;
    assert_eq!(again.message_id, "skimweb_bin_1");
    cb.ping("after-dup").await;
}

#[tokio::test]
async fn group_messages_reach_members_without_join_and_echo_to_the_sender() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000021", "a").await;
    let b = user(&app, "13600000022", "b").await;
    let c = user(&app, "13600000023", "c").await;
    let jid = room(&app, &a, &[&b]).await;
    let mut ca = Bin::at(bin).await;
    let mut cb = Bin::at(bin).await;
    let mut cc = Bin::at(bin).await;
    ca.auth(a.id, &a.token, "web").await;
    cb.auth(b.id, &b.token, "web").await;
    cc.auth(c.id, &c.token, "web").await;

    let m = ca.chat(&jid, 2, "g-1", "hello room");
    ca.send(CHAT, &m).await;
    let echo: ChatMessage = ca.chat_msg().await;
    let eh = echo.message_head.unwrap();
    assert_eq!(
        (eh.from.as_str(), eh.to.as_str()),
        (ca.me.as_str(), jid.as_str())
    );
    assert_eq!(eh.chat_type, 2);
    let r: MessageReceiptStatusProBuf = ca.recv(RECEIPT).await;
    assert_eq!((r.status, r.message_id.as_str()), (1, "g-1"));

    let got: ChatMessage = cb.chat_msg().await;
    let h = got.message_head.unwrap();
    assert_eq!(h.from, format!("{}/web", a.id));
    assert_eq!(h.to, jid);
    assert_eq!(h.chat_type, 2);
    assert_eq!(got.content, "hello room");
    assert_eq!(got.to_user_id, jid);

    // Not a member: refused with the Shiku text, and nothing reaches the room.
    cc.send(CHAT, &cc.chat(&jid, 2, "g-2", "intruder")).await;
    let e = cc.expect_error().await;
    assert_eq!(e.message_head.as_ref().unwrap().message_id, "g-2");
    assert!(e.arg.contains("不是该群成员"), "{e:?}");

    // Join / exit answers.
    cb.send(
        JOIN,
        &JoinGroupMessageProBuf {
            message_head: head(&cb.me, "server", "j-1", 1),
            jid: jid.clone(),
            seconds: 0,
        },
    )
    .await;
    let j: GroupMessageRespProBuf = cb.recv(GROUP_RESULT).await;
    assert_eq!(
        (j.jid.as_str(), j.status, j.is_exit),
        (jid.as_str(), 1, false)
    );
    cc.send(
        JOIN,
        &JoinGroupMessageProBuf {
            message_head: head(&cc.me, "server", "j-2", 1),
            jid: jid.clone(),
            seconds: 0,
        },
    )
    .await;
    let j: GroupMessageRespProBuf = cc.recv(GROUP_RESULT).await;
    assert_eq!(j.status, -1);
    cb.send(
        EXIT,
        &ExitGroupMessageProBuf {
            message_head: head(&cb.me, "server", "x-1", 1),
            jid: jid.clone(),
        },
    )
    .await;
    let x: GroupMessageRespProBuf = cb.recv(GROUP_RESULT).await;
    assert_eq!((x.status, x.is_exit), (1, true));
    cb.ping("p").await;

    // Server notifications (10005) reach a connected binary client live: being added to a room.
    let jid2 = room(&app, &a, &[&b]).await;
    loop {
        let n: ChatMessage = cb.recv(CHAT).await;
        let h = n.message_head.unwrap();
        if h.from.starts_with("10005/") && n.object_id == jid2 {
            assert!(!h.offline);
            break;
        }
    }
}

#[tokio::test]
async fn offline_messages_arrive_flagged_at_login() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000031", "a").await;
    let b = user(&app, "13600000032", "b").await;
    let mut ca = Bin::at(bin).await;
    ca.auth(a.id, &a.token, "web").await;
    ca.say(&b.id.to_string(), 1, "off-1", "while you were away")
        .await;
    ca.say(&b.id.to_string(), 1, "off-2", "second").await;

    let mut cb = Bin::at(bin).await;
    cb.auth(b.id, &b.token, "web").await;
    for (id, text) in [("off-1", "while you were away"), ("off-2", "second")] {
        let m: ChatMessage = cb.chat_msg().await;
        let h = m.message_head.unwrap();
        assert_eq!(h.message_id, id);
        assert!(h.offline, "offline flag set");
        assert_eq!(m.content, text);
    }
    // Receipted: a later login gets nothing again.
    cb.send(
        RECEIPT,
        &MessageReceiptStatusProBuf {
            message_head: head(&cb.me, DOMAIN, "rc", 1),
            status: 2,
            message_id: "off-1,off-2,".into(),
        },
    )
    .await;
    cb.ping("p1").await;
    cb.send(CLOSE, &PingMessageProBuf::default()).await;
    assert!(cb.next().await.is_none(), "closed on CLOSE");
    let mut cb2 = Bin::at(bin).await;
    cb2.auth(b.id, &b.token, "web").await;
    cb2.ping("p2").await;

    // Without a receipt the message comes back at the next login.
    ca.say(&b.id.to_string(), 1, "live-1", "live").await;
    let m: ChatMessage = cb2.chat_msg().await;
    assert!(!m.message_head.unwrap().offline);
    drop(cb2);
    // Wait until the server saw the socket go (the message is requeued by then).
    let deadline = std::time::Instant::now() + TIMEOUT;
    loop {
        let u: Value = app.get("/user/get", &[("access_token", &b.token)]).await;
        if u["data"]["onlinestate"] == 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "session never ended: {u}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut cb3 = Bin::at(bin).await;
    cb3.auth(b.id, &b.token, "web").await;
    let m: ChatMessage = cb3.chat_msg().await;
    let h = m.message_head.unwrap();
    assert_eq!((h.message_id.as_str(), h.offline), ("live-1", true));
}

#[tokio::test]
async fn history_pull_and_batch_group_catch_up() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000041", "a").await;
    let b = user(&app, "13600000042", "b").await;
    let jid = room(&app, &a, &[&b]).await;
    let mut ca = Bin::at(bin).await;
    ca.auth(a.id, &a.token, "web").await;
    ca.say(&b.id.to_string(), 1, "h-1", "one").await;
    ca.say(&b.id.to_string(), 1, "h-2", "two").await;
    ca.say(&jid, 2, "hg-1", "room one").await;
    ca.say(&jid, 2, "hg-2", "room two").await;

    let mut cb = Bin::at(bin).await;
    cb.auth(b.id, &b.token, "web").await;
    cb.send(
        PULL_REQ,
        &PullMessageHistoryRecordReqProBuf {
            message_head: head(&cb.me, "server", "pull-1", 1),
            jid: a.id.to_string(),
            size: 10,
            start_time: 0,
            end_time: 0,
        },
    )
    .await;
    let r: PullMessageHistoryRecordRespProBuf = cb.recv(PULL_RESP).await;
    assert_eq!((r.message_id.as_str(), r.chat_type), ("pull-1", 1));
    assert_eq!(r.count, 2);
    let contents: Vec<&str> = r.message_list.iter().map(|m| m.content.as_str()).collect();
    assert_eq!(contents, ["two", "one"], "newest first as the REST history");
    assert_eq!(
        r.message_list[0].message_head.as_ref().unwrap().from,
        format!("{}/web", a.id)
    );

    cb.send(
        PULL_REQ,
        &PullMessageHistoryRecordReqProBuf {
            message_head: head(&cb.me, "server", "pull-2", 2),
            jid: jid.clone(),
            size: 1,
            start_time: 0,
            end_time: 0,
        },
    )
    .await;
    let r: PullMessageHistoryRecordRespProBuf = cb.recv(PULL_RESP).await;
    assert_eq!((r.chat_type, r.count), (2, 1));
    assert_eq!(r.message_list[0].content, "room two");

    cb.send(
        BATCH_REQ,
        &PullBatchGroupMessageReqProBuf {
            message_head: head(&cb.me, "server", "batch-1", 2),
            jid_list: vec![
                format!("{jid},0"),
                format!("{jid},{}", 4_102_444_800_000i64),
            ],
            end_time: 0,
        },
    )
    .await;
    let all: PullGroupMessageRespProBuf = cb.recv(BATCH_RESP).await;
    assert_eq!(all.jid, jid);
    assert_eq!(all.count as usize, all.message_list.len());
    // The room's own notices (creation, 9xx) are history too; the chat is what we sent.
    let contents: Vec<&str> = all
        .message_list
        .iter()
        .filter(|m| m.r#type == 1)
        .map(|m| m.content.as_str())
        .collect();
    assert_eq!(contents, ["room one", "room two"], "oldest first");
    let none: PullGroupMessageRespProBuf = cb.recv(BATCH_RESP).await;
    assert_eq!(none.count, 0, "nothing after the client's newest");

    // A room the user is not in is refused.
    cb.send(
        BATCH_REQ,
        &PullBatchGroupMessageReqProBuf {
            message_head: head(&cb.me, "server", "batch-2", 2),
            jid_list: vec![format!("{},0", uuid32())],
            end_time: 0,
        },
    )
    .await;
    let e = cb.expect_error().await;
    assert_eq!(e.message_head.unwrap().message_id, "batch-2");
}

#[tokio::test]
async fn a_second_login_on_the_same_resource_kicks_the_first() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000051", "a").await;
    let mut first = Bin::at(bin).await;
    first.auth(a.id, &a.token, "web").await;
    first.ping("p").await;
    let mut second = Bin::at(bin).await;
    let r = second.auth(a.id, &a.token, "web").await;
    assert_eq!(r.resources, "web");
    let (cmd, _) = first.next().await.expect("conflict frame");
    assert_eq!(cmd, CONFLICT);
    assert!(first.next().await.is_none(), "kicked session closed");
    second.ping("still-here").await;
    // The survivor keeps the user online.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let u: Value = app.get("/user/get", &[("access_token", &a.token)]).await;
    assert_eq!(u["data"]["onlinestate"], 1, "{u}");
    // The devices a user is online with, as the newest Vue client asks when a chat opens.
    let mut phone = Bin::at(bin).await;
    phone.auth(a.id, &a.token, "android").await;
    let b = user(&app, "13600000052", "b").await;
    let devices = |who: &U, of: i64| {
        let who = who.token.clone();
        let app = &app;
        async move {
            app.get(
                "/user/getOnLineDevice",
                &[("access_token", who.as_str()), ("userId", &of.to_string())],
            )
            .await
        }
    };
    let v = devices(&b, a.id).await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"], "android,web", "{v}");
    assert_eq!(devices(&a, b.id).await["data"], "", "b is offline");
    assert_eq!(devices(&a, 99_999).await["resultCode"], 0, "no such user");
}

#[tokio::test]
async fn malformed_frames_get_an_error_and_everyone_continues() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000061", "a").await;
    let b = user(&app, "13600000062", "b").await;
    let mut ca = Bin::at(bin).await;
    let mut cb = Bin::at(bin).await;
    ca.auth(a.id, &a.token, "web").await;
    cb.auth(b.id, &b.token, "web").await;

    // Unknown command.
    ca.raw(vec![42, 0x0A, 0x00]).await;
    let e = ca.expect_error().await;
    assert!(e.arg.contains("unknown command 42"), "{e:?}");
    // Truncated protobuf: a real chat frame cut short.
    let mut full = vec![CHAT as u8];
    ca.chat(&b.id.to_string(), 1, "t-1", "cut")
        .encode(&mut full)
        .unwrap();
    full.truncate(full.len() - 3);
    ca.raw(full).await;
    let e = ca.expect_error().await;
    assert!(e.arg.contains("malformed ChatMessage"), "{e:?}");
    // A length prefix of ~4 GB.
    ca.raw(vec![CHAT as u8, 0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01])
        .await;
    ca.expect_error().await;
    // Text frames are not the protocol.
    ca.stream.send(Message::text("hello")).await.unwrap();
    ca.expect_error().await;
    // Command 0 and empty frames are ignored.
    ca.raw(vec![0, 1, 2]).await;
    ca.raw(vec![]).await;

    ca.ping("alive").await;
    ca.say(&b.id.to_string(), 1, "after-garbage", "still works")
        .await;
    let m: ChatMessage = cb.chat_msg().await;
    assert_eq!(m.content, "still works");

    // An oversized WebSocket frame ends only that connection.
    let mut big = Bin::at(bin).await;
    big.raw(vec![0u8; 300 * 1024]).await;
    let (cmd, _) = big.next().await.expect("error before closing");
    assert_eq!(cmd, ERROR);
    assert!(big.next().await.is_none());
    cb.ping("b-alive").await;
}

/// Both places a binary-protocol client connects: the API port's `/im-websocket` (actix-ws) and
/// the listener of its own (`xmpp.listen_shiku_ws`, tokio-tungstenite, any path).
fn endpoints(app: &TestApp, bin: SocketAddr) -> [String; 2] {
    [
        format!("{}/im-websocket", app.base.replacen("http://", "ws://", 1)),
        format!("ws://{bin}/any/path"),
    ]
}

#[tokio::test]
async fn both_endpoints_chat_with_receipts_and_refuse_bad_frames_alone() {
    let (app, bin, _) = server().await;
    let [api, own] = endpoints(&app, bin);
    let pairs = [(&api, &api), (&own, &own), (&api, &own), (&own, &api)];
    for (n, (url_a, url_b)) in pairs.into_iter().enumerate() {
        let a = user(&app, &format!("1360000009{n}"), "a").await;
        let b = user(&app, &format!("1360000008{n}"), "b").await;
        let mut ca = Bin::connect(url_a).await;
        let mut cb = Bin::connect(url_b).await;
        ca.auth(a.id, &a.token, "web").await;
        cb.auth(b.id, &b.token, "web").await;
        let id = format!("both-{n}");
        ca.say(&b.id.to_string(), 1, &id, "over both").await;
        let got: ChatMessage = cb.chat_msg().await;
        assert_eq!(got.content, "over both", "{url_a} -> {url_b}");
        assert_eq!(got.message_head.unwrap().message_id, id);
        cb.say(&a.id.to_string(), 1, &format!("{id}-back"), "and back")
            .await;
        assert_eq!(ca.chat_msg().await.content, "and back");
    }

    let c = user(&app, "13600000070", "c").await;
    let mut bystander = Bin::connect(&own).await;
    bystander.auth(c.id, &c.token, "web").await;
    for url in [&api, &own] {
        // A text frame is answered with an error; the connection goes on.
        let mut t = Bin::connect(url).await;
        t.stream.send(Message::text("hello")).await.unwrap();
        let e = t.expect_error().await;
        assert!(e.arg.contains("binary frames"), "{url}: {e:?}");
        // A frame over the limit: an error frame, then the socket closes.
        let mut big = Bin::connect(url).await;
        big.raw(vec![0u8; 300 * 1024]).await;
        let e = big.expect_error().await;
        assert!(e.arg.contains("larger than the limit"), "{url}: {e:?}");
        assert!(big.next().await.is_none(), "{url}: closed after the error");
        // Everyone else is still served.
        bystander.ping(&format!("alive-{}", url.len())).await;
        // And the text-frame connection still answers (the login it asks for first).
        t.send(CHAT, &ChatMessage::default()).await;
        let e = t.expect_error().await;
        assert!(e.arg.contains("authenticate"), "{url}: {e:?}");
    }
}

#[tokio::test]
async fn the_separate_listener_answers_a_plain_http_request_with_400() {
    let (app, bin, _) = server().await;
    let answer = common::plain_http_answer(bin).await;
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("not a WebSocket upgrade"), "{answer}");
    // The listener keeps serving.
    let a = user(&app, "13600000071", "a").await;
    Bin::at(bin).await.auth(a.id, &a.token, "web").await;
}

// ---- XMPP interop ---------------------------------------------------------------------------

/// A minimal RFC 7395 client: SASL PLAIN with the md5 password, bind, presence.
struct Xmpp {
    stream: Stream,
}

impl Xmpp {
    async fn login(addr: SocketAddr, uid: i64, resource: &str) -> Xmpp {
        let mut req = format!("ws://{addr}/").into_client_request().unwrap();
        req.headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("xmpp"));
        let (stream, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        let mut x = Xmpp { stream };
        let open = format!(
            r#"<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="{DOMAIN}" version="1.0"/>"#
        );
        x.send(&open).await;
        x.until(|e| e.local_name() == "features").await;
        let creds = base64::engine::general_purpose::STANDARD
            .encode(format!("\0{uid}\0{}", md5_hex("secret-1")));
        x.send(&format!(
            r#"<auth xmlns="urn:ietf:params:xml:ns:xmpp-sasl" mechanism="PLAIN">{creds}</auth>"#
        ))
        .await;
        x.until(|e| e.local_name() == "success").await;
        x.send(&open).await;
        x.until(|e| e.local_name() == "features").await;
        x.send(&format!(
            r#"<iq xmlns="jabber:client" type="set" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><resource>{resource}</resource></bind></iq>"#
        ))
        .await;
        x.until(|e| e.get_attr("id") == Some("b1")).await;
        x.send(r#"<presence xmlns="jabber:client"/>"#).await;
        x
    }

    async fn send(&mut self, xml: &str) {
        self.stream
            .send(Message::text(xml.to_string()))
            .await
            .unwrap();
    }

    async fn until(&mut self, pred: impl Fn(&Element) -> bool) -> Element {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("an XMPP frame within the timeout");
            if let Some(Ok(Message::Text(t))) = msg {
                let e = parse_fragment(t.as_str(), 1 << 20).unwrap();
                if pred(&e) {
                    return e;
                }
            } else if !matches!(msg, Some(Ok(_))) {
                panic!("XMPP socket closed");
            }
        }
    }
}

#[tokio::test]
async fn xmpp_and_binary_clients_talk_to_each_other() {
    let (app, bin, xmpp) = server().await;
    let a = user(&app, "13600000071", "xmpp-a").await;
    let b = user(&app, "13600000072", "bin-b").await;
    let jid = room(&app, &a, &[&b]).await;
    let mut xa = Xmpp::login(xmpp.expect("XMPP listener"), a.id, "web").await;
    let mut cb = Bin::at(bin).await;
    cb.auth(b.id, &b.token, "web").await;

    // XMPP → binary.
    let body = json!({"messageId": "x-1", "type": 1, "content": "from xmpp", "timeLen": 4,
        "timeSend": 1_700_000_000_123i64});
    let msg = Element::new("message")
        .attr("xmlns", "jabber:client")
        .attr("to", format!("{}@{DOMAIN}", b.id))
        .attr("type", "chat")
        .attr("id", "x-1")
        .child(Element::new("body").text(body.to_string()));
    xa.send(&msg.to_xml()).await;
    let got: ChatMessage = cb.chat_msg().await;
    let h = got.message_head.unwrap();
    assert_eq!(
        (h.from, h.message_id.as_str()),
        (format!("{}/web", a.id), "x-1")
    );
    assert_eq!(got.content, "from xmpp");
    assert_eq!(got.file_time, 4, "timeLen becomes fileTime");
    assert_eq!(got.time_send, 1_700_000_000_123);

    // Binary → XMPP, 1:1 and in the room.
    let mut m = cb.chat(&a.id.to_string(), 1, "b-1", "from binary");
    m.file_time = 9;
    cb.send(CHAT, &m).await;
    let r: MessageReceiptStatusProBuf = cb.recv(RECEIPT).await;
    assert_eq!((r.status, r.message_id.as_str()), (1, "b-1"));
    let x = xa
        .until(|e| e.local_name() == "message" && e.get_attr("id") == Some("b-1"))
        .await;
    assert_eq!(x.get_attr("type"), Some("chat"));
    assert!(x
        .get_attr("from")
        .is_some_and(|f| f == format!("{}@{DOMAIN}/web", b.id)));
    let j: Value = serde_json::from_str(&x.find("body").unwrap().text_content()).unwrap();
    assert_eq!(j["content"], "from binary");
    assert_eq!(j["timeLen"], 9);

    cb.say(&jid, 2, "bg-1", "room from binary").await;
    let g = xa
        .until(|e| e.local_name() == "message" && e.get_attr("id") == Some("bg-1"))
        .await;
    assert_eq!(g.get_attr("type"), Some("groupchat"));
    assert_eq!(
        g.get_attr("from"),
        Some(format!("{jid}@muc.{DOMAIN}/{}", b.id).as_str())
    );

    // XMPP → binary in the room (the binary client never joined).
    let body = json!({"messageId": "xg-1", "type": 1, "content": "room from xmpp"});
    let msg = Element::new("message")
        .attr("xmlns", "jabber:client")
        .attr("to", format!("{jid}@muc.{DOMAIN}"))
        .attr("type", "groupchat")
        .attr("id", "xg-1")
        .child(Element::new("body").text(body.to_string()));
    xa.send(&msg.to_xml()).await;
    let got: ChatMessage = cb.chat_msg().await;
    let h = got.message_head.unwrap();
    assert_eq!((h.message_id.as_str(), h.chat_type), ("xg-1", 2));
    assert_eq!((h.from, h.to), (format!("{}/web", a.id), jid.clone()));
    assert_eq!(got.content, "room from xmpp");
}

// ---- an independent protobuf implementation ---------------------------------------------------

fn interop_proto_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop-proto")
}

/// Whether node and protobufjs are installed; a missing one fails under
/// `SHIKU_TEST_REQUIRE_INTEROP=1` and skips the test otherwise.
fn protobufjs_available() -> bool {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let modules = interop_proto_dir()
        .join("node_modules/protobufjs/package.json")
        .is_file();
    if node && modules {
        return true;
    }
    let hint = "run `npm ci --prefix tests/interop-proto` (node and npm required)";
    if std::env::var("SHIKU_TEST_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("SHIKU_TEST_REQUIRE_INTEROP=1 but protobufjs is not available: {hint}");
    }
    eprintln!("skipped: {hint}");
    false
}

#[tokio::test]
async fn an_independent_protobufjs_client_chats_pulls_and_pings() {
    if !protobufjs_available() {
        return;
    }
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000081", "pb-a").await;
    let b = user(&app, "13600000082", "pb-b").await;
    let jid = room(&app, &a, &[&b]).await;
    let args = json!({
        "url": format!("ws://{bin}/"),
        "domain": DOMAIN,
        "a": {"id": a.id, "token": a.token},
        "b": {"id": b.id, "token": b.token},
        "jid": jid,
    });
    // The script has its own 10 s timeout per expected frame, so it always ends.
    let child = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .arg(interop_proto_dir().join("shiku_pb.mjs"))
            .arg("chat")
            .arg(args.to_string())
            .current_dir(interop_proto_dir())
            .stdin(Stdio::null())
            .output()
    });
    let out = child.await.expect("runner").expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = stdout
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_else(|| json!({ "unparsed_stdout": stdout }));
    eprintln!("protobufjs report: {report}");
    assert!(
        out.status.success() && report["ok"] == true,
        "protobufjs client failed: {report}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for step in ["auth", "single", "group", "history", "malformed"] {
        assert_eq!(report[step], "ok", "{step}: {report}");
    }
    // What the independent client sent is stored as the JSON body every client reads.
    let h: Value = app
        .get(
            "/tigase/shiku_msgs",
            &[("access_token", &a.token), ("receiver", &b.id.to_string())],
        )
        .await;
    let row = h["data"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["messageId"] == "pb-1"))
        .cloned()
        .unwrap_or_else(|| panic!("pb-1 stored: {h}"));
    let body: Value = serde_json::from_str(row["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["timeLen"], 12, "{body}");
    assert_eq!(body["location_x"], 1.25, "{body}");
    assert_eq!(body["timeSend"], 1_613_789_795_464i64, "{body}");
}

/// A password login on the binary protocol goes through the login limiter: after the free
/// failures the next attempt gets the error frame (code -3, "retry in N s") and a status-0
/// AuthResp, without a check; the back-off ends by itself.
#[tokio::test]
async fn password_guessing_is_throttled_on_the_binary_protocol() {
    let (app, bin, _) = common::spawn_shiku(|c| {
        c.client.xmpp_domain = DOMAIN.into();
        c.passwords.account_free_failures = 2;
        c.passwords.first_delay_secs = 1;
        c.passwords.max_delay_secs = 1;
    })
    .await;
    let u = user(&app, "13600000071", "pw").await;
    let mut c = Bin::at(bin).await;
    for _ in 0..2 {
        let r = c.auth_raw(u.id, &md5_hex("wrong"), "web").await;
        assert_eq!(r.status, 0, "{r:?}");
    }
    let mut c = Bin::at(bin).await;
    let from = format!("{}/web", u.id);
    c.send(
        AUTH_REQ,
        &AuthMessage {
            message_head: head(&from, "server", "auth-3", 5),
            token: md5_hex("secret-1"),
            password: String::new(),
            device_id: "dev-1".into(),
        },
    )
    .await;
    let e: CommonErrorProBuf = c.recv(ERROR).await;
    assert_eq!(
        e.code,
        shiku_server::gateway::shiku::session::CODE_RETRY_LATER
    );
    assert!(e.arg.contains("retry in 1 s"), "{e:?}");
    let r: AuthRespMessageProBuf = c.recv(AUTH_RESP).await;
    assert_eq!(r.status, 0);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut c = Bin::at(bin).await;
    let r = c.auth_raw(u.id, &md5_hex("secret-1"), "web").await;
    assert_eq!(r.status, 1, "{r:?}");
}

/// Issue 17 item 11: a member's 903 "room dissolved" or recall of another member's message is
/// answered with an error frame and neither stored nor relayed.
#[tokio::test]
async fn reserved_types_and_others_recalls_are_error_frames() {
    let (app, bin, _) = server().await;
    let a = user(&app, "13600000091", "a").await;
    let b = user(&app, "13600000092", "b").await;
    let c = user(&app, "13600000093", "c").await;
    let jid = room(&app, &a, &[&b, &c]).await;
    let mut cb = Bin::at(bin).await;
    let mut cc = Bin::at(bin).await;
    cb.auth(b.id, &b.token, "web").await;
    cc.auth(c.id, &c.token, "web").await;

    // c's message, then b tries to dissolve the room and to recall c's message.
    let m = cc.chat(&jid, 2, "c-said", "mine");
    cc.send(CHAT, &m).await;
    let _echo: ChatMessage = cc.chat_msg().await;
    let got: ChatMessage = cb.chat_msg().await;
    assert_eq!(got.content, "mine");
    for (id, t, content) in [("fake-903", 903, jid.as_str()), ("fake-202", 202, "c-said")] {
        let mut m = cb.chat(&jid, 2, id, content);
        m.r#type = t;
        cb.send(CHAT, &m).await;
        let e = cb.expect_error().await;
        assert_eq!(e.message_head.as_ref().unwrap().message_id, id, "{e:?}");
    }
    // c's own recall goes through; c receives nothing of b's attempts before it.
    let mut m = cc.chat(&jid, 2, "c-recall", "c-said");
    m.r#type = 202;
    cc.send(CHAT, &m).await;
    let echo: ChatMessage = cc.chat_msg().await;
    assert_eq!(echo.message_head.unwrap().message_id, "c-recall");
    let got: ChatMessage = cb.chat_msg().await;
    assert_eq!(got.message_head.unwrap().message_id, "c-recall");
}

//! The data behind the REST hot paths (issue 20): users, friends, rooms and history prepared
//! over the API as clients make them, and the list of hot endpoints. Shared by
//! `benches/rest.rs` (included by path; large sizes, a child server) and
//! `tests/rest_answers.rs` (small sizes, recorded answers), so both exercise the same calls.
#![allow(dead_code)]

use futures_util::StreamExt;
use serde_json::{json, Value};

use super::child::{client_address, Xmpp, DOMAIN};
use shiku_server::domain::util::md5_hex;

/// The password (clear) of every prepared user.
pub const PASSWORD: &str = "rest-bench-pw";

/// How much to prepare.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Users registered, me and the peer included (at least `members` and 2).
    pub users: usize,
    /// Users (after the peer) I befriend with `/friends/add`; the peer is always a friend.
    pub friends: usize,
    /// Members of the big room (me included), at most `users`.
    pub members: usize,
    /// Rooms I am in: the big room and `rooms - 1` rooms with the peer.
    pub rooms: usize,
    /// 1:1 messages from me to the peer.
    pub chat_messages: usize,
    /// Messages I send to the big room.
    pub room_messages: usize,
    /// Characters of each message's `content`.
    pub content_len: usize,
    /// Registrations in flight at once (1: user ids in registration order).
    pub parallel: usize,
}

/// One prepared user.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub token: String,
    pub xff: String,
}

/// What was prepared.
#[derive(Debug, Clone)]
pub struct RestWorld {
    pub me: Account,
    pub peer: Account,
    /// The big room's id (ObjectId hex) and jid.
    pub room_id: String,
    pub room_jid: String,
    pub users: Vec<Account>,
}

/// A message text of `len` characters, numbered.
fn content(i: usize, len: usize) -> String {
    let mut s = format!("message {i:05} ");
    while s.len() < len {
        s.push('x');
    }
    s.truncate(len);
    s
}

async fn call(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    xff: &str,
    form: &[(&str, &str)],
) -> Result<Value, String> {
    let v: Value = http
        .post(format!("http://{base}{path}"))
        .header("X-Forwarded-For", xff)
        .form(form)
        .send()
        .await
        .map_err(|e| format!("{path}: {e}"))?
        .json()
        .await
        .map_err(|e| format!("{path}: {e}"))?;
    if v["resultCode"] != 1 {
        return Err(format!("{path}: {v}"));
    }
    Ok(v)
}

/// The room jid of prepared room `i` (fixed, so answers can be recorded).
pub fn room_jid(i: usize) -> String {
    md5_hex(&format!("rest-world-room-{i}"))
}

/// Prepares users, friends, rooms and history on the server at `base` (`host:port`), whose
/// XMPP domain is [`DOMAIN`].
pub async fn prepare(http: &reqwest::Client, base: &str, s: Sizes) -> Result<RestWorld, String> {
    assert!(s.users >= 2 && s.members <= s.users && s.friends < s.users);
    let password = md5_hex(PASSWORD);
    let registered: Vec<Result<Account, String>> = futures_util::stream::iter(0..s.users)
        .map(|i| {
            let (http, password) = (http.clone(), password.clone());
            async move {
                let xff = client_address(30_000 + i as u64);
                let phone = format!("137{i:08}");
                let v = call(
                    &http,
                    base,
                    "/user/register",
                    &xff,
                    &[
                        ("telephone", phone.as_str()),
                        ("areaCode", "86"),
                        ("password", &password),
                        ("nickname", &format!("用户{i:04}")),
                        ("access_token", ""),
                        ("flag", "rw"),
                    ],
                )
                .await?;
                Ok(Account {
                    id: v["data"]["userId"].as_i64().ok_or("no userId")?,
                    token: v["data"]["access_token"]
                        .as_str()
                        .ok_or("no token")?
                        .to_string(),
                    xff,
                })
            }
        })
        .buffered(s.parallel.max(1))
        .collect()
        .await;
    let users = registered.into_iter().collect::<Result<Vec<_>, _>>()?;
    let (me, peer) = (users[0].clone(), users[1].clone());
    let token = |a: &Account| a.token.clone();
    let my_token = token(&me);

    // Friends: the peer and the next `friends` users, with a remark on the peer.
    for u in users.iter().skip(1).take(s.friends.max(1)) {
        // Friends without verification, as /friends/add needs.
        call(
            http,
            base,
            "/user/settings/update",
            &u.xff,
            &[("access_token", &token(u)), ("friendsVerify", "0")],
        )
        .await?;
        call(
            http,
            base,
            "/friends/add",
            &me.xff,
            &[("access_token", &my_token), ("toUserId", &u.id.to_string())],
        )
        .await?;
    }
    call(
        http,
        base,
        "/friends/remark",
        &me.xff,
        &[
            ("access_token", &my_token),
            ("toUserId", &peer.id.to_string()),
            ("remarkName", "备注"),
        ],
    )
    .await?;

    // Rooms: the big one with `members`, then small ones with the peer.
    let ids: Vec<i64> = users
        .iter()
        .skip(1)
        .take(s.members - 1)
        .map(|u| u.id)
        .collect();
    let big = call(
        http,
        base,
        "/room/add",
        &me.xff,
        &[
            ("access_token", &my_token),
            ("jid", &room_jid(0)),
            ("name", "大群"),
            ("desc", "the big room"),
            ("text", &serde_json::to_string(&ids).unwrap()),
        ],
    )
    .await?;
    let room_id = big["data"]["id"]
        .as_str()
        .ok_or_else(|| format!("/room/add: no id in {big}"))?
        .to_string();
    for i in 1..s.rooms {
        call(
            http,
            base,
            "/room/add",
            &me.xff,
            &[
                ("access_token", &my_token),
                ("jid", &room_jid(i)),
                ("name", &format!("小群{i}")),
                ("text", &format!("[{}]", peer.id)),
            ],
        )
        .await?;
    }

    // 1:1 history with the peer, and one message to each other friend (the conversation list).
    for i in 0..s.chat_messages {
        let body = json!({"type": 1, "content": content(i, s.content_len)}).to_string();
        call(
            http,
            base,
            "/tigase/push",
            &me.xff,
            &[
                ("access_token", &my_token),
                ("text", &format!("[{}]", peer.id)),
                ("body", &body),
            ],
        )
        .await?;
    }
    for (i, u) in users
        .iter()
        .skip(2)
        .take(s.friends.saturating_sub(1))
        .enumerate()
    {
        let body = json!({"type": 1, "content": content(i, s.content_len)}).to_string();
        call(
            http,
            base,
            "/tigase/push",
            &me.xff,
            &[
                ("access_token", &my_token),
                ("text", &format!("[{}]", u.id)),
                ("body", &body),
            ],
        )
        .await?;
    }

    // Room history over XMPP (as clients send it): the big room, then one message per room.
    let url = format!("ws://{base}/xmpp-websocket");
    let mut c = Xmpp::login(&url, &me.xff, me.id, &password, "rest").await?;
    let mut sends: Vec<(usize, String)> = (0..s.room_messages)
        .map(|i| (0, content(i, s.content_len)))
        .collect();
    sends.extend((1..s.rooms).map(|r| (r, content(r, s.content_len))));
    for r in 0..s.rooms {
        c.send(&format!(
            r#"<presence to="{}@muc.{DOMAIN}/{}"><x xmlns="http://jabber.org/protocol/muc"/></presence>"#,
            room_jid(r),
            me.id
        ))
        .await?;
    }
    for (n, (r, text)) in sends.into_iter().enumerate() {
        let id = format!("room{r}msg{n:05}");
        let body = json!({"messageId": id, "fromUserId": me.id.to_string(), "type": 1,
            "content": text, "timeSend": 1_700_000_000_000i64 + n as i64});
        c.send(&format!(
            r#"<message to="{}@muc.{DOMAIN}" type="groupchat" id="{id}"><body>{}</body></message>"#,
            room_jid(r),
            body.to_string()
                .replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
        ))
        .await?;
        // The room reflects each message to its sender once it is stored.
        c.until(|f| f.contains(&format!("\"{id}\""))).await?;
    }
    // Logged out again, and seen offline, so that answers do not depend on the moment.
    let _ = futures_util::SinkExt::close(&mut c.ws).await;
    drop(c);
    for _ in 0..100 {
        let v = call(
            http,
            base,
            "/user/get",
            &me.xff,
            &[("access_token", &my_token)],
        )
        .await?;
        if v["data"]["onlinestate"] == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    Ok(RestWorld {
        me,
        peer,
        room_id,
        room_jid: room_jid(0),
        users,
    })
}

/// The hot endpoints (name, GET path with query), as the web client calls them, for me.
pub fn endpoints(w: &RestWorld) -> Vec<(&'static str, String)> {
    let t = &w.me.token;
    vec![
        ("user_get_self", format!("/user/get?access_token={t}")),
        (
            "user_get_other",
            format!("/user/get?access_token={t}&userId={}", w.peer.id),
        ),
        (
            "friends_page",
            format!(
                "/friends/page?access_token={t}&userId={}&pageIndex=0&pageSize=50",
                w.me.id
            ),
        ),
        (
            "room_list_his",
            format!("/room/list/his?access_token={t}&type=0&pageIndex=0&pageSize=10"),
        ),
        (
            "last_chat_list",
            format!("/tigase/getLastChatList?access_token={t}&pageSize=20"),
        ),
        (
            "shiku_msgs",
            format!(
                "/tigase/shiku_msgs?access_token={t}&receiver={}&pageIndex=0&pageSize=20",
                w.peer.id
            ),
        ),
        (
            "shiku_muc_msgs",
            format!(
                "/tigase/shiku_muc_msgs?access_token={t}&roomId={}&pageIndex=0&pageSize=20",
                w.room_jid
            ),
        ),
        (
            "room_member_list",
            format!("/room/member/list?access_token={t}&roomId={}", w.room_id),
        ),
    ]
}

//! A client of Shiku's binary WebSocket protocol (a command byte, then a protobuf message):
//! shared by `tests/shiku_ws.rs` and the cluster tests.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use shiku_server::gateway::shiku::proto::*;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const TIMEOUT: Duration = Duration::from_secs(10);

pub const AUTH_REQ: i8 = 5;
pub const AUTH_RESP: i8 = 6;
pub const CLOSE: i8 = 7;
pub const CHAT: i8 = 10;
pub const RECEIPT: i8 = 11;
pub const PULL_REQ: i8 = 12;
pub const PULL_RESP: i8 = 13;
pub const BATCH_REQ: i8 = 14;
pub const BATCH_RESP: i8 = 15;
pub const JOIN: i8 = 20;
pub const EXIT: i8 = 21;
pub const GROUP_RESULT: i8 = 22;
pub const PING: i8 = 99;
pub const SUCCESS: i8 = 100;
pub const ERROR: i8 = -1;
pub const CONFLICT: i8 = -3;

/// The commands a v1 client decodes from the server (spec 5.1); any other makes its decoder
/// throw, so the server must never send one.
const SERVER_COMMANDS: [i8; 10] = [
    AUTH_RESP,
    CHAT,
    RECEIPT,
    PULL_RESP,
    BATCH_RESP,
    GROUP_RESULT,
    PING,
    SUCCESS,
    ERROR,
    CONFLICT,
];

pub type Stream = WebSocketStream<MaybeTlsStream<TcpStream>>;

pub fn head(from: &str, to: &str, id: &str, chat_type: i32) -> Option<MessageHead> {
    Some(MessageHead {
        from: from.into(),
        to: to.into(),
        message_id: id.into(),
        chat_type,
        offline: false,
    })
}

/// One binary-protocol client.
pub struct Bin {
    pub stream: Stream,
    pub me: String,
}

impl Bin {
    pub async fn connect(url: &str) -> Bin {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("WebSocket handshake");
        Bin {
            stream,
            me: String::new(),
        }
    }

    pub async fn at(addr: SocketAddr) -> Bin {
        Bin::connect(&format!("ws://{addr}/any/path")).await
    }

    pub async fn raw(&mut self, bytes: Vec<u8>) {
        self.stream
            .send(Message::binary(bytes))
            .await
            .expect("frame sent");
    }

    pub async fn send(&mut self, cmd: i8, m: &impl prost::Message) {
        let mut b = vec![cmd as u8];
        m.encode(&mut b).unwrap();
        self.raw(b).await;
    }

    /// The next frame's command and payload; `None` once the server closed the socket.
    pub async fn next(&mut self) -> Option<(i8, Vec<u8>)> {
        loop {
            let msg = tokio::time::timeout(TIMEOUT, self.stream.next())
                .await
                .expect("a frame within the timeout");
            match msg {
                Some(Ok(Message::Binary(b))) => {
                    assert!(!b.is_empty(), "empty frame from the server");
                    assert!(
                        SERVER_COMMANDS.contains(&(b[0] as i8)),
                        "command {} would break a v1 client's decoder",
                        b[0] as i8
                    );
                    return Some((b[0] as i8, b[1..].to_vec()));
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => continue,
            }
        }
    }

    /// Skips frames until one with command `cmd`, decoded as `M`.
    pub async fn recv<M: prost::Message + Default>(&mut self, cmd: i8) -> M {
        loop {
            let (c, p) = self.next().await.expect("server sent a frame");
            if c == cmd {
                return M::decode(p.as_slice()).expect("server frame decodes");
            }
        }
    }

    /// Logs in; returns the answer whatever its status.
    pub async fn auth_raw(
        &mut self,
        uid: i64,
        token: &str,
        resource: &str,
    ) -> AuthRespMessageProBuf {
        let from = format!("{uid}/{resource}");
        self.send(
            AUTH_REQ,
            &AuthMessage {
                message_head: head(&from, "server", "auth-1", 5),
                token: token.into(),
                password: String::new(),
                device_id: "dev-1".into(),
            },
        )
        .await;
        self.recv(AUTH_RESP).await
    }

    /// Logs in with the access token; the answer must be status 1.
    pub async fn auth(&mut self, uid: i64, token: &str, resource: &str) -> AuthRespMessageProBuf {
        let r = self.auth_raw(uid, token, resource).await;
        assert_eq!(r.status, 1, "{r:?}");
        self.me = format!("{uid}/{resource}");
        r
    }

    /// A ping answered by SUCCESS (also a barrier: everything before it was handled).
    pub async fn ping(&mut self, id: &str) {
        self.send(
            PING,
            &PingMessageProBuf {
                message_head: head(&self.me, "server", id, 9),
            },
        )
        .await;
        loop {
            let s: CommonSuccessProBuf = self.recv(SUCCESS).await;
            if s.message_head.as_ref().unwrap().message_id == id {
                return;
            }
        }
    }

    pub fn chat(&self, to: &str, chat_type: i32, id: &str, content: &str) -> ChatMessage {
        ChatMessage {
            message_head: head(&self.me, to, id, chat_type),
            from_user_id: self.me.split('/').next().unwrap().into(),
            to_user_id: to.into(),
            time_send: 1_613_789_795_464,
            r#type: 1,
            content: content.into(),
            ..Default::default()
        }
    }

    /// Sends a chat message and waits for its status-1 receipt.
    pub async fn say(&mut self, to: &str, chat_type: i32, id: &str, content: &str) {
        let m = self.chat(to, chat_type, id, content);
        self.send(CHAT, &m).await;
        let r: MessageReceiptStatusProBuf = self.recv(RECEIPT).await;
        assert_eq!(r.status, 1, "{r:?}");
        assert_eq!(r.message_id, id);
        assert_eq!(r.message_head.unwrap().message_id, id);
    }

    /// The next chat frame from a user (server notifications from 10005 are skipped).
    pub async fn chat_msg(&mut self) -> ChatMessage {
        loop {
            let m: ChatMessage = self.recv(CHAT).await;
            if !m.message_head.as_ref().unwrap().from.starts_with("10005/") {
                return m;
            }
        }
    }

    /// The next error frame, read as both client generations read it (spec 5.1: the newest
    /// Vue client skips two header bytes for `-1`, the others one); both must agree.
    pub async fn expect_error(&mut self) -> CommonErrorProBuf {
        loop {
            let (c, p) = self.next().await.expect("server sent a frame");
            if c == ERROR {
                let one = <CommonErrorProBuf as prost::Message>::decode(p.as_slice())
                    .expect("error frame decodes");
                let two = <CommonErrorProBuf as prost::Message>::decode(&p[1..])
                    .expect("decodes after 2 bytes too");
                assert_eq!(one, two, "both client generations read the same error");
                return one;
            }
        }
    }
}

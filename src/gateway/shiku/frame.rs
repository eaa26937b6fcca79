//! Frames of the binary protocol: one command byte, read as signed (`>127` is minus 256), then
//! the protobuf message. Error frames are read by two client generations differently (spec 5.1:
//! the newest Vue client skips two header bytes for `-1`, the others one), so they carry a
//! padding field that makes the message decode the same from either offset.

use prost::Message;

/// The command bytes of v1 (spec 5.1).
pub mod cmd {
    /// Login with the REST access token (`AuthMessage`).
    pub const AUTH_REQ: i8 = 5;
    /// Login answer (`AuthRespMessageProBuf`).
    pub const AUTH_RESP: i8 = 6;
    /// The client ends the session (no payload needed).
    pub const CLOSE: i8 = 7;
    /// A chat message, both ways (`ChatMessage`).
    pub const CHAT: i8 = 10;
    /// Message receipts, both ways (`MessageReceiptStatusProBuf`).
    pub const MESSAGE_RECEIPT: i8 = 11;
    /// History pull request / answer.
    pub const PULL_MESSAGE_RECORD_REQ: i8 = 12;
    pub const PULL_MESSAGE_RECORD_RESP: i8 = 13;
    /// Batch room catch-up request / one answer per room.
    pub const PULL_BATCH_GROUP_MESSAGE_REQ: i8 = 14;
    pub const PULL_BATCH_GROUP_MESSAGE_RESP: i8 = 15;
    /// Join / leave a room, and the answer to both.
    pub const JOINGROUP_REQ: i8 = 20;
    pub const EXITGROUP_REQ: i8 = 21;
    pub const GROUP_REQUEST_RESULT: i8 = 22;
    /// Heartbeat.
    pub const PING: i8 = 99;
    /// A request succeeded (`CommonSuccessProBuf`).
    pub const SUCCESS: i8 = 100;
    /// A request failed (`CommonErrorProBuf`).
    pub const ERROR: i8 = -1;
    /// Another login replaced this session.
    pub const LOGIN_CONFLICT: i8 = -3;
}

/// `MessageHead.chatType` values (spec 5.1).
pub mod chat_type {
    /// 1:1 chat.
    pub const CHAT: i32 = 1;
    /// Room chat.
    pub const GROUP: i32 = 2;
    /// Login.
    pub const AUTH: i32 = 5;
    /// Heartbeat.
    pub const PING: i32 = 9;
    /// A request's result.
    pub const RESULT: i32 = 10;
}

/// A client frame split into its command and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    pub command: i8,
    pub payload: &'a [u8],
}

/// Splits a binary frame; `None` for an empty frame (nothing to do).
pub fn split(data: &[u8]) -> Option<Frame<'_>> {
    let (&first, payload) = data.split_first()?;
    Some(Frame {
        command: first as i8,
        payload,
    })
}

/// Builds a frame: the command byte, then the encoded message.
pub fn encode(command: i8, msg: &impl Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + msg.encoded_len());
    out.push(command as u8);
    msg.encode(&mut out)
        .expect("a Vec grows to fit the message");
    out
}

/// An unknown length-delimited field (number 4, key `0x22`) that every protobuf reader skips:
/// read from the byte after `0xFF` it is `22 22 | 21 + 33 zeros` (34 bytes of value), read one
/// byte later it is `22 21 | 33 zeros`; either way the error message follows it.
const ERROR_PAD: [u8; 3] = [0x22, 0x22, 0x21];
const ERROR_PAD_ZEROS: usize = 0x21;

/// An error frame (cmd -1) that both client generations decode (see the module comment).
pub fn encode_error(msg: &impl Message) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + ERROR_PAD.len() + ERROR_PAD_ZEROS + msg.encoded_len());
    out.push(cmd::ERROR as u8);
    out.extend_from_slice(&ERROR_PAD);
    out.resize(out.len() + ERROR_PAD_ZEROS, 0);
    msg.encode(&mut out)
        .expect("a Vec grows to fit the message");
    out
}

/// Decodes a payload as `M`; the error text names the message for the client's error frame.
pub fn decode<M: Message + Default>(payload: &[u8], what: &str) -> Result<M, String> {
    M::decode(payload).map_err(|e| format!("malformed {what}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::shiku::proto::{CommonErrorProBuf, MessageHead};

    #[test]
    fn commands_are_signed_bytes() {
        let f = split(&[0xFF, 1, 2]).unwrap();
        assert_eq!(f.command, cmd::ERROR);
        assert_eq!(f.payload, &[1, 2]);
        assert_eq!(split(&[0xFD]).unwrap().command, cmd::LOGIN_CONFLICT);
        assert!(split(&[]).is_none());
    }

    #[test]
    fn error_frames_decode_after_one_or_two_header_bytes() {
        let e = CommonErrorProBuf {
            message_head: Some(MessageHead {
                message_id: "m-1".into(),
                ..Default::default()
            }),
            code: -2,
            arg: "敏感词".into(),
        };
        let bytes = encode_error(&e);
        assert_eq!(split(&bytes).unwrap().command, cmd::ERROR);
        let one: CommonErrorProBuf = decode(&bytes[1..], "error").unwrap();
        let two: CommonErrorProBuf = decode(&bytes[2..], "error").unwrap();
        assert_eq!((one.clone(), two), (e.clone(), e));
        // A length prefix that runs past the end is refused, not trusted.
        assert!(decode::<CommonErrorProBuf>(&[0x1A, 0xFF, 0xFF, 0xFF, 0x0F, b'a'], "x").is_err());
    }
}

//! Shiku's binary frames: split, then decode the payload as every message type the session
//! decodes for that command (and, for a chat, map it to the stored JSON body and back).
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use shiku_server::gateway::shiku::frame::{self, cmd};
use shiku_server::gateway::shiku::proto::*;
use shiku_server::gateway::shiku::{body, frame::decode};

/// Decodes `payload` as `M` and re-encodes what decoded.
fn check<M: Message + Default>(payload: &[u8]) -> Option<M> {
    let m: M = decode(payload, "fuzz").ok()?;
    let again = frame::encode(0, &m);
    assert!(decode::<M>(&again[1..], "fuzz").is_ok());
    Some(m)
}

fuzz_target!(|data: &[u8]| {
    let Some(f) = frame::split(data) else {
        return;
    };
    match f.command {
        cmd::AUTH_REQ => drop(check::<AuthMessage>(f.payload)),
        cmd::PING => drop(check::<PingMessageProBuf>(f.payload)),
        cmd::CHAT => {
            if let Some(m) = check::<ChatMessage>(f.payload) {
                let json = serde_json::Value::Object(body::to_json(&m)).to_string();
                let back = body::from_json(&json, m.message_head.clone().unwrap_or_default());
                assert_eq!(back.content, m.content);
            }
        }
        cmd::MESSAGE_RECEIPT => drop(check::<MessageReceiptStatusProBuf>(f.payload)),
        cmd::PULL_MESSAGE_RECORD_REQ => drop(check::<PullMessageHistoryRecordReqProBuf>(f.payload)),
        cmd::PULL_BATCH_GROUP_MESSAGE_REQ => {
            drop(check::<PullBatchGroupMessageReqProBuf>(f.payload))
        }
        cmd::JOINGROUP_REQ => drop(check::<JoinGroupMessageProBuf>(f.payload)),
        cmd::EXITGROUP_REQ => drop(check::<ExitGroupMessageProBuf>(f.payload)),
        // Any other command: the payload as a stored body (history rows reach the same code).
        _ => {
            let text = String::from_utf8_lossy(f.payload);
            drop(body::from_json(&text, MessageHead::default()));
        }
    }
});

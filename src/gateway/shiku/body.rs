//! `ChatMessage` ↔ the JSON message body every other path stores and delivers (XMPP `<body>`,
//! history rows, seed 002's `message` column). The protobuf names the audio length `fileTime`
//! and the XMPP clients `timeLen`; both are written and either is read. `timeSend` is kept as
//! the client sent it.

use serde_json::{Map, Number, Value};

use super::proto::{ChatMessage, MessageHead};
use crate::domain::messages::time_send_millis;

/// The JSON body of a message a client sent (without `messageHead`, which the message path
/// writes itself). Zero / empty optional fields are left out so the path fills them.
pub fn to_json(m: &ChatMessage) -> Map<String, Value> {
    let mut b = Map::new();
    let mut text = |name: &str, v: &str| {
        if !v.is_empty() {
            b.insert(name.into(), Value::String(v.to_string()));
        }
    };
    text("fromUserId", &m.from_user_id);
    text("fromUserName", &m.from_user_name);
    text("toUserId", &m.to_user_id);
    text("toUserName", &m.to_user_name);
    text("objectId", &m.object_id);
    text("fileName", &m.file_name);
    let message_id = m
        .message_head
        .as_ref()
        .map(|h| h.message_id.as_str())
        .unwrap_or_default();
    if !message_id.is_empty() {
        b.insert("messageId".into(), message_id.into());
    }
    b.insert("content".into(), Value::String(m.content.clone()));
    b.insert("type".into(), m.r#type.into());
    if m.time_send != 0 {
        b.insert("timeSend".into(), m.time_send.into());
    }
    b.insert("isEncrypt".into(), m.is_encrypt.into());
    b.insert("isReadDel".into(), m.is_read_del.into());
    b.insert("deleteTime".into(), m.delete_time.into());
    b.insert("fileSize".into(), m.file_size.into());
    b.insert("fileTime".into(), m.file_time.into());
    if m.file_time != 0 {
        b.insert("timeLen".into(), m.file_time.into());
    }
    b.insert("location_x".into(), float(m.location_x));
    b.insert("location_y".into(), float(m.location_y));
    b
}

fn float(f: f64) -> Value {
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn int(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n
            .as_i64()
            .unwrap_or_else(|| n.as_f64().unwrap_or(0.0) as i64),
        Some(Value::String(s)) => s.trim().parse::<f64>().map(|f| f as i64).unwrap_or(0),
        Some(Value::Bool(b)) => *b as i64,
        _ => 0,
    }
}

fn double(v: Option<&Value>) -> f64 {
    match v {
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(Value::String(s)) => s.trim().parse().unwrap_or(0.0),
        _ => 0.0,
    }
}

fn boolean(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0) != 0.0,
        Some(Value::String(s)) => s == "true" || s == "1",
        _ => false,
    }
}

fn string(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// `timeSend` for the protobuf's int64: integers as sent; a fractional value is seconds from
/// an older client, given in ms.
fn time_send(v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Number(n)) => n.as_i64().unwrap_or_else(|| time_send_millis(n)),
        Some(Value::String(s)) => match s.trim().parse::<i64>() {
            Ok(i) => i,
            Err(_) => s
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(Number::from_f64)
                .map(|n| time_send_millis(&n))
                .unwrap_or(0),
        },
        _ => 0,
    }
}

/// The `ChatMessage` of a stored / delivered JSON body under `head`. A body that is not a JSON
/// object (a very old row) becomes a text message with the raw text as content.
pub fn from_json(body: &str, head: MessageHead) -> ChatMessage {
    let obj = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(o)) => o,
        _ => {
            let mut o = Map::new();
            o.insert("type".into(), 1.into());
            o.insert("content".into(), Value::String(body.to_string()));
            o
        }
    };
    let g = |k: &str| obj.get(k);
    let file_time = match int(g("fileTime")) {
        0 => int(g("timeLen")),
        t => t,
    };
    let loc = |a: &str, b: &str| match g(a) {
        Some(v) if !v.is_null() => double(Some(v)),
        _ => double(g(b)),
    };
    ChatMessage {
        message_head: Some(head),
        from_user_id: string(g("fromUserId")),
        from_user_name: string(g("fromUserName")),
        to_user_id: string(g("toUserId")),
        to_user_name: string(g("toUserName")),
        time_send: time_send(g("timeSend")),
        r#type: int(g("type")) as i32,
        content: string(g("content")),
        object_id: string(g("objectId")),
        file_name: string(g("fileName")),
        is_encrypt: boolean(g("isEncrypt")),
        delete_time: int(g("deleteTime")),
        is_read_del: boolean(g("isReadDel")),
        file_size: int(g("fileSize")),
        file_time,
        location_x: loc("location_x", "locationX"),
        location_y: loc("location_y", "locationY"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_length_and_location_map_both_ways() {
        let m = ChatMessage {
            message_head: Some(MessageHead {
                message_id: "m1".into(),
                ..Default::default()
            }),
            r#type: 3,
            content: "http://f/a.amr".into(),
            file_time: 7,
            location_x: 22.5,
            location_y: 113.25,
            time_send: 1613789795464,
            ..Default::default()
        };
        let j = to_json(&m);
        assert_eq!(j["timeLen"], 7);
        assert_eq!(j["fileTime"], 7);
        assert_eq!(j["location_x"], 22.5);
        assert_eq!(j["timeSend"], 1613789795464i64);
        assert_eq!(j["messageId"], "m1");
        let back = from_json(
            r#"{"type":3,"timeLen":9,"locationX":1.5,"location_y":"2.5","timeSend":1559788026.732,"content":{"a":1}}"#,
            MessageHead::default(),
        );
        assert_eq!(back.file_time, 9);
        assert_eq!(back.location_x, 1.5);
        assert_eq!(back.location_y, 2.5);
        assert_eq!(back.time_send, 1559788026732);
        assert_eq!(back.content, r#"{"a":1}"#);
        let kept = from_json(
            r#"{"type":1,"timeSend":1614048376311}"#,
            MessageHead::default(),
        );
        assert_eq!(kept.time_send, 1614048376311);
    }

    #[test]
    fn a_non_json_body_is_a_text_message() {
        let m = from_json("hello", MessageHead::default());
        assert_eq!((m.r#type, m.content.as_str()), (1, "hello"));
    }
}

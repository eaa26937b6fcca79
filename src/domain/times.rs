//! The unit of `timeSend` (issue 15). Client generations disagree: the jQuery web client and
//! newchat send and read seconds (`toDateTime(timeSend)` multiplies by 1000), xiaoshifeifei,
//! qingzhou and seed 002's deployment milliseconds. Every message is stored as its sender sent
//! it (server-made ones in ms, as seed 002 shows); what a reader gets is converted here, in one
//! place, to the unit that reader reads: a live session's unit (learned from what its client
//! sends), or the deployment's `history_time_unit` for history.
//!
//! Units are told apart by magnitude: below 1e11 is seconds (until the year 5138), above is
//! milliseconds (after 1973). An encrypted body keeps its `timeSend` as sent: its key is derived
//! from `int(timeSend)` (clients.md section 4), so a converted value would not decrypt.

use std::borrow::Cow;

use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::config::HistoryTimeUnit;

/// The unit a reader reads `timeSend` in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    Seconds,
    Millis,
}

/// Values below this are seconds, above milliseconds.
const MILLIS_FROM: f64 = 1e11;

impl TimeUnit {
    /// The unit of a `timeSend` value, by magnitude (None for 0, negative or non-finite).
    pub fn of(v: f64) -> Option<TimeUnit> {
        if !v.is_finite() || v <= 0.0 {
            None
        } else if v < MILLIS_FROM {
            Some(TimeUnit::Seconds)
        } else {
            Some(TimeUnit::Millis)
        }
    }

    /// The unit of the `timeSend` a client put in a message body, when it put one.
    pub fn of_body(body: &Map<String, Value>) -> Option<TimeUnit> {
        match body.get("timeSend")? {
            Value::Number(n) => TimeUnit::of(n.as_f64()?),
            Value::String(s) => TimeUnit::of(s.trim().parse::<f64>().ok()?),
            _ => None,
        }
    }

    /// A `timeSend` value in this unit (integers: seconds as the jQuery client sends them).
    pub fn convert(self, n: &serde_json::Number) -> serde_json::Number {
        let Some(v) = n.as_f64() else {
            return n.clone();
        };
        match (TimeUnit::of(v), self) {
            (Some(TimeUnit::Millis), TimeUnit::Seconds) => {
                serde_json::Number::from((v / 1000.0).floor() as i64)
            }
            (Some(TimeUnit::Seconds), TimeUnit::Millis) => {
                serde_json::Number::from((v * 1000.0).round() as i64)
            }
            _ => n.clone(),
        }
    }
}

/// The unit history answers give, from the deployment's setting (None: as sent).
pub fn history_unit(setting: HistoryTimeUnit) -> Option<TimeUnit> {
    match setting {
        HistoryTimeUnit::Seconds => Some(TimeUnit::Seconds),
        HistoryTimeUnit::Ms => Some(TimeUnit::Millis),
        HistoryTimeUnit::AsSent => None,
    }
}

/// Whether a body JSON text is encrypted (a quick look first: most bodies never mention it).
pub fn body_encrypted(body: &str) -> bool {
    if !body.contains("\"isEncrypt\"") {
        return false;
    }
    matches!(serde_json::from_str::<Value>(body), Ok(Value::Object(m)) if encrypted(&m))
}

/// Converts a history row's own `timeSend` field (beside the body's) unless it is encrypted.
pub fn convert_row(row: &mut Map<String, Value>, unit: TimeUnit, encrypted: bool) {
    if encrypted {
        return;
    }
    if let Some(Value::Number(n)) = row.get("timeSend") {
        let converted = unit.convert(n);
        row.insert("timeSend".into(), Value::Number(converted));
    }
}

/// Whether a body is encrypted (`isEncrypt` 1 or true).
fn encrypted(body: &Map<String, Value>) -> bool {
    body.get("isEncrypt").is_some_and(encrypted_flag)
}

/// Whether an `isEncrypt` value says encrypted.
fn encrypted_flag(v: &Value) -> bool {
    match v {
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|v| v != 0.0),
        Value::String(s) => s == "1" || s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The number right after the first `"timeSend":` of a JSON text (a quick look that spares the
/// parse when nothing changes).
fn peek_time_send(body: &str) -> Option<f64> {
    let at = body.find("\"timeSend\"")? + "\"timeSend\"".len();
    let rest = body[at..].trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// A message body JSON for a reader of `unit`: the same text when its `timeSend` is already in
/// that unit (or absent, or the body encrypted), else the body with `timeSend` converted (key
/// order kept). Only the number is rewritten: the rest of the text stays as stored, as it does
/// for a body that needs no conversion (history pages convert every row, so nothing else is
/// parsed into a tree).
pub fn body_for(body: &str, unit: TimeUnit) -> Cow<'_, str> {
    match peek_time_send(body).and_then(TimeUnit::of) {
        Some(u) if u == unit => return Cow::Borrowed(body),
        None if !body.contains("\"timeSend\"") => return Cow::Borrowed(body),
        _ => {}
    }
    if let Ok(top) = serde_json::from_str::<TopLevel>(body) {
        return splice_time_send(body, &top, unit).map_or(Cow::Borrowed(body), Cow::Owned);
    }
    // Not an object, or a key given twice (the last one counts): the whole tree.
    let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(body) else {
        return Cow::Borrowed(body);
    };
    if !convert_in(&mut m, unit) {
        return Cow::Borrowed(body);
    }
    Cow::Owned(Value::Object(m).to_string())
}

/// The two top-level members of a body that decide its conversion, as written.
#[derive(serde::Deserialize)]
struct TopLevel<'a> {
    #[serde(rename = "timeSend", borrow, default)]
    time_send: Option<&'a RawValue>,
    #[serde(rename = "isEncrypt", borrow, default)]
    is_encrypt: Option<&'a RawValue>,
}

/// `body` with its top-level `timeSend` number in `unit`; None when nothing changes (no number,
/// already in the unit, or the body encrypted).
fn splice_time_send(body: &str, top: &TopLevel<'_>, unit: TimeUnit) -> Option<String> {
    if let Some(flag) = top.is_encrypt {
        let v: Value = serde_json::from_str(flag.get()).ok()?;
        if encrypted_flag(&v) {
            return None;
        }
    }
    let raw = top.time_send?.get();
    let n: serde_json::Number = serde_json::from_str(raw).ok()?;
    let converted = unit.convert(&n);
    if converted == n {
        return None;
    }
    // The raw value is a slice of `body`: its place in it.
    let start = (raw.as_ptr() as usize).checked_sub(body.as_ptr() as usize)?;
    let end = start + raw.len();
    if body.get(start..end) != Some(raw) {
        return None;
    }
    Some(format!("{}{converted}{}", &body[..start], &body[end..]))
}

/// Converts `timeSend` of a parsed body in place; false when nothing changed.
pub fn convert_in(body: &mut Map<String, Value>, unit: TimeUnit) -> bool {
    if encrypted(body) {
        return false;
    }
    let Some(Value::Number(n)) = body.get("timeSend") else {
        return false;
    };
    let converted = unit.convert(n);
    if converted == *n {
        return false;
    }
    body.insert("timeSend".into(), Value::Number(converted));
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magnitude() {
        assert_eq!(TimeUnit::of(1_796_460_973.0), Some(TimeUnit::Seconds));
        assert_eq!(TimeUnit::of(1_559_788_026.732), Some(TimeUnit::Seconds));
        assert_eq!(TimeUnit::of(1_796_460_972_606.0), Some(TimeUnit::Millis));
        assert_eq!(TimeUnit::of(0.0), None);
        assert_eq!(TimeUnit::of(-5.0), None);
    }

    #[test]
    fn bodies_convert_both_ways_and_keep_key_order() {
        let ms = r#"{"content":"alice 已加入群组","timeSend":1796460972606,"type":907}"#;
        assert_eq!(
            body_for(ms, TimeUnit::Seconds),
            r#"{"content":"alice 已加入群组","timeSend":1796460972,"type":907}"#
        );
        assert!(matches!(body_for(ms, TimeUnit::Millis), Cow::Borrowed(_)));
        let s = r#"{"timeSend":1796460973,"type":1}"#;
        assert_eq!(
            body_for(s, TimeUnit::Millis),
            r#"{"timeSend":1796460973000,"type":1}"#
        );
        assert!(matches!(body_for(s, TimeUnit::Seconds), Cow::Borrowed(_)));
        let frac = r#"{"timeSend":1559788026.732}"#;
        assert_eq!(
            body_for(frac, TimeUnit::Millis),
            r#"{"timeSend":1559788026732}"#
        );
    }

    #[test]
    fn encrypted_and_odd_bodies_stay_as_sent() {
        for body in [
            r#"{"timeSend":1796460972606,"isEncrypt":1}"#,
            r#"{"timeSend":1796460972606,"isEncrypt":true}"#,
            r#"{"type":1}"#,
            r#"{"timeSend":"1796460972606"}"#,
            "not json",
        ] {
            assert_eq!(body_for(body, TimeUnit::Seconds), body);
        }
    }

    #[test]
    fn only_the_top_level_number_is_rewritten() {
        // A nested object's timeSend first, spaces kept, a string holding the key.
        let body =
            r#"{"objectId": {"timeSend":5}, "content":"\"timeSend\":1", "timeSend" : 1796460973}"#;
        assert_eq!(
            body_for(body, TimeUnit::Millis),
            r#"{"objectId": {"timeSend":5}, "content":"\"timeSend\":1", "timeSend" : 1796460973000}"#
        );
        // "isEncrypt":"true" after the time keeps it; a key given twice takes the last.
        let enc = r#"{"timeSend":1796460973,"isEncrypt":"true"}"#;
        assert_eq!(body_for(enc, TimeUnit::Millis), enc);
        let twice = r#"{"timeSend":1,"timeSend":1796460973}"#;
        assert_eq!(
            body_for(twice, TimeUnit::Millis),
            r#"{"timeSend":1796460973000}"#
        );
    }

    /// Stored bodies are whatever clients sent: every prefix and every one-byte change of a
    /// few real shapes converts or stays, never panics.
    #[test]
    fn mangled_bodies_never_panic() {
        let bodies = [
            r#"{"content":"你好","timeSend":1796460973,"type":1,"isEncrypt":0}"#,
            r#"{"objectId":{"timeSend":5},"timeSend" : 1559788026.732}"#,
            r#"{"timeSend":1796460972606,"fromUserName":"\u4e2d\"x"}"#,
        ];
        for body in bodies {
            let bytes = body.as_bytes();
            for cut in 0..=bytes.len() {
                if let Ok(prefix) = std::str::from_utf8(&bytes[..cut]) {
                    for unit in [TimeUnit::Seconds, TimeUnit::Millis] {
                        let _ = body_for(prefix, unit);
                    }
                }
            }
            for i in 0..bytes.len() {
                for b in [b'"', b'{', b'}', b':', b',', b'\\', b'9', b' '] {
                    let mut m = bytes.to_vec();
                    m[i] = b;
                    if let Ok(text) = std::str::from_utf8(&m) {
                        let _ = body_for(text, TimeUnit::Millis);
                    }
                }
            }
        }
    }
}

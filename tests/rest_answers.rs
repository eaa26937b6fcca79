//! The answers of the REST hot paths (issue 20), compared byte for byte with recorded ones:
//! the data of `benches/rest.rs` made small, every benchmarked endpoint called as the web client
//! calls it. Values that differ per run (times, generated ids, tokens) are replaced by
//! placeholders first; everything else, key order and number formatting included, must match
//! `tests/answers/rest/<endpoint>.json`. `SHIKU_RECORD_ANSWERS=1` rewrites the recordings (only
//! when an answer is meant to change).

#[path = "common/child.rs"]
mod child;
mod common;
#[path = "common/rest_world.rs"]
mod rest_world;

use std::path::PathBuf;

use serde_json::Value;

use rest_world::{endpoints, prepare, Sizes};

/// Keys whose values differ per run.
const VOLATILE: &[&str] = &[
    "currentTime",
    "createTime",
    "modifyTime",
    "ts",
    "timeSend",
    "showLastLoginTime",
    "lastLoginTime",
    "loginTime",
    "_id",
    "id",
    "messageId",
    "access_token",
    "account",
    "time",
    "active",
    "encryAccount",
];

/// Placeholders for volatile values: `<key>` where a volatile key holds one, `<v>` where such a
/// value appears inside a string (the message JSON in `body`, say). Equal values under
/// different keys may or may not coincide from run to run, so values are not numbered.
struct Normalizer {
    values: Vec<String>,
}

impl Normalizer {
    fn collect(&mut self, key: Option<&str>, v: &Value) {
        match v {
            Value::Object(m) => m.iter().for_each(|(k, v)| self.collect(Some(k), v)),
            Value::Array(a) => a.iter().for_each(|v| self.collect(key, v)),
            Value::String(s) => {
                if let Ok(inner) = serde_json::from_str::<Value>(s) {
                    if inner.is_object() {
                        self.collect(None, &inner);
                    }
                }
                self.note(key, s.clone());
            }
            Value::Number(n) => self.note(key, n.to_string()),
            _ => {}
        }
    }

    fn note(&mut self, key: Option<&str>, text: String) {
        // Short values (0, 1, "") are not identities worth tracking.
        if key.is_some_and(|k| VOLATILE.contains(&k)) && text.len() >= 6 {
            self.values.push(text);
        }
    }

    fn apply(&mut self, key: Option<&str>, v: &mut Value) {
        let volatile = key.is_some_and(|k| VOLATILE.contains(&k));
        match v {
            Value::Object(m) => m.iter_mut().for_each(|(k, v)| self.apply(Some(k), v)),
            Value::Array(a) => a.iter_mut().for_each(|v| self.apply(key, v)),
            Value::String(s) if volatile && s.len() >= 6 => *s = format!("<{}>", key.unwrap()),
            Value::Number(n) if volatile && n.to_string().len() >= 6 => {
                *v = Value::String(format!("<{}>", key.unwrap()))
            }
            Value::String(s) => {
                for t in &self.values {
                    if s.contains(t.as_str()) {
                        *s = s.replace(t.as_str(), "<v>");
                    }
                }
            }
            _ => {}
        }
    }
}

/// The answer with volatile values replaced, pretty-printed in its own key order. The raw
/// answer must be exactly what re-serialising it gives, so nothing is lost by comparing the
/// parsed form.
fn normalized(raw: &str, tokens: &[(&str, &str)]) -> String {
    let mut v: Value = serde_json::from_str(raw).expect("a JSON answer");
    assert_eq!(
        serde_json::to_string(&v).unwrap(),
        raw,
        "the answer is not in canonical serde_json form"
    );
    let mut n = Normalizer {
        values: tokens.iter().map(|(_, t)| t.to_string()).collect(),
    };
    n.collect(None, &v);
    // Longest first, so a value never replaces part of a longer one.
    n.values.sort_by_key(|t| std::cmp::Reverse(t.len()));
    n.values.dedup();
    n.apply(None, &mut v);
    serde_json::to_string_pretty(&v).unwrap() + "\n"
}

fn recording(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/answers/rest")
        .join(format!("{name}.json"))
}

#[tokio::test]
async fn hot_endpoints_answer_as_recorded() {
    let app = common::spawn_with(|c| c.client.xmpp_domain = child::DOMAIN.into()).await;
    let base = app.base.trim_start_matches("http://").to_string();
    let sizes = Sizes {
        users: 8,
        friends: 4,
        members: 6,
        rooms: 3,
        chat_messages: 25,
        room_messages: 25,
        content_len: 128,
        parallel: 1,
    };
    let world = prepare(&app.client, &base, sizes).await.expect("prepared");
    let record = std::env::var("SHIKU_RECORD_ANSWERS").is_ok_and(|v| v == "1");
    let tokens: Vec<(&str, &str)> = world
        .users
        .iter()
        .map(|u| ("token", u.token.as_str()))
        .collect();
    let mut differ = Vec::new();
    for (name, path) in endpoints(&world) {
        let r = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .expect("answered");
        assert_eq!(r.status(), 200, "{name}");
        let raw = r.text().await.unwrap();
        let got = normalized(&raw, &tokens);
        let file = recording(name);
        if record {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &got).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (record with SHIKU_RECORD_ANSWERS=1)",
                file.display()
            )
        });
        if got != want {
            let got_file = file.with_extension("got.json");
            std::fs::write(&got_file, &got).unwrap();
            differ.push(format!("{name}: see {}", got_file.display()));
        }
    }
    assert!(differ.is_empty(), "answers changed:\n{}", differ.join("\n"));
}

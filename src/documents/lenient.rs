//! Lenient number readers for documents written by several Shiku generations.
//!
//! The same field is int32 in one database, int64 or double in another, and occasionally a
//! numeric string (fastjson round-trips); null reads as the type's zero.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use std::fmt;

struct Num;

/// What a lenient field held.
enum N {
    I(i64),
    F(f64),
    Null,
}

impl<'de> Visitor<'de> for Num {
    type Value = N;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, numeric string or null")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<N, E> {
        Ok(N::I(v as i64))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<N, E> {
        Ok(N::I(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<N, E> {
        Ok(N::I(v.min(i64::MAX as u64) as i64))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<N, E> {
        Ok(N::F(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<N, E> {
        let t = v.trim().trim_end_matches('天');
        if t.is_empty() {
            return Ok(N::Null);
        }
        if let Ok(i) = t.parse::<i64>() {
            return Ok(N::I(i));
        }
        t.parse::<f64>()
            .map(N::F)
            .map_err(|_| E::custom(format!("not a number: {v:?}")))
    }
    fn visit_none<E: de::Error>(self) -> Result<N, E> {
        Ok(N::Null)
    }
    fn visit_unit<E: de::Error>(self) -> Result<N, E> {
        Ok(N::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<N, D::Error> {
        d.deserialize_any(Num)
    }
}

/// Reads any number-like value as i32 (doubles are truncated, out of range saturates).
pub fn i32<'de, D: Deserializer<'de>>(d: D) -> Result<i32, D::Error> {
    Ok(match d.deserialize_any(Num)? {
        N::I(i) => i.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        N::F(f) => f as i32,
        N::Null => 0,
    })
}

/// Reads any number-like value as i64.
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match d.deserialize_any(Num)? {
        N::I(i) => i,
        N::F(f) => f as i64,
        N::Null => 0,
    })
}

/// Reads any number-like value as f64.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(match d.deserialize_any(Num)? {
        N::I(i) => i as f64,
        N::F(f) => f,
        N::Null => 0.0,
    })
}

/// Reads an optional number-like value as i32 (null stays None).
pub fn opt_i32<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    Ok(match d.deserialize_any(Num)? {
        N::I(i) => Some(i.clamp(i32::MIN as i64, i32::MAX as i64) as i32),
        N::F(f) => Some(f as i32),
        N::Null => None,
    })
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(deserialize_with = "super::i32")]
        a: i32,
        #[serde(deserialize_with = "super::f64")]
        b: f64,
        #[serde(deserialize_with = "super::i64")]
        c: i64,
    }

    #[test]
    fn reads_every_generation() {
        let t: T = serde_json::from_str(r#"{"a":3.0,"b":"-1.0","c":"1612772503"}"#).unwrap();
        assert_eq!((t.a, t.b, t.c), (3, -1.0, 1612772503));
        let t: T = serde_json::from_str(r#"{"a":null,"b":30,"c":1.5}"#).unwrap();
        assert_eq!((t.a, t.b, t.c), (0, 30.0, 1));
        assert!(serde_json::from_str::<T>(r#"{"a":"x","b":1,"c":1}"#).is_err());
    }
}

/// Reads a string field that may be stored as null (→ "") or as a number (→ its text).
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct S;
    impl<'de> Visitor<'de> for S {
        type Value = String;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a string or null")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_none<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_unit<E: de::Error>(self) -> Result<String, E> {
            Ok(String::new())
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<String, D2::Error> {
            d.deserialize_any(S)
        }
    }
    d.deserialize_any(S)
}

#[cfg(test)]
mod string_tests {
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct T {
        #[serde(default, deserialize_with = "super::string")]
        s: String,
    }

    #[test]
    fn null_and_numbers_read_as_text() {
        let t: T = serde_json::from_str(r#"{"s":null}"#).unwrap();
        assert_eq!(t.s, "");
        let t: T = serde_json::from_str(r#"{"s":18094152050}"#).unwrap();
        assert_eq!(t.s, "18094152050");
        let t: T = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(t.s, "");
    }
}

/// Reads a boolean stored as bool, 0/1 or "true"/"false" (repo ints vs seed booleans).
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    struct B;
    impl<'de> Visitor<'de> for B {
        type Value = bool;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a boolean, 0/1 or null")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
            Ok(v != 0)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
            Ok(v != 0)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<bool, E> {
            Ok(v != 0.0)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
            Ok(matches!(v, "true" | "1"))
        }
        fn visit_none<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
            Ok(false)
        }
        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<bool, D2::Error> {
            d.deserialize_any(B)
        }
    }
    d.deserialize_any(B)
}

/// Reads a document id: a string, an ObjectId (`{"$oid": ".."}` or the BSON type) or a number.
pub fn opt_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Null => None,
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Object(m) => m.get("$oid").and_then(|o| o.as_str()).map(str::to_string),
        other => Some(other.to_string()),
    })
}

/// Serde default of fields the reference initialises to -1.
pub fn minus_one() -> f64 {
    -1.0
}

/// Serde default of a number kept exactly as stored (`timeSend`).
pub fn zero_number() -> serde_json::Number {
    serde_json::Number::from(0)
}

/// Serde default of the many fields the reference initialises to 1.
pub fn one() -> i32 {
    1
}

/// Reads a list of ids (strings or `{"$oid"}`), null or missing as empty.
pub fn id_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let one = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Object(m) => m.get("$oid").and_then(|o| o.as_str()).map(str::to_string),
        _ => None,
    };
    Ok(match &v {
        serde_json::Value::Array(items) => items.iter().filter_map(one).collect(),
        serde_json::Value::Null => Vec::new(),
        other => one(other).into_iter().collect(),
    })
}

//! Building client views: JSON objects with fastjson's alphabetical key order.

use serde_json::{Map, Value};

/// Returns the object with its keys sorted (fastjson's `SortField` order for beans).
pub fn sorted(map: Map<String, Value>) -> Value {
    let mut entries: Vec<(String, Value)> = map.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    Value::Object(entries.into_iter().collect())
}

/// Serialises a document into a JSON object map.
pub fn to_map<T: serde::Serialize>(doc: &T) -> Map<String, Value> {
    match serde_json::to_value(doc) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// Java's `Double.toString` for the values Shiku stores (-1.0, 30.0, 0.5).
pub fn java_double(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e7 {
        format!("{v:.1}")
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn java_doubles() {
        assert_eq!(super::java_double(-1.0), "-1.0");
        assert_eq!(super::java_double(30.0), "30.0");
        assert_eq!(super::java_double(0.04), "0.04");
    }
}

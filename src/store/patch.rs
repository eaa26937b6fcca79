//! A partial update that both adapters apply natively (`$set`/`$inc`/`$unset` in MongoDB,
//! `json_set`/`json_remove` in SQLite), so no adapter ever rewrites fields it does not know.

/// A typed value: the Java entity's type decides int32 vs int64 vs double in MongoDB.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    I32(i32),
    I64(i64),
    F64(f64),
    Str(String),
    Bool(bool),
    /// A nested value (sub-document or array) in JSON form.
    Json(serde_json::Value),
    Null,
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v)
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Str(v.to_string())
    }
}
impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Str(v)
    }
}
impl From<bool> for Val {
    fn from(v: bool) -> Val {
        Val::Bool(v)
    }
}

impl Val {
    /// The JSON form (used by the SQLite adapter).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Val::I32(v) => Value::from(*v),
            Val::I64(v) => Value::from(*v),
            Val::F64(v) => serde_json::Number::from_f64(*v)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Val::Str(s) => Value::String(s.clone()),
            Val::Bool(b) => Value::Bool(*b),
            Val::Json(v) => v.clone(),
            Val::Null => Value::Null,
        }
    }
}

/// One operation of a patch. Paths are dotted (`settings.allowAtt`).
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Set(String, Val),
    Inc(String, Val),
    Unset(String),
}

/// An ordered list of field operations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Patch {
    pub ops: Vec<Op>,
}

impl Patch {
    /// An empty patch.
    pub fn new() -> Patch {
        Patch::default()
    }
    /// Sets `path` to `v`.
    pub fn set(mut self, path: &str, v: impl Into<Val>) -> Patch {
        self.ops.push(Op::Set(path.to_string(), v.into()));
        self
    }
    /// Adds `v` (an I32/I64/F64) to the number at `path`.
    pub fn inc(mut self, path: &str, v: impl Into<Val>) -> Patch {
        self.ops.push(Op::Inc(path.to_string(), v.into()));
        self
    }
    /// Removes `path`.
    pub fn unset(mut self, path: &str) -> Patch {
        self.ops.push(Op::Unset(path.to_string()));
        self
    }
    /// In-place form of [`Patch::set`].
    pub fn push_set(&mut self, path: &str, v: impl Into<Val>) {
        self.ops.push(Op::Set(path.to_string(), v.into()));
    }
    /// Adds every operation of `other`, after this patch's own.
    pub fn append(&mut self, other: Patch) {
        self.ops.extend(other.ops);
    }
    /// True when there is nothing to apply.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

impl Patch {
    /// Applies the patch to a JSON document, creating intermediate objects as MongoDB does.
    pub fn apply_to_json(&self, doc: &mut serde_json::Value) {
        for op in &self.ops {
            match op {
                Op::Set(path, v) => *slot(doc, path) = v.to_json(),
                Op::Inc(path, v) => {
                    let s = slot(doc, path);
                    *s = add(s, &v.to_json());
                }
                Op::Unset(path) => unset(doc, path),
            }
        }
    }
}

fn unset(doc: &mut serde_json::Value, path: &str) {
    match path.split_once('.') {
        None => {
            if let Some(o) = doc.as_object_mut() {
                o.remove(path);
            }
        }
        Some((head, rest)) => {
            if let Some(next) = doc.get_mut(head) {
                unset(next, rest);
            }
        }
    }
}

/// The value at a dotted path, created (as an object chain) when missing.
fn slot<'a>(doc: &'a mut serde_json::Value, path: &str) -> &'a mut serde_json::Value {
    let mut cur = doc;
    for part in path.split('.') {
        if !cur.is_object() {
            *cur = serde_json::Value::Object(Default::default());
        }
        cur = cur
            .as_object_mut()
            .expect("just made an object")
            .entry(part.to_string())
            .or_insert(serde_json::Value::Null);
    }
    cur
}

fn add(a: &serde_json::Value, b: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match (a.as_i64(), b.as_i64()) {
        (Some(x), Some(y)) => Value::from(x.saturating_add(y)),
        (None, Some(y)) if a.is_null() => Value::from(y),
        _ => {
            let x = a.as_f64().unwrap_or(0.0);
            let y = b.as_f64().unwrap_or(0.0);
            serde_json::Number::from_f64(x + y)
                .map(Value::Number)
                .unwrap_or(Value::Null)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applies_like_mongo() {
        let mut d = json!({"a": 1, "s": {"x": 1}});
        Patch::new()
            .set("s.y", 2)
            .set("n.m.k", "v")
            .inc("a", 2)
            .inc("c", 1.5)
            .unset("s.x")
            .unset("missing.path")
            .apply_to_json(&mut d);
        assert_eq!(
            d,
            json!({"a": 3, "s": {"y": 2}, "n": {"m": {"k": "v"}}, "c": 1.5})
        );
    }
}

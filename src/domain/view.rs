//! Building client views: JSON objects with fastjson's alphabetical key order.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, Weak};

use serde::ser::SerializeMap;
use serde::Serialize;
use serde_json::{json, Map, Value};

/// Returns the object with its keys sorted (fastjson's `SortField` order for beans).
pub fn sorted(mut map: Map<String, Value>) -> Value {
    // In place: the entries keep their hashes, nothing is re-inserted.
    map.sort_keys();
    Value::Object(map)
}

/// One member of a [`SortedFields`] object, borrowed from the document it shows.
#[derive(Debug, Clone)]
pub enum Field<'a> {
    Int(i64),
    /// Written as `Value` writes a double (NaN and infinities as null).
    Float(f64),
    Str(&'a str),
    Ints(&'a [i32]),
    Json(&'a Value),
}

impl Serialize for Field<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Int(v) => s.serialize_i64(*v),
            Field::Float(v) => s.serialize_f64(*v),
            Field::Str(v) => s.serialize_str(v),
            Field::Ints(v) => v.serialize(s),
            Field::Json(v) => v.serialize(s),
        }
    }
}

/// An object in fastjson's alphabetical key order, written straight from borrowed fields: the
/// same text as [`sorted`] of the same members, without building a `Value` tree first (the
/// hot lists show hundreds of them).
#[derive(Debug, Clone, Default)]
pub struct SortedFields<'a>(Vec<(&'a str, Field<'a>)>);

impl<'a> SortedFields<'a> {
    /// An empty object with room for `n` members.
    pub fn with_capacity(n: usize) -> Self {
        SortedFields(Vec::with_capacity(n))
    }
    /// Adds a member (the caller gives each key once).
    pub fn put(&mut self, key: &'a str, v: Field<'a>) {
        self.0.push((key, v));
    }
    /// Adds a member unless the key is there already.
    pub fn or_put(&mut self, key: &'a str, v: Field<'a>) {
        if !self.0.iter().any(|(k, _)| *k == key) {
            self.0.push((key, v));
        }
    }
    /// The object, keys in order.
    pub fn sorted(mut self) -> Self {
        self.0.sort_unstable_by(|a, b| a.0.cmp(b.0));
        self
    }
}

impl Serialize for SortedFields<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// JSON text the server wrote itself (a hot list's `data`): the envelope copies it into the
/// answer as it is, never parsing or re-serialising it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsonText(String);

impl JsonText {
    /// `v` written to JSON in a buffer of `capacity` bytes to start with (a 150 KB member list
    /// grown from serde_json's 128 bytes was copied a dozen times).
    pub fn of<T: Serialize + ?Sized>(v: &T, capacity: usize) -> serde_json::Result<JsonText> {
        let mut buf = Vec::with_capacity(capacity);
        serde_json::to_writer(&mut buf, v)?;
        JsonText::from_utf8(buf)
    }
    /// Text this server wrote as JSON itself (from parts serde_json wrote).
    pub fn written(text: String) -> JsonText {
        JsonText(text)
    }
    fn from_utf8(buf: Vec<u8>) -> serde_json::Result<JsonText> {
        // serde_json writes UTF-8 only; checked anyway rather than assumed.
        String::from_utf8(buf)
            .map(JsonText)
            .map_err(serde::ser::Error::custom)
    }
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A JSON array written one element at a time into one buffer (a history page's rows).
#[derive(Debug)]
pub struct JsonArray {
    buf: Vec<u8>,
    len: usize,
}

impl JsonArray {
    /// An empty array with room for `capacity` bytes.
    pub fn with_capacity(capacity: usize) -> JsonArray {
        let mut buf = Vec::with_capacity(capacity.max(2));
        buf.push(b'[');
        JsonArray { buf, len: 0 }
    }
    /// Appends `v`, with room reserved for `size` bytes of it (after an error the array is
    /// spoiled: drop it).
    pub fn push<T: Serialize + ?Sized>(&mut self, v: &T, size: usize) -> serde_json::Result<()> {
        self.buf.reserve(size + 1);
        if self.len > 0 {
            self.buf.push(b',');
        }
        serde_json::to_writer(&mut self.buf, v)?;
        self.len += 1;
        Ok(())
    }
    /// Appends an element already written as JSON (a part of a [`ListText`]).
    pub fn push_raw(&mut self, json: &str) {
        if self.len > 0 {
            self.buf.push(b',');
        }
        self.buf.extend_from_slice(json.as_bytes());
        self.len += 1;
    }
    /// Elements so far.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True before the first element.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The array's text.
    pub fn finish(mut self) -> serde_json::Result<JsonText> {
        self.buf.push(b']');
        JsonText::from_utf8(self.buf)
    }
}

/// A list written to JSON once for many readers: each element's text in the order shown, with
/// its index in the list it was made of.
#[derive(Debug, Default)]
pub struct ListText {
    text: String,
    parts: Vec<(usize, Range<usize>)>,
}

impl ListText {
    /// The elements of `list` at the indexes of `order`, each as `write` writes it.
    pub fn of<T>(
        list: &[T],
        order: impl IntoIterator<Item = usize>,
        write: impl Fn(&mut Vec<u8>, &T) -> serde_json::Result<()>,
    ) -> serde_json::Result<ListText> {
        let mut buf = Vec::with_capacity(list.len() * 384);
        let mut parts = Vec::with_capacity(list.len());
        for i in order {
            let start = buf.len();
            write(&mut buf, &list[i])?;
            parts.push((i, start..buf.len()));
        }
        let text = String::from_utf8(buf).map_err(serde::ser::Error::custom)?;
        Ok(ListText { text, parts })
    }

    /// The elements in order: their index in the list and their JSON text.
    pub fn parts(&self) -> impl Iterator<Item = (usize, &str)> {
        self.parts.iter().map(|(i, r)| (*i, &self.text[r.clone()]))
    }

    /// The bytes of all elements' text.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }
}

/// Lists written to JSON ([`ListText`]) by key, each kept while the store keeps the list it was
/// made of: a store that keeps a list hands out the same `Arc` while it is unchanged
/// (`RoomStore::all_members`), so a 500-member room is written once for all who open it, not
/// once per reader. Bounded by what the store keeps: writings of lists it let go are dropped.
pub struct Renderings<S> {
    entries: Mutex<HashMap<String, Rendering<S>>>,
}

/// A writing and the list it was made of (a live `Weak` keeps its address from being reused).
type Rendering<S> = (Weak<S>, Arc<ListText>);

impl<S> Default for Renderings<S> {
    fn default() -> Self {
        Renderings {
            entries: Mutex::default(),
        }
    }
}

impl<S> Renderings<S> {
    /// The writing of `list` kept under `key`, or `render`'s, kept while the store keeps `list`.
    pub fn get_or_render(
        &self,
        key: &str,
        list: &Arc<S>,
        render: impl FnOnce(&S) -> serde_json::Result<ListText>,
    ) -> serde_json::Result<Arc<ListText>> {
        // Only the caller holds it: the store keeps no lists, nothing will ask for this one.
        if Arc::strong_count(list) == 1 {
            return render(list).map(Arc::new);
        }
        {
            let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            // The same allocation: a live `Weak` keeps its address from being reused.
            if let Some((source, text)) = entries.get(key) {
                if Weak::as_ptr(source) == Arc::as_ptr(list) {
                    return Ok(text.clone());
                }
            }
        }
        let text = Arc::new(render(list)?);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (source, _)| source.strong_count() > 0);
        entries.insert(key.to_string(), (Arc::downgrade(list), text.clone()));
        Ok(text)
    }
}

/// A 0-based page (`pageIndex`, `pageSize`) as the client API counts them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub index: u32,
    pub size: u32,
}

impl Page {
    /// Rows before this page.
    pub fn skip(&self) -> u64 {
        u64::from(self.index) * u64::from(self.size)
    }
}

/// [`page_vo`] written straight to JSON around rows written already.
pub fn page_text(rows: JsonText, total: u64, page: Page) -> JsonText {
    let size = u64::from(page.size.max(1));
    let rows = rows.as_str();
    let mut text = String::with_capacity(rows.len() + 128);
    text.push_str("{\"pageCount\":");
    text.push_str(&total.div_ceil(size).to_string());
    text.push_str(",\"pageData\":");
    text.push_str(rows);
    text.push_str(&format!(
        ",\"pageIndex\":{},\"pageSize\":{},\"start\":{},\"total\":{total}}}",
        page.index,
        page.size,
        page.skip()
    ));
    JsonText::written(text)
}

/// The reference's console `PageResult`: one page of rows and the count of all matching rows.
/// The HTTP envelope lifts both into the answer (`{count, data:[..], total, ..}`).
#[derive(Debug, Clone, PartialEq)]
pub struct PageResult {
    pub data: Vec<Value>,
    pub count: u64,
}

/// The reference's `PageVO`: `{pageCount, pageData, pageIndex, pageSize, start, total}`.
pub fn page_vo(data: Vec<Value>, total: u64, page: Page) -> Value {
    let size = u64::from(page.size.max(1));
    let mut m = Map::new();
    m.insert("pageCount".into(), json!(total.div_ceil(size)));
    m.insert("pageData".into(), Value::Array(data));
    m.insert("pageIndex".into(), json!(page.index));
    m.insert("pageSize".into(), json!(page.size));
    m.insert("start".into(), json!(page.skip()));
    m.insert("total".into(), json!(total));
    Value::Object(m)
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
    use std::cell::Cell;
    use std::sync::Arc;

    use super::{JsonArray, ListText, Renderings};

    #[test]
    fn a_list_is_written_once_while_the_store_keeps_it() {
        let renderings = Renderings::default();
        let written = Cell::new(0);
        let write = |l: &Vec<i32>| {
            written.set(written.get() + 1);
            ListText::of(l, (0..l.len()).rev(), |buf, n| {
                serde_json::to_writer(buf, n)
            })
        };
        let kept = Arc::new(vec![1, 2, 3]);
        let mine = kept.clone(); // the store's copy and the reader's
        let a = renderings.get_or_render("r", &mine, write).unwrap();
        let b = renderings.get_or_render("r", &kept.clone(), write).unwrap();
        assert_eq!(written.get(), 1, "the same list: written once");
        assert!(Arc::ptr_eq(&a, &b));
        let parts: Vec<(usize, &str)> = a.parts().collect();
        assert_eq!(parts, vec![(2, "3"), (1, "2"), (0, "1")]);
        let mut out = JsonArray::with_capacity(a.text_len());
        a.parts().for_each(|(_, t)| out.push_raw(t));
        assert_eq!(out.finish().unwrap().as_str(), "[3,2,1]");

        let changed = Arc::new(vec![4]);
        let _store = changed.clone();
        renderings.get_or_render("r", &changed, write).unwrap();
        assert_eq!(
            written.get(),
            2,
            "another list under the key: written again"
        );
        drop((kept, mine));
        renderings
            .get_or_render("s", &Arc::new(vec![5]), write)
            .unwrap();
        renderings
            .get_or_render("s", &Arc::new(vec![5]), write)
            .unwrap();
        assert_eq!(written.get(), 4, "a list only the reader holds is not kept");
    }

    #[test]
    fn java_doubles() {
        assert_eq!(super::java_double(-1.0), "-1.0");
        assert_eq!(super::java_double(30.0), "30.0");
        assert_eq!(super::java_double(0.04), "0.04");
    }
}

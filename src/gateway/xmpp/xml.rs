//! XML for XMPP: a small element tree, a writer, and the parsers the transports use — an
//! incremental stream parser for TCP ([`StreamParser`]) and a one-shot fragment parser for
//! WebSocket frames and BOSH bodies ([`parse_fragment`]). Limits are enforced while parsing:
//! no DTDs, no entities beyond the five predefined ones, bounded size, depth, tag length and
//! attributes per element.

/// One node of an element's content.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Element(Element),
    Text(String),
}

/// An XML element. Attribute names keep their prefix (`xmlns`, `xmlns:stream`, `xml:lang`);
/// `name` keeps its prefix too (`stream:features`). Namespaces are not resolved: XMPP stanzas
/// carry them as `xmlns` attributes, which is what [`Element::ns`] reads.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Element {
    pub name: String,
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Node>,
}

impl Element {
    /// An empty element.
    pub fn new(name: impl Into<String>) -> Element {
        Element {
            name: name.into(),
            attrs: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Builder: sets an attribute (replacing one of the same name).
    pub fn attr(mut self, name: impl Into<String>, value: impl Into<String>) -> Element {
        self.set_attr(name, value);
        self
    }

    /// Builder: appends a child element.
    pub fn child(mut self, child: Element) -> Element {
        self.children.push(Node::Element(child));
        self
    }

    /// Builder: appends text.
    pub fn text(mut self, text: impl Into<String>) -> Element {
        self.children.push(Node::Text(text.into()));
        self
    }

    /// Appends a child element.
    pub fn push(&mut self, child: Element) {
        self.children.push(Node::Element(child));
    }

    /// Sets an attribute (replacing one of the same name).
    pub fn set_attr(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let name = name.into();
        let value = value.into();
        match self.attrs.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.attrs.push((name, value)),
        }
    }

    /// Removes an attribute.
    pub fn remove_attr(&mut self, name: &str) {
        self.attrs.retain(|(n, _)| n != name);
    }

    /// An attribute's value.
    pub fn get_attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The `xmlns` attribute.
    pub fn ns(&self) -> Option<&str> {
        self.get_attr("xmlns")
    }

    /// The local name (after any prefix).
    pub fn local_name(&self) -> &str {
        self.name.rsplit(':').next().unwrap_or(&self.name)
    }

    /// Whether this element is `name` (local name) in namespace `ns`.
    pub fn is(&self, name: &str, ns: &str) -> bool {
        self.local_name() == name && self.ns() == Some(ns)
    }

    /// Child elements.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// The first child element with this local name (any namespace).
    pub fn find(&self, name: &str) -> Option<&Element> {
        self.elements().find(|e| e.local_name() == name)
    }

    /// The first child element with this local name and namespace.
    pub fn find_ns(&self, name: &str, ns: &str) -> Option<&Element> {
        self.elements().find(|e| e.is(name, ns))
    }

    /// All text directly inside this element, concatenated.
    pub fn text_content(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// Serialises the element (attribute values and text escaped).
    pub fn to_xml(&self) -> String {
        let mut out = String::with_capacity(128);
        write_element(self, &mut out);
        out
    }
}

/// Writes `e` to `out` (see [`Element::to_xml`]).
pub fn write_element(e: &Element, out: &mut String) {
    out.push('<');
    out.push_str(&e.name);
    for (n, v) in &e.attrs {
        out.push(' ');
        out.push_str(n);
        out.push_str("=\"");
        escape_into(v, out, true);
        out.push('"');
    }
    if e.children.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for c in &e.children {
        match c {
            Node::Element(ce) => write_element(ce, out),
            Node::Text(t) => escape_into(t, out, false),
        }
    }
    out.push_str("</");
    out.push_str(&e.name);
    out.push('>');
}

/// Escapes XML text (`attr`: also quotes).
pub fn escape_into(s: &str, out: &mut String, attr: bool) {
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\'' if attr => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing (quick-xml does the tokenizing; this part builds elements and enforces the limits).
// ---------------------------------------------------------------------------------------------

use quick_xml::errors::{Error as QxError, IllFormedError, SyntaxError};
use quick_xml::escape::{resolve_predefined_entity, unescape_with, EscapeError};
use quick_xml::events::{BytesDecl, BytesRef, BytesStart, Event};
use quick_xml::parser::{ElementParser, Parser as _};
use quick_xml::Reader;

use super::ns;

/// Deepest element nesting accepted inside a stanza (the stanza itself is depth 1).
pub const MAX_DEPTH: usize = 32;

/// Longest single start tag (name and attributes) any parser accepts.
pub const MAX_TAG_BYTES: usize = 16 * 1024;

/// Longest reference (`&` and name, before `;`) waited for; none that is allowed comes close.
const MAX_REF_BYTES: usize = 32;

pub use crate::config::DEFAULT_MAX_ATTRIBUTES;

/// A parse failure, with the RFC 6120 stream-error condition it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    /// `not-well-formed`, `restricted-xml`, `policy-violation`, `invalid-namespace`,
    /// `bad-format` or `unsupported-encoding`.
    pub condition: &'static str,
    /// What was wrong, for the `<text/>` of the stream error and the logs.
    pub text: String,
}

impl XmlError {
    fn new(condition: &'static str, text: impl Into<String>) -> XmlError {
        XmlError {
            condition,
            text: text.into(),
        }
    }

    fn not_well_formed(text: impl Into<String>) -> XmlError {
        XmlError::new("not-well-formed", text)
    }

    fn restricted(text: impl Into<String>) -> XmlError {
        XmlError::new("restricted-xml", text)
    }

    fn too_big(max: usize) -> XmlError {
        XmlError::new(
            "policy-violation",
            format!("stanza larger than {max} bytes"),
        )
    }
}

impl std::fmt::Display for XmlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.condition, self.text)
    }
}

impl std::error::Error for XmlError {}

impl From<XmlError> for StreamError {
    fn from(e: XmlError) -> StreamError {
        StreamError::new(e.condition, e.text)
    }
}

/// Maps a quick-xml error that is not "input ended too early" to its stream-error condition.
fn map_qx_error(e: QxError) -> XmlError {
    match e {
        QxError::Escape(EscapeError::UnrecognizedEntity(_, name)) => {
            XmlError::restricted(format!("entity reference &{name}; is not allowed"))
        }
        QxError::Syntax(SyntaxError::UnclosedComment | SyntaxError::UnclosedDoctype) => {
            XmlError::restricted("comments and DTDs are not allowed")
        }
        other => XmlError::not_well_formed(other.to_string()),
    }
}

/// XML 1.0 `Char`: no C0 controls but tab, newline and carriage return; no U+FFFE/U+FFFF.
fn check_chars(s: &str) -> Result<(), XmlError> {
    match s.chars().find(|&c| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    }) {
        Some(c) => Err(XmlError::not_well_formed(format!(
            "character U+{:04X} is not allowed in XML",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// A plausible XML `Name` (quick-xml does not validate names).
fn check_name(name: &str) -> Result<(), XmlError> {
    let mut chars = name.chars();
    let ok = match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' || c == ':' || !c.is_ascii() => chars
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '.' | '_' | ':') || !c.is_ascii()),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(XmlError::not_well_formed(format!("invalid name {name:?}")))
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, XmlError> {
    std::str::from_utf8(bytes).map_err(|_| XmlError::not_well_formed("invalid UTF-8"))
}

/// An element with its attributes (no children) from a start tag. The tag's length and its
/// attribute count are capped first: quick-xml's duplicate check is quadratic in the count.
fn element_from_start(e: &BytesStart<'_>, max_attributes: usize) -> Result<Element, XmlError> {
    if e.len() > MAX_TAG_BYTES {
        return Err(XmlError::new(
            "policy-violation",
            format!("tag longer than {MAX_TAG_BYTES} bytes"),
        ));
    }
    let qname = e.name();
    let name = utf8(qname.as_ref())?;
    check_name(name)?;
    let mut el = Element::new(name);
    for (i, attr) in e.attributes().with_checks(true).enumerate() {
        if i >= max_attributes {
            return Err(XmlError::new(
                "policy-violation",
                format!("more than {max_attributes} attributes on <{name}>"),
            ));
        }
        let attr = attr.map_err(|e| XmlError::not_well_formed(e.to_string()))?;
        let key = utf8(attr.key.as_ref())?;
        check_name(key)?;
        let raw = utf8(&attr.value)?;
        if raw.contains('<') {
            return Err(XmlError::not_well_formed("'<' in an attribute value"));
        }
        // Attribute-value normalisation: literal whitespace becomes a space (refs are kept).
        let normalised;
        let raw = if raw.contains(['\r', '\n', '\t']) {
            normalised = raw.replace("\r\n", " ").replace(['\r', '\n', '\t'], " ");
            normalised.as_str()
        } else {
            raw
        };
        let value = unescape_with(raw, resolve_predefined_entity).map_err(|e| match e {
            EscapeError::UnrecognizedEntity(_, name) => {
                XmlError::restricted(format!("entity reference &{name}; is not allowed"))
            }
            other => XmlError::not_well_formed(other.to_string()),
        })?;
        check_chars(&value)?;
        el.attrs.push((key.to_string(), value.into_owned()));
    }
    Ok(el)
}

/// The text a general reference stands for: one of the five predefined entities or a
/// character reference.
fn resolve_ref(r: &BytesRef<'_>) -> Result<String, XmlError> {
    // The stream parser refuses a longer one before its ';' arrives: the same everywhere.
    if r.len() >= MAX_REF_BYTES {
        return Err(XmlError::not_well_formed("unterminated reference"));
    }
    match r.resolve_char_ref() {
        Ok(Some(c)) => {
            let mut s = String::new();
            s.push(c);
            check_chars(&s)?;
            Ok(s)
        }
        Ok(None) => {
            let name = utf8(r)?;
            check_name(name)?;
            match resolve_predefined_entity(name) {
                Some(v) => Ok(v.to_string()),
                None => Err(XmlError::restricted(format!(
                    "entity reference &{name}; is not allowed"
                ))),
            }
        }
        Err(e) => Err(XmlError::not_well_formed(e.to_string())),
    }
}

/// Checks an XML declaration: a version, and UTF-8 if an encoding is named.
fn check_decl(d: &BytesDecl<'_>) -> Result<(), XmlError> {
    d.version().map_err(map_qx_error)?;
    if let Some(enc) = d.encoding() {
        let enc = enc.map_err(|e| XmlError::not_well_formed(e.to_string()))?;
        if !enc.eq_ignore_ascii_case(b"utf-8") {
            return Err(XmlError::new(
                "unsupported-encoding",
                "only UTF-8 is supported",
            ));
        }
    }
    Ok(())
}

/// Builds one element tree from start/end/text events.
#[derive(Default)]
struct Builder {
    /// Open elements, outermost first.
    stack: Vec<Element>,
    /// Raw character data not yet attached (it may end mid UTF-8 sequence or mid `\r\n`).
    text: Vec<u8>,
}

impl Builder {
    fn is_empty(&self) -> bool {
        self.stack.is_empty()
    }

    /// Attaches pending character data to the innermost open element.
    fn flush_text(&mut self) -> Result<(), XmlError> {
        if self.text.is_empty() {
            return Ok(());
        }
        let raw = std::mem::take(&mut self.text);
        let s = String::from_utf8(raw).map_err(|_| XmlError::not_well_formed("invalid UTF-8"))?;
        check_chars(&s)?;
        // End-of-line normalisation (XML 1.0 2.11); `&#13;` is appended after this step.
        let s = if s.contains('\r') {
            s.replace("\r\n", "\n").replace('\r', "\n")
        } else {
            s
        };
        self.append_text(&s);
        Ok(())
    }

    fn append_text(&mut self, s: &str) {
        if let Some(top) = self.stack.last_mut() {
            if let Some(Node::Text(t)) = top.children.last_mut() {
                t.push_str(s);
            } else {
                top.children.push(Node::Text(s.to_string()));
            }
        }
    }

    /// Raw character data (no references in it).
    fn raw_text(&mut self, bytes: &[u8]) {
        self.text.extend_from_slice(bytes);
    }

    fn reference(&mut self, r: &BytesRef<'_>) -> Result<(), XmlError> {
        let s = resolve_ref(r)?;
        if r.is_char_ref() {
            // A character reference escapes end-of-line normalisation.
            self.flush_text()?;
            self.append_text(&s);
        } else {
            self.text.extend_from_slice(s.as_bytes());
        }
        Ok(())
    }

    /// A start tag; returns the root when it was an empty root element.
    fn start(
        &mut self,
        el: Element,
        empty: bool,
        max_depth: usize,
    ) -> Result<Option<Element>, XmlError> {
        self.flush_text()?;
        if self.stack.len() >= max_depth {
            return Err(XmlError::new(
                "policy-violation",
                format!("elements nested deeper than {max_depth}"),
            ));
        }
        self.stack.push(el);
        if empty {
            return Ok(self.pop());
        }
        Ok(None)
    }

    /// An end tag; returns the root when it closed.
    fn end(&mut self, name: &[u8]) -> Result<Option<Element>, XmlError> {
        self.flush_text()?;
        match self.stack.last() {
            Some(top) if top.name.as_bytes() == name => Ok(self.pop()),
            Some(top) => Err(XmlError::not_well_formed(format!(
                "</{}> closes <{}>",
                String::from_utf8_lossy(name),
                top.name
            ))),
            None => Err(XmlError::not_well_formed("unexpected end tag")),
        }
    }

    fn pop(&mut self) -> Option<Element> {
        let el = self.stack.pop()?;
        match self.stack.last_mut() {
            Some(parent) => {
                parent.children.push(Node::Element(el));
                None
            }
            None => Some(el),
        }
    }
}

fn is_xml_space(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
}

/// A reader over a slice, configured for XMPP: end-tag matching is done by [`Builder`]
/// because a reader only ever sees part of a stream.
fn reader(bytes: &[u8]) -> Reader<&[u8]> {
    let mut r = Reader::from_reader(bytes);
    let c = r.config_mut();
    c.check_end_names = false;
    c.allow_unmatched_ends = true;
    c.expand_empty_elements = false;
    c.trim_text(false);
    c.allow_dangling_amp = false;
    r
}

/// What an incomplete token needs before parsing it again can succeed.
#[derive(Debug, Clone, Copy)]
enum Wait {
    /// Any of these bytes.
    AnyOf(&'static [u8]),
    /// A `>` outside quotes: the end of a start tag.
    TagEnd(ElementParser),
    /// `]]>`; how many `]` ended the input so far (0 to 2).
    CdataEnd(u8),
    /// The terminator arrived.
    Done,
}

impl Wait {
    /// Whether the terminator is in `bytes` (the input that follows what was seen so far).
    fn ends_in(&mut self, bytes: &[u8]) -> bool {
        *self = self.fed(bytes);
        matches!(self, Wait::Done)
    }

    /// The state after `bytes`.
    fn fed(self, bytes: &[u8]) -> Wait {
        match self {
            Wait::Done => Wait::Done,
            Wait::AnyOf(ends) if bytes.iter().any(|b| ends.contains(b)) => Wait::Done,
            Wait::AnyOf(_) => self,
            Wait::TagEnd(mut p) => match p.feed(bytes) {
                Some(_) => Wait::Done,
                None => Wait::TagEnd(p),
            },
            Wait::CdataEnd(mut brackets) => {
                for &b in bytes {
                    match b {
                        b']' => brackets = (brackets + 1).min(2),
                        b'>' if brackets == 2 => return Wait::Done,
                        _ => brackets = 0,
                    }
                }
                Wait::CdataEnd(brackets)
            }
        }
    }
}

/// One event of an XMPP stream.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The `<stream:stream>` header (attributes only).
    Open(Element),
    /// A complete top-level element, its namespace made explicit.
    Stanza(Element),
    /// `</stream:stream>`.
    Close,
}

/// Incremental parser of an RFC 6120 stream: feed bytes as they arrive, take events out.
pub struct StreamParser {
    max: usize,
    max_attributes: usize,
    /// Received bytes; `buf[..pos]` has been parsed.
    buf: Vec<u8>,
    pos: usize,
    /// Bytes dropped from the front of `buf` so far (absolute offsets).
    base: u64,
    /// Absolute offset where the stanza being parsed started.
    stanza_start: Option<u64>,
    builder: Builder,
    /// The stream header's name and namespace declarations, once seen.
    stream: Option<Element>,
    /// An XML declaration was seen (or is no longer allowed).
    prolog_done: bool,
    /// The last attempt stopped at an incomplete token that cannot end before this (saves
    /// re-scanning a long token on every small read).
    wait_for: Option<Wait>,
    /// What is awaited is the end of a start or end tag (bounded by [`MAX_TAG_BYTES`]).
    waiting_tag: bool,
    /// `<stream:stream/>`: the close is reported after the open.
    close_pending: bool,
    closed: bool,
    failed: Option<XmlError>,
}

impl StreamParser {
    /// A parser for a new stream; stanzas (and unparsed input) beyond `max_stanza_bytes` fail,
    /// and so do elements with more than [`DEFAULT_MAX_ATTRIBUTES`] attributes.
    pub fn new(max_stanza_bytes: usize) -> StreamParser {
        StreamParser::with_limits(max_stanza_bytes, DEFAULT_MAX_ATTRIBUTES)
    }

    /// [`Self::new`] with a cap on attributes per element.
    pub fn with_limits(max_stanza_bytes: usize, max_attributes: usize) -> StreamParser {
        StreamParser {
            max: max_stanza_bytes,
            max_attributes,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            stanza_start: None,
            builder: Builder::default(),
            stream: None,
            prolog_done: false,
            wait_for: None,
            waiting_tag: false,
            close_pending: false,
            closed: false,
            failed: None,
        }
    }

    /// Forgets everything for a stream restart (after STARTTLS or SASL success). Buffered input
    /// is discarded too: nothing sent in the clear after `<starttls/>` may be used (RFC 6120
    /// 5.4.3.3), and clients wait for `<success/>` before opening the new stream.
    pub fn reset(&mut self) {
        *self = StreamParser::with_limits(self.max, self.max_attributes);
    }

    /// Appends received bytes; call [`Self::next`] until it returns `None` before feeding more.
    /// Input past the limit is dropped and reported by [`Self::next`].
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.failed.is_some() || self.closed {
            return;
        }
        let held = match self.stanza_start {
            Some(s) => (self.base + self.buf.len() as u64 - s) as usize,
            None => self.buf.len() - self.pos,
        };
        if held > self.max {
            self.failed = Some(XmlError::too_big(self.max));
            self.buf = Vec::new();
            return;
        }
        if let Some(wait) = &mut self.wait_for {
            if wait.ends_in(bytes) {
                self.wait_for = None;
                self.waiting_tag = false;
            }
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete event, `None` when more input is needed. After an error the parser
    /// stays failed (the transport ends the stream).
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.close_pending {
            self.close_pending = false;
            self.closed = true;
            return Ok(Some(StreamEvent::Close));
        }
        if self.closed {
            return Ok(None);
        }
        if self.wait_for.is_some() {
            // Nothing can complete yet, but what arrived meanwhile counts against the limits.
            return self.check_limits().map(|_| None);
        }
        let result = self.parse();
        self.compact();
        match result {
            Err(e) => Err(self.fail(e)),
            // Incomplete: what is held so far must fit the limits.
            Ok(None) => self.check_limits().map(|_| None),
            ok => ok,
        }
    }

    /// Fails when the bytes held for the current stanza, or an unfinished tag, are too long.
    fn check_limits(&mut self) -> Result<(), XmlError> {
        let held = match self.stanza_start {
            Some(s) => (self.base + self.buf.len() as u64 - s) as usize,
            None => self.buf.len() - self.pos,
        };
        if held > self.max {
            return Err(self.fail(XmlError::too_big(self.max)));
        }
        if self.waiting_tag && self.buf.len() - self.pos > MAX_TAG_BYTES {
            let e = XmlError::new(
                "policy-violation",
                format!("tag longer than {MAX_TAG_BYTES} bytes"),
            );
            return Err(self.fail(e));
        }
        Ok(())
    }

    /// Enters the failed state (dropping what was buffered) and returns the error.
    fn fail(&mut self, e: XmlError) -> XmlError {
        self.failed = Some(e.clone());
        self.buf = Vec::new();
        self.builder = Builder::default();
        e
    }

    /// Drops parsed bytes from the buffer, releasing a large allocation once it is empty.
    fn compact(&mut self) {
        if self.pos == 0 {
            return;
        }
        if self.pos == self.buf.len() {
            // Nothing pending: release the buffer, an idle session keeps no allocation.
            self.base += self.pos as u64;
            self.pos = 0;
            self.buf = Vec::new();
        } else if self.pos >= self.buf.len() / 2 || self.pos > 4096 {
            self.base += self.pos as u64;
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
    }

    fn parse(&mut self) -> Result<Option<StreamEvent>, XmlError> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.parse_in(&buf);
        self.buf = buf;
        r
    }

    fn parse_in(&mut self, buf: &[u8]) -> Result<Option<StreamEvent>, XmlError> {
        // quick-xml drops a leading byte-order mark without counting it, which would shift
        // every offset: deal with U+FEFF at the start of a slice here.
        const BOM: &[u8] = b"\xEF\xBB\xBF";
        if buf.len() - self.pos < BOM.len() && BOM.starts_with(&buf[self.pos..]) {
            return Ok(None); // nothing, or possibly the start of a BOM: wait for more
        }
        if buf[self.pos..].starts_with(BOM) {
            if !self.builder.is_empty() {
                self.builder.raw_text(BOM);
            } else if self.stream.is_some() || self.prolog_done || self.base + self.pos as u64 > 0 {
                return Err(XmlError::new("bad-format", "text between stanzas"));
            }
            self.pos += BOM.len();
        }
        let start = self.pos;
        let slice = &buf[start..];
        let mut rd = reader(slice);
        loop {
            let event_start = self.base + (start as u64) + rd.buffer_position();
            let ev = match rd.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let at = rd.error_position() as usize;
                    return self.incomplete_or_error(e, &slice[at..]);
                }
            };
            let consumed_to = start + rd.buffer_position() as usize;
            if let Event::Eof = ev {
                self.pos = consumed_to;
                return Ok(None);
            }
            let out = self.event(ev, event_start)?;
            self.pos = consumed_to;
            if let Some(out) = out {
                if let StreamEvent::Stanza(_) = out {
                    let size = (self.base + consumed_to as u64)
                        .saturating_sub(self.stanza_start.take().unwrap_or(event_start));
                    if size as usize > self.max {
                        return Err(XmlError::too_big(self.max));
                    }
                }
                return Ok(Some(out));
            }
            if self.pos == buf.len() {
                return Ok(None);
            }
        }
    }

    /// An error at the end of the input may only mean the token is not complete yet.
    fn incomplete_or_error(
        &mut self,
        e: QxError,
        tail: &[u8],
    ) -> Result<Option<StreamEvent>, XmlError> {
        match &e {
            QxError::Syntax(_) => {
                if tail.starts_with(b"<!-") || tail.starts_with(b"<!D") || tail.starts_with(b"<!d")
                {
                    return Err(XmlError::restricted("comments and DTDs are not allowed"));
                }
                if tail.starts_with(b"<?") {
                    let decl_possible = self.stream.is_none() && !self.prolog_done;
                    let looks_decl = b"<?xml ".starts_with(&tail[..tail.len().min(6)])
                        || tail.starts_with(b"<?xml ")
                        || tail.starts_with(b"<?xml\t")
                        || tail.starts_with(b"<?xml\r")
                        || tail.starts_with(b"<?xml\n");
                    if !(decl_possible && looks_decl) {
                        return Err(XmlError::restricted(
                            "processing instructions are not allowed",
                        ));
                    }
                } else if tail.starts_with(b"<!")
                    && !b"<![CDATA[".starts_with(&tail[..tail.len().min(9)])
                    && !tail.starts_with(b"<![CDATA[")
                {
                    return Err(XmlError::not_well_formed("invalid markup after '<!'"));
                }
                // An unfinished tag's length is bounded (checked by `check_limits`).
                self.waiting_tag = !tail.starts_with(b"<!") && !tail.starts_with(b"<?");
                // The token is parsed again only once its end may have come: each wait tracks
                // the terminator across reads as quick-xml finds it, so that a long CDATA
                // section or tag full of '>' is not re-scanned on every read.
                let mut wait = if let Some(body) = tail.strip_prefix(b"<![CDATA[") {
                    Wait::CdataEnd(0).fed(body)
                } else if self.waiting_tag && tail.len() > 1 && !tail.starts_with(b"</") {
                    Wait::TagEnd(ElementParser::Outside).fed(&tail[1..])
                } else {
                    Wait::AnyOf(b">")
                };
                if wait.ends_in(&[]) {
                    wait = Wait::AnyOf(b">");
                }
                self.wait_for = Some(wait);
                Ok(None)
            }
            // Whatever it turns out to be, a reference between stanzas is refused.
            QxError::IllFormed(IllFormedError::UnclosedReference) if self.builder.is_empty() => {
                Err(XmlError::new(
                    "bad-format",
                    "character data between stanzas",
                ))
            }
            QxError::IllFormed(IllFormedError::UnclosedReference)
                if !tail[1..].iter().any(|b| matches!(b, b';' | b'&' | b'<')) =>
            {
                if tail.len() > MAX_REF_BYTES {
                    return Err(XmlError::not_well_formed("unterminated reference"));
                }
                self.wait_for = Some(Wait::AnyOf(b";&<"));
                Ok(None)
            }
            _ => Err(map_qx_error(e)),
        }
    }

    /// Handles one complete event.
    fn event(&mut self, ev: Event<'_>, at: u64) -> Result<Option<StreamEvent>, XmlError> {
        if !self.builder.is_empty() {
            return self.in_stanza(ev);
        }
        match ev {
            Event::Eof => Ok(None),
            Event::Text(t) => {
                if is_xml_space(&t) {
                    Ok(None)
                } else if self.stream.is_none() {
                    Err(XmlError::not_well_formed("text before the stream header"))
                } else {
                    Err(XmlError::new("bad-format", "text between stanzas"))
                }
            }
            Event::GeneralRef(_) | Event::CData(_) => Err(XmlError::new(
                "bad-format",
                "character data between stanzas",
            )),
            Event::Decl(d) => {
                if self.prolog_done || self.stream.is_some() {
                    return Err(XmlError::restricted(
                        "an XML declaration is only allowed at the start of the stream",
                    ));
                }
                check_decl(&d)?;
                self.prolog_done = true;
                Ok(None)
            }
            Event::PI(_) => Err(XmlError::restricted(
                "processing instructions are not allowed",
            )),
            Event::Comment(_) | Event::DocType(_) => {
                Err(XmlError::restricted("comments and DTDs are not allowed"))
            }
            Event::Start(s) if self.stream.is_none() => self.open_stream(&s),
            Event::Empty(s) if self.stream.is_none() => {
                let open = self.open_stream(&s)?;
                self.close_pending = true;
                Ok(open)
            }
            Event::Start(s) => {
                let el = self.stanza_element(&s)?;
                self.stanza_start = Some(at);
                self.builder.start(el, false, MAX_DEPTH)?;
                Ok(None)
            }
            Event::Empty(s) => {
                let el = self.stanza_element(&s)?;
                self.stanza_start = Some(at);
                Ok(self
                    .builder
                    .start(el, true, MAX_DEPTH)?
                    .map(StreamEvent::Stanza))
            }
            Event::End(e) => {
                let Some(stream) = self.stream.as_ref() else {
                    return Err(XmlError::not_well_formed(
                        "end tag before the stream header",
                    ));
                };
                if e.name().as_ref() == stream.name.as_bytes() {
                    self.closed = true;
                    Ok(Some(StreamEvent::Close))
                } else {
                    Err(XmlError::not_well_formed(format!(
                        "</{}> does not close the stream",
                        String::from_utf8_lossy(e.name().as_ref())
                    )))
                }
            }
        }
    }

    /// Inside a stanza: everything goes to the builder.
    fn in_stanza(&mut self, ev: Event<'_>) -> Result<Option<StreamEvent>, XmlError> {
        let done = match ev {
            Event::Text(t) => {
                self.builder.raw_text(&t);
                None
            }
            Event::CData(c) => {
                self.builder.raw_text(&c);
                None
            }
            Event::GeneralRef(r) => {
                self.builder.reference(&r)?;
                None
            }
            Event::Start(s) => {
                let el = element_from_start(&s, self.max_attributes)?;
                self.builder.start(el, false, MAX_DEPTH)?
            }
            Event::Empty(s) => {
                let el = element_from_start(&s, self.max_attributes)?;
                self.builder.start(el, true, MAX_DEPTH)?
            }
            Event::End(e) => self.builder.end(e.name().as_ref())?,
            Event::Decl(_) | Event::PI(_) => {
                return Err(XmlError::restricted(
                    "processing instructions are not allowed",
                ))
            }
            Event::Comment(_) | Event::DocType(_) => {
                return Err(XmlError::restricted("comments and DTDs are not allowed"))
            }
            Event::Eof => None,
        };
        Ok(done.map(StreamEvent::Stanza))
    }

    /// The stream header: it must be `stream` in the streams namespace.
    fn open_stream(&mut self, s: &BytesStart<'_>) -> Result<Option<StreamEvent>, XmlError> {
        let el = element_from_start(s, self.max_attributes)?;
        let (prefix, local) = split_name(&el.name);
        let ns_attr = match prefix {
            Some(p) => format!("xmlns:{p}"),
            None => "xmlns".to_string(),
        };
        if local != "stream" || el.get_attr(&ns_attr) != Some(ns::STREAM) {
            return Err(XmlError::new(
                "invalid-namespace",
                format!("expected <stream:stream xmlns:stream='{}'>", ns::STREAM),
            ));
        }
        self.prolog_done = true;
        // Only the name and namespace declarations are needed later (lean idle sessions).
        let mut kept = Element::new(el.name.clone());
        kept.attrs = el
            .attrs
            .iter()
            .filter(|(k, _)| k == "xmlns" || k.starts_with("xmlns:"))
            .cloned()
            .collect();
        self.stream = Some(kept);
        Ok(Some(StreamEvent::Open(el)))
    }

    /// A stanza's start tag with its in-scope namespace made explicit.
    fn stanza_element(&self, s: &BytesStart<'_>) -> Result<Element, XmlError> {
        let mut el = element_from_start(s, self.max_attributes)?;
        let stream = self.stream.as_ref().expect("stream open");
        let key = match split_name(&el.name).0 {
            Some(p) => format!("xmlns:{p}"),
            None => "xmlns".to_string(),
        };
        if el.get_attr(&key).is_none() {
            match stream.get_attr(&key) {
                Some(v) => el.attrs.insert(0, (key, v.to_string())),
                None if key == "xmlns" => el.attrs.insert(0, (key, ns::CLIENT.to_string())),
                None => {
                    return Err(XmlError::not_well_formed(format!(
                        "undeclared prefix in <{}>",
                        el.name
                    )))
                }
            }
        }
        Ok(el)
    }
}

/// `(prefix, local)` of a qualified name.
fn split_name(name: &str) -> (Option<&str>, &str) {
    match name.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, name),
    }
}

/// Parses one complete element (a WebSocket frame, a BOSH body); a leading XML declaration
/// and surrounding whitespace are tolerated, anything else around the element is an error.
/// Elements may carry up to [`DEFAULT_MAX_ATTRIBUTES`] attributes.
pub fn parse_fragment(text: &str, max_bytes: usize) -> Result<Element, XmlError> {
    parse_fragment_with(text, max_bytes, DEFAULT_MAX_ATTRIBUTES)
}

/// [`parse_fragment`] with a cap on attributes per element.
pub fn parse_fragment_with(
    text: &str,
    max_bytes: usize,
    max_attributes: usize,
) -> Result<Element, XmlError> {
    if text.len() > max_bytes {
        return Err(XmlError::too_big(max_bytes));
    }
    let mut rd = reader(text.as_bytes());
    let mut builder = Builder::default();
    let mut root: Option<Element> = None;
    let mut seen_markup = false;
    loop {
        let ev = rd.read_event().map_err(|e| match e {
            QxError::Syntax(SyntaxError::UnclosedPIOrXmlDecl) => {
                XmlError::not_well_formed("unclosed processing instruction")
            }
            other => map_qx_error(other),
        })?;
        if !builder.is_empty() {
            let done = match ev {
                Event::Text(t) => {
                    builder.raw_text(&t);
                    None
                }
                Event::CData(c) => {
                    builder.raw_text(&c);
                    None
                }
                Event::GeneralRef(r) => {
                    builder.reference(&r)?;
                    None
                }
                Event::Start(s) => {
                    builder.start(element_from_start(&s, max_attributes)?, false, MAX_DEPTH)?
                }
                Event::Empty(s) => {
                    builder.start(element_from_start(&s, max_attributes)?, true, MAX_DEPTH)?
                }
                Event::End(e) => builder.end(e.name().as_ref())?,
                Event::Decl(_) | Event::PI(_) => {
                    return Err(XmlError::restricted(
                        "processing instructions are not allowed",
                    ))
                }
                Event::Comment(_) | Event::DocType(_) => {
                    return Err(XmlError::restricted("comments and DTDs are not allowed"))
                }
                Event::Eof => return Err(XmlError::not_well_formed("unclosed element")),
            };
            root = done;
            continue;
        }
        match ev {
            Event::Eof => {
                return root.ok_or_else(|| XmlError::not_well_formed("no element"));
            }
            // Whitespace (before a declaration too) is tolerated around the element.
            Event::Text(t) if is_xml_space(&t) => continue,
            Event::Text(_) | Event::CData(_) | Event::GeneralRef(_) => {
                return Err(XmlError::not_well_formed("text outside the element"))
            }
            Event::Decl(d) if !seen_markup => {
                check_decl(&d)?;
            }
            Event::Decl(_) | Event::PI(_) => {
                return Err(XmlError::restricted(
                    "processing instructions are not allowed",
                ))
            }
            Event::Comment(_) | Event::DocType(_) => {
                return Err(XmlError::restricted("comments and DTDs are not allowed"))
            }
            Event::Start(_) | Event::Empty(_) if root.is_some() => {
                return Err(XmlError::not_well_formed("more than one element"))
            }
            Event::Start(s) => {
                builder.start(element_from_start(&s, max_attributes)?, false, MAX_DEPTH)?;
            }
            Event::Empty(s) => {
                root = builder.start(element_from_start(&s, max_attributes)?, true, MAX_DEPTH)?;
            }
            Event::End(_) => return Err(XmlError::not_well_formed("unexpected end tag")),
        }
        seen_markup = true;
    }
}

/// A stream-level error (RFC 6120 4.9): the transport writes it and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamError {
    /// Defined condition, e.g. `conflict`, `not-well-formed`, `policy-violation`.
    pub condition: &'static str,
    pub text: Option<String>,
}

impl StreamError {
    /// An error with a condition and an explanatory text.
    pub fn new(condition: &'static str, text: impl Into<String>) -> StreamError {
        StreamError {
            condition,
            text: Some(text.into()),
        }
    }

    /// The `<stream:error>` element (prefix `stream`, as every framing writes it).
    pub fn to_element(&self) -> Element {
        let mut e = Element::new("stream:error");
        e.push(Element::new(self.condition).attr("xmlns", ns::STREAMS_ERR));
        if let Some(t) = &self.text {
            e.push(
                Element::new("text")
                    .attr("xmlns", ns::STREAMS_ERR)
                    .text(t.clone()),
            );
        }
        e
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "<?xml version='1.0'?><stream:stream to='im.shiku.local' \
        xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>";

    /// Feeds `input` in chunks of `chunk` bytes and collects every event until an error.
    fn run(input: &[u8], chunk: usize, max: usize) -> (Vec<StreamEvent>, Option<XmlError>) {
        let mut p = StreamParser::new(max);
        let mut out = Vec::new();
        for c in input.chunks(chunk) {
            p.feed(c);
            loop {
                match p.next() {
                    Ok(Some(ev)) => out.push(ev),
                    Ok(None) => break,
                    Err(e) => return (out, Some(e)),
                }
            }
        }
        (out, None)
    }

    fn stanzas(events: &[StreamEvent]) -> Vec<&Element> {
        events
            .iter()
            .filter_map(|e| match e {
                StreamEvent::Stanza(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    fn chat(body: &str) -> Element {
        Element::new("message")
            .attr("xmlns", "jabber:client")
            .attr("to", "10001@im.shiku.local")
            .attr("type", "chat")
            .attr("id", "m'1\"")
            .child(Element::new("body").text(body))
            .child(Element::new("request").attr("xmlns", "urn:xmpp:receipts"))
    }

    #[test]
    fn stream_open_stanzas_and_close() {
        let input = format!(
            "{HEADER}\n <presence/> <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>\n\
             </stream:stream>"
        );
        let (events, err) = run(input.as_bytes(), 4096, 1024);
        assert_eq!(err, None);
        assert_eq!(events.len(), 4);
        let StreamEvent::Open(open) = &events[0] else {
            panic!("expected open, got {:?}", events[0])
        };
        assert_eq!(open.get_attr("to"), Some("im.shiku.local"));
        assert_eq!(open.get_attr("version"), Some("1.0"));
        assert!(open.children.is_empty());
        let s = stanzas(&events);
        // Stanzas inherit the stream's default namespace.
        assert_eq!(
            s[0],
            &Element::new("presence").attr("xmlns", "jabber:client")
        );
        assert_eq!(s[1].ns(), Some("jabber:client"));
        assert!(s[1].find_ns("ping", "urn:xmpp:ping").is_some());
        assert_eq!(events[3], StreamEvent::Close);
    }

    #[test]
    fn round_trip_with_the_writer_byte_by_byte() {
        let json = r#"{"content":"你好 <b>&amp; \"quoted\" 'x'","type":1,"timeSend":1700000000.5}"#;
        let msg = chat(json);
        let input = format!("{HEADER}{}{}</stream:stream>", msg.to_xml(), msg.to_xml());
        let (events, err) = run(input.as_bytes(), 1, 4096);
        assert_eq!(err, None);
        let s = stanzas(&events);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], &msg);
        assert_eq!(s[1], &msg);
        assert_eq!(s[0].find("body").unwrap().text_content(), json);
        assert_eq!(events.last(), Some(&StreamEvent::Close));
    }

    #[test]
    fn every_chunk_size_gives_the_same_result() {
        let msg = chat("中文消息 🎉 &<>\"' done");
        let input = format!(
            "{HEADER}<message><body>a&amp;b&#x4e2d;&#25991;\r\nline</body></message>{}",
            msg.to_xml()
        );
        let (reference, err) = run(input.as_bytes(), input.len(), 4096);
        assert_eq!(err, None);
        for chunk in 1..40 {
            let (events, err) = run(input.as_bytes(), chunk, 4096);
            assert_eq!(err, None, "chunk {chunk}");
            assert_eq!(events, reference, "chunk {chunk}");
        }
        let s = stanzas(&reference);
        assert_eq!(s[0].find("body").unwrap().text_content(), "a&b中文\nline");
        assert_eq!(s[1], &msg);
    }

    #[test]
    fn mutated_input_never_panics_and_errors_are_stream_conditions() {
        let msg = chat(r#"{"content":"中文 &<>\"'","type":1}"#).to_xml();
        let valid =
            format!("{HEADER}{msg}<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>");
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let allowed = [
            "not-well-formed",
            "restricted-xml",
            "policy-violation",
            "invalid-namespace",
            "bad-format",
            "unsupported-encoding",
        ];
        let alphabet = b"<>/!?&;='\"x: \xe4\xb8\xad-[]#";
        for _ in 0..2000 {
            let mut bytes = valid.clone().into_bytes();
            for _ in 0..(rnd() % 4 + 1) {
                let at = (rnd() as usize) % bytes.len();
                bytes[at] = alphabet[(rnd() as usize) % alphabet.len()];
            }
            let chunk = (rnd() as usize) % 64 + 1;
            let (_, err) = run(&bytes, chunk, 4096);
            if let Some(e) = err {
                assert!(allowed.contains(&e.condition), "{e:?}");
            }
            if let Some(text) = std::str::from_utf8(&bytes)
                .ok()
                .and_then(|t| t.get(HEADER.len()..))
            {
                if let Err(e) = parse_fragment(text, 4096) {
                    assert!(allowed.contains(&e.condition), "{e:?}");
                }
            }
        }
    }

    #[test]
    fn byte_order_marks() {
        // A leading BOM is allowed; U+FEFF in text is kept wherever a read boundary falls.
        let input = format!("\u{FEFF}{HEADER}<message><body>\u{FEFF}a\u{FEFF}</body></message>");
        for chunk in 1..12 {
            let (events, err) = run(input.as_bytes(), chunk, 1024);
            assert_eq!(err, None, "chunk {chunk}");
            let s = stanzas(&events);
            assert_eq!(
                s[0].find("body").unwrap().text_content(),
                "\u{FEFF}a\u{FEFF}"
            );
        }
        let input = format!("{HEADER}\u{FEFF}<presence/>");
        let (_, err) = run(input.as_bytes(), 1, 1024);
        assert_eq!(err.map(|e| e.condition), Some("bad-format"));
    }

    #[test]
    fn whitespace_keepalives_are_ignored() {
        let input = format!("{HEADER} \n\n <presence/>\n \n");
        let (events, err) = run(input.as_bytes(), 3, 1024);
        assert_eq!(err, None);
        assert_eq!(events.len(), 2);
    }

    #[test]
    fn oversized_stanza_is_a_policy_violation() {
        let big = "x".repeat(5000);
        let input = format!("{HEADER}<presence/><message><body>{big}</body></message>");
        for chunk in [1, 100, 4096, 100_000] {
            let (events, err) = run(input.as_bytes(), chunk, 1024);
            assert_eq!(stanzas(&events).len(), 1, "chunk {chunk}");
            assert_eq!(err.expect("error").condition, "policy-violation");
        }
        // A complete stanza over the limit in one read is refused too.
        let input = format!("{HEADER}<message><body>{big}</body></message>");
        let (_, err) = run(input.as_bytes(), input.len(), 1024);
        assert_eq!(err.expect("error").condition, "policy-violation");
        // An endless start tag is bounded as well.
        let input = format!("{HEADER}<message a='{big}");
        let (_, err) = run(input.as_bytes(), 64, 1024);
        assert_eq!(err.expect("error").condition, "policy-violation");
        let huge = "y".repeat(MAX_TAG_BYTES);
        let input = format!("{HEADER}<message a='{huge}");
        let (_, err) = run(input.as_bytes(), 4096, 1 << 20);
        assert_eq!(err.expect("error").condition, "policy-violation");
    }

    /// `<name a0='' a1='' …/>` with `n` attributes.
    fn many_attrs(name: &str, n: usize) -> String {
        let attrs: String = (0..n).map(|i| format!(" a{i}=''")).collect();
        format!("<{name}{attrs}/>")
    }

    #[test]
    fn attributes_per_element_are_capped_in_every_parser() {
        let cond = |r: Result<Element, XmlError>| r.map(|_| ()).map_err(|e| e.condition);
        assert_eq!(
            cond(parse_fragment(&many_attrs("open", 64), 1 << 20)),
            Ok(())
        );
        assert_eq!(
            cond(parse_fragment(&many_attrs("open", 65), 1 << 20)),
            Err("policy-violation")
        );
        assert_eq!(
            cond(parse_fragment_with(&many_attrs("x", 5), 1 << 20, 4)),
            Err("policy-violation")
        );
        // Nested elements are capped too, not only the root.
        let nested = format!("<a>{}</a>", many_attrs("b", 65));
        assert_eq!(
            cond(parse_fragment(&nested, 1 << 20)),
            Err("policy-violation")
        );

        let header = format!(
            "<stream:stream xmlns='jabber:client' xmlns:stream='{}'{}>",
            ns::STREAM,
            (0..70).map(|i| format!(" a{i}=''")).collect::<String>()
        );
        for chunk in [1, 64, 100_000] {
            let (events, err) = run(header.as_bytes(), chunk, 1 << 20);
            assert!(events.is_empty(), "chunk {chunk}");
            assert_eq!(err.map(|e| e.condition), Some("policy-violation"));
        }
        let input = format!("{HEADER}<presence/>{}", many_attrs("message", 65));
        let (events, err) = run(input.as_bytes(), 100_000, 1 << 20);
        assert_eq!(stanzas(&events).len(), 1);
        assert_eq!(err.map(|e| e.condition), Some("policy-violation"));
        // The cap is the parser's own: a restart keeps it.
        let mut p = StreamParser::with_limits(1 << 20, 4);
        p.reset();
        p.feed(format!("{HEADER}{}", many_attrs("iq", 5)).as_bytes());
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Open(_)))));
        assert_eq!(p.next().map_err(|e| e.condition), Err("policy-violation"));
    }

    #[test]
    fn a_huge_tag_is_refused_quickly_in_one_read() {
        // 24,000 attributes in one 230 KB tag cost 0.57 s before the caps (quadratic duplicate
        // check); now the tag's length alone refuses it.
        let open = many_attrs("open", 24_000);
        let started = std::time::Instant::now();
        let e = parse_fragment(&open, 1 << 20).unwrap_err();
        assert_eq!(e.condition, "policy-violation");
        assert!(e.text.contains("tag longer"), "{e}");
        let input = format!("{HEADER}{open}");
        let (_, err) = run(input.as_bytes(), input.len(), 1 << 20);
        assert_eq!(err.map(|e| e.condition), Some("policy-violation"));
        assert!(started.elapsed() < std::time::Duration::from_millis(200));
        // A long tag in a fragment is refused as the stream parser refuses it.
        let long = format!("<a b='{}'/>", "c".repeat(MAX_TAG_BYTES));
        assert_eq!(
            parse_fragment(&long, 1 << 20).map_err(|e| e.condition),
            Err("policy-violation")
        );
    }

    #[test]
    fn a_long_token_is_not_rescanned_on_every_read() {
        // A CDATA section or a tag fed one '>' at a time was parsed again from its start on
        // every read: quadratic in its length.
        let started = std::time::Instant::now();
        let mut p = StreamParser::new(1 << 20);
        p.feed(format!("{HEADER}<message><body><![CDATA[").as_bytes());
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Open(_)))));
        for _ in 0..200_000 {
            p.feed(b">");
            assert_eq!(p.next(), Ok(None));
        }
        p.feed(b"]]");
        assert_eq!(p.next(), Ok(None));
        p.feed(b"></body></message>");
        let Ok(Some(StreamEvent::Stanza(s))) = p.next() else {
            panic!("expected the message")
        };
        assert_eq!(s.find("body").unwrap().text_content().len(), 200_000);

        let mut p = StreamParser::new(1 << 20);
        p.feed(format!("{HEADER}<message a='").as_bytes());
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Open(_)))));
        for _ in 0..MAX_TAG_BYTES - 16 {
            p.feed(b">");
            assert_eq!(p.next(), Ok(None));
        }
        p.feed(b"'/>");
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Stanza(_)))));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        // Quotes inside a CDATA section or an end tag do not hide their end.
        let input = format!("{HEADER}<a><![CDATA[ ' \" ]]></a ><b x='\"'/>");
        for chunk in 1..8 {
            let (events, err) = run(input.as_bytes(), chunk, 1024);
            assert_eq!(err, None, "chunk {chunk}");
            assert_eq!(stanzas(&events).len(), 2, "chunk {chunk}");
        }
    }

    #[test]
    fn memory_is_released_after_a_big_stanza() {
        let mut p = StreamParser::new(100_000);
        p.feed(HEADER.as_bytes());
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Open(_)))));
        let big = format!("<message><body>{}</body></message>", "y".repeat(50_000));
        p.feed(big.as_bytes());
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Stanza(_)))));
        assert_eq!(p.next(), Ok(None));
        assert_eq!(p.buf.capacity(), 0);
    }

    #[test]
    fn references_fail_alike_however_the_input_is_cut() {
        // Found by the xml_stream fuzz target: a long reference was not-well-formed when its
        // ';' came in a later read but restricted-xml in one read.
        let long = "x".repeat(40);
        for (input, condition) in [
            (format!("{HEADER}<a>&{long};</a>"), "not-well-formed"),
            (format!("{HEADER}<a>&a b;</a>"), "not-well-formed"),
            (format!("{HEADER}<a>&lol;</a>"), "restricted-xml"),
            (format!("{HEADER}&{long};"), "bad-format"),
            (format!("{HEADER}&amp;"), "bad-format"),
            ("<?xml version='1.0'?>&s'/&#x4e2d".to_string(), "bad-format"),
        ] {
            for chunk in [1, 5, 33, 10_000] {
                let (_, err) = run(input.as_bytes(), chunk, 1024);
                assert_eq!(
                    err.map(|e| e.condition),
                    Some(condition),
                    "{input:?} chunk {chunk}"
                );
            }
        }
    }

    #[test]
    fn garbage_is_not_well_formed() {
        for bad in [
            "hello world",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a></b>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a x='1' x='2'/>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a x=1/>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a>&amp</a>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a>\u{1}</a>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a>&#0;</a>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><a b='<'/>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><1a/>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'><!x>",
            "<stream:stream xmlns:stream='http://etherx.jabber.org/streams'></x>",
            "</stream:stream>",
        ] {
            for chunk in [1, 7, 1000] {
                let (_, err) = run(bad.as_bytes(), chunk, 1024);
                assert_eq!(
                    err.as_ref().map(|e| e.condition),
                    Some("not-well-formed"),
                    "{bad:?} chunk {chunk}: {err:?}"
                );
            }
        }
        let mut bytes = format!("{HEADER}<message><body>").into_bytes();
        bytes.extend_from_slice(&[0xff, 0xfe, b'a']);
        bytes.extend_from_slice(b"</body></message>");
        let (_, err) = run(&bytes, 5, 1024);
        assert_eq!(err.map(|e| e.condition), Some("not-well-formed"));
    }

    #[test]
    fn restricted_xml_is_refused() {
        for bad in [
            "<!DOCTYPE foo [<!ENTITY x 'y'>]><stream:stream>",
            "<!-- hi --><stream:stream>",
            &format!("{HEADER}<!-- comment -->"),
            &format!("{HEADER}<message><!-- c --></message>"),
            &format!("{HEADER}<?php echo 1 ?>"),
            &format!("{HEADER}<?xml version='1.0'?>"),
            &format!("{HEADER}<message><body>&lol;</body></message>"),
            &format!("{HEADER}<message to='&lol;'/>"),
        ] {
            for chunk in [1, 3, 1000] {
                let (_, err) = run(bad.as_bytes(), chunk, 1024);
                assert_eq!(
                    err.as_ref().map(|e| e.condition),
                    Some("restricted-xml"),
                    "{bad:?} chunk {chunk}: {err:?}"
                );
            }
        }
    }

    #[test]
    fn stream_namespace_is_checked() {
        let (_, err) = run(b"<stream:stream xmlns:stream='urn:nope'>", 100, 1024);
        assert_eq!(err.map(|e| e.condition), Some("invalid-namespace"));
        let (_, err) = run(b"<presence/>", 100, 1024);
        assert_eq!(err.map(|e| e.condition), Some("invalid-namespace"));
        let (_, err) = run(
            b"<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream>",
            100,
            1024,
        );
        assert_eq!(err.map(|e| e.condition), Some("unsupported-encoding"));
    }

    #[test]
    fn text_between_stanzas_is_bad_format() {
        let input = format!("{HEADER}<presence/>junk");
        let (events, err) = run(input.as_bytes(), 1000, 1024);
        assert_eq!(stanzas(&events).len(), 1);
        assert_eq!(err.map(|e| e.condition), Some("bad-format"));
    }

    #[test]
    fn depth_is_limited() {
        let deep = "<a>".repeat(MAX_DEPTH + 1);
        let input = format!("{HEADER}{deep}");
        let (_, err) = run(input.as_bytes(), 50, 100_000);
        assert_eq!(err.map(|e| e.condition), Some("policy-violation"));
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        let input = format!("{HEADER}{ok}");
        let (events, err) = run(input.as_bytes(), 50, 100_000);
        assert_eq!(err, None);
        assert_eq!(stanzas(&events).len(), 1);
    }

    #[test]
    fn reset_starts_a_new_stream() {
        let mut p = StreamParser::new(1024);
        p.feed(HEADER.as_bytes());
        p.feed(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Open(_)))));
        let Ok(Some(StreamEvent::Stanza(s))) = p.next() else {
            panic!("expected starttls")
        };
        assert!(s.is("starttls", ns::TLS));
        p.reset();
        // A new header (with its declaration) is accepted again after the restart.
        p.feed(HEADER.as_bytes());
        p.feed(b"<presence/>");
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Open(_)))));
        assert!(matches!(p.next(), Ok(Some(StreamEvent::Stanza(_)))));
        assert_eq!(p.next(), Ok(None));
    }

    #[test]
    fn empty_stream_element_opens_and_closes() {
        let (events, err) = run(
            b"<stream:stream xmlns:stream='http://etherx.jabber.org/streams'/>",
            4,
            1024,
        );
        assert_eq!(err, None);
        assert!(matches!(events[0], StreamEvent::Open(_)));
        assert_eq!(events[1], StreamEvent::Close);
    }

    #[test]
    fn errors_convert_to_stream_errors() {
        let e: StreamError = XmlError::not_well_formed("bad").into();
        assert_eq!(e.condition, "not-well-formed");
        assert_eq!(e.text.as_deref(), Some("bad"));
    }

    #[test]
    fn fragment_round_trip() {
        let msg = chat(r#"{"content":"中文 & <tag> \"q\"","type":1}"#);
        let parsed = parse_fragment(&msg.to_xml(), 4096).expect("parses");
        assert_eq!(parsed, msg);
        let with_decl = format!("<?xml version='1.0'?>\n{}\n", msg.to_xml());
        assert_eq!(parse_fragment(&with_decl, 4096).expect("parses"), msg);
        let open = parse_fragment(
            "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='a' version='1.0'/>",
            4096,
        )
        .expect("parses");
        assert!(open.is("open", ns::FRAMING));
        let cdata = parse_fragment("<body><![CDATA[<x>&amp;]]></body>", 100).expect("parses");
        assert_eq!(cdata.text_content(), "<x>&amp;");
    }

    #[test]
    fn fragment_errors() {
        let cond = |t: &str, max| parse_fragment(t, max).map_err(|e| e.condition);
        assert_eq!(cond("<a/><b/>", 100), Err("not-well-formed"));
        assert_eq!(cond("<a>", 100), Err("not-well-formed"));
        assert_eq!(cond("<a></b>", 100), Err("not-well-formed"));
        assert_eq!(cond("", 100), Err("not-well-formed"));
        assert_eq!(cond("text", 100), Err("not-well-formed"));
        assert_eq!(cond("<a/>tail", 100), Err("not-well-formed"));
        assert_eq!(cond("<!DOCTYPE a><a/>", 100), Err("restricted-xml"));
        assert_eq!(cond("<a><!-- x --></a>", 100), Err("restricted-xml"));
        assert_eq!(cond("<a>&foo;</a>", 100), Err("restricted-xml"));
        assert_eq!(cond("<a><?pi x?></a>", 100), Err("restricted-xml"));
        assert_eq!(
            cond(&format!("<a>{}</a>", "z".repeat(200)), 100),
            Err("policy-violation")
        );
        let deep = format!("{}{}", "<a>".repeat(40), "</a>".repeat(40));
        assert_eq!(cond(&deep, 10_000), Err("policy-violation"));
    }
}

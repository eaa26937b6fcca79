// Shared by the targets (included with `#[path]`): a parsed element must serialise to XML that
// parses again, so the writer and the parsers never disagree.

use shiku_server::gateway::xmpp::xml::{parse_fragment_with, Element};

/// Limits as the server runs with them by default, smaller where that finds bugs sooner.
pub const MAX_BYTES: usize = 64 * 1024;
pub const MAX_ATTRIBUTES: usize = 64;

/// `el` written out parses back; only a size limit may refuse it (escaping lengthens a tag).
pub fn reparses(el: &Element) {
    let xml = el.to_xml();
    match parse_fragment_with(&xml, usize::MAX, MAX_ATTRIBUTES) {
        Ok(back) => assert_eq!(back.name, el.name, "{xml}"),
        Err(e) => assert_eq!(e.condition, "policy-violation", "{e} for {xml}"),
    }
}

//! The one-shot parser of WebSocket frames: any text, and a parsed element must re-parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shiku_server::gateway::xmpp::xml::parse_fragment_with;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(el) = parse_fragment_with(text, common::MAX_BYTES, common::MAX_ATTRIBUTES) {
        common::reparses(&el);
    }
});

//! A BOSH request body as the HTTP handler receives it: bytes to `<body/>` and `rid`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shiku_server::gateway::xmpp::bosh::parse_body;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    match parse_body(data, common::MAX_BYTES, common::MAX_ATTRIBUTES) {
        Ok((body, _rid)) => {
            assert_eq!(body.local_name(), "body");
            common::reparses(&body);
        }
        Err(condition) => assert!(
            matches!(condition, "bad-request" | "policy-violation"),
            "{condition}"
        ),
    }
});

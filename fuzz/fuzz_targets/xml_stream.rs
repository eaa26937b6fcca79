//! The TCP stream parser: arbitrary bytes fed in chunks (sizes from the first byte), every
//! event pulled; errors must be stream conditions and stay put, stanzas must re-parse, and
//! the events must not depend on how the input was cut (against one read of everything).
#![no_main]

use libfuzzer_sys::fuzz_target;
use shiku_server::gateway::xmpp::xml::{StreamEvent, StreamParser, XmlError};

#[path = "common.rs"]
mod common;

const CONDITIONS: [&str; 6] = [
    "not-well-formed",
    "restricted-xml",
    "policy-violation",
    "invalid-namespace",
    "bad-format",
    "unsupported-encoding",
];

/// Every event until input ends or an error.
fn run(input: &[u8], chunk: usize, max: usize) -> (Vec<StreamEvent>, Option<XmlError>) {
    let mut p = StreamParser::with_limits(max, common::MAX_ATTRIBUTES);
    let mut events = Vec::new();
    for piece in input.chunks(chunk) {
        p.feed(piece);
        loop {
            match p.next() {
                Ok(Some(ev)) => {
                    match &ev {
                        StreamEvent::Stanza(s) | StreamEvent::Open(s) => common::reparses(s),
                        StreamEvent::Close => {}
                    }
                    events.push(ev);
                }
                Ok(None) => break,
                Err(e) => {
                    assert!(CONDITIONS.contains(&e.condition), "{e:?}");
                    assert_eq!(p.next(), Err(e.clone()), "a failed parser stays failed");
                    return (events, Some(e));
                }
            }
        }
    }
    (events, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 64) + 1;
    if first & 0x80 != 0 {
        // A small stanza limit exercises the size checks (their timing depends on the reads).
        run(input, chunk, 512);
        return;
    }
    let (cut, cut_err) = run(input, chunk, common::MAX_BYTES);
    let (whole, whole_err) = run(input, input.len().max(1), common::MAX_BYTES);
    match (&cut_err, &whole_err) {
        // Both refuse the same stanza. The condition may still differ: a read that ends inside
        // a malformed token can be judged differently from the whole token (a known gap).
        (Some(_), Some(_)) => assert_eq!(cut, whole),
        // The one without an error may only be waiting for more input (an unfinished
        // reference is judged at the end of one read, not across reads).
        (Some(_), None) => assert!(cut.starts_with(&whole), "{cut:?} vs {whole:?}"),
        (None, Some(_)) => assert!(whole.starts_with(&cut), "{cut:?} vs {whole:?}"),
        (None, None) => assert_eq!(cut, whole),
    }
});

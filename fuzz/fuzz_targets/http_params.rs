//! The parameter extractor: a form body decoded, then every typed getter on every name in it
//! and on the names the handlers read most.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shiku_server::http::params::{decode_form, Params};

const NAMES: [&str; 8] = [
    "access_token",
    "secret",
    "time",
    "userId",
    "pageIndex",
    "pageSize",
    "latitude",
    "telephone",
];

fuzz_target!(|data: &[u8]| {
    let Ok(pairs) = decode_form(data) else {
        return;
    };
    let mut names: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
    names.extend(NAMES.iter().map(|n| n.to_string()));
    let p = Params::from_pairs(pairs);
    let _ = p.credentials();
    if let Ok(page) = p.page(20, 1000) {
        assert!(page.size <= 1000);
    }
    for n in &names {
        let _ = p.get(n);
        let _ = p.string(n);
        let _ = p.required(n);
        let _ = p.i32(n);
        let _ = p.i32_or(n, 0);
        let _ = p.required_i32(n);
        let _ = p.i64(n);
        if let Ok(Some(f)) = p.f64(n) {
            assert!(f.is_finite());
        }
    }
});

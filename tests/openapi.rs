//! The OpenAPI document in api-docs/ cannot drift from the routes: it must equal the one generated
//! from the endpoint docs, every registered route must be documented, and every documented path
//! must be served, asking for the token its documented access level says it needs.

mod common;

use std::collections::BTreeSet;

use shiku_server::http::docs::Access;
use shiku_server::http::{all_docs, openapi, registered_paths};

#[test]
fn registered_routes_equal_documented_endpoints() {
    let registered: BTreeSet<&str> = registered_paths().into_iter().collect();
    let documented: BTreeSet<&str> = all_docs().iter().map(|d| d.path).collect();
    assert_eq!(registered, documented);
    assert_eq!(
        registered.len(),
        all_docs().len(),
        "a path is documented twice"
    );
}

#[test]
fn committed_openapi_matches_the_code() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("api-docs/openapi.json");
    let committed: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("api-docs/openapi.json"))
            .expect("valid JSON");
    assert!(
        committed == openapi(),
        "api-docs/openapi.json is stale: run `cargo run -- openapi > api-docs/openapi.json`"
    );
    assert_eq!(committed["openapi"], "3.0.3");
}

#[tokio::test]
async fn every_documented_path_is_served() {
    let app = common::spawn().await;
    for d in all_docs() {
        for get in [true, false] {
            let url = format!("{}{}", app.base, d.path);
            let r = if get {
                app.client.get(&url).send().await
            } else {
                app.client.post(&url).form(&[("flag", "rw")]).send().await
            }
            .expect("request");
            assert_eq!(r.status(), 200, "{} is not served", d.path);
            let v: serde_json::Value = r.json().await.expect("JSON");
            assert!(v["resultCode"].is_i64(), "{}: {v}", d.path);
            assert!(v["currentTime"].is_i64(), "{}: {v}", d.path);
            // Without a token, a user or console endpoint refuses with "missing token" before
            // looking at anything else; an open one never does.
            match d.access {
                Access::User | Access::Console | Access::PublicAccount => {
                    assert_eq!(
                        v["resultCode"], 1030101,
                        "{} served without a token: {v}",
                        d.path
                    )
                }
                Access::Open => {
                    assert_ne!(
                        v["resultCode"], 1030101,
                        "{} is documented open: {v}",
                        d.path
                    )
                }
            }
        }
    }
}

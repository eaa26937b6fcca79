//! Schema fuzzing of every endpoint in api-docs/openapi.json (issue 17 standing check):
//! [schemathesis](https://schemathesis.readthedocs.io/) from PyPI generates valid and invalid
//! input for each operation (GET query and POST form alike) from the document and sends it to a
//! running server. Every answer must be no 5xx (`not_a_server_error`; a panic in a handler loses
//! the connection, which schemathesis reports as an error) and a Shiku envelope (`shiku_envelope` in tests/schema/hooks.py: a JSON object with an
//! integer `resultCode` and `currentTime`).
//!
//! Tokens: a user and a console user (role 6, every console permission) are made here and their
//! tokens put in the query string of every operation needing one, as clients send them. The
//! fuzzer calls session-ending endpoints with random input too (logout, password change, delete
//! or lock a user, console logout, remove an admin): nothing is excluded; the hooks log in again
//! when a token comes back invalid, or register a new user when the account is gone. The run
//! must reach the handlers: every operation needs an answer that is not a token refusal.
//!
//! Server limits: the password guard's free failures are raised (fuzzed logins fail by the
//! thousand from one address, and the guard would then refuse the hooks' own logins) and so is
//! the anonymous upload quota; every other limit stays as configured by default.
//!
//! Checks beyond the envelope's shape (tests/schema/hooks.py): the resultCode is one the
//! operation documents, and never a bare internal error (1020101, answered with HTTP 200).
//!
//! Bounded: a fixed seed, 10 examples per operation and phase (about 17,000 requests) and two
//! workers keep the run under two minutes; `SHIKU_SCHEMA_FUZZ_EXAMPLES` raises the examples per
//! operation for a longer run, and `SHIKU_SCHEMA_FUZZ_ARGS` adds schemathesis options (README
//! "Schema fuzzing"). The inputs follow from the seed; with
//! two workers the order of the calls, and so when a session is renewed, may vary.
//!
//! Set-up (`.ci/run` does it): `python3 -m venv target/interop-venv &&
//! target/interop-venv/bin/pip install -r tests/schema/requirements.txt`. Without it the test
//! reports itself skipped, unless `SHIKU_TEST_REQUIRE_INTEROP=1`, which makes it a failure.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use serde_json::Value;
use shiku_server::documents::UserRole;
use shiku_server::domain::util::{md5_hex, now_secs};

const SETUP_HINT: &str = "run `python3 -m venv target/interop-venv && \
     target/interop-venv/bin/pip install -r tests/schema/requirements.txt`";

/// Examples per operation and phase unless `SHIKU_SCHEMA_FUZZ_EXAMPLES` says otherwise.
const DEFAULT_EXAMPLES: u32 = 10;
/// The fixed seed: the same inputs every run (a failure reproduces).
const SEED: &str = "17";
const PASSWORD: &str = "fuzz-password";
const USER_PHONE: &str = "13800000001";
const CONSOLE_PHONE: &str = "13800000002";
/// Answers that refuse the token: an operation that only ever got these never ran.
const TOKEN_REFUSALS: [&str; 3] = ["1030101", "1030102", "1030103"];

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The venv's `st` when schemathesis is installed there (or at `SHIKU_SCHEMATHESIS`).
fn schemathesis() -> Option<PathBuf> {
    let st = std::env::var_os("SHIKU_SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/interop-venv/bin/st"));
    let runs = Command::new(&st)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if runs {
        return Some(st);
    }
    if std::env::var("SHIKU_TEST_REQUIRE_INTEROP").as_deref() == Ok("1") {
        panic!("SHIKU_TEST_REQUIRE_INTEROP=1 but schemathesis is not installed: {SETUP_HINT}");
    }
    eprintln!("skipped: {SETUP_HINT} (no {})", st.display());
    None
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_fuzzed_input_with_an_envelope() {
    let Some(st) = schemathesis() else { return };
    let app = common::spawn_with(|c| {
        c.passwords.account_free_failures = 1_000_000;
        c.passwords.source_free_failures = 1_000_000;
        c.files.anonymous_uploads_per_minute = 100_000;
    })
    .await;
    let (_, user_token) = app.register(USER_PHONE, PASSWORD, "fuzz").await;
    let (admin_id, _) = app.register(CONSOLE_PHONE, PASSWORD, "fuzz admin").await;
    app.app
        .store
        .users
        .insert_role(&UserRole {
            user_id: admin_id as i32,
            phone: None,
            role: 6,
            status: 1,
            create_time: now_secs(),
            last_login_time: 0,
        })
        .await
        .unwrap();
    let v = app
        .post(
            "/console/login",
            &[
                ("account", CONSOLE_PHONE),
                ("password", &md5_hex(PASSWORD)),
                ("areaCode", "86"),
            ],
        )
        .await;
    let console_token = v["data"]["access_Token"]
        .as_str()
        .unwrap_or_else(|| panic!("console login: {v}"))
        .to_string();

    let examples = std::env::var("SHIKU_SCHEMA_FUZZ_EXAMPLES")
        .unwrap_or_else(|_| DEFAULT_EXAMPLES.to_string());
    let extra = std::env::var("SHIKU_SCHEMA_FUZZ_ARGS").unwrap_or_default();
    let stats = app.data_dir.path().join("schema-fuzz-stats.json");
    let mut cmd = Command::new(&st);
    cmd.args(["run", "--no-color"])
        .arg(repo().join("api-docs/openapi.json"))
        .args(["--url", &app.base])
        .args(["--checks", "not_a_server_error,shiku_envelope"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &examples])
        .args(["--seed", SEED])
        .args(["--workers", "2"])
        .args(["--request-timeout", "30"])
        // Nothing kept between runs: the seed alone decides the inputs.
        .args(["--generation-database", "none"])
        // More options for a longer or different run, e.g. `--mode positive`.
        .args(extra.split_whitespace())
        .env("SCHEMATHESIS_HOOKS", "hooks")
        .env("PYTHONPATH", repo().join("tests/schema"))
        .env("SHIKU_FUZZ_BASE", &app.base)
        .env("SHIKU_FUZZ_TOKEN", &user_token)
        .env("SHIKU_FUZZ_CONSOLE_TOKEN", &console_token)
        .env("SHIKU_FUZZ_PHONE", USER_PHONE)
        .env("SHIKU_FUZZ_CONSOLE_PHONE", CONSOLE_PHONE)
        .env("SHIKU_FUZZ_PASSWORD", md5_hex(PASSWORD))
        .env("SHIKU_FUZZ_STATS", &stats)
        .current_dir(app.data_dir.path());
    let started = Instant::now();
    // Blocking wait off the runtime: the server under test runs on it.
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", st.display()));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "schemathesis ran {:.0} s: {}",
        started.elapsed().as_secs_f64(),
        tail(&stdout, 12)
    );
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{}\nstderr:\n{}",
        tail(&stdout, 300),
        tail(&stderr, 40)
    );

    // Every operation reached its handler at least once.
    let stats: Value = serde_json::from_str(
        &std::fs::read_to_string(&stats).expect("the hooks wrote their statistics"),
    )
    .expect("statistics JSON");
    eprintln!("session renewals: {}", stats["renewals"]);
    let operations = stats["operations"].as_object().expect("operations");
    let never_ran: Vec<&String> = operations
        .iter()
        .filter(|(_, codes)| {
            codes
                .as_object()
                .expect("codes")
                .keys()
                .all(|c| TOKEN_REFUSALS.contains(&c.as_str()))
        })
        .map(|(op, _)| op)
        .collect();
    assert!(never_ran.is_empty(), "only token refusals: {never_ran:?}");
    // Other options may leave operations out (`--mode negative` skips those without
    // parameters); the standing run covers them all.
    if extra.trim().is_empty() {
        let documented = shiku_server::http::all_docs().len() * 2;
        assert_eq!(
            operations.len(),
            documented,
            "every documented operation was fuzzed"
        );
    }
}

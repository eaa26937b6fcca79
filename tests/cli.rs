//! The binary as an operator runs it: flags and SHIKU_* variables, the start-up line, a clean stop
//! on SIGTERM and SIGINT, `import` and `openapi`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_shiku-server");

/// Starts the binary, waits for its start-up line and returns (child, that line).
fn start(cmd: &mut Command) -> (Child, String) {
    let mut child = cmd
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("listening on") => return (child, line),
            Ok(_) => {}
            Err(e) => {
                let _ = child.kill();
                let status = child.wait();
                panic!("no start-up line within 30 s ({e}); exit: {status:?}");
            }
        }
    }
}

fn port_of(line: &str) -> u16 {
    let addr = line
        .split("listening on ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap()
        .trim_end_matches(',');
    addr.rsplit(':').next().unwrap().parse().unwrap()
}

fn stop(mut child: Child, signal: &str) -> std::process::ExitStatus {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not stop after {signal}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn config_answers(port: u16) -> serde_json::Value {
    reqwest::get(format!("http://127.0.0.1:{port}/config"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn flags_start_the_embedded_store_and_sigterm_stops() {
    let dir = tempfile::tempdir().unwrap();
    let (child, line) = start(
        Command::new(BIN)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .arg("--data-dir")
            .arg(dir.path()),
    );
    assert!(line.contains("using store sqlite:"), "{line}");
    assert!(line.contains(&dir.path().display().to_string()), "{line}");
    let v = config_answers(port_of(&line)).await;
    assert_eq!(v["resultCode"], 1);
    assert!(dir.path().join("shiku.db").exists());
    assert!(stop(child, "TERM").success());
}

#[tokio::test]
async fn environment_and_config_file_and_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("shiku.toml");
    std::fs::write(
        &cfg,
        "listen = \"127.0.0.1:1\"\n[client]\nxmpp_host = \"im.example.com\"\n",
    )
    .unwrap();
    let (child, line) = start(
        Command::new(BIN)
            .env("SHIKU_CONFIG", &cfg)
            .env("SHIKU_LISTEN", "127.0.0.1:0")
            .env("SHIKU_DATA_DIR", dir.path().join("d")),
    );
    let v = config_answers(port_of(&line)).await;
    assert_eq!(v["data"]["XMPPHost"], "im.example.com");
    let status = stop(child, "INT");
    assert!(status.success());
    let (child, line) = start(
        Command::new(BIN)
            .arg("--config")
            .arg(&cfg)
            .env("SHIKU_LISTEN", "127.0.0.1:0")
            .env("SHIKU_DATA_DIR", dir.path().join("d"))
            .env("SHIKU_CLIENT__XMPP_DOMAIN", "example.com"),
    );
    let v = config_answers(port_of(&line)).await;
    assert_eq!(v["data"]["XMPPHost"], "im.example.com");
    assert_eq!(v["data"]["XMPPDomain"], "example.com");
    assert!(dir.path().join("d/shiku.db").exists());
    assert!(stop(child, "INT").success());
}

#[test]
fn bad_configuration_is_reported_not_panicked() {
    let out = Command::new(BIN)
        .env("SHIKU_FIRST_USER_ID", "abc")
        .env("SHIKU_LISTEN", "127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SHIKU_FIRST_USER_ID"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn import_loads_fixtures_and_openapi_prints() {
    let dir = tempfile::tempdir().unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures");
    let out = Command::new(BIN)
        .args(["import", fixtures])
        .env("SHIKU_DATA_DIR", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("users: 5"), "{log}");
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
}

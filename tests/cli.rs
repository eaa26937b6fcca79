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

/// The access log names the method and path, never a password, token or key, and the client
/// address a proxy claims only when that proxy is trusted.
#[tokio::test]
async fn the_access_log_holds_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("--listen")
        .arg("127.0.0.1:0")
        .arg("--data-dir")
        .arg(dir.path())
        .env("RUST_LOG", "info")
        .env("SHIKU_ACCESS_LOG", "true")
        // No trusted proxy: a forwarded address is not believed.
        .env("SHIKU_TRUSTED_PROXIES", "")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary starts");
    let out = child.stdout.take().unwrap();
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let port = loop {
        if let Some(l) = lines
            .lock()
            .unwrap()
            .iter()
            .find(|l| l.contains("listening on"))
        {
            break port_of(l);
        }
        assert!(Instant::now() < deadline, "no start-up line");
        std::thread::sleep(Duration::from_millis(50));
    };
    let md5 = "e10adc3949ba59abbe56e057f20f883e";
    let client = reqwest::Client::new();
    client
        .get(format!(
            "http://127.0.0.1:{port}/user/login?telephone=13800000000&password={md5}&access_token=tok-SECRET-1"
        ))
        .header("X-Forwarded-For", "9.9.9.9")
        .send()
        .await
        .unwrap();
    client
        .post(format!(
            "http://127.0.0.1:{port}/config?secret=sig-SECRET-2"
        ))
        .form(&[("access_token", "body-SECRET-3")])
        .send()
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !lines.lock().unwrap().iter().any(|l| l.contains("/config")) {
        assert!(Instant::now() < deadline, "no access log line");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(stop(child, "TERM").success());
    let log = lines.lock().unwrap().join("\n");
    for secret in [
        md5,
        "tok-SECRET-1",
        "sig-SECRET-2",
        "body-SECRET-3",
        "9.9.9.9",
    ] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    assert!(
        log.contains("GET /user/login?telephone=13800000000&password=***&access_token=***"),
        "{log}"
    );
    assert!(
        log.contains("127.0.0.1 \"POST /config?secret=***\""),
        "{log}"
    );
}

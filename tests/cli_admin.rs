//! `shiku-server admin create`: the first console account comes from the command line (same
//! `--data-dir`/`--config` as the server), and no default admin or password exists.

mod common;

use std::process::Command;

use shiku_server::domain::console::CONSOLE_ROLES;
use shiku_server::domain::util::md5_hex;

const BIN: &str = env!("CARGO_BIN_EXE_shiku-server");

/// Runs `admin create` with `args` on the store of a server on `data_dir` (MongoDB under
/// SHIKU_TEST_STORE=mongodb, as the server the test then spawns there).
fn admin_create(data_dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .envs(common::stores::child_env(data_dir))
        .args(["admin", "create"])
        .args(args)
        .env_remove("SHIKU_ADMIN_PASSWORD")
        .env("RUST_LOG", "warn")
        .output()
        .expect("binary runs")
}

async fn console_login(app: &common::TestApp, phone: &str, password: &str) -> serde_json::Value {
    app.post(
        "/console/login",
        &[("account", phone), ("password", &md5_hex(password))],
    )
    .await
}

#[tokio::test]
async fn created_admin_logs_in_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let out = admin_create(
        dir.path(),
        &[
            "--data-dir",
            data,
            "--phone",
            "13700000001",
            "--password",
            "first-admin-pw",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("role 6"), "{stdout}");

    let path = dir.path().to_path_buf();
    let app = common::spawn_with(move |c| c.data_dir = path).await;
    let v = console_login(&app, "13700000001", "first-admin-pw").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"]["role"], "6");
    let token = v["data"]["access_Token"].as_str().unwrap().to_string();
    let v = app
        .post("/console/adminList", &[("access_token", &token)])
        .await;
    assert_eq!(v["count"], 1, "{v}");
    // The same account logs in to the IM with the same password.
    let v = app.login("13700000001", "first-admin-pw").await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let v = console_login(&app, "13700000001", "wrong-password").await;
    assert_eq!(v["resultCode"], 0, "{v}");
}

#[tokio::test]
async fn an_existing_user_gets_the_given_password_and_role() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    {
        let app = common::spawn_with(move |c| c.data_dir = path).await;
        app.register("13700000002", "old-password", "旧").await;
        // Let the server settle its writes before another process opens the database.
        drop(app);
    }
    let config = dir.path().join("shiku.toml");
    std::fs::write(
        &config,
        format!("data_dir = {:?}\n", dir.path().to_str().unwrap()),
    )
    .unwrap();
    let out = admin_create(
        dir.path(),
        &[
            "--config",
            config.to_str().unwrap(),
            "--phone",
            "13700000002",
            "--password",
            "new-admin-pw",
            "--area-code",
            "86",
            "--role",
            "5",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().to_path_buf();
    let app = common::spawn_with(move |c| c.data_dir = path).await;
    let v = console_login(&app, "13700000002", "new-admin-pw").await;
    assert_eq!(v["data"]["role"], "5", "{v}");
    assert_eq!(v["data"]["nickname"], "旧");
    assert_eq!(
        console_login(&app, "13700000002", "old-password").await["resultCode"],
        0
    );
}

#[test]
fn bad_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for args in [
        // Too short a password.
        vec![
            "--data-dir",
            data,
            "--phone",
            "13700000003",
            "--password",
            "short",
        ],
        // Not a console role.
        vec![
            "--data-dir",
            data,
            "--phone",
            "13700000003",
            "--password",
            "long-enough",
            "--role",
            "2",
        ],
        // Not a phone.
        vec![
            "--data-dir",
            data,
            "--phone",
            "abc",
            "--password",
            "long-enough",
        ],
        // No password at all: there is no default.
        vec!["--data-dir", data, "--phone", "13700000003"],
    ] {
        let out = admin_create(dir.path(), &args);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(!out.stderr.is_empty(), "{args:?}: no message");
    }
}

#[tokio::test]
async fn a_fresh_server_has_no_console_account() {
    let app = common::spawn().await;
    let (roles, count) = app
        .app
        .store
        .console
        .list_roles(CONSOLE_ROLES, 0, 10)
        .await
        .unwrap();
    assert_eq!(count, 0, "{roles:?}");
    // Nor do the reference's usual accounts and passwords open it.
    for (account, password) in [
        ("admin", "admin"),
        ("1000", "1000"),
        ("10000", "10000"),
        ("10005", "10005"),
        ("10000", "123456"),
    ] {
        let v = console_login(&app, account, password).await;
        assert_eq!(v["resultCode"], 0, "{account}: {v}");
    }
}

//! Black-box tests of the password checks on REST (README "Logins"): the limiter on
//! `/user/login` and the old password of `/user/password/update`, per account and per address,
//! the back-off expiring, identical answers for unknown and wrong accounts, and the remembered
//! verifier of repeat logins dropped at logout, password change, lock and console reset.
//! (SASL on each transport: `xmpp_websocket`, `xmpp_bosh`, `xmpp_tcp`; the console login:
//! `api_console`.)

mod common;

use std::time::Duration;

use serde_json::Value;
use shiku_server::domain::util::md5_hex;

fn throttled(v: &Value) -> bool {
    v["resultCode"] == 1040106
}

/// `/user/login` from the client address `ip` (the test talks through loopback, a trusted
/// proxy by default, so `X-Forwarded-For` names the client).
async fn login_from(app: &common::TestApp, ip: &str, phone: &str, password: &str) -> Value {
    app.client
        .post(format!("{}/user/login", app.base))
        .header("X-Forwarded-For", ip)
        .form(&common::form(&[
            ("telephone", &md5_hex(phone)),
            ("password", &md5_hex(password)),
            ("areaCode", "86"),
            ("access_token", ""),
        ]))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The answer without its timestamp.
fn answer(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("currentTime");
    v
}

#[tokio::test]
async fn user_login_backs_off_per_account_and_a_success_resets_it() {
    let app = common::spawn_with(|c| {
        c.passwords.account_free_failures = 3;
        c.passwords.first_delay_secs = 1;
        c.passwords.max_delay_secs = 1;
    })
    .await;
    app.register("13700000001", "right", "a").await;
    // Unknown account and wrong password: the same answer.
    let wrong = answer(app.login("13700000001", "wrong").await);
    let unknown = answer(app.login("13700000999", "wrong").await);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["resultCode"], 0);
    assert_eq!(wrong["resultMsg"], "帐号或密码错误");
    for _ in 0..2 {
        assert_eq!(answer(app.login("13700000001", "wrong").await), wrong);
    }
    // The fourth attempt waits, whatever the password, and says for how long.
    let v = app.login("13700000001", "right").await;
    assert!(throttled(&v), "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("1 秒"), "{v}");
    assert!(v.get("data").is_none());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    common::ok(&app.login("13700000001", "right").await);
    // The success reset the count: three more failures are free again (from elsewhere: the
    // address that just logged in is trusted by the account).
    for _ in 0..3 {
        let v = login_from(&app, "192.0.2.50", "13700000001", "wrong").await;
        assert_eq!(answer(v), wrong);
    }
    assert!(throttled(
        &login_from(&app, "192.0.2.50", "13700000001", "wrong").await
    ));
}

#[tokio::test]
async fn the_address_is_limited_across_accounts_and_the_owner_s_address_gets_through() {
    let app = common::spawn_with(|c| {
        c.passwords.account_free_failures = 2;
        c.passwords.source_free_failures = 3;
        c.passwords.first_delay_secs = 60;
    })
    .await;
    app.register("13700000011", "right", "owner").await;
    // The owner logged in from their usual address once.
    common::ok(&login_from(&app, "198.51.100.1", "13700000011", "right").await);
    // A guesser tries several accounts from one address: after 3 the address waits.
    for phone in ["13700000011", "13700000012", "13700000013"] {
        let v = login_from(&app, "203.0.113.9", phone, "guess").await;
        assert_eq!(v["resultCode"], 0, "{v}");
    }
    assert!(throttled(
        &login_from(&app, "203.0.113.9", "13700000014", "guess").await
    ));
    // Guesses from other addresses put the owner's account into back-off...
    login_from(&app, "203.0.113.10", "13700000011", "guess").await;
    let v = login_from(&app, "203.0.113.11", "13700000011", "right").await;
    assert!(throttled(&v), "{v}");
    // ...but not for the address the owner logged in from before.
    common::ok(&login_from(&app, "198.51.100.1", "13700000011", "right").await);
}

#[tokio::test]
async fn the_old_password_of_a_password_change_is_limited_too() {
    let app = common::spawn_with(|c| {
        c.passwords.account_free_failures = 2;
        c.passwords.first_delay_secs = 60;
    })
    .await;
    let (_, token) = app.register("13700000021", "right", "a").await;
    let change = |old: &'static str| {
        let token = token.clone();
        let app = &app;
        async move {
            app.post(
                "/user/password/update",
                &[
                    ("access_token", token.as_str()),
                    ("oldPassword", &md5_hex(old)),
                    ("newPassword", &md5_hex("new")),
                ],
            )
            .await
        }
    };
    for _ in 0..2 {
        assert_eq!(change("wrong").await["resultMsg"], "旧密码错误");
    }
    assert!(throttled(&change("right").await));
    // The login shares the account's count.
    assert!(throttled(&app.login("13700000021", "right").await));
}

#[tokio::test]
async fn the_remembered_check_is_dropped_at_logout_password_change_lock_and_reset() {
    let app = common::spawn_with(|c| c.integration_key = "k".into()).await;
    let ctx = app.app.clone();
    let (uid, _) = app.register("13700000031", "right", "a").await;
    let uid = uid as i32;
    assert!(!ctx.passwords.remembers(uid), "registration checks nothing");
    common::ok(&app.login("13700000031", "right").await);
    assert!(ctx.passwords.remembers(uid));
    // A wrong password does not disturb it.
    app.login("13700000031", "wrong").await;
    assert!(ctx.passwords.remembers(uid));

    // Logout.
    let v = app.login("13700000031", "right").await;
    let token2 = v["data"]["access_token"].as_str().unwrap().to_string();
    common::ok(&app.post("/user/logout", &[("access_token", &token2)]).await);
    assert!(!ctx.passwords.remembers(uid));

    // Password change.
    let v = common::ok(&app.login("13700000031", "right").await).clone();
    assert!(ctx.passwords.remembers(uid));
    let token3 = v["access_token"].as_str().unwrap().to_string();
    common::ok(
        &app.post(
            "/user/password/update",
            &[
                ("access_token", token3.as_str()),
                ("oldPassword", &md5_hex("right")),
                ("newPassword", &md5_hex("second")),
            ],
        )
        .await,
    );
    assert!(!ctx.passwords.remembers(uid));
    assert_eq!(app.login("13700000031", "right").await["resultCode"], 0);

    // Console lock (`/console/restPwd` and `/console/deleteUser` end sessions the same way).
    common::ok(&app.login("13700000031", "second").await);
    assert!(ctx.passwords.remembers(uid));
    common::ok(
        &app.post(
            "/console/changeStatus",
            &[
                ("access_token", "k"),
                ("userId", &uid.to_string()),
                ("status", "-1"),
            ],
        )
        .await,
    );
    assert!(!ctx.passwords.remembers(uid));
    let v = app.login("13700000031", "second").await;
    assert_eq!(v["resultMsg"], "您的账号已被锁定", "{v}");
    common::ok(
        &app.post(
            "/console/changeStatus",
            &[
                ("access_token", "k"),
                ("userId", &uid.to_string()),
                ("status", "1"),
            ],
        )
        .await,
    );
    common::ok(&app.login("13700000031", "second").await);
    assert!(ctx.passwords.remembers(uid));
    shiku_server::domain::credentials::revoke_all(&ctx, uid)
        .await
        .unwrap();
    assert!(!ctx.passwords.remembers(uid), "every revocation forgets");
}

//! Public accounts (seed 003 `MpController`, `AdminMpController`), black-box: the back-office
//! login and its token's reach, the menu and `/public/menu/list`, followers, conversations and
//! replies, mass sending of text and image-text articles as jobs, and who may do what.

mod common;

use serde_json::{json, Value};
use shiku_server::domain::util::md5_hex;

use common::{console_admin, ok, spawn_with, user, TestApp, TestUser};

async fn call(app: &TestApp, path: &str, token: &str, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", token)];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

fn code(v: &Value) -> i64 {
    v["resultCode"].as_i64().unwrap_or(-1)
}

fn refused_with(v: &Value, msg: &str) {
    assert_eq!(code(v), 0, "{v}");
    assert_eq!(v["resultMsg"], msg, "{v}");
}

async fn mp_login(app: &TestApp, phone: &str) -> Value {
    app.post(
        "/mp/login",
        &[("username", phone), ("password", &md5_hex("pw"))],
    )
    .await
}

/// The bodies of `u`'s copies of the conversation with `peer`, newest first.
async fn bodies(app: &TestApp, u: &TestUser, peer: i64) -> Vec<Value> {
    let v = app
        .get(
            "/tigase/shiku_msgs",
            &[("access_token", &u.token), ("receiver", &peer.to_string())],
        )
        .await;
    ok(&v)
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::from_str(r["body"].as_str().unwrap()).unwrap())
        .collect()
}

async fn finished(app: &TestApp, token: &str, job: &str) -> Value {
    for _ in 0..200 {
        let v = call(app, "/mp/job", token, &[("jobId", job)]).await;
        if ok(&v)["done"] == true {
            return ok(&v).clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("job {job} did not finish");
}

#[tokio::test]
async fn a_public_account_runs_its_menu_followers_and_mass_sending() {
    let app = spawn_with(|_| {}).await;
    let mp = user(&app, "13800000001", "公众号").await;
    ok(&call(&app, "/user/update", &mp.token, &[("userType", "2")]).await);
    let a = user(&app, "13800000002", "fan a").await;
    let b = user(&app, "13800000003", "fan b").await;
    let c = user(&app, "13800000004", "not a fan").await;
    for f in [&a, &b] {
        ok(&call(&app, "/friends/add", &f.token, &[("toUserId", &mp.sid())]).await);
    }

    // Logging in: only public accounts, only with their password.
    refused_with(&mp_login(&app, &a.phone).await, "该账号不是公众号");
    let v = app
        .post(
            "/mp/login",
            &[("username", &mp.phone), ("password", &md5_hex("wrong"))],
        )
        .await;
    refused_with(&v, "帐号或密码错误！");
    let v = mp_login(&app, &mp.phone).await;
    let token = ok(&v)["access_token"].as_str().unwrap().to_string();
    assert_eq!(ok(&v)["userId"], mp.id);
    let t = token.as_str();

    // The token reaches /mp only; user and console tokens do not reach /mp.
    assert_eq!(code(&call(&app, "/user/get", t, &[]).await), 1030102);
    assert_eq!(code(&call(&app, "/console/summary", t, &[]).await), 1030102);
    assert_eq!(code(&call(&app, "/mp/home", &mp.token, &[]).await), 1030102);
    let (_, admin) = console_admin(&app, "13800000099", 6).await;
    assert_eq!(code(&call(&app, "/mp/home", &admin, &[]).await), 1030102);
    assert_eq!(code(&app.post("/mp/home", &[]).await), 1030101);
    let v = call(&app, "/mp/home", t, &[]).await;
    assert_eq!(
        *ok(&v),
        json!({"userId": mp.id, "nickname": "公众号", "fansCount": 2, "menuCount": 0})
    );

    // The menu: three top entries at most, five children each, links only.
    let mut tops = Vec::new();
    for (i, name) in ["资讯", "服务", "关于"].iter().enumerate() {
        let url = format!("https://example.com/{i}");
        let v = call(&app, "/mp/menu/save", t, &[("name", name), ("url", &url)]).await;
        tops.push(ok(&v)["id"].as_i64().unwrap());
    }
    let v = call(
        &app,
        "/mp/menu/save",
        t,
        &[("name", "第四"), ("url", "https://example.com/4")],
    )
    .await;
    refused_with(&v, "菜单已达上限 (3)");
    let first = tops[0].to_string();
    for i in 0..5 {
        let name = format!("子菜单{i}");
        ok(&call(
            &app,
            "/mp/menu/save",
            t,
            &[
                ("name", &name),
                ("url", "www.example.com"),
                ("parentId", &first),
            ],
        )
        .await);
    }
    refused_with(
        &call(
            &app,
            "/mp/menu/save",
            t,
            &[
                ("name", "第六"),
                ("url", "www.example.com"),
                ("parentId", &first),
            ],
        )
        .await,
        "菜单已达上限 (5)",
    );
    for (name, url) in [("x", "javascript:alert(1)"), ("", "https://a.b"), ("x", "")] {
        let v = call(&app, "/mp/menu/save", t, &[("name", name), ("url", url)]).await;
        assert_eq!(code(&v), 1010101, "{name} {url}: {v}");
    }
    // Renamed in place.
    let second = tops[1].to_string();
    ok(&call(
        &app,
        "/mp/menu/save",
        t,
        &[
            ("id", &second),
            ("name", "服务中心"),
            ("url", "https://example.com/s"),
        ],
    )
    .await);
    // Any user reads it as seed 003 shows it.
    let v = call(
        &app,
        "/public/menu/list",
        &c.token,
        &[("userId", &mp.sid())],
    )
    .await;
    let tree = ok(&v).as_array().unwrap().clone();
    assert_eq!(tree.len(), 3);
    assert_eq!(tree[0]["parentId"], 0);
    assert_eq!(tree[0]["userId"], mp.id);
    assert_eq!(tree[0]["menuList"].as_array().unwrap().len(), 5);
    assert_eq!(tree[0]["menuList"][0]["parentId"], tops[0]);
    assert_eq!(tree[0]["menuList"][0]["name"], "子菜单0");
    assert_eq!(tree[1]["name"], "服务中心");
    assert_eq!(tree[1]["url"], "https://example.com/s");
    assert_eq!(ok(&call(&app, "/mp/menuList", t, &[]).await), &json!(tree));
    let v = call(&app, "/public/menu/list", &c.token, &[("userId", &a.sid())]).await;
    refused_with(&v, "公众号不存在");
    // Deleting a top entry deletes its children.
    ok(&call(&app, "/mp/menu/delete", t, &[("id", &first)]).await);
    let v = call(
        &app,
        "/public/menu/list",
        &c.token,
        &[("userId", &mp.sid())],
    )
    .await;
    assert_eq!(ok(&v).as_array().unwrap().len(), 2);
    assert_eq!(ok(&call(&app, "/mp/home", t, &[]).await)["menuCount"], 2);

    // Followers.
    let v = call(&app, "/mp/fans", t, &[]).await;
    assert_eq!(v["count"], 2, "{v}");
    let mut fans: Vec<i64> = ok(&v)
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["userId"].as_i64().unwrap())
        .collect();
    fans.sort();
    assert_eq!(fans, vec![a.id, b.id]);

    // Replies and single messages go to followers only, through the message path.
    let a_id = a.sid();
    let v = call(
        &app,
        "/mp/msg/reply",
        t,
        &[("toUserId", &a_id), ("content", "欢迎关注")],
    )
    .await;
    assert!(ok(&v)["messageId"].is_string());
    let v = call(
        &app,
        "/mp/msg/send",
        t,
        &[
            ("toUserId", &a_id),
            ("body", r#"{"type":1,"content":"第二条"}"#),
        ],
    )
    .await;
    ok(&v);
    let got = bodies(&app, &a, mp.id).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[0]["content"], "第二条");
    assert_eq!(got[1]["content"], "欢迎关注");
    refused_with(
        &call(
            &app,
            "/mp/msg/reply",
            t,
            &[("toUserId", &c.sid()), ("content", "hi")],
        )
        .await,
        "对方不是本公众号的粉丝",
    );
    let v = call(
        &app,
        "/mp/msg/send",
        t,
        &[("toUserId", &a_id), ("body", r#"{"type":900}"#)],
    )
    .await;
    assert_eq!(code(&v), 1010101, "{v}");
    // The account's conversations and one conversation.
    let v = call(&app, "/mp/msg", t, &[]).await;
    let rows = ok(&v).as_array().unwrap().clone();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["jid"], a_id);
    let v = call(
        &app,
        "/mp/msg/list",
        t,
        &[("toUserId", &a_id), ("pageSize", "1")],
    )
    .await;
    let rows = ok(&v).as_array().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert!(rows[0]["body"].as_str().unwrap().contains("第二条"));

    // Mass sending: text, one article, several articles; every follower, nobody else.
    assert_eq!(ok(&call(&app, "/mp/push", t, &[]).await)["fansCount"], 2);
    assert_eq!(ok(&call(&app, "/mp/many", t, &[]).await)["fansCount"], 2);
    let v = call(&app, "/mp/textToAll", t, &[("title", "全体粉丝你好")]).await;
    assert_eq!(ok(&v)["fansCount"], 2);
    let job = ok(&v)["jobId"].as_str().unwrap().to_string();
    let status = finished(&app, t, &job).await;
    assert_eq!(
        (status["sent"].clone(), status["failed"].clone()),
        (json!(2), json!(0))
    );
    let v = call(
        &app,
        "/mp/pushToAll",
        t,
        &[
            ("title", "新品"),
            ("sub", "摘要"),
            ("img", "https://example.com/a.png"),
            ("url", "https://example.com/a"),
        ],
    )
    .await;
    finished(&app, t, ok(&v)["jobId"].as_str().unwrap()).await;
    let v = call(
        &app,
        "/mp/manyToAll",
        t,
        &[
            ("title", r#"["一","二"]"#),
            (
                "url",
                r#"["https://example.com/1","https://example.com/2"]"#,
            ),
            (
                "img",
                r#"["https://example.com/1.png","https://example.com/2.png"]"#,
            ),
        ],
    )
    .await;
    finished(&app, t, ok(&v)["jobId"].as_str().unwrap()).await;
    for fan in [&a, &b] {
        let got = bodies(&app, fan, mp.id).await;
        assert_eq!(got[2]["type"], 1);
        assert_eq!(got[2]["content"], "全体粉丝你好");
        assert_eq!(got[1]["type"], 80);
        let article: Value = serde_json::from_str(got[1]["content"].as_str().unwrap()).unwrap();
        assert_eq!(
            article,
            json!({"title": "新品", "sub": "摘要", "img": "https://example.com/a.png", "url": "https://example.com/a"})
        );
        assert_eq!(got[0]["type"], 81);
        let list: Value = serde_json::from_str(got[0]["content"].as_str().unwrap()).unwrap();
        assert_eq!(
            list[1],
            json!({"title": "二", "img": "https://example.com/2.png", "url": "https://example.com/2"})
        );
    }
    assert!(bodies(&app, &c, mp.id).await.is_empty());
    let v = call(
        &app,
        "/mp/manyToAll",
        t,
        &[
            ("title", r#"["一"]"#),
            ("url", r#"["https://a.b","https://c.d"]"#),
            ("img", r#"["https://e.f"]"#),
        ],
    )
    .await;
    assert_eq!(code(&v), 1010101, "{v}");
    refused_with(
        &call(
            &app,
            "/mp/job",
            t,
            &[("jobId", "0123456789abcdef0123456789abcdef")],
        )
        .await,
        "任务不存在 (no such jobId)",
    );
    // A console job is not the account's.
    let v = call(
        &app,
        "/console/pushToAll",
        &admin,
        &[
            ("fromUserId", &c.sid()),
            ("body", r#"{"type":1,"content":"x"}"#),
        ],
    )
    .await;
    let console_job = ok(&v)["jobId"].as_str().unwrap().to_string();
    refused_with(
        &call(&app, "/mp/job", t, &[("jobId", &console_job)]).await,
        "任务不存在 (no such jobId)",
    );

    // Removing a follower ends the relation both ways.
    ok(&call(&app, "/mp/fans/delete", t, &[("toUserId", &b.sid())]).await);
    assert_eq!(call(&app, "/mp/fans", t, &[]).await["count"], 1);
    let v = call(&app, "/friends/get", &b.token, &[("toUserId", &mp.sid())]).await;
    assert!(v["data"].is_null() || v["data"]["status"] != 2, "{v}");
    refused_with(
        &call(&app, "/mp/fans/delete", t, &[("toUserId", &c.sid())]).await,
        "对方不是本公众号的粉丝",
    );

    // Logout ends the session; locking the account ends its tokens.
    ok(&call(&app, "/mp/logout", t, &[]).await);
    assert_eq!(code(&call(&app, "/mp/home", t, &[]).await), 1030102);
    let t2 = ok(&mp_login(&app, &mp.phone).await)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&call(
        &app,
        "/console/changeStatus",
        &admin,
        &[("userId", &mp.sid()), ("status", "-1")],
    )
    .await);
    assert_eq!(code(&call(&app, "/mp/home", &t2, &[]).await), 1030102);
}

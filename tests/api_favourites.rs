//! Favourites (seed 003 `/emoji/*`, `/collection/list`), black-box: made from messages, files,
//! stickers and texts, listed by kind under both spellings, private to their owner, and keeping
//! their files when the originals are recalled.

mod common;

use reqwest::multipart::{Form, Part};
use serde_json::Value;

use common::{ok, spawn_with, user, TestApp, TestUser};

const KEY: &str = "fav-integration-key";

fn png() -> Vec<u8> {
    let img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 10, 10]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn upload_image(app: &TestApp, u: &TestUser) -> String {
    let form = Form::new()
        .text("access_token", u.token.clone())
        .text("userId", u.sid())
        .part("file", Part::bytes(png()).file_name("red.png"));
    let v: Value = app
        .client
        .post(format!("{}/upload/UploadServlet", app.base))
        .multipart(form)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["data"]["images"][0]["oUrl"]
        .as_str()
        .expect("oUrl")
        .to_string()
}

/// The status of GET on the path of `url` (the server's own file tree).
async fn status_of(app: &TestApp, url: &str) -> u16 {
    let path = &url[url.find("://").map_or(0, |i| i + 3)..];
    let path = &path[path.find('/').unwrap_or(0)..];
    app.client
        .get(format!("{}{}", app.base, path))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// `/console/oneSendOne` from `a` to `b`; the messageId.
async fn send(app: &TestApp, a: &TestUser, b: &TestUser, kind: &str, content: &str) -> String {
    let v = app
        .get(
            "/console/oneSendOne",
            &[
                ("access_token", KEY),
                ("type", kind),
                ("content", content),
                ("sendPhone", &a.phone),
                ("toUserPhone", &b.phone),
            ],
        )
        .await;
    ok(&v)["messageId"].as_str().unwrap().to_string()
}

async fn call(app: &TestApp, path: &str, u: &TestUser, pairs: &[(&str, &str)]) -> Value {
    let mut all = vec![("access_token", u.token.as_str())];
    all.extend_from_slice(pairs);
    app.post(path, &all).await
}

async fn listed(app: &TestApp, path: &str, u: &TestUser, pairs: &[(&str, &str)]) -> Vec<Value> {
    let v = call(app, path, u, pairs).await;
    ok(&v).as_array().expect("a list").clone()
}

#[tokio::test]
async fn favourites_are_kept_listed_and_deleted_by_their_owner_only() {
    let app = spawn_with(|c| c.integration_key = KEY.into()).await;
    let a = user(&app, "13700000001", "a").await;
    let b = user(&app, "13700000002", "b").await;
    let stranger = user(&app, "13700000003", "s").await;
    let image = upload_image(&app, &a).await;
    let image_msg = send(&app, &a, &b, "2", &image).await;
    let text_msg = send(&app, &a, &b, "1", "a text worth keeping").await;

    // b keeps the image message, the text message, a sticker of ours and one from the web.
    ok(&call(&app, "/emoji/add", &b, &[("msgId", &image_msg)]).await);
    ok(&call(&app, "/user/emoji/add", &b, &[("msgId", &text_msg)]).await);
    ok(&call(&app, "/emoji/add", &b, &[("url", &image), ("type", "6")]).await);
    let web = "https://stickers.example.com/cat.gif";
    ok(&call(&app, "/emoji/add", &b, &[("url", web), ("type", "6")]).await);

    let images = listed(&app, "/collection/list", &b, &[("type", "1")]).await;
    assert_eq!(images.len(), 1, "{images:?}");
    let kept = &images[0];
    assert_eq!(
        (kept["type"].clone(), kept["msgId"].clone()),
        (1.into(), image_msg.clone().into())
    );
    let copy = kept["url"].as_str().unwrap().to_string();
    assert_ne!(copy, image, "the favourite keeps its own copy");
    assert!(kept["emojiId"].as_str().unwrap().len() == 24, "{kept}");
    let all = listed(&app, "/collection/list", &b, &[]).await;
    let kinds: Vec<i64> = all.iter().map(|e| e["type"].as_i64().unwrap()).collect();
    assert_eq!(kinds, vec![5, 1], "newest first, stickers apart: {all:?}");
    assert_eq!(all[0]["msg"], "a text worth keeping");
    let stickers = listed(&app, "/emoji/list", &b, &[("pageSize", "10")]).await;
    assert_eq!(stickers.len(), 2);
    assert_eq!(stickers[0]["url"], web, "a web address is kept as it is");
    assert_ne!(stickers[1]["url"], image.as_str(), "our upload is copied");
    assert_eq!(
        listed(&app, "/user/emoji/list", &b, &[]).await,
        stickers,
        "both spellings answer alike"
    );
    let page = listed(
        &app,
        "/emoji/list",
        &b,
        &[("pageIndex", "1"), ("pageSize", "1")],
    )
    .await;
    assert_eq!(page, stickers[1..].to_vec());

    // Favourites are private: nobody else sees them, whatever userId they name.
    let bid = b.sid();
    assert!(listed(&app, "/collection/list", &a, &[("userId", &bid)])
        .await
        .is_empty());
    assert!(listed(&app, "/emoji/list", &stranger, &[("userId", &bid)])
        .await
        .is_empty());
    // Nor keeps a message of a conversation they are not in.
    let v = call(&app, "/emoji/add", &stranger, &[("msgId", &image_msg)]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    // Nor deletes someone else's.
    let id = kept["emojiId"].as_str().unwrap();
    let v = call(&app, "/emoji/delete", &stranger, &[("emojiId", id)]).await;
    assert_eq!(v["resultCode"], 0, "{v}");

    // The sender recalls the image message: its file goes, the favourite's copy stays.
    let v = call(
        &app,
        "/tigase/deleteMsg",
        &a,
        &[("type", "1"), ("delete", "2"), ("messageId", &image_msg)],
    )
    .await;
    ok(&v);
    assert_eq!(
        status_of(&app, &image).await,
        404,
        "the recalled file is gone"
    );
    assert_eq!(
        status_of(&app, &copy).await,
        200,
        "the favourite's copy stays"
    );

    // Deleting the favourite deletes its copy; a second delete finds nothing.
    ok(&call(&app, "/user/emoji/delete", &b, &[("emojiId", id)]).await);
    assert_eq!(status_of(&app, &copy).await, 404);
    let v = call(&app, "/emoji/delete", &b, &[("emojiId", id)]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(listed(&app, "/collection/list", &b, &[("type", "1")])
        .await
        .is_empty());
}

#[tokio::test]
async fn bad_favourites_are_refused_and_the_number_is_bounded() {
    let app = spawn_with(|c| c.limits.max_favourites = 2).await;
    let u = user(&app, "13700000011", "u").await;
    for (pairs, code) in [
        (
            vec![("type", "9"), ("url", "https://x.example/a.png")],
            1010101,
        ),
        (vec![("url", "https://x.example/a.png")], 1010101),
        (vec![("type", "1")], 1010101),
        (vec![("type", "5")], 1010101),
        (vec![("type", "1"), ("url", "not a url")], 1010101),
        (vec![("msgId", "nope")], 0),
    ] {
        let v = call(&app, "/emoji/add", &u, &pairs).await;
        assert_eq!(v["resultCode"], code, "{pairs:?}: {v}");
    }
    let v = call(&app, "/collection/list", &u, &[("type", "7")]).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    ok(&call(&app, "/emoji/add", &u, &[("type", "5"), ("msg", "one")]).await);
    ok(&call(&app, "/emoji/add", &u, &[("type", "5"), ("msg", "two")]).await);
    let v = call(&app, "/emoji/add", &u, &[("type", "5"), ("msg", "three")]).await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("上限"), "{v}");
}

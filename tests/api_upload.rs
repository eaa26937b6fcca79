//! Uploads as each client sends them (multipart forms to `/upload/*`), the reference's JSON
//! shapes (spec/reference-server.md 7, seed 002 sample), thumbnails, avatars, copy, delete,
//! ownership, limits, broken images, hostile names, concurrency, expiry and the hooks from
//! room shares.

mod common;

use std::io::Cursor;

use image::{DynamicImage, ImageFormat};
use reqwest::multipart::{Form, Part};
use serde_json::Value;

use common::{spawn, spawn_with, TestApp};

/// A real image of `w`×`h` in `format`.
fn image_bytes(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
    let img = DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 77])
    }));
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

/// An AMR-NB voice sample: the magic header and a few silent frames.
fn amr_bytes() -> Vec<u8> {
    let mut v = b"#!AMR\n".to_vec();
    for _ in 0..50 {
        v.push(0x3c);
        v.extend_from_slice(&[0u8; 31]);
    }
    v
}

/// An MP3 sample: an ID3v2 header and MPEG frame headers.
fn mp3_bytes() -> Vec<u8> {
    let mut v = b"ID3\x03\x00\x00\x00\x00\x00\x0a".to_vec();
    v.extend_from_slice(&[0u8; 10]);
    for _ in 0..20 {
        v.extend_from_slice(&[0xFF, 0xFB, 0x90, 0x64]);
        v.extend_from_slice(&[0x55u8; 413]);
    }
    v
}

/// An MP4 sample: an `ftyp` box and filler `mdat` of `len` bytes in total.
fn mp4_bytes(len: usize) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x18];
    v.extend_from_slice(b"ftypmp42\0\0\0\0mp42isom");
    let rest = len.saturating_sub(v.len() + 8);
    v.extend_from_slice(&((rest + 8) as u32).to_be_bytes());
    v.extend_from_slice(b"mdat");
    v.extend((0..rest).map(|i| (i * 7 % 251) as u8));
    v
}

fn part(bytes: Vec<u8>, name: &str) -> Part {
    Part::bytes(bytes).file_name(name.to_string())
}

/// Upload helpers on the harness.
trait Upload {
    async fn upload(&self, path: &str, form: Form) -> (u16, Value);
    async fn fetch(&self, url: &str) -> (u16, Vec<u8>);
}

impl Upload for TestApp {
    async fn upload(&self, path: &str, form: Form) -> (u16, Value) {
        answer(
            self.client
                .post(format!("{}{}", self.base, path))
                .multipart(form),
        )
        .await
    }

    async fn fetch(&self, url: &str) -> (u16, Vec<u8>) {
        let r = self.client.get(url).send().await.expect("fetch sent");
        let status = r.status().as_u16();
        (status, r.bytes().await.expect("bytes").to_vec())
    }
}

fn dims(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("decodes");
    (img.width(), img.height())
}

fn month() -> String {
    chrono::Utc::now().format("%Y%m").to_string()
}

#[tokio::test]
async fn upload_servlet_answers_the_reference_shape_for_every_kind() {
    let app = spawn().await;
    // Registered from this address: its tokenless uploads are filed under its userId.
    let (uid, _) = app.register("13800000071", "pw", "up").await;
    let png = image_bytes(400, 200, ImageFormat::Png);
    let jpg = image_bytes(300, 600, ImageFormat::Jpeg);
    let gif = image_bytes(150, 150, ImageFormat::Gif);
    let amr = amr_bytes();
    let mp3 = mp3_bytes();
    let mp4 = mp4_bytes(5000);
    let txt = b"plain text document".to_vec();
    let form = Form::new()
        .text("userId", uid.to_string())
        .text("validTime", "0")
        .part("file", part(png.clone(), "首页.png"))
        .part("file", part(jpg.clone(), "photo.JPG"))
        .part("file", part(gif.clone(), "anim.gif"))
        .part("file", part(amr.clone(), "voice.amr"))
        .part("file", part(mp3.clone(), "song.mp3"))
        .part("file", part(mp4.clone(), "clip.mp4"))
        .part("file", part(txt.clone(), "notes.txt"))
        .part(
            "file",
            part(b"\x89PNG\r\n\x1a\ngarbage".to_vec(), "broken.png"),
        )
        .part("file", part(Vec::new(), "empty.png"));
    let (status, v) = app.upload("/upload/UploadServlet", form).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["resultCode"], 1, "{v}");
    // The seed-002 sample: counters at the top level, no resultMsg.
    assert!(v.get("resultMsg").is_none(), "{v}");
    assert_eq!(v["total"], 8, "{v}");
    assert_eq!(v["success"], 7, "{v}");
    assert_eq!(v["failure"], 1, "{v}");
    assert!(v["time"].as_u64().is_some(), "{v}");
    let data = &v["data"];
    for k in ["images", "audios", "videos", "others"] {
        assert!(data[k].is_array(), "{k} missing: {v}");
    }
    let images = data["images"].as_array().unwrap();
    assert_eq!(images.len(), 4, "{v}");
    assert_eq!(data["audios"].as_array().unwrap().len(), 2);
    assert_eq!(data["videos"].as_array().unwrap().len(), 1);
    assert_eq!(data["others"].as_array().unwrap().len(), 1);

    let by_name = |arr: &str, name: &str| -> Value {
        data[arr]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["oFileName"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {arr}: {v}"))
    };
    let broken = by_name("images", "broken.png");
    assert_eq!(broken["status"], 0);
    assert_eq!(broken["message"], "文件异常，请上传正确有效格式的文件");
    assert!(broken.get("oUrl").is_none());

    let prefix = format!("{}/u/{}/{uid}/{}/", app.base, uid % 10000, month());
    for (name, bytes, thumb) in [
        ("首页.png", &png, (100, 50)),
        ("photo.JPG", &jpg, (50, 100)),
        ("anim.gif", &gif, (100, 100)),
    ] {
        let item = by_name("images", name);
        assert_eq!(item["status"], 1);
        let o = item["oUrl"].as_str().unwrap();
        let t = item["tUrl"].as_str().unwrap();
        assert!(o.starts_with(&format!("{prefix}o/")), "{o}");
        assert!(t.starts_with(&format!("{prefix}t/")), "{t}");
        let file = o.rsplit('/').next().unwrap();
        assert_eq!(file.split('.').next().unwrap().len(), 32, "{file}");
        assert_eq!(t.rsplit('/').next().unwrap(), file);
        let (s, got) = app.fetch(o).await;
        assert_eq!((s, &got), (200, bytes), "{name}");
        let (s, tb) = app.fetch(t).await;
        assert_eq!(s, 200);
        assert_eq!(dims(&tb), thumb, "{name}");
    }
    for (arr, name, bytes) in [
        ("audios", "voice.amr", &amr),
        ("audios", "song.mp3", &mp3),
        ("videos", "clip.mp4", &mp4),
        ("others", "notes.txt", &txt),
    ] {
        let item = by_name(arr, name);
        assert_eq!(item["status"], 1);
        assert!(item.get("tUrl").is_none(), "{item}");
        let o = item["oUrl"].as_str().unwrap();
        assert!(o.starts_with(&prefix) && !o.contains("/o/"), "{o}");
        assert_eq!(app.fetch(o).await, (200, bytes.clone()), "{name}");
    }
}

#[tokio::test]
async fn clients_variants_uploadify_voice_and_kept_names() {
    let app = spawn().await;
    let png = image_bytes(40, 30, ImageFormat::Png);
    // jQuery: Uploadify reads the top-level url.
    let (_, v) = app
        .upload(
            "/upload/UploadifyServlet",
            Form::new()
                .text("userId", "100200")
                .part("file", part(png.clone(), "a.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let url = v["url"].as_str().expect("top-level url");
    assert_eq!(url, v["data"]["images"][0]["oUrl"].as_str().unwrap());
    assert_eq!(app.fetch(url).await, (200, png.clone()));
    // Small images keep their size as thumbnail.
    let t = v["data"]["images"][0]["tUrl"].as_str().unwrap();
    assert_eq!(dims(&app.fetch(t).await.1), (40, 30));

    // newchat: voice through UploadVoiceServlet.
    let (_, v) = app
        .upload(
            "/upload/UploadVoiceServlet",
            Form::new()
                .text("userId", "100200")
                .part("file", part(amr_bytes(), "v.amr")),
        )
        .await;
    assert_eq!(v["success"], 1, "{v}");
    assert!(v["data"]["audios"][0]["oUrl"]
        .as_str()
        .unwrap()
        .ends_with(".amr"));

    // A name whose stem is 32 characters is kept; a second upload of it never overwrites.
    let kept = "0123456789abcdef0123456789abcdef.png";
    let other = image_bytes(20, 20, ImageFormat::Png);
    let (_, a) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", "100200")
                .part("file", part(png.clone(), kept)),
        )
        .await;
    let (_, b) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", "100200")
                .part("file", part(other.clone(), kept)),
        )
        .await;
    let ua = a["data"]["images"][0]["oUrl"].as_str().unwrap().to_string();
    let ub = b["data"]["images"][0]["oUrl"].as_str().unwrap().to_string();
    assert!(ua.ends_with(&format!("/o/{kept}")), "{ua}");
    assert_ne!(ua, ub);
    assert_eq!(app.fetch(&ua).await.1, png);
    assert_eq!(app.fetch(&ub).await.1, other);
    // The doubled context path of the standalone reference jar works too.
    let (_, v) = app
        .upload(
            "/upload/upload/UploadServlet",
            Form::new().part("file", part(b"x".to_vec(), "x.bin")),
        )
        .await;
    assert_eq!(v["success"], 1, "{v}");
    assert!(v["data"]["others"][0]["oUrl"]
        .as_str()
        .unwrap()
        .contains("/u/0/0/"));
}

#[tokio::test]
async fn form_errors_and_hostile_names() {
    let app = spawn().await;
    let (uid, _) = app.register("13800000072", "pw", "up").await;
    let (_, v) = app
        .upload("/upload/UploadServlet", Form::new().text("userId", "1"))
        .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert_eq!(v["resultMsg"], "缺少上传文件");
    let r = app
        .client
        .post(format!("{}/upload/UploadServlet", app.base))
        .form(&[("userId", "1")])
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resultCode"], 1020101, "{v}");
    assert_eq!(v["resultMsg"], "表单解析失败");
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", "../../etc")
                .part("file", part(b"x".to_vec(), "x.txt")),
        )
        .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    // Path parts of a file name are dropped; odd names get a fresh uuid.
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", uid.to_string())
                .part("file", part(b"one".to_vec(), "../../../../tmp/evil.sh"))
                .part("file", part(b"two".to_vec(), "..\\..\\win.bat"))
                .part("file", part(b"three".to_vec(), "a\tb.txt"))
                .part("file", part(b"four".to_vec(), "/etc/passwd")),
        )
        .await;
    assert_eq!(v["success"], 4, "{v}");
    for item in v["data"]["others"].as_array().unwrap() {
        let url = item["oUrl"].as_str().unwrap();
        assert!(
            url.starts_with(&format!(
                "{}/u/{}/{uid}/{}/",
                app.base,
                uid % 10000,
                month()
            )),
            "{url}"
        );
        assert!(!url.contains(".."), "{url}");
    }
    assert!(!std::path::Path::new("/tmp/evil.sh").exists());
    // A NUL in the part header is a malformed form, refused as such.
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new().part("file", part(b"nul".to_vec(), "a\0b.txt")),
        )
        .await;
    assert!(
        v["resultCode"] == 1020101
            || v["data"]["others"][0]["oUrl"]
                .as_str()
                .is_some_and(|u| !u.contains('\0')),
        "{v}"
    );
    // Nothing was left behind in the incoming directory.
    let tmp = app.data_dir.path().join("files/.tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test]
async fn size_limits_are_enforced_while_streaming() {
    let app = spawn_with(|c| {
        c.files.max_file_bytes = 10_000;
        c.files.max_request_bytes = 50_000;
    })
    .await;
    let (status, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", "9")
                .part("file", part(mp4_bytes(20_000), "big.mp4"))
                .part("file", part(mp4_bytes(2_000), "small.mp4")),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["success"].clone(), v["failure"].clone()),
        (1.into(), 1.into()),
        "{v}"
    );
    let videos = v["data"]["videos"].as_array().unwrap();
    let big = videos.iter().find(|i| i["oFileName"] == "big.mp4").unwrap();
    assert_eq!(big["status"], 0);
    assert!(big["message"].as_str().unwrap().contains("10000"), "{big}");
    let (status, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", "9")
                .part("a", part(mp4_bytes(9_000), "1.mp4"))
                .part("b", part(mp4_bytes(9_000), "2.mp4"))
                .part("c", part(mp4_bytes(9_000), "3.mp4"))
                .part("d", part(mp4_bytes(9_000), "4.mp4"))
                .part("e", part(mp4_bytes(9_000), "5.mp4"))
                .part("f", part(mp4_bytes(9_000), "6.mp4")),
        )
        .await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["resultCode"], 1010101, "{v}");
    // The parts read before the limit was hit were not kept.
    // Anonymous uploads are nobody's: filed under user 0 whatever userId claims.
    let dir = app.data_dir.path().join("files/u/0/0").join(month());
    let kept = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(kept, 1, "only the first request's small file stays");
    let tmp = app.data_dir.path().join("files/.tmp");
    assert_eq!(std::fs::read_dir(&tmp).unwrap().count(), 0);
}

#[tokio::test]
async fn avatars_land_where_clients_compute_them() {
    let app = spawn().await;
    let (uid, token) = app.register("13800000001", "pw", "ava").await;
    let (_, other_token) = app.register("13800000002", "pw", "bob").await;
    let png = image_bytes(640, 320, ImageFormat::Png);
    let (_, v) = app
        .upload(
            "/upload/UploadAvatarServlet",
            Form::new()
                .text("userId", uid.to_string())
                .text("access_token", token.clone())
                .part("file", part(png.clone(), "me.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let o = v["data"]["oUrl"].as_str().unwrap();
    let t = v["data"]["tUrl"].as_str().unwrap();
    assert_eq!(
        o,
        format!("{}/avatar/o/{}/{}.jpg", app.base, uid % 10000, uid)
    );
    assert_eq!(
        t,
        format!("{}/avatar/t/{}/{}.jpg", app.base, uid % 10000, uid)
    );
    let (s, ob) = app.fetch(o).await;
    assert_eq!(s, 200);
    assert_eq!(
        image::guess_format(&ob).unwrap(),
        ImageFormat::Jpeg,
        "PNG input is converted"
    );
    assert_eq!(dims(&ob), (640, 320));
    assert_eq!(dims(&app.fetch(t).await.1), (100, 50));
    // Uploadify variant: the same plus top-level url; a new avatar replaces the old one.
    let (_, v) = app
        .upload(
            "/upload/UploadifyAvatarServlet",
            Form::new().text("userId", uid.to_string()).part(
                "file",
                part(image_bytes(50, 80, ImageFormat::Jpeg), "x.jpg"),
            ),
        )
        .await;
    assert_eq!(v["url"], v["data"]["oUrl"], "{v}");
    assert_eq!(dims(&app.fetch(o).await.1), (50, 80));
    // Someone else's token cannot set my avatar; userId is required; broken images refused.
    let (_, v) = app
        .upload(
            "/upload/UploadAvatarServlet",
            Form::new()
                .text("userId", uid.to_string())
                .text("access_token", other_token)
                .part("file", part(png.clone(), "me.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 1030103, "{v}");
    let (_, v) = app
        .upload(
            "/upload/UploadAvatarServlet",
            Form::new().part("file", part(png.clone(), "me.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert_eq!(v["resultMsg"], "缺少请求参数");
    let (_, v) = app
        .upload(
            "/upload/UploadAvatarServlet",
            Form::new()
                .text("userId", uid.to_string())
                .part("file", part(b"GIF89a-not".to_vec(), "me.gif")),
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    assert_eq!(v["resultMsg"], "文件异常，请上传正确有效格式的文件");
    let (_, v) = app
        .upload(
            "/upload/UploadAvatarServlet",
            Form::new()
                .text("userId", uid.to_string())
                .text("access_token", "forged"),
        )
        .await;
    assert_eq!(v["resultCode"], 1030102, "{v}");
}

/// Java's `String.hashCode`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(c as i32))
}

async fn make_room(app: &TestApp, token: &str, jid: &str) -> String {
    let v = app
        .post(
            "/room/add",
            &[("access_token", token), ("jid", jid), ("name", "files")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    v["data"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn group_avatars_and_room_share_files() {
    let app = spawn().await;
    let (owner, token) = app.register("13800000011", "pw", "owner").await;
    let (_, stranger) = app.register("13800000012", "pw", "stranger").await;
    let jid = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let room_id = make_room(&app, &token, jid).await;
    let h = i64::from(java_hash(jid)).abs();
    let (_, v) = app
        .upload(
            "/upload/GroupAvatarServlet",
            Form::new()
                .text("jid", jid)
                .text("access_token", token.clone())
                .part(
                    "file",
                    part(image_bytes(300, 300, ImageFormat::Png), "g.png"),
                ),
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(
        v["data"]["oUrl"],
        format!(
            "{}/avatar/o/{}/{}/{jid}.jpg",
            app.base,
            h % 10000,
            h % 20000
        )
    );
    assert_eq!(
        dims(&app.fetch(v["data"]["tUrl"].as_str().unwrap()).await.1),
        (100, 100)
    );
    let (_, v) = app
        .upload(
            "/upload/GroupAvatarServlet",
            Form::new()
                .text("jid", jid)
                .text("access_token", stranger.clone())
                .part("file", part(image_bytes(30, 30, ImageFormat::Png), "g.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    let (_, v) = app
        .upload(
            "/upload/GroupAvatarServlet",
            Form::new()
                .text("jid", "../../x")
                .part("file", part(image_bytes(30, 30, ImageFormat::Png), "g.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 1010101, "{v}");

    // A shared file is deleted with its share.
    let (_, up) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("access_token", token.clone())
                .part("file", part(b"shared doc".to_vec(), "doc.pdf")),
        )
        .await;
    let url = up["data"]["others"][0]["oUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.contains(&format!("/{owner}/")), "{url}");
    let v = app
        .post(
            "/room/add/share",
            &[
                ("access_token", &token),
                ("roomId", &room_id),
                ("type", "9"),
                ("size", "10"),
                ("userId", &owner.to_string()),
                ("url", &url),
                ("name", "doc.pdf"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let share_id = v["data"]["shareId"].as_str().unwrap().to_string();
    assert_eq!(app.fetch(&url).await.0, 200);
    let v = app
        .post(
            "/room/share/delete",
            &[
                ("access_token", &token),
                ("roomId", &room_id),
                ("shareId", &share_id),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(app.fetch(&url).await.0, 404);

    // Dissolving the room deletes the files still shared in it.
    let (_, up) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("access_token", token.clone())
                .part("file", part(b"second".to_vec(), "b.pdf")),
        )
        .await;
    let url2 = up["data"]["others"][0]["oUrl"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .post(
            "/room/add/share",
            &[
                ("access_token", &token),
                ("roomId", &room_id),
                ("type", "9"),
                ("size", "6"),
                ("userId", &owner.to_string()),
                ("url", &url2),
                ("name", "b.pdf"),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let v = app
        .post(
            "/room/delete",
            &[("access_token", &token), ("roomId", &room_id)],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(app.fetch(&url2).await.0, 404);
}

#[tokio::test]
async fn delete_and_copy_respect_ownership() {
    let app = spawn().await;
    let (_, alice) = app.register("13800000021", "pw", "alice").await;
    let (bob_id, bob) = app.register("13800000022", "pw", "bob").await;
    let png = image_bytes(300, 150, ImageFormat::Png);
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("access_token", alice.clone())
                .part("file", part(png.clone(), "p.png")),
        )
        .await;
    let o = v["data"]["images"][0]["oUrl"].as_str().unwrap().to_string();
    let t = v["data"]["images"][0]["tUrl"].as_str().unwrap().to_string();

    // Bob copies Alice's image (forwarding a file message): a new name, same content.
    let c = app
        .post(
            "/upload/copyFile",
            &[("access_token", &bob), ("paths", &o), ("validTime", "-1")],
        )
        .await;
    assert_eq!(c["resultCode"], 1, "{c}");
    assert!(c.get("currentTime").is_some(), "the API envelope: {c}");
    let copy = c["data"]["url"].as_str().unwrap().to_string();
    assert_ne!(copy, o);
    // The copy is Bob's, in Bob's own directory: nothing is written among Alice's files.
    assert_eq!(
        copy.rsplit_once('/').unwrap().0,
        format!("{}/u/{}/{bob_id}/{}/o", app.base, bob_id % 10000, month()),
    );
    assert_eq!(app.fetch(&copy).await, (200, png.clone()));
    let copy_thumb = copy.replace("/o/", "/t/");
    assert_eq!(dims(&app.fetch(&copy_thumb).await.1), (100, 50));
    let v = app
        .post(
            "/upload/copyFile",
            &[("access_token", &bob), ("paths", "-1")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert!(v["data"].get("url").is_none(), "{v}");
    let v = app
        .post(
            "/upload/copyFile",
            &[
                ("access_token", &bob),
                ("paths", "http://x/u/1/1/200001/o/nothing.png"),
            ],
        )
        .await;
    assert_eq!(
        (v["resultCode"].clone(), v["resultMsg"].clone()),
        (0.into(), "源文件不存在".into())
    );
    let v = app.post("/upload/copyFile", &[("paths", &o)]).await;
    assert_eq!(v["resultCode"], 1030101, "{v}");
    // The servlet variant answers the path and url.
    let v = app
        .post(
            "/upload/copyFileServlet",
            &[("access_token", &bob), ("paths", &o), ("validTime", "1")],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let path = v["data"]["path"].as_str().unwrap();
    assert!(v["data"]["url"].as_str().unwrap().ends_with(path), "{v}");

    // Bob cannot delete Alice's file; nobody can without a token.
    let v = app
        .post(
            "/upload/deleteFileServlet",
            &[("access_token", &bob), ("paths", &o)],
        )
        .await;
    assert_eq!(
        (v["success"].clone(), v["failure"].clone()),
        (0.into(), 1.into()),
        "{v}"
    );
    assert_eq!(app.fetch(&o).await.0, 200);
    let v = app
        .post("/upload/deleteFileServlet", &[("paths", &o)])
        .await;
    assert_eq!(v["resultCode"], 1030101, "{v}");
    // Bob deletes his copy (repeated `paths`, one of them not ours at all).
    let r = app
        .client
        .post(format!("{}/upload/deleteFileServlet", app.base))
        .body(format!(
            "access_token={bob}&paths={}&paths={}",
            urlencode(&copy),
            urlencode("/nope/x.png")
        ))
        .header("content-type", "application/x-www-form-urlencoded")
        .send()
        .await
        .unwrap();
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(v["data"], "");
    assert_eq!(
        (v["success"].clone(), v["total"].clone()),
        (1.into(), 2.into()),
        "{v}"
    );
    assert_eq!(app.fetch(&copy).await.0, 404);
    assert_eq!(app.fetch(&copy_thumb).await.0, 404);
    assert_eq!(app.fetch(&o).await.0, 200, "the original stays");
    // Alice deletes her original, thumbnail included.
    let v = app
        .post(
            "/upload/deleteFileServlet",
            &[("access_token", &alice), ("paths", &o)],
        )
        .await;
    assert_eq!(v["success"], 1, "{v}");
    assert_eq!(app.fetch(&o).await.0, 404);
    assert_eq!(app.fetch(&t).await.0, 404);
    let _ = bob_id;
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[tokio::test]
async fn tokens_when_required_and_when_sent() {
    let app = spawn_with(|c| c.files.require_token = true).await;
    let (uid, token) = app.register("13800000031", "pw", "t").await;
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new().part("file", part(b"x".to_vec(), "x.txt")),
        )
        .await;
    assert_eq!(v["resultCode"], 1030101, "{v}");
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("access_token", token.clone())
                .part("file", part(b"x".to_vec(), "x.txt")),
        )
        .await;
    assert_eq!(v["success"], 1, "{v}");
    let url = v["data"]["others"][0]["oUrl"].as_str().unwrap();
    assert!(url.contains(&format!("/u/{}/{uid}/", uid % 10000)), "{url}");
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("access_token", token)
                .text("userId", "42")
                .part("file", part(b"x".to_vec(), "x.txt")),
        )
        .await;
    assert_eq!(v["resultCode"], 1030103, "{v}");
}

#[tokio::test]
async fn concurrent_uploads_all_land_intact() {
    let app = std::sync::Arc::new(spawn().await);
    let mut tasks = Vec::new();
    for i in 0..16u32 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            let png = image_bytes(120 + i, 90, ImageFormat::Png);
            let blob = mp4_bytes(50_000 + i as usize * 1000);
            let (_, v) = app
                .upload(
                    "/upload/UploadServlet",
                    Form::new()
                        .text("userId", "777")
                        .part("file", part(png.clone(), "same-name.png"))
                        .part("file", part(blob.clone(), "same-name.mp4")),
                )
                .await;
            assert_eq!(v["success"], 2, "{v}");
            let o = v["data"]["images"][0]["oUrl"].as_str().unwrap().to_string();
            let m = v["data"]["videos"][0]["oUrl"].as_str().unwrap().to_string();
            assert_eq!(app.fetch(&o).await, (200, png));
            assert_eq!(app.fetch(&m).await, (200, blob));
            (o, m)
        }));
    }
    let mut urls = std::collections::HashSet::new();
    for t in tasks {
        let (o, m) = t.await.expect("task");
        assert!(urls.insert(o));
        assert!(urls.insert(m));
    }
    assert_eq!(urls.len(), 32);
}

#[tokio::test]
async fn valid_time_expiry_deletes_files_and_records() {
    let app = spawn_with(|c| c.files.expiry_interval_secs = 1).await;
    let png = image_bytes(200, 200, ImageFormat::Png);
    // 0.00002 days ≈ 1.7 s.
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", "321")
                .text("validTime", "0.00002")
                .part("file", part(png.clone(), "soon.png"))
                .part("file", part(amr_bytes(), "soon.amr")),
        )
        .await;
    let o = v["data"]["images"][0]["oUrl"].as_str().unwrap().to_string();
    let t = v["data"]["images"][0]["tUrl"].as_str().unwrap().to_string();
    let a = v["data"]["audios"][0]["oUrl"].as_str().unwrap().to_string();
    let (_, keep) = app
        .upload(
            "/upload/UploadServlet",
            Form::new()
                .text("userId", "321")
                .part("file", part(png.clone(), "forever.png")),
        )
        .await;
    let forever = keep["data"]["images"][0]["oUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(app.fetch(&o).await.0, 200);
    let rel = o.split_once("/u/").unwrap().1;
    let record_path = app.data_dir.path().join("files/u").join(rel);
    let record_path = record_path.to_string_lossy().to_string();
    assert!(app
        .app
        .store
        .files
        .resource_by_path(&record_path)
        .await
        .unwrap()
        .is_some());
    let mut gone = false;
    for _ in 0..80 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        if app.fetch(&o).await.0 == 404 && app.fetch(&a).await.0 == 404 {
            gone = true;
            break;
        }
    }
    assert!(gone, "expired files were not deleted");
    assert_eq!(app.fetch(&t).await.0, 404);
    assert!(app
        .app
        .store
        .files
        .resource_by_path(&record_path)
        .await
        .unwrap()
        .is_none());
    assert_eq!(app.fetch(&forever).await.0, 200);
}

/// Sends a chat message through the message path, as a client's stanza would.
async fn send_file_message(app: &TestApp, from: i64, to: i64, msg_type: i64, url: &str) -> String {
    use shiku_server::domain::messages::{send, Outgoing, Target};
    let id = uuid::Uuid::new_v4().simple().to_string();
    let body = serde_json::json!({
        "type": msg_type, "content": url, "messageId": id,
        "fromUserId": from.to_string(), "toUserId": to.to_string(),
        "timeSend": 1_700_000_000
    });
    let sent = send(
        &app.app,
        Outgoing {
            from: from as i32,
            resource: "web".into(),
            target: Target::User(to as i32),
            body: body.as_object().unwrap().clone(),
            origin: None,
        },
    )
    .await
    .expect("sent");
    assert!(sent.stored);
    id
}

#[tokio::test]
async fn recalled_file_messages_take_their_own_files_only() {
    let app = spawn().await;
    let (a, a_token) = app.register("13800000041", "pw", "a").await;
    let (b, b_token) = app.register("13800000042", "pw", "b").await;
    let up = |token: String, name: &'static str| {
        let app = &app;
        async move {
            let (_, v) = app
                .upload(
                    "/upload/UploadServlet",
                    Form::new()
                        .text("access_token", token)
                        .part("file", part(image_bytes(200, 100, ImageFormat::Png), name)),
                )
                .await;
            let i = &v["data"]["images"][0];
            (
                i["oUrl"].as_str().unwrap().to_string(),
                i["tUrl"].as_str().unwrap().to_string(),
            )
        }
    };
    let (mine, mine_t) = up(a_token.clone(), "mine.png").await;
    let (theirs, _) = up(b_token.clone(), "theirs.png").await;
    let m1 = send_file_message(&app, a, b, 2, &mine).await;
    // A message pointing at someone else's upload: recalling it must not delete that file.
    let m2 = send_file_message(&app, a, b, 2, &theirs).await;
    for m in [&m1, &m2] {
        let v = app
            .post(
                "/tigase/deleteMsg",
                &[
                    ("access_token", &a_token),
                    ("type", "1"),
                    ("delete", "2"),
                    ("messageId", m),
                ],
            )
            .await;
        assert_eq!(v["resultCode"], 1, "{v}");
    }
    assert_eq!(app.fetch(&mine).await.0, 404);
    assert_eq!(app.fetch(&mine_t).await.0, 404);
    assert_eq!(app.fetch(&theirs).await.0, 200);
    // Deleting for me only (delete=1) keeps the file.
    let (kept, _) = up(a_token.clone(), "kept.png").await;
    let m3 = send_file_message(&app, a, b, 2, &kept).await;
    let v = app
        .post(
            "/tigase/deleteMsg",
            &[
                ("access_token", &a_token),
                ("type", "1"),
                ("delete", "1"),
                ("messageId", &m3),
            ],
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    assert_eq!(app.fetch(&kept).await.0, 200);
}

/// An upload posted from another address (loopback is a trusted proxy by default, so the
/// server takes the client's address from `X-Forwarded-For`).
async fn upload_from(app: &TestApp, ip: &str, path: &str, form: Form) -> (u16, Value) {
    answer(
        app.client
            .post(format!("{}{}", app.base, path))
            .header("X-Forwarded-For", ip)
            .multipart(form),
    )
    .await
}

/// Sends an upload request; its status and JSON answer.
async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let r = request.send().await.expect("upload sent");
    let status = r.status().as_u16();
    let text = r.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}")),
    )
}

#[tokio::test]
async fn text_only_forms_are_held_to_the_limits() {
    let app = spawn_with(|c| c.files.max_request_bytes = 1_000_000).await;
    // 40 text fields of 60 KB: 2.4 MB without a single file (each field is under the old
    // per-field cap, so before the fix the whole body was read and buffered).
    let mut form = Form::new().text("userId", "9");
    for i in 0..40 {
        form = form.text(format!("f{i}"), "x".repeat(60_000));
    }
    let (status, v) = app.upload("/upload/UploadServlet", form).await;
    assert_eq!(status, 413, "{v}");
    assert_eq!(v["resultCode"], 1010101, "{v}");
    // More parts than `files.max_parts`, however small.
    let mut form = Form::new();
    for i in 0..40 {
        form = form.text(format!("f{i}"), "1");
    }
    let (_, v) = app.upload("/upload/UploadServlet", form).await;
    assert_eq!(v["resultCode"], 1010101, "{v}");
    assert!(v["resultMsg"].as_str().unwrap().contains("32"), "{v}");
    // The server still answers.
    let (_, v) = app
        .upload(
            "/upload/UploadServlet",
            Form::new().part("file", part(b"ok".to_vec(), "a.txt")),
        )
        .await;
    assert_eq!(v["success"], 1, "{v}");
}

#[tokio::test]
async fn image_bombs_are_refused_before_decoding() {
    let app = spawn_with(|c| c.files.max_image_pixels = 1_000_000).await;
    let (uid, token) = app.register("13800000051", "pw", "bomb").await;
    // 2000 x 1000 of one grey: a few KB of PNG declaring 2 MP, over the 1 MP cap.
    let mut bomb = Vec::new();
    DynamicImage::ImageLuma8(image::GrayImage::new(2000, 1000))
        .write_to(&mut Cursor::new(&mut bomb), ImageFormat::Png)
        .unwrap();
    assert!(bomb.len() < 64 * 1024);
    let mut form = Form::new().text("access_token", token.clone());
    for i in 0..4 {
        form = form.part("file", part(bomb.clone(), &format!("b{i}.png")));
    }
    form = form.part(
        "file",
        part(image_bytes(600, 400, ImageFormat::Png), "ok.png"),
    );
    let (_, v) = app.upload("/upload/UploadServlet", form).await;
    assert_eq!(
        (v["success"].clone(), v["failure"].clone()),
        (1.into(), 4.into()),
        "{v}"
    );
    let images = v["data"]["images"].as_array().unwrap();
    let refused = images.iter().find(|i| i["oFileName"] == "b0.png").unwrap();
    assert_eq!(refused["status"], 0);
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("图片尺寸超过限制"),
        "{refused}"
    );
    // An avatar is refused the same way, and a large one that passes is scaled down.
    let (_, v) = app
        .upload(
            "/upload/UploadAvatarServlet",
            Form::new()
                .text("userId", uid.to_string())
                .text("access_token", token.clone())
                .part("file", part(bomb, "a.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 0, "{v}");
    let (_, v) = app
        .upload(
            "/upload/UploadAvatarServlet",
            Form::new()
                .text("userId", uid.to_string())
                .text("access_token", token)
                .part(
                    "file",
                    part(image_bytes(1200, 600, ImageFormat::Png), "a.png"),
                ),
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let o = v["data"]["oUrl"].as_str().unwrap();
    assert_eq!(dims(&app.fetch(o).await.1), (1080, 540));
}

#[tokio::test]
async fn anonymous_uploads_never_act_for_someone_else() {
    let app = spawn_with(|c| c.files.anonymous_uploads_per_minute = 3).await;
    let (uid, token) = app.register("13800000061", "pw", "victim").await;
    let jid = "b1b2c3d4e5f60718293a4b5c6d7e8f91";
    make_room(&app, &token, jid).await;
    let stranger = "203.0.113.9";
    // No token, from an address the victim never logged in from: neither their avatar nor
    // their room's.
    let (_, v) = upload_from(
        &app,
        stranger,
        "/upload/UploadifyAvatarServlet",
        Form::new()
            .text("userId", uid.to_string())
            .part("file", part(image_bytes(50, 50, ImageFormat::Png), "x.png")),
    )
    .await;
    assert_eq!(v["resultCode"], 1030103, "{v}");
    let (_, v) = upload_from(
        &app,
        stranger,
        "/upload/GroupAvatarServlet",
        Form::new()
            .text("jid", jid)
            .part("file", part(image_bytes(50, 50, ImageFormat::Png), "x.png")),
    )
    .await;
    assert_eq!(v["resultCode"], 1030103, "{v}");
    // A plain anonymous upload claiming the victim is filed under nobody, and expires.
    let (_, v) = upload_from(
        &app,
        stranger,
        "/upload/UploadServlet",
        Form::new()
            .text("userId", uid.to_string())
            .part("file", part(b"spam".to_vec(), "s.txt")),
    )
    .await;
    let url = v["data"]["others"][0]["oUrl"].as_str().unwrap().to_string();
    assert!(url.contains("/u/0/0/"), "{url}");
    assert!(!url.contains(&uid.to_string()), "{url}");
    // ... expiring after files.anonymous_valid_days (30), not before.
    let now = chrono::Utc::now().timestamp();
    let expiring = |at: i64| {
        let files = app.app.store.files.clone();
        async move { files.expired_resources(at, 100).await.unwrap() }
    };
    assert!(expiring(now + 29 * 86_400)
        .await
        .iter()
        .all(|r| r.url != url));
    assert!(expiring(now + 31 * 86_400)
        .await
        .iter()
        .any(|r| r.url == url));
    // The per-address quota (3 a minute) is used up.
    let (_, v) = upload_from(
        &app,
        stranger,
        "/upload/UploadServlet",
        Form::new().part("file", part(b"spam".to_vec(), "s.txt")),
    )
    .await;
    assert_eq!(v["resultCode"], 1040106, "{v}");
    // From the address the victim registered from (the jQuery client's tokenless form), the
    // avatar and the room avatar are theirs to set.
    let (_, v) = app
        .upload(
            "/upload/UploadifyAvatarServlet",
            Form::new()
                .text("userId", uid.to_string())
                .part("file", part(image_bytes(50, 50, ImageFormat::Png), "x.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
    let (_, v) = app
        .upload(
            "/upload/GroupAvatarServlet",
            Form::new()
                .text("jid", jid)
                .part("file", part(image_bytes(50, 50, ImageFormat::Png), "x.png")),
        )
        .await;
    assert_eq!(v["resultCode"], 1, "{v}");
}

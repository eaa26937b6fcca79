//! The download side (reference nginx on 8089): content types, `Range`, conditional requests,
//! caching headers, nothing served as HTML or script, 404 JSON outside the tree (traversal,
//! hidden directories, symlinks), and the separate upload/download listeners.

mod common;

use reqwest::multipart::{Form, Part};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{spawn, TestApp};
use shiku_server::config::Config;
use shiku_server::startup::Application;

async fn upload_one(base: &str, client: &reqwest::Client, bytes: Vec<u8>, name: &str) -> String {
    let r = client
        .post(format!("{base}/upload/UploadServlet"))
        .multipart(
            Form::new()
                .text("userId", "100100")
                .part("file", Part::bytes(bytes).file_name(name.to_string())),
        )
        .send()
        .await
        .expect("upload");
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["success"], 1, "{v}");
    let data = &v["data"];
    ["images", "audios", "videos", "others"]
        .iter()
        .find_map(|k| data[k][0]["oUrl"].as_str())
        .expect("a url")
        .to_string()
}

fn blob(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 253) as u8).collect()
}

/// Sends a request line exactly as written (no client-side path normalisation) and returns
/// the status and body.
async fn raw_get(app: &TestApp, path: &str) -> (u16, String) {
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test]
async fn ranges_for_voice_and_video_seek() {
    let app = spawn().await;
    let data = blob(10_000);
    let url = upload_one(&app.base, &app.client, data.clone(), "clip.mp4").await;
    let get = |range: &'static str| {
        let c = app.client.clone();
        let url = url.clone();
        async move { c.get(&url).header("Range", range).send().await.unwrap() }
    };
    let r = get("bytes=0-99").await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 0-99/10000");
    assert_eq!(r.headers()["content-type"], "video/mp4");
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[..100].to_vec());
    let r = get("bytes=9990-").await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.headers()["content-range"], "bytes 9990-9999/10000");
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[9990..].to_vec());
    let r = get("bytes=-10").await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[9990..].to_vec());
    // Several ranges and unsatisfiable ranges: a clear 416 with the length.
    let r = get("bytes=0-9,100-109").await;
    assert_eq!(r.status(), 416);
    assert_eq!(r.headers()["content-range"], "bytes */10000");
    let r = get("bytes=20000-30000").await;
    assert_eq!(r.status(), 416);
    // The whole file, with Accept-Ranges.
    let r = app.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
}

#[tokio::test]
async fn types_caching_and_no_active_content() {
    let app = spawn().await;
    let png = {
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::new(10, 10));
        let mut c = std::io::Cursor::new(Vec::new());
        img.write_to(&mut c, image::ImageFormat::Png).unwrap();
        c.into_inner()
    };
    let cases: Vec<(Vec<u8>, &str, &str, &str)> = vec![
        (png, "a.png", "image/png", "inline"),
        (b"#!AMR\n\x3c".to_vec(), "v.amr", "audio/amr", "inline"),
        (b"ID3\x03\x00".to_vec(), "s.mp3", "audio/mpeg", "inline"),
        (blob(100), "m.mp4", "video/mp4", "inline"),
        (
            b"<html><script>alert(1)</script></html>".to_vec(),
            "x.html",
            "application/octet-stream",
            "attachment",
        ),
        (
            b"<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>".to_vec(),
            "x.svg",
            "application/octet-stream",
            "attachment",
        ),
        (
            b"alert(1)".to_vec(),
            "x.js",
            "application/octet-stream",
            "attachment",
        ),
        (
            b"no extension".to_vec(),
            "README",
            "application/octet-stream",
            "attachment",
        ),
    ];
    for (bytes, name, ctype, disposition) in cases {
        let url = upload_one(&app.base, &app.client, bytes.clone(), name).await;
        let r = app.client.get(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
        let h = r.headers().clone();
        assert_eq!(h["content-type"], ctype, "{name}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{name}");
        assert!(
            h["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with(disposition),
            "{name}: {:?}",
            h["content-disposition"]
        );
        assert_eq!(h["cache-control"], "public, max-age=345600");
        let etag = h["etag"].to_str().unwrap().to_string();
        let modified = h["last-modified"].to_str().unwrap().to_string();
        assert_eq!(r.bytes().await.unwrap().to_vec(), bytes, "{name}");
        // Conditional requests.
        let r = app
            .client
            .get(&url)
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{name}");
        let r = app
            .client
            .get(&url)
            .header("If-Modified-Since", &modified)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 304, "{name}");
        let r = app.client.head(&url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{name}");
    }
}

#[tokio::test]
async fn nothing_outside_the_tree_is_served() {
    let app = spawn().await;
    let url = upload_one(&app.base, &app.client, b"inside".to_vec(), "in.txt").await;
    let root = app.data_dir.path().join("files");
    // A secret beside the tree and a symlink inside it pointing out.
    std::fs::write(app.data_dir.path().join("secret.txt"), b"secret").unwrap();
    std::os::unix::fs::symlink(app.data_dir.path(), root.join("u/link")).unwrap();
    std::fs::write(root.join(".tmp/pending.part"), b"partial").unwrap();
    for path in [
        "/../secret.txt",
        "/u/../../secret.txt",
        "/u/%2e%2e/%2e%2e/secret.txt",
        "/u/..%2f..%2fsecret.txt",
        "/u/..%5c..%5csecret.txt",
        "/u/link/secret.txt",
        "/u/link/shiku.db",
        "/.tmp/pending.part",
        "/%2e%74%6d%70/pending.part",
        "/u/%00/x",
        "/etc/passwd",
        "//etc/passwd",
        "/u",
        "/u/",
    ] {
        let (status, text) = raw_get(&app, path).await;
        assert!(status == 404 || status == 400, "{path}: {text}");
        assert!(
            !text.contains("secret") || text.contains("\"path\""),
            "{path}: {text}"
        );
        assert!(!text.contains("partial"), "{path}: {text}");
    }
    let r = app
        .client
        .get(format!("{}/no/such/file.png", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], 404);
    // Other methods on a stored file are not served either.
    let r = app.client.post(&url).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(app.client.get(&url).send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn upload_and_download_listeners() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        listen_upload: Some("127.0.0.2:0".into()),
        listen_files: Some("127.0.0.3:0".into()),
        data_dir: dir.path().to_path_buf(),
        ..Config::default()
    };
    let app = Application::build(config).await.expect("builds");
    let addrs = app.addrs.clone();
    assert_eq!(addrs.len(), 3);
    tokio::spawn(app.run());
    let client = reqwest::Client::new();
    let upload_base = format!("http://{}", addrs[1]);
    let files_base = format!("http://{}", addrs[2]);
    let data = blob(4096);
    let url = upload_one(&upload_base, &client, data.clone(), "d.mp3").await;
    // Without files.public_url the URL names the host the client uploaded to.
    assert!(url.starts_with(&upload_base), "{url}");
    let path = url.trim_start_matches(&upload_base);
    for base in [&files_base, &upload_base, &format!("http://{}", addrs[0])] {
        let r = client.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{base}");
        assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    }

    // With files.public_url the URLs name the file server.
    let dir2 = tempfile::tempdir().unwrap();
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir2.path().to_path_buf(),
        files: shiku_server::config::FilesConfig {
            public_url: "http://files.example:8089/".into(),
            ..Default::default()
        },
        ..Config::default()
    };
    let app = Application::build(config).await.expect("builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let url = upload_one(&base, &client, data.clone(), "e.mp3").await;
    // (A tokenless upload from an address no user logged in from is filed under user 0.)
    assert!(url.starts_with("http://files.example:8089/u/0/0/"), "{url}");
    let path = url.trim_start_matches("http://files.example:8089");
    let r = client.get(format!("{base}{path}")).send().await.unwrap();
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
}

#[test]
fn the_files_root_cannot_expose_the_data_dir() {
    let mut c = Config::default();
    c.validate().expect("default root data_dir/files is fine");
    for root in [c.data_dir.clone(), ".".into(), "/".into()] {
        c.files.root = root.clone();
        assert!(c.validate().is_err(), "{root:?}");
    }
    c.files.root = "/srv/shiku-files".into();
    c.validate().expect("a separate root is fine");
}

//! Upload and download throughput through the real server over loopback HTTP: multipart
//! uploads streamed to disk by `/upload/UploadServlet`, then the files fetched back from the
//! stored tree (and checked). Run: `cargo bench --bench files`.
//!
//! Options (environment): BENCH_FILES (default 32), BENCH_FILE_MB (size of each, default 4),
//! BENCH_CONCURRENCY (requests in flight, default 4), BENCH_IMAGES (also time PNG uploads with
//! thumbnails, default 8 of 1024×768).

use std::sync::Arc;
use std::time::Instant;

use futures_util::stream::{self, StreamExt};
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use shiku_server::config::Config;
use shiku_server::startup::Application;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn payload(len: usize, seed: usize) -> Vec<u8> {
    (0..len)
        .map(|i| ((i * 131 + seed * 7) % 251) as u8)
        .collect()
}

async fn upload(
    client: &reqwest::Client,
    base: &str,
    uid: &str,
    bytes: Vec<u8>,
    name: &str,
) -> String {
    // The jQuery client's form: no token, the userId of a user logged in from this address.
    let form = Form::new()
        .text("userId", uid.to_string())
        .part("file", Part::bytes(bytes).file_name(name.to_string()));
    let v: Value = client
        .post(format!("{base}/upload/UploadServlet"))
        .multipart(form)
        .send()
        .await
        .expect("upload sent")
        .json()
        .await
        .expect("json");
    assert_eq!(v["success"], 1, "{v}");
    let d = &v["data"];
    ["images", "videos", "audios", "others"]
        .iter()
        .find_map(|k| d[k][0]["oUrl"].as_str())
        .expect("url")
        .to_string()
}

fn mb_per_s(bytes: usize, secs: f64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / secs
}

#[tokio::main]
async fn main() {
    let files = env("BENCH_FILES", 32);
    let size = env("BENCH_FILE_MB", 4) * 1024 * 1024;
    let conc = env("BENCH_CONCURRENCY", 4).max(1);
    let images = env("BENCH_IMAGES", 8);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().to_path_buf(),
        log: "warn".into(),
        ..Config::default()
    };

    let app = Application::build(config).await.expect("server builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run());
    let client = reqwest::Client::new();
    // The uploader registers (and so vouches for its tokenless uploads) from this address.
    let reg: Value = client
        .post(format!("{base}/user/register"))
        .form(&[
            ("telephone", "13800000001"),
            ("areaCode", "86"),
            ("password", "e10adc3949ba59abbe56e057f20f883e"),
            ("nickname", "bench"),
        ])
        .send()
        .await
        .expect("register")
        .json()
        .await
        .expect("json");
    let uid = Arc::new(reg["data"]["userId"].as_i64().expect("userId").to_string());
    let blobs: Arc<Vec<Vec<u8>>> = Arc::new((0..files).map(|i| payload(size, i)).collect());

    let started = Instant::now();
    let urls: Vec<(usize, String)> = stream::iter(0..files)
        .map(|i| {
            let (client, base, blobs, uid) =
                (client.clone(), base.clone(), blobs.clone(), uid.clone());
            async move {
                let url =
                    upload(&client, &base, &uid, blobs[i].clone(), &format!("f{i}.mp4")).await;
                (i, url)
            }
        })
        .buffer_unordered(conc)
        .collect()
        .await;
    let up = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let total: usize = stream::iter(urls)
        .map(|(i, url)| {
            let (client, blobs) = (client.clone(), blobs.clone());
            async move {
                let body = client
                    .get(&url)
                    .send()
                    .await
                    .expect("get")
                    .bytes()
                    .await
                    .expect("body");
                assert!(body[..] == blobs[i][..], "download differs");
                body.len()
            }
        })
        .buffer_unordered(conc)
        .fold(0, |a, n| async move { a + n })
        .await;
    let down = started.elapsed().as_secs_f64();

    let all = files * size;
    println!(
        "files: {files} × {} MiB, {conc} in flight",
        size / (1024 * 1024)
    );
    println!("upload:   {:8.1} MB/s ({up:.2} s)", mb_per_s(all, up));
    println!("download: {:8.1} MB/s ({down:.2} s)", mb_per_s(total, down));

    if images > 0 {
        let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(1024, 768, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x ^ y) % 256) as u8])
        }));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png)
            .expect("png");
        let png = png.into_inner();
        let started = Instant::now();
        let n = stream::iter(0..images)
            .map(|i| {
                let (client, base, png, uid) =
                    (client.clone(), base.clone(), png.clone(), uid.clone());
                async move { upload(&client, &base, &uid, png, &format!("i{i}.png")).await }
            })
            .buffer_unordered(conc)
            .count()
            .await;
        let secs = started.elapsed().as_secs_f64();
        println!(
            "images:   {:8.1} uploads/s of 1024×768 PNG with thumbnail ({n} in {secs:.2} s)",
            n as f64 / secs
        );
    }
}

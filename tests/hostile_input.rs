//! Slow and greedy clients cost only themselves (issue 17 item 7): a body trickled in byte by
//! byte is cut off, one address holds a bounded number of requests and connections, and the
//! server keeps answering everyone else meanwhile.

mod common;

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends the head of a form POST announcing `len` bytes of body, and the first byte of it.
async fn start_slow_post(addr: &str, path: &str, len: usize) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {len}\r\n\r\na"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s
}

/// Reads an HTTP answer until the connection closes or `wait` passes; returns what came.
async fn read_answer(s: &mut TcpStream, wait: Duration) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let _ = tokio::time::timeout(wait, async {
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    buf.extend_from_slice(&chunk[..n]);
                    if String::from_utf8_lossy(&buf).contains("\"resultCode\"") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn a_body_trickled_in_is_cut_off() {
    let app = common::spawn_with(|c| c.limits.body_timeout_secs = 1).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut s = start_slow_post(&addr, "/user/login", 1000).await;
    let started = std::time::Instant::now();
    // One byte every 200 ms: the body would take minutes.
    let drip = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if s.write_all(b"b").await.is_err() {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(1500), drip).await;
    let answer = read_answer(&mut s, Duration::from_secs(5)).await;
    assert!(answer.contains("\"resultCode\":1010101"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn one_address_holds_a_bounded_number_of_requests() {
    let app = common::spawn_with(|c| c.limits.max_connections_per_address = 3).await;
    let addr = app.base.trim_start_matches("http://").to_string();
    let mut slow = Vec::new();
    for _ in 0..3 {
        slow.push(start_slow_post(&addr, "/user/login", 1000).await);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A fourth request from the same address is refused at once.
    let r = app
        .client
        .get(format!("{}/getCurrentTime", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 429);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["resultCode"], 1040106, "{v}");
    // Another address (through the trusted local proxy) is served meanwhile.
    let v: Value = app
        .client
        .get(format!("{}/getCurrentTime", app.base))
        .header("X-Forwarded-For", "198.51.100.7")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["resultCode"], 1, "{v}");
    // When the slow requests go away, the address is served again.
    drop(slow);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let r = app
            .client
            .get(format!("{}/getCurrentTime", app.base))
            .send()
            .await
            .unwrap();
        if r.status().is_success() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "still refused");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn dedicated_listeners_cap_connections_per_address() {
    let (_app, addrs) = common::spawn_xmpp(|c| {
        c.xmpp.listen_tcp = Some("127.0.0.1:0".into());
        c.limits.max_connections_per_address = 2;
        // The test client is not a proxy here: its own address is counted.
        c.trusted_proxies = Vec::new();
    })
    .await;
    for addr in [addrs.tcp.unwrap(), addrs.websocket.unwrap()] {
        let held = [
            TcpStream::connect(addr).await.unwrap(),
            TcpStream::connect(addr).await.unwrap(),
        ];
        tokio::time::sleep(Duration::from_millis(200)).await;
        // The third is closed without a word.
        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(5), third.read(&mut buf))
            .await
            .expect("closed at once")
            .unwrap_or(0);
        assert_eq!(n, 0, "{addr}");
        drop(held);
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Given back: a new connection is accepted (and waits for its stream).
        let mut again = TcpStream::connect(addr).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(500), again.read(&mut buf)).await;
        assert!(waited.is_err(), "{addr}: accepted connections stay open");
    }
}

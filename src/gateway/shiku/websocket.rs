//! The transport of the binary protocol: a WebSocket carrying one frame per binary message, on
//! any path (`ws://<XMPPHost>:5260` and `/im-websocket`). No sub-protocol is negotiated (the
//! clients offer none).
//!
//! One task per socket owns the [`ShikuSession`] and selects between the client's frames, the
//! session's [`Push`] receiver and an idle timer, so no lock is ever held across I/O.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, ProtocolError};
use tokio::time::Instant;

use super::frame::{self, cmd};
use super::proto::CommonErrorProBuf;
use super::session::{Out, ShikuSession, CODE_MALFORMED};
use crate::delivery::Push;
use crate::domain::Ctx;

/// HTTP handler: upgrades to a binary-protocol WebSocket (any path it is mounted on).
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    ctx: web::Data<Ctx>,
) -> actix_web::Result<HttpResponse> {
    let (response, ws, stream) = actix_ws::handle(&req, body)?;
    let ctx = ctx.into_inner();
    // Frames are capped at the stanza limit XMPP uses: a client cannot make the server buffer
    // more than one message's worth.
    let limit = ctx.config.xmpp.max_stanza_bytes;
    let stream = stream
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    let peer_ip = req
        .connection_info()
        .realip_remote_addr()
        .map(|s| s.to_string());
    // The message stream borrows actix's request payload (not `Send`): run on this worker.
    actix_web::rt::spawn(run(ctx, peer_ip, ws, stream));
    Ok(response)
}

/// Whether the loop goes on after an input.
enum Next {
    Continue,
    Close,
}

async fn run(
    ctx: Arc<Ctx>,
    peer_ip: Option<String>,
    mut ws: actix_ws::Session,
    mut stream: actix_ws::AggregatedMessageStream,
) {
    let (mut session, mut push_rx) = ShikuSession::new(ctx.clone(), peer_ip);
    let idle = Duration::from_secs(ctx.config.xmpp.idle_timeout_secs.max(1));
    let mut deadline = Instant::now() + idle;
    let mut pushes_open = true;
    loop {
        // Pushes first: a client sending flat out must not delay what it is being sent (each
        // of its messages waits for its commit before the next frame is read). The protocol
        // step is boxed so an idle session's task stays small.
        let next = tokio::select! {
            biased;
            push = push_rx.recv(), if pushes_open => match push {
                Some(p) => {
                    let conflict = p == Push::Conflict;
                    let outs = session.push(p);
                    let next = write_outs(&mut ws, outs).await;
                    if conflict { Next::Close } else { next }
                }
                None => {
                    pushes_open = false;
                    Next::Continue
                }
            },
            msg = stream.recv() => {
                deadline = Instant::now() + idle;
                match msg {
                    Some(Ok(AggregatedMessage::Binary(data))) => {
                        let outs = Box::pin(session.handle(&data)).await;
                        write_outs(&mut ws, outs).await
                    }
                    Some(Ok(AggregatedMessage::Text(_))) => {
                        let f = error_frame("the protocol uses binary frames");
                        if ws.binary(f).await.is_err() { Next::Close } else { Next::Continue }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if ws.pong(&bytes).await.is_err() { Next::Close } else { Next::Continue }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => Next::Continue,
                    Some(Ok(AggregatedMessage::Close(_))) | None => Next::Close,
                    Some(Err(e)) => {
                        // The WebSocket framing itself is broken (or a frame is over the
                        // limit): the stream cannot be resynchronised, so say why and close.
                        let _ = ws.binary(error_frame(&protocol_error(&e))).await;
                        Next::Close
                    }
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                let _ = ws.binary(error_frame(&format!(
                    "no traffic for {} seconds", idle.as_secs()
                ))).await;
                Next::Close
            }
        };
        if let Next::Close = next {
            break;
        }
    }
    session.closed_with(&mut push_rx).await;
    if let Some(id) = session.full_id() {
        tracing::debug!(%id, "binary-protocol session ended");
    }
    let _ = ws.close(Some(CloseReason::from(CloseCode::Normal))).await;
}

/// An error frame outside any request.
fn error_frame(text: &str) -> Vec<u8> {
    frame::encode(
        cmd::ERROR,
        &CommonErrorProBuf {
            message_head: None,
            code: CODE_MALFORMED,
            arg: text.to_string(),
        },
    )
}

fn protocol_error(e: &ProtocolError) -> String {
    match e {
        ProtocolError::Overflow => "frame larger than the limit".into(),
        ProtocolError::Io(io) if io.to_string().contains("continuation size") => {
            "message larger than the limit".into()
        }
        other => format!("WebSocket protocol error: {other}"),
    }
}

/// Writes what the core returned, in order.
async fn write_outs(ws: &mut actix_ws::Session, outs: Vec<Out>) -> Next {
    for out in outs {
        match out {
            Out::Frame(bytes) => {
                if ws.binary(bytes).await.is_err() {
                    return Next::Close;
                }
            }
            Out::Close => return Next::Close,
        }
    }
    Next::Continue
}

//! The transport of the binary protocol: a WebSocket carrying one frame per binary message, on
//! any path (`ws://<XMPPHost>:5260` and `/im-websocket`). No sub-protocol is negotiated (the
//! clients offer none).
//!
//! One task per socket owns the [`ShikuSession`] and selects between the client's frames, the
//! session's [`Push`] receiver and an idle timer, so no lock is ever held across I/O. The loop
//! is written once over [`Socket`]: [`handler`] serves `/im-websocket` on the API port
//! (actix-ws), [`serve`] the dedicated listener (tokio-tungstenite, lean).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use tokio::net::TcpListener;
use tokio::time::Instant;

use super::frame;
use super::proto::CommonErrorProBuf;
use super::session::{Out, ShikuSession, CODE_MALFORMED};
use crate::domain::Ctx;
use crate::gateway::ws::{self, ActixSocket, Incoming, RecvError, Socket, Upgrade};

/// HTTP handler: upgrades to a binary-protocol WebSocket (any path it is mounted on).
pub async fn handler(
    req: HttpRequest,
    body: web::Payload,
    ctx: web::Data<Ctx>,
) -> actix_web::Result<HttpResponse> {
    let (response, session, stream) = actix_ws::handle(&req, body)?;
    let ctx = ctx.into_inner();
    // Frames are capped at the stanza limit XMPP uses: a client cannot make the server buffer
    // more than one message's worth.
    let socket = ActixSocket::new(
        session,
        stream,
        ctx.config.xmpp.max_stanza_bytes,
        Duration::from_secs(ctx.config.xmpp.write_timeout_secs),
    );
    let peer_ip = ws::actix_client_ip(&req, &ctx.config.trusted_proxies);
    // The message stream borrows actix's request payload (not `Send`): run on this worker.
    actix_web::rt::spawn(run(ctx, peer_ip, socket));
    Ok(response)
}

/// Serves the binary protocol on a listener of its own (`xmpp.listen_shiku_ws`, any path)
/// until the future is dropped.
pub async fn serve(listener: TcpListener, ctx: Arc<Ctx>) {
    let upgrade = Upgrade {
        subprotocol: None,
        refusal: "",
        limit: ctx.config.xmpp.max_stanza_bytes,
        write_timeout: Duration::from_secs(ctx.config.xmpp.write_timeout_secs),
    };
    ws::serve(listener, ctx, upgrade, |ctx, socket, ip| {
        run(ctx, Some(ip), socket)
    })
    .await
}

/// Whether the loop goes on after an input.
enum Next {
    Continue,
    Close,
}

/// The protocol loop of one socket, whichever listener accepted it. The state is built before
/// the loop's future and moved into it once: an `async fn` would keep its `ws` argument in the
/// future twice (a few hundred bytes per idle session).
fn run<S: Socket>(ctx: Arc<Ctx>, peer_ip: Option<String>, ws: S) -> impl Future<Output = ()> {
    let (mut session, mut push_rx) = ShikuSession::new(ctx.clone(), peer_ip);
    let idle = Duration::from_secs(ctx.config.xmpp.idle_timeout_secs.max(1));
    let mut ws = ws;
    let auth_deadline =
        Instant::now() + Duration::from_secs(ctx.config.xmpp.auth_timeout_secs.max(1));
    async move {
        let mut deadline = Instant::now() + idle;
        let mut pushes_open = true;
        loop {
            // Before authentication the connection also has an absolute limit.
            let wake_at = if session.is_authenticated() {
                deadline
            } else {
                deadline.min(auth_deadline)
            };
            // Pushes first: a client sending flat out must not delay what it is being sent (each
            // of its messages waits for its commit before the next frame is read). The protocol
            // step is boxed so an idle session's task stays small.
            let next = tokio::select! {
                biased;
                push = push_rx.recv(), if pushes_open => match push {
                    Some(p) => {
                        let ends = p.ends_session();
                        let outs = Box::pin(session.push(p)).await;
                        let next = write_outs(&mut ws, outs).await;
                        if ends { Next::Close } else { next }
                    }
                    None => {
                        pushes_open = false;
                        Next::Continue
                    }
                },
                msg = ws.recv() => {
                    deadline = Instant::now() + idle;
                    match msg {
                        Some(Ok(Incoming::Binary(data))) => {
                            let outs = Box::pin(session.handle(&data)).await;
                            write_outs(&mut ws, outs).await
                        }
                        Some(Ok(Incoming::Text(_))) => {
                            let f = error_frame("the protocol uses binary frames");
                            if ws.binary(f).await.is_err() { Next::Close } else { Next::Continue }
                        }
                        Some(Ok(Incoming::Ping(bytes))) => {
                            if ws.pong(bytes).await.is_err() { Next::Close } else { Next::Continue }
                        }
                        Some(Ok(Incoming::Pong)) => Next::Continue,
                        Some(Ok(Incoming::Close)) | None => Next::Close,
                        Some(Err(e)) => {
                            // The WebSocket framing itself is broken (or a frame is over the
                            // limit): the stream cannot be resynchronised, so say why and close.
                            let _ = ws.binary(error_frame(&recv_error(e))).await;
                            Next::Close
                        }
                    }
                }
                _ = tokio::time::sleep_until(wake_at) => {
                    let _ = ws.binary(error_frame(&format!(
                        "no traffic for {} seconds", idle.as_secs()
                    ))).await;
                    Next::Close
                }
            };
            if let Next::Close = next {
                break;
            }
            // One write per step, however many frames it produced.
            if ws.flush().await.is_err() {
                break;
            }
        }
        Box::pin(session.closed_with(&mut push_rx)).await;
        if let Some(id) = session.full_id() {
            tracing::debug!(%id, "binary-protocol session ended");
        }
        Box::pin(ws.close()).await;
    }
}

/// An error frame outside any request.
fn error_frame(text: &str) -> Vec<u8> {
    frame::encode_error(&CommonErrorProBuf {
        message_head: None,
        code: CODE_MALFORMED,
        arg: text.to_string(),
    })
}

/// The error frame's text for a WebSocket-level failure.
fn recv_error(e: RecvError) -> String {
    match e {
        RecvError::TooLarge(what) => what.to_string(),
        RecvError::Protocol(text) => text,
    }
}

/// Writes what the core returned, in order.
async fn write_outs<S: Socket>(ws: &mut S, outs: Vec<Out>) -> Next {
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

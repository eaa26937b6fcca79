//! The friend-request handshake as the message path records it (spec clients.md 4): the event
//! types and who asked whom. Below both `messages` (which checks a 501 against it) and `friends`.

use super::error::Result;
use super::Ctx;

/// `status` of a one-way follow (awaiting the target's verification).
pub const ATTENTION: i32 = 1;

/// Friend-event types of the clients' handshake (spec clients.md 4): 500 "say hello" (a
/// request), 501 "pass verification" (its acceptance), 502 a reply within the request.
pub const HELLO: i32 = 500;
/// See [`HELLO`].
pub const PASS: i32 = 501;
/// See [`HELLO`].
pub const FEEDBACK: i32 = 502;

/// The requester of the handshake `me` and `peer` are in, if any: the user whose 500 the
/// latest event (a 500, or a 502/501 answering it) belongs to. Read from my copy of the events.
pub async fn requester(ctx: &Ctx, me: i32, peer: i32) -> Result<Option<i32>> {
    let event = ctx.store.messages.get_new_friend(me, peer).await?;
    Ok(event
        .filter(|e| matches!(e.msg_type, HELLO | PASS | FEEDBACK))
        .and_then(|e| e.from))
}

/// Whether `peer` asked `me` to be friends (its follow awaits my verification, or its 500 is
/// the open request between us), so that I may accept.
pub async fn peer_asked(ctx: &Ctx, me: i32, peer: i32) -> Result<bool> {
    let follows = ctx
        .store
        .friends
        .get_friend(peer, me)
        .await?
        .is_some_and(|f| f.status == ATTENTION && f.blacklist == 0);
    Ok(follows || requester(ctx, me, peer).await? == Some(peer))
}

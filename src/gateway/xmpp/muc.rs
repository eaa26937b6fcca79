//! MUC (XEP-0045) as the Shiku clients use it: rooms live in the REST API, so "joining" only
//! answers the client's join presence (self presence and history from `mucmsg_<jid>`) and the
//! creation handshake the client runs before `/room/add`. Group messages reach every member's
//! sessions from the stored membership whether or not they joined (see `messages::send`).

use std::sync::Arc;

use super::ns;
use super::xml::Element;
use crate::documents::{Member, MucRow};
use crate::domain::util::{now_millis, now_secs};
use crate::domain::{Ctx, Result};
use crate::store::{MucQuery, Shared};

/// Most history messages sent on join, whatever the client asks.
const MAX_HISTORY: u64 = 200;
/// History sent when the join presence has no `<history/>` (XEP-0045 leaves it to the service).
const DEFAULT_HISTORY: u64 = 20;

/// The MUC service's domain for an XMPP domain.
pub fn service(domain: &str) -> String {
    format!("muc.{domain}")
}

/// The history a join asks for (`<history seconds= maxstanzas= maxchars=/>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryRequest {
    /// Only messages newer than this many seconds.
    pub seconds: Option<i64>,
    /// At most this many messages.
    pub max_stanzas: u64,
}

impl HistoryRequest {
    /// Reads the `<x xmlns=muc>` child of a join presence.
    pub fn from_presence(presence: &Element) -> HistoryRequest {
        let history = presence
            .find_ns("x", ns::MUC)
            .and_then(|x| x.find("history"));
        let Some(h) = history else {
            return HistoryRequest {
                seconds: None,
                max_stanzas: DEFAULT_HISTORY,
            };
        };
        let num = |name: &str| {
            h.get_attr(name)
                .and_then(|v| v.trim().parse::<i64>().ok())
                .map(|v| v.max(0))
        };
        // maxchars="0" is the XEP's way to ask for no history at all.
        let max_stanzas = match (num("maxstanzas"), num("maxchars")) {
            (_, Some(0)) => 0,
            (Some(n), _) => (n as u64).min(MAX_HISTORY),
            (None, _) => MAX_HISTORY,
        };
        HistoryRequest {
            seconds: num("seconds"),
            max_stanzas,
        }
    }

    /// Whether no history is wanted.
    pub fn is_none(&self) -> bool {
        self.max_stanzas == 0 || self.seconds == Some(0)
    }
}

/// `affiliation` and `role` of a Shiku member (role 1 owner, 2 admin, others members).
pub fn affiliation_role(member: &Member) -> (&'static str, &'static str) {
    let muted = member.talk_time > now_secs();
    match member.role {
        1 => ("owner", "moderator"),
        2 => ("admin", "moderator"),
        _ if muted => ("member", "visitor"),
        _ => ("member", "participant"),
    }
}

/// `<x xmlns=muc#user>` with one item and status codes.
pub fn user_x(affiliation: &str, role: &str, codes: &[u16]) -> Element {
    let mut x = Element::new("x").attr("xmlns", ns::MUC_USER).child(
        Element::new("item")
            .attr("affiliation", affiliation)
            .attr("role", role),
    );
    for c in codes {
        x.push(Element::new("status").attr("code", c.to_string()));
    }
    x
}

/// The room's stored messages for a join, oldest first: newer than the requested seconds, not
/// from before the member joined, without those the member deleted for themself.
pub async fn history(
    ctx: &Ctx,
    user_id: i32,
    jid: &str,
    member: &Member,
    req: HistoryRequest,
) -> Result<Vec<Arc<Shared<MucRow>>>> {
    if req.is_none() {
        return Ok(Vec::new());
    }
    let joined_ms = member.create_time.saturating_mul(1000);
    let start = match req.seconds {
        Some(s) => (now_millis() - s.saturating_mul(1000)).max(joined_ms),
        None => joined_ms,
    };
    let q = MucQuery {
        jid: jid.to_string(),
        start_ms: Some(start),
        end_ms: None,
        max_type: None,
        hidden: ctx.store.rooms.hidden_muc(user_id, jid).await?,
        skip: 0,
        limit: req.max_stanzas,
    };
    let mut rows = ctx.store.rooms.muc_history(&q).await?;
    // The store answers newest first; a client replays history oldest first.
    rows.reverse();
    Ok(rows)
}

/// The empty instant-room configuration form (`muc#owner` get while creating a room): the room's
/// real settings are made over REST (`/room/add`), the client only needs an answer to proceed.
pub fn config_form() -> Element {
    Element::new("query").attr("xmlns", ns::MUC_OWNER).child(
        Element::new("x")
            .attr("xmlns", ns::DATA)
            .attr("type", "form")
            .child(Element::new("title").text("Room configuration"))
            .child(
                Element::new("field")
                    .attr("var", "FORM_TYPE")
                    .attr("type", "hidden")
                    .child(Element::new("value").text("http://jabber.org/protocol/muc#roomconfig")),
            ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(history: Option<Element>) -> Element {
        let mut x = Element::new("x").attr("xmlns", ns::MUC);
        if let Some(h) = history {
            x.push(h);
        }
        Element::new("presence").child(x)
    }

    #[test]
    fn history_requests() {
        let r = HistoryRequest::from_presence(&join(None));
        assert_eq!(r.max_stanzas, DEFAULT_HISTORY);
        let r = HistoryRequest::from_presence(&join(Some(
            Element::new("history").attr("seconds", "0"),
        )));
        assert!(r.is_none());
        let r = HistoryRequest::from_presence(&join(Some(
            Element::new("history").attr("seconds", "3600"),
        )));
        assert_eq!((r.seconds, r.max_stanzas), (Some(3600), MAX_HISTORY));
        let r = HistoryRequest::from_presence(&join(Some(
            Element::new("history").attr("maxstanzas", "5"),
        )));
        assert_eq!((r.seconds, r.max_stanzas), (None, 5));
        let r = HistoryRequest::from_presence(&join(Some(
            Element::new("history").attr("maxchars", "0"),
        )));
        assert!(r.is_none());
    }
}

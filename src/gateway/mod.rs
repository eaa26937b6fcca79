//! The live-delivery front-ends, beside `http/`: each translates its wire protocol to domain
//! calls and registers its sessions with the delivery router. Nothing here holds Shiku rules.

pub mod shiku;
pub mod ws;
pub mod xmpp;

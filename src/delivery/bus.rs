//! The bus between nodes, over NATS. Each node listens on `<prefix>.node.<id>` (deliveries,
//! answered with how many sessions took them, and offline wake-ups) and on `<prefix>.all`
//! (kicks and settings changes, which every node applies). Payloads are JSON.
//!
//! Nothing acknowledged depends on the bus: messages are stored before they travel, and a
//! delivery the bus cannot make counts nothing, so a 1:1 message waits in the offline queue.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use super::push::Delivery;
use crate::config::ClusterConfig;

/// What travels between nodes.
#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case")]
enum Wire {
    /// Hand `d` to every session of `users` on the receiving node; answer how many took it.
    Deliver { users: Vec<i32>, d: Delivery },
    /// The user's sessions on the receiving node read their offline queue.
    Waiting { user: i32 },
    /// End the user's sessions on `resource` (all when absent) on every node but `node`.
    Kick {
        node: String,
        user: i32,
        resource: Option<String>,
    },
    /// The console's settings changed on `node`.
    Settings { node: String },
}

/// [`Wire::Deliver`] as sent: borrowed, not copied.
#[derive(Serialize)]
struct DeliverOut<'a> {
    t: &'static str,
    users: &'a [i32],
    d: &'a Delivery,
}

/// What the bus does on this node when other nodes ask (the router implements it).
pub trait Local: Send + Sync {
    /// Hands `d` to the user's sessions here; answers how many took it.
    fn deliver(&self, user_id: i32, d: &Delivery) -> usize;
    /// Ends the user's sessions here on `resource` (all when `None`).
    fn kick(&self, user_id: i32, resource: Option<&str>);
    /// The user's sessions here read their offline queue.
    fn wake(&self, user_id: i32);
    /// Every session here reads its offline queue (the bus came back).
    fn wake_all(&self);
    /// The console's settings changed on another node.
    fn settings_changed(&self);
}

/// This node's connection to the bus.
pub struct Bus {
    client: async_nats::Client,
    node: String,
    prefix: String,
}

impl Bus {
    /// Connects to `cfg.nats_url` and starts serving this node's subjects for `router`. When
    /// NATS is not reachable yet the client keeps trying in the background (and after any
    /// loss, for ever); when it comes back, every session here reads its offline queue.
    pub async fn connect(
        cfg: &ClusterConfig,
        node: &str,
        router: Weak<dyn Local>,
    ) -> Result<Arc<Bus>, String> {
        let url = cfg.nats_url.clone().unwrap_or_default();
        let mut opts = match &cfg.nats_credentials_file {
            Some(path) => async_nats::ConnectOptions::with_credentials_file(path)
                .await
                .map_err(|e| format!("NATS credentials file {}: {e}", path.display()))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(token) = &cfg.nats_token {
            opts = opts.token(token.clone());
        }
        if let (Some(user), Some(password)) = (&cfg.nats_user, &cfg.nats_password) {
            opts = opts.user_and_password(user.clone(), password.clone());
        }
        if cfg.nats_tls_required || url.trim_start().starts_with("tls://") {
            opts = opts.require_tls(true);
        }
        if let Some(ca) = &cfg.nats_tls_ca_file {
            opts = opts.add_root_certificates(ca.clone());
        }
        if let (Some(cert), Some(key)) = (&cfg.nats_tls_cert_file, &cfg.nats_tls_key_file) {
            opts = opts.add_client_certificate(cert.clone(), key.clone());
        }
        let lost = Arc::new(AtomicBool::new(false));
        let (events_router, events_lost) = (router.clone(), lost.clone());
        let client = opts
            .name(format!("shiku-server {node}"))
            .retry_on_initial_connect()
            .max_reconnects(None)
            .connection_timeout(Duration::from_secs(5))
            .request_timeout(Some(Duration::from_millis(cfg.request_timeout_ms)))
            .subscription_capacity(cfg.max_pending)
            .event_callback(move |event| {
                let (router, lost) = (events_router.clone(), events_lost.clone());
                async move {
                    match event {
                        async_nats::Event::Connected => {
                            tracing::info!("connected to the NATS bus");
                            if lost.swap(false, Ordering::AcqRel) {
                                // Other nodes queued what they could not hand over meanwhile.
                                if let Some(r) = router.upgrade() {
                                    r.wake_all();
                                }
                            }
                        }
                        async_nats::Event::Disconnected => {
                            lost.store(true, Ordering::Release);
                            tracing::warn!(
                                "lost the NATS bus: other nodes' users get their messages \
                                 through the offline queue until it is back"
                            );
                        }
                        other => tracing::warn!(event = %other, "NATS bus"),
                    }
                }
            })
            .connect(url.as_str())
            .await
            .map_err(|e| format!("cannot use the NATS bus at {url}: {e}"))?;
        let prefix = cfg.subject_prefix.clone();
        let bus = Arc::new(Bus {
            client,
            node: node.to_string(),
            prefix,
        });
        for subject in [bus.node_subject(node), format!("{}.all", bus.prefix)] {
            let sub = bus
                .client
                .subscribe(subject.clone())
                .await
                .map_err(|e| format!("cannot subscribe to {subject}: {e}"))?;
            tokio::spawn(serve(
                sub,
                router.clone(),
                bus.client.clone(),
                bus.node.clone(),
            ));
        }
        Ok(bus)
    }

    fn node_subject(&self, node: &str) -> String {
        format!("{}.node.{node}", self.prefix)
    }

    /// Whether the bus is connected now.
    pub fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Hands `d` to `users`' sessions on `node`; answers how many took it (0 when the bus or
    /// the node does not answer within `cluster.request_timeout_ms`).
    pub async fn deliver(&self, node: &str, users: &[i32], d: &Delivery) -> usize {
        if !self.connected() {
            return 0;
        }
        let out = DeliverOut {
            t: "deliver",
            users,
            d,
        };
        let payload = match serde_json::to_vec(&out) {
            Ok(p) => p,
            Err(_) => return 0,
        };
        match self
            .client
            .request(self.node_subject(node), payload.into())
            .await
        {
            Ok(reply) => std::str::from_utf8(&reply.payload)
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0),
            Err(e) => {
                tracing::warn!(node, error = %e, "delivery to another node failed");
                0
            }
        }
    }

    /// Tells `node` that `user` has something waiting in the offline queue.
    pub async fn offline_waiting(&self, node: &str, user: i32) {
        let payload = serde_json::json!({ "t": "waiting", "user": user }).to_string();
        self.publish(self.node_subject(node), payload).await;
    }

    /// Ends `user`'s sessions on `resource` (all when `None`) on every other node.
    pub async fn kick(&self, user: i32, resource: Option<&str>) {
        let payload = serde_json::json!({
            "t": "kick", "node": self.node, "user": user, "resource": resource,
        })
        .to_string();
        self.publish(format!("{}.all", self.prefix), payload).await;
    }

    /// Tells every other node to reload the console's settings.
    pub async fn settings_changed(&self) {
        let payload = serde_json::json!({ "t": "settings", "node": self.node }).to_string();
        self.publish(format!("{}.all", self.prefix), payload).await;
    }

    /// Fire and forget. While the bus is down nothing is buffered: the client's buffer would
    /// fill and then hold up the message path, and what these messages say is recovered when
    /// the bus returns (every session reads its offline queue).
    async fn publish(&self, subject: String, payload: String) {
        if !self.connected() {
            return;
        }
        if let Err(e) = self.client.publish(subject, payload.into()).await {
            tracing::warn!(error = %e, "bus message not sent");
        }
    }
}

/// Serves one subscription of this node until the router is gone.
async fn serve(
    mut sub: async_nats::Subscriber,
    router: Weak<dyn Local>,
    client: async_nats::Client,
    me: String,
) {
    while let Some(msg) = sub.next().await {
        let Some(router) = router.upgrade() else {
            return;
        };
        let wire = match serde_json::from_slice::<Wire>(&msg.payload) {
            Ok(w) => w,
            Err(e) => {
                tracing::debug!(subject = %msg.subject, error = %e, "unreadable bus message");
                continue;
            }
        };
        match wire {
            Wire::Deliver { users, d } => {
                let n: usize = users.iter().map(|u| router.deliver(*u, &d)).sum();
                if let Some(reply) = msg.reply {
                    if let Err(e) = client.publish(reply, n.to_string().into()).await {
                        tracing::warn!(error = %e, "delivery answer not sent");
                    }
                }
            }
            Wire::Waiting { user } => router.wake(user),
            Wire::Kick {
                node,
                user,
                resource,
            } if node != me => {
                router.kick(user, resource.as_deref());
            }
            Wire::Settings { node } if node != me => {
                router.settings_changed();
            }
            Wire::Kick { .. } | Wire::Settings { .. } => {}
        }
    }
}

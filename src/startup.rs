//! Building and running the server: open the store, build the domain context, bind every
//! listener, serve until SIGINT/SIGTERM.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::Arc;

use actix_web::middleware::{from_fn, Condition};
use actix_web::{web, App, HttpServer};

use crate::config::{Config, StoreKind};
use crate::domain::Ctx;
use crate::gateway::shiku;
use crate::gateway::xmpp::bosh::{self, BoshSessions};
use crate::gateway::xmpp::{tcp, websocket};
use crate::http::{self, AppState};
use crate::store::mongo::MongoStore;
use crate::store::sqlite::SqliteStore;
use crate::store::Store;

/// Opens the configured store.
pub async fn open_store(config: &Config) -> Result<Store, StartupError> {
    Ok(match config.store {
        StoreKind::Sqlite => {
            let s = SqliteStore::open(&config.data_dir)?;
            let d = s.description();
            Store::from_adapter(Arc::new(s), d)
        }
        StoreKind::Mongodb => {
            let s = Arc::new(MongoStore::connect(&config.mongodb).await?);
            let d = s.description();
            Store::from_adapter(s.clone(), d).with_sessions(s)
        }
    })
}

/// A start-up failure, shown to the operator as text.
pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

/// A server bound to its listeners, ready to run.
pub struct Application {
    server: actix_web::dev::Server,
    /// The BOSH listener of its own, when configured.
    xmpp_servers: Vec<actix_web::dev::Server>,
    /// The dedicated XMPP WebSocket and Shiku binary WebSocket listeners, when configured
    /// (served by `gateway::ws` on plain tokio, not actix: lean idle sessions).
    xmpp_ws: Option<tokio::net::TcpListener>,
    shiku_ws: Option<tokio::net::TcpListener>,
    /// The XMPP TCP c2s listener and its STARTTLS configuration, when configured.
    xmpp_tcp: Option<(
        tokio::net::TcpListener,
        Arc<tokio_rustls::rustls::ServerConfig>,
    )>,
    /// Actual bound addresses, main listener first (port 0 resolved).
    pub addrs: Vec<std::net::SocketAddr>,
    /// The RFC 7395 WebSocket listener (`xmpp.listen_websocket`, any path).
    pub xmpp_websocket_addr: Option<SocketAddr>,
    /// The BOSH listener (`xmpp.listen_bosh`, any path).
    pub bosh_addr: Option<SocketAddr>,
    /// The XMPP TCP c2s listener (`xmpp.listen_tcp`).
    pub xmpp_tcp_addr: Option<SocketAddr>,
    /// Shiku's binary WebSocket listener (`xmpp.listen_shiku_ws`, any path).
    pub shiku_ws_addr: Option<SocketAddr>,
    pub store_description: String,
    pub ctx: Arc<Ctx>,
}

/// Binds an optional extra listener named `what`.
fn bind_optional(addr: &Option<String>, what: &str) -> Result<Option<TcpListener>, StartupError> {
    match addr {
        Some(a) => {
            Ok(Some(TcpListener::bind(a).map_err(|e| {
                format!("cannot listen for {what} on {a}: {e}")
            })?))
        }
        None => Ok(None),
    }
}

impl Application {
    /// Opens the store, builds the context and binds every listener of `config`.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        config.validate()?;
        let config = Arc::new(config);
        let store = open_store(&config).await?;
        let store_description = store.description.clone();
        let ctx = Arc::new(Ctx::new(store, config.clone()).await?);
        if config.cluster.enabled() {
            let directory = ctx.store.sessions.clone().ok_or(
                "several nodes need a store they share (MongoDB) for their session directory",
            )?;
            ctx.router.join_cluster(&config.cluster, directory).await?;
            tracing::info!(
                node = ctx.router.node(),
                "cluster node: sessions in MongoDB, traffic over NATS"
            );
        }
        crate::domain::presence::node_started(&ctx).await?;
        crate::domain::presence::spawn_node_watch(&ctx);
        // Deletes uploads whose validTime ran out (reference FileDeleteTask).
        crate::domain::files::spawn_expiry(config.clone(), ctx.store.clone());
        crate::domain::console::spawn_background(&ctx);
        let mut listeners = Vec::new();
        for a in config.listen_addrs() {
            let l = TcpListener::bind(&a).map_err(|e| format!("cannot listen on {a}: {e}"))?;
            listeners.push(l);
        }
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<Result<Vec<_>, _>>()?;
        let ws_listener = bind_optional(&config.xmpp.listen_websocket, "XMPP WebSocket")?;
        let bosh_listener = bind_optional(&config.xmpp.listen_bosh, "BOSH")?;
        let tcp_listener = bind_optional(&config.xmpp.listen_tcp, "XMPP TCP")?;
        let shiku_listener = bind_optional(&config.xmpp.listen_shiku_ws, "Shiku binary WebSocket")?;
        let local = |l: &Option<TcpListener>| l.as_ref().map(|l| l.local_addr()).transpose();
        let xmpp_websocket_addr = local(&ws_listener)?;
        let bosh_addr = local(&bosh_listener)?;
        let xmpp_tcp_addr = local(&tcp_listener)?;
        let shiku_ws_addr = local(&shiku_listener)?;

        let state = web::Data::new(AppState { ctx: ctx.clone() });
        // The gateways take the context and the BOSH sid table directly (they sit beside
        // `http/`, not on it); one table serves every listener.
        let ctx_data: web::Data<Ctx> = web::Data::from(ctx.clone());
        let bosh_table: web::Data<BoshSessions> = web::Data::from(BoshSessions::new());
        let (main_ctx, main_bosh) = (ctx_data.clone(), bosh_table.clone());
        let trusted = config.trusted_proxies.clone();
        let access_log = config.access_log;
        let mut server = HttpServer::new(move || {
            // `/xmpp-websocket` and `/http-bind` are transports, not REST endpoints: they are
            // registered here rather than through `docs::Routes`.
            App::new()
                .app_data(state.clone())
                .app_data(main_ctx.clone())
                .app_data(main_bosh.clone())
                .wrap(from_fn(http::per_address))
                .wrap(from_fn(http::cors))
                .wrap(Condition::new(access_log, tracing_actix(trusted.clone())))
                .route("/xmpp-websocket", web::get().to(websocket::handler))
                .configure(http::console_ui::configure)
                .route("/im-websocket", web::get().to(shiku::websocket::handler))
                .route("/http-bind", web::route().to(bosh::handler))
                .route("/http-bind/", web::route().to(bosh::handler))
                .configure(http::configure)
                // Anything else: the stored upload tree (reference nginx 8089), else the 404.
                .default_service(web::to(http::files::serve))
        })
        // XMPP frames are small and latency-bound: Nagle would hold each behind the client's
        // delayed ACK (~40 ms).
        .tcp_nodelay(true)
        .shutdown_timeout(5)
        // SIGINT/SIGTERM are ours (`run`): sessions are told before the listeners stop.
        .disable_signals();
        for l in listeners {
            server = server.listen(l)?;
        }
        let mut xmpp_servers = Vec::new();
        let to_tokio = |l: Option<TcpListener>| -> std::io::Result<_> {
            l.map(|l| {
                l.set_nonblocking(true)?;
                tokio::net::TcpListener::from_std(l)
            })
            .transpose()
        };
        let xmpp_ws = to_tokio(ws_listener)?;
        let shiku_ws = to_tokio(shiku_listener)?;
        if let Some(l) = bosh_listener {
            let (ctx_data, bosh_table) = (ctx_data.clone(), bosh_table.clone());
            let s = HttpServer::new(move || {
                App::new()
                    .app_data(ctx_data.clone())
                    .app_data(bosh_table.clone())
                    .wrap(from_fn(http::per_address))
                    .default_service(web::to(bosh::handler))
            })
            .tcp_nodelay(true)
            .shutdown_timeout(5)
            .disable_signals()
            .listen(l)?
            .run();
            xmpp_servers.push(s);
        }
        // TCP c2s: the certificate is loaded (or generated) now so a bad one stops start-up.
        let xmpp_tcp = match tcp_listener {
            Some(l) => {
                let tls = tcp::tls_config(&config)?;
                l.set_nonblocking(true)?;
                Some((tokio::net::TcpListener::from_std(l)?, tls))
            }
            None => None,
        };
        Ok(Application {
            server: server.run(),
            xmpp_servers,
            xmpp_ws,
            shiku_ws,
            xmpp_tcp,
            addrs,
            xmpp_websocket_addr,
            bosh_addr,
            xmpp_tcp_addr,
            shiku_ws_addr,
            store_description,
            ctx,
        })
    }

    /// The main listener's port.
    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// Every listener, for the start-up log line (main address first, then the XMPP ones).
    pub fn listeners(&self) -> String {
        let mut parts: Vec<String> = self.addrs.iter().map(|a| a.to_string()).collect();
        parts.push(format!(
            "xmpp-websocket ws://{}/xmpp-websocket",
            self.addrs[0]
        ));
        parts.push(format!("bosh http://{}/http-bind", self.addrs[0]));
        if let Some(a) = self.xmpp_websocket_addr {
            parts.push(format!("xmpp-websocket ws://{a}/ (any path)"));
        }
        if let Some(a) = self.bosh_addr {
            parts.push(format!("bosh http://{a}/ (any path)"));
        }
        if let Some(a) = self.xmpp_tcp_addr {
            parts.push(format!("xmpp-tcp {a}"));
        }
        parts.push(format!("shiku-ws ws://{}/im-websocket", self.addrs[0]));
        if let Some(a) = self.shiku_ws_addr {
            parts.push(format!("shiku-ws ws://{a}/ (any path)"));
        }
        parts.join(", ")
    }

    /// Serves until SIGINT or SIGTERM: then every live session is told the server is stopping
    /// (XMPP `system-shutdown`) and given a moment to close, and the listeners stop gracefully.
    pub async fn run(self) -> std::io::Result<()> {
        let mut servers = vec![self.server];
        servers.extend(self.xmpp_servers);
        let handles: Vec<_> = servers.iter().map(|s| s.handle()).collect();
        let ctx = self.ctx.clone();
        let stopping = async move {
            stop_signal().await;
            close_sessions(&ctx).await;
            for h in &handles {
                h.stop(true).await;
            }
        };
        let servers = futures_util::future::try_join_all(servers);
        // The tokio acceptors (XMPP TCP, the dedicated WebSocket listeners) run as long as the
        // HTTP servers do: they stop accepting when those stop (SIGINT/SIGTERM).
        let mut acceptors: Vec<Pin<Box<dyn Future<Output = ()> + Send>>> = Vec::new();
        if let Some((listener, tls)) = self.xmpp_tcp {
            acceptors.push(Box::pin(tcp::serve(listener, self.ctx.clone(), Some(tls))));
        }
        if let Some(l) = self.xmpp_ws {
            acceptors.push(Box::pin(websocket::serve(l, self.ctx.clone())));
        }
        if let Some(l) = self.shiku_ws {
            acceptors.push(Box::pin(shiku::websocket::serve(l, self.ctx.clone())));
        }
        if acceptors.is_empty() {
            // `join_all` of nothing is ready at once: wait on nothing instead.
            acceptors.push(Box::pin(std::future::pending()));
        }
        let acceptors = futures_util::future::join_all(acceptors);
        tokio::select! {
            r = servers => r.map(|_| ()),
            _ = acceptors => Ok(()),
            () = stopping => Ok(()),
        }
    }
}

/// How long stopping waits for sessions to close after telling them.
const SESSION_CLOSE: std::time::Duration = std::time::Duration::from_secs(3);

/// Resolves on SIGINT or (on Unix) SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
            Err(e) => tracing::warn!(error = %e, "cannot listen for SIGTERM; SIGINT stops"),
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Tells every session on this node that the server is stopping and waits (at most
/// [`SESSION_CLOSE`]) for them to close, so clients learn why and presences go offline.
async fn close_sessions(ctx: &Ctx) {
    let told = ctx.router.shutdown_all();
    tracing::info!(sessions = told, "stopping: closing sessions");
    let deadline = tokio::time::Instant::now() + SESSION_CLOSE;
    while ctx.router.session_count() > 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The access log: the client's address (the socket's peer unless a trusted proxy names
/// another), the method and path with secret parameters redacted, status, size and time. Never
/// the raw request line: GET `/user/login` carries the md5 password, every GET its token.
fn tracing_actix(trusted: Vec<std::net::IpAddr>) -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%{client}xi \"%{request}xi\" %s %b %Dms")
        .custom_request_replace("client", move |req| {
            http::params::client_addr(req.request(), &trusted)
                .map_or_else(|| "-".to_string(), |ip| ip.to_string())
        })
        .custom_request_replace("request", |req| {
            format!(
                "{} {}",
                req.method(),
                http::params::redacted_target(req.path(), req.query_string())
            )
        })
}

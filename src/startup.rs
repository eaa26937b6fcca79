//! Building and running the server: open the store, build the domain context, bind every
//! listener, serve until SIGINT/SIGTERM.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpServer};

use crate::config::{Config, StoreKind};
use crate::domain::Ctx;
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
            let s = MongoStore::connect(&config.mongodb).await?;
            let d = s.description();
            Store::from_adapter(Arc::new(s), d)
        }
    })
}

/// A start-up failure, shown to the operator as text.
pub type StartupError = Box<dyn std::error::Error + Send + Sync>;

/// A server bound to its listeners, ready to run.
pub struct Application {
    server: actix_web::dev::Server,
    /// Actual bound addresses, main listener first (port 0 resolved).
    pub addrs: Vec<std::net::SocketAddr>,
    pub store_description: String,
    pub ctx: Arc<Ctx>,
}

impl Application {
    /// Opens the store, builds the context and binds every listener of `config`.
    pub async fn build(config: Config) -> Result<Application, StartupError> {
        config.validate()?;
        let config = Arc::new(config);
        let store = open_store(&config).await?;
        let store_description = store.description.clone();
        let ctx = Arc::new(Ctx::new(store, config.clone()).await?);
        let mut listeners = Vec::new();
        for a in config.listen_addrs() {
            let l = TcpListener::bind(&a).map_err(|e| format!("cannot listen on {a}: {e}"))?;
            listeners.push(l);
        }
        let addrs = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<Result<Vec<_>, _>>()?;
        let state = web::Data::new(AppState { ctx: ctx.clone() });
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(state.clone())
                .wrap(from_fn(http::cors))
                .wrap(tracing_actix())
                .configure(http::configure)
                .default_service(web::to(http::envelope::not_found))
        })
        .shutdown_timeout(5);
        for l in listeners {
            server = server.listen(l)?;
        }
        Ok(Application {
            server: server.run(),
            addrs,
            store_description,
            ctx,
        })
    }

    /// The main listener's port.
    pub fn port(&self) -> u16 {
        self.addrs[0].port()
    }

    /// Serves until stopped; actix handles SIGINT/SIGTERM with a graceful shutdown.
    pub async fn run(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn tracing_actix() -> actix_web::middleware::Logger {
    actix_web::middleware::Logger::new("%a \"%r\" %s %b %Dms")
}

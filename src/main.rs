//! The `shiku-server` command: serve (default), import fixtures, print the OpenAPI document.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use shiku_server::config::Config;
use shiku_server::startup::{open_store, Application, StartupError};

/// A drop-in replacement for the Shiku IM server.
#[derive(Parser, Debug)]
#[command(name = "shiku-server", version, about)]
struct Cli {
    /// Main listen address (default 0.0.0.0:8092).
    #[arg(long, env = "SHIKU_LISTEN", global = true)]
    listen: Option<String>,
    /// Data directory of the embedded store (default ./data).
    #[arg(long, env = "SHIKU_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Configuration file (default ./shiku.toml when present).
    #[arg(long, env = "SHIKU_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve (the default).
    Serve,
    /// Load Shiku documents (DIR/user.json, userLoginLog.json, userRoles.json, u_friends.json).
    Import {
        /// Directory of JSON arrays named after the reference collections.
        dir: PathBuf,
    },
    /// Print the OpenAPI document of every implemented endpoint.
    Openapi,
}

fn load_config(cli: &Cli) -> Result<Config, StartupError> {
    let mut config = Config::load(cli.config.as_deref(), std::env::vars())?;
    if let Some(l) = &cli.listen {
        config.listen = l.clone();
    }
    if let Some(d) = &cli.data_dir {
        config.data_dir = d.clone();
    }
    Ok(config)
}

fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("shiku-server: {e}");
        std::process::exit(1);
    }
}

#[actix_web::main]
async fn run(cli: Cli) -> Result<(), StartupError> {
    if matches!(cli.command, Some(Command::Openapi)) {
        println!(
            "{}",
            serde_json::to_string_pretty(&shiku_server::http::docs::openapi())?
        );
        return Ok(());
    }
    let config = load_config(&cli)?;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(&config.log)),
        )
        .init();
    match cli.command {
        Some(Command::Import { dir }) => {
            let store = open_store(&config).await?;
            let report = shiku_server::fixtures::import(&store, &dir).await?;
            tracing::info!(?report, store = %store.description, "import finished");
            Ok(())
        }
        _ => {
            let app = Application::build(config).await?;
            tracing::info!(
                "shiku-server listening on {} using store {}",
                app.listeners(),
                app.store_description
            );
            app.run().await?;
            tracing::info!("shiku-server stopped");
            Ok(())
        }
    }
}

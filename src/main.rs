//! The `shiku-server` command: serve (default), import fixtures, print the OpenAPI document,
//! create admin-console accounts.

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
    /// Admin-console accounts (there is no default admin: create the first one here).
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
}

#[derive(Subcommand, Debug)]
enum AdminCommand {
    /// Creates (or updates) a console account: the user with this phone is created when absent,
    /// its password set, and the role granted. Uses the server's --data-dir/--config.
    Create {
        /// National phone number (the console login's `account`).
        #[arg(long)]
        phone: String,
        /// Plain password (at least 8 characters); may come from SHIKU_ADMIN_PASSWORD instead.
        #[arg(long, env = "SHIKU_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// Country code.
        #[arg(long, default_value = "86")]
        area_code: String,
        /// Console role: 1 tourist, 4 customer service, 5 admin, 6 super admin, 7 finance.
        #[arg(long, default_value_t = 6)]
        role: i32,
        /// Nickname of a newly created user (default: the phone).
        #[arg(long)]
        nickname: Option<String>,
    },
}

/// `admin create`: the first super admin comes from the command line, never from a default.
async fn admin_create(
    config: Config,
    phone: &str,
    password: &str,
    area_code: &str,
    role: i32,
    nickname: Option<String>,
) -> Result<i32, StartupError> {
    use shiku_server::domain::console::{self, UserFields, UserRef};
    if password.chars().count() < 8 {
        return Err("--password must have at least 8 characters".into());
    }
    let config = std::sync::Arc::new(config);
    let store = open_store(&config).await?;
    let ctx = shiku_server::domain::Ctx::new(store, config).await?;
    let target = UserRef::Phone {
        phone: phone.to_string(),
        area_code: area_code.to_string(),
    };
    let fields = UserFields {
        telephone: Some(phone.to_string()),
        area_code: Some(area_code.to_string()),
        password: Some(password.to_string()),
        nickname,
        ..UserFields::default()
    };
    if let Some(existing) = console::find_user(&ctx, &target).await? {
        // An existing user gets the password given here, so that it is the one that works.
        let only_password = UserFields {
            password: Some(password.to_string()),
            ..UserFields::default()
        };
        console::update_user(&ctx, &existing, &only_password).await?;
    }
    Ok(console::grant_admin(&ctx, &target, role, Some(&fields)).await?)
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
    limit_malloc_arenas();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("shiku-server: {e}");
        std::process::exit(1);
    }
}

/// Caps glibc's malloc at two arenas. With its default (8 per core) every worker and blocking
/// thread keeps the large buffers it freed (history pages, upload parts, decoded images) in an
/// arena of its own: under the attack catalogue (benches/attack.rs) that retention alone was
/// about 160 MB of the peak and stayed resident afterwards. Must run before any thread starts.
/// An operator's own `MALLOC_ARENA_MAX` is left in force.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: mallopt only sets an allocator parameter; no other thread exists yet.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}

#[actix_web::main]
async fn run(cli: Cli) -> Result<(), StartupError> {
    if matches!(cli.command, Some(Command::Openapi)) {
        println!(
            "{}",
            serde_json::to_string_pretty(&shiku_server::http::openapi())?
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
        Some(Command::Admin {
            action:
                AdminCommand::Create {
                    phone,
                    password,
                    area_code,
                    role,
                    nickname,
                },
        }) => {
            let user_id =
                admin_create(config, &phone, &password, &area_code, role, nickname).await?;
            println!(
                "console account ready: userId {user_id}, phone {area_code} {phone}, role {role}"
            );
            Ok(())
        }
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

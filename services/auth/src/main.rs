use std::path::PathBuf;

use clap::{Parser, Subcommand};
use platform::Env;

/// The auth service; without a command it serves.
#[derive(Parser)]
#[command(name = "auth", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Admin accounts, written to auth_db directly (DATABASE_URL).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Writes a new signing key (to --out, else AUTH_SIGNING_KEY_FILE) and publishes its public half.
    RotateKey {
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum AdminAction {
    /// Creates the account if missing (password from AUTH_ADMIN_PASSWORD) and makes it an admin.
    Create {
        #[arg(long)]
        email: String,
    },
    /// Grants the admin role to an existing account.
    Grant {
        #[arg(long)]
        email: String,
    },
    /// Revokes the admin role (never the last admin's).
    Revoke {
        #[arg(long)]
        email: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let env = Env::process();
    let config = auth::Config::from_env(&env)?;
    let _telemetry = platform::telemetry::init(
        &config.common.service,
        config.common.log_format,
        config.common.otlp_endpoint.as_deref(),
    )?;
    let done = match cli.command {
        None => return auth::build(config).await?.run_until(platform::shutdown::signal()).await,
        Some(Command::Admin { action: AdminAction::Create { email } }) => {
            auth::ops::create_admin(&config, &email, env.raw("AUTH_ADMIN_PASSWORD")).await?
        }
        Some(Command::Admin { action: AdminAction::Grant { email } }) => {
            auth::ops::set_admin(&config, &email, true).await?
        }
        Some(Command::Admin { action: AdminAction::Revoke { email } }) => {
            auth::ops::set_admin(&config, &email, false).await?
        }
        Some(Command::RotateKey { out }) => auth::ops::rotate_key(&config, out.as_deref()).await?,
    };
    println!("{done}");
    Ok(())
}

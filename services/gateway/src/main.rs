use clap::{Parser, Subcommand};
use platform::Env;
use sqlx::Connection;

/// The gateway service; without a command it serves.
#[derive(Parser)]
#[command(name = "gateway", version)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// The user projection in gateway_db (DATABASE_URL), fed by events (NATS_URL).
    Projection {
        #[command(subcommand)]
        action: ProjectionAction,
    },
}

#[derive(Subcommand)]
enum ProjectionAction {
    /// Rebuilds it from the events the streams still hold and compares it
    /// with the live one; exits 1 when they differ. Rolled back unless --apply.
    Rebuild {
        #[arg(long)]
        apply: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = gateway::Config::from_env(&Env::process())?;
    let _telemetry = platform::telemetry::init(
        &config.common.service,
        config.common.log_format,
        config.common.otlp_endpoint.as_deref(),
    )?;
    match cli.command {
        None => gateway::build(config).await?.run_until(platform::shutdown::signal()).await,
        Some(Command::Projection { action: ProjectionAction::Rebuild { apply } }) => {
            let mut conn = sqlx::PgConnection::connect_with(&config.common.database.url.options).await?;
            let report = gateway::rebuild::rebuild(&mut conn, &config.events.nats_url, apply).await?;
            print!("{report}");
            if !report.equal() && !apply {
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

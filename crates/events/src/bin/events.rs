//! `events`: the operator's command for the event backbone.
//!
//! ```text
//! events dead-letters list [--consumer gateway-users]
//! events dead-letters replay gateway-users
//! ```
//!
//! The broker is `--nats-url`, else `NATS_URL`, else `nats://127.0.0.1:4222`.

use clap::{Parser, Subcommand};
use events::dead_letters;

#[derive(Parser)]
#[command(name = "events", about = "Inspect and replay the platform's dead letters")]
struct Cli {
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222", global = true)]
    nats_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The dead-letter stream (`platform-dead-letters`).
    #[command(subcommand, name = "dead-letters")]
    DeadLetters(DeadLetters),
}

#[derive(Subcommand)]
enum DeadLetters {
    /// Lists dead letters, oldest first, with why each failed.
    List {
        /// Only this consumer's (e.g. `gateway-users`).
        #[arg(long)]
        consumer: Option<String>,
    },
    /// Publishes a consumer's dead letters again on their original subjects
    /// (fix the cause first) and removes them from the dead-letter stream.
    Replay {
        /// The consumer whose dead letters go back (e.g. `gateway-users`).
        consumer: String,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::DeadLetters(DeadLetters::List { consumer }) => {
            let letters = dead_letters::list(&cli.nats_url, consumer.as_deref()).await?;
            for l in &letters {
                println!("{}\t{}\t{}\t{}\t{}", l.sequence, l.consumer, l.original_subject, l.event_id, l.failure);
            }
            eprintln!("{} dead letter{}", letters.len(), if letters.len() == 1 { "" } else { "s" });
        }
        Command::DeadLetters(DeadLetters::Replay { consumer }) => {
            let n = dead_letters::replay(&cli.nats_url, &consumer).await?;
            eprintln!("{n} dead letter{} of {consumer} replayed", if n == 1 { "" } else { "s" });
        }
    }
    Ok(())
}

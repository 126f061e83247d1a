//! `cargo xtask <task>` (an alias for `cargo run -p xtask --`): repository
//! tasks that edit the checkout it is run from.

use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Repository tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Rewrites the README's Access table from the services' declarations.
    AccessTable,
    /// Adds a service: its crate, first migration, integration test and (for
    /// gRPC) contract, its services.toml entry and, with --public, its edge routers.
    NewService {
        /// Its name: a lowercase letter, then lowercase letters or digits.
        name: String,
        #[arg(long, value_parser = ["grpc", "rest"])]
        kind: String,
        /// Its port; the first free one from 8091 up by default.
        #[arg(long)]
        port: Option<u16>,
        /// Services it calls, comma-separated (the token issuer is always one).
        #[arg(long, value_delimiter = ',')]
        peer: Vec<String>,
        /// Route it at the edge (its RPCs or routes need a user's token).
        #[arg(long)]
        public: bool,
    },
    /// Removes what new-service made; refuses while another service lists it as a peer.
    DeleteService { name: String },
}

/// The checkout the working directory is in (`cargo` runs xtask there).
fn root() -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir()?;
    let root = here.ancestors().find(|dir| dir.join("services.toml").is_file() && dir.join("xtask").is_dir());
    root.map(Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("run it inside the checkout (no services.toml above {})", here.display()))
}

fn main() -> anyhow::Result<()> {
    let root = root()?;
    match Cli::parse().task {
        Task::AccessTable => {
            let path = root.join("README.md");
            let readme = std::fs::read_to_string(&path)?;
            std::fs::write(&path, xtask::with_table(&readme, &xtask::access_table()?)?)?;
            println!("README.md: access table rewritten");
        }
        Task::NewService { name, kind, port, peer, public } => {
            let kind = if kind == "grpc" { catalog::Kind::Grpc } else { catalog::Kind::Rest };
            let spec = xtask::scaffold::Spec { name, kind, port, peers: peer, public };
            print!("{}", xtask::scaffold::new_service(&root, &spec)?);
        }
        Task::DeleteService { name } => print!("{}", xtask::scaffold::delete_service(&root, &name)?),
    }
    Ok(())
}

//! The command line.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use clap::{Parser, Subcommand};

use crate::{dump, paths, psql, status, up};

/// The whole platform on this machine: PostgreSQL, every service, the Traefik edge.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// Where PostgreSQL's data, auth's dev signing key and the edge's configuration live
    /// [default: .devstack/ at the workspace root]
    #[arg(long, global = true, env = "DEVSTACK_DATA_DIR")]
    pub data_dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start everything and run until Ctrl-C (or SIGTERM), printing every process's logs.
    Up(UpArgs),
    /// Report what is up: PostgreSQL, each service's /readyz, the edge.
    Status,
    /// Open psql on a service's database, as that service's role.
    Psql {
        /// A service of services.toml: greeter, caller, gateway, auth, lang, …
        service: String,
        /// Passed on to psql (after `--`), e.g. `-- -c 'select 1'`.
        #[arg(last = true)]
        args: Vec<String>,
    },
    /// Write a service's database to a file (pg_dump, custom format), as that service's role.
    Dump {
        service: String,
        /// Where to write it [default: SERVICE.dump here].
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Replace a service's database contents with a dump's, in one transaction, as its role.
    Restore { service: String, file: PathBuf },
}

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Delete the data directory first: a new cluster, empty databases, a new signing key.
    #[arg(long)]
    pub fresh: bool,
    /// PostgreSQL's port.
    #[arg(long, default_value_t = up::DEFAULT_PG_PORT, env = "DEVSTACK_PG_PORT")]
    pub pg_port: u16,
    /// A service's port instead of its default, e.g. `--port greeter=18080`; repeatable.
    #[arg(long = "port", value_name = "SERVICE=PORT", value_parser = service_port)]
    pub ports: Vec<(String, u16)>,
    /// Leave these services out (comma-separated or repeated).
    #[arg(long, value_name = "SERVICE", value_delimiter = ',')]
    pub without: Vec<String>,
    /// Do not start Traefik even when it is installed (the edge ports are then ignored).
    #[arg(long)]
    pub no_edge: bool,
    /// The edge's public port [default: the edge's, 30081].
    #[arg(long)]
    pub edge_port: Option<u16>,
    /// The edge's metrics and ping port [default: the edge's, 30082].
    #[arg(long)]
    pub edge_metrics_port: Option<u16>,
    /// Do not start nats-server even when it is installed (events then wait in the outboxes).
    #[arg(long)]
    pub no_broker: bool,
    /// The broker's port [default: 4222, the services' default NATS_URL].
    #[arg(long)]
    pub broker_port: Option<u16>,
    /// Export every service's traces to this OTLP/HTTP collector (e.g.
    /// Jaeger's `http://127.0.0.1:4318`) [default: no export].
    #[arg(long, value_name = "URL")]
    pub otlp_endpoint: Option<String>,
    /// Seconds services get to stop after SIGTERM before they are killed.
    #[arg(long, default_value_t = 15)]
    pub grace_secs: u64,
}

fn service_port(raw: &str) -> Result<(String, u16), String> {
    let (name, port) = raw.split_once('=').ok_or_else(|| format!("expected SERVICE=PORT, got {raw:?}"))?;
    let port = port.parse::<u16>().map_err(|e| format!("port {port:?}: {e}"))?;
    if port == 0 {
        return Err("port 0 is not a fixed port".into());
    }
    Ok((name.trim().to_owned(), port))
}

impl Cli {
    pub async fn run(self) -> anyhow::Result<ExitCode> {
        let data_dir = self.data_dir.unwrap_or_else(paths::default_data_dir);
        match self.command {
            Command::Up(args) => {
                up::run(up::Options {
                    data_dir,
                    fresh: args.fresh,
                    pg_port: args.pg_port,
                    ports: args.ports,
                    without: args.without,
                    no_edge: args.no_edge,
                    edge_port: args.edge_port,
                    edge_metrics_port: args.edge_metrics_port,
                    no_broker: args.no_broker,
                    broker_port: args.broker_port,
                    otlp_endpoint: args.otlp_endpoint,
                    grace: Duration::from_secs(args.grace_secs),
                })
                .await
            }
            Command::Status => status::run(&data_dir).await,
            Command::Psql { service, args } => psql::run(&data_dir, &service, &args),
            Command::Dump { service, output } => dump::dump(&data_dir, &service, output),
            Command::Restore { service, file } => dump::restore(&data_dir, &service, &file),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn ports_are_service_equals_port() {
        let cli =
            Cli::try_parse_from(["devstack", "up", "--port", "greeter=18080", "--without", "gateway,lang"]).unwrap();
        let Command::Up(args) = cli.command else { panic!("up") };
        assert_eq!(args.ports, vec![("greeter".to_owned(), 18080)]);
        assert_eq!(args.without, vec!["gateway".to_owned(), "lang".to_owned()]);
        for bad in ["greeter", "greeter=x", "greeter=0", "greeter=70000"] {
            assert!(Cli::try_parse_from(["devstack", "up", "--port", bad]).is_err(), "{bad}");
        }
    }
}

//! `devstack psql <service>`: psql on that service's database, as its role.

use std::{os::unix::process::CommandExt, path::Path, process::ExitCode};

use crate::{
    postgres::Binaries,
    services::{self, Ports},
    state,
    up::DEFAULT_PG_PORT,
};

/// Replaces this process with psql, connected over TCP as the service's role (so it sees what
/// the service sees, no more). Returns only when psql could not be started.
pub fn run(data_dir: &Path, service: &str, args: &[String]) -> anyhow::Result<ExitCode> {
    let Some(service) = services::by_name(service) else {
        eprintln!("devstack psql: no service named {service:?}; the services are: {}", services::names());
        return Ok(ExitCode::from(2));
    };
    let ports = match state::read(data_dir)? {
        Some(s) => s.ports,
        None => Ports::new(DEFAULT_PG_PORT, &[])?,
    };
    let psql = Binaries::find().map(|b| b.psql()).unwrap_or_else(|_| "psql".into());
    let err = std::process::Command::new(&psql)
        .args(["-h", "127.0.0.1", "-p", &ports.postgres.to_string(), "-U", &service.name, "-d", &service.database])
        .args(args)
        // Not on the command line, where other users' `ps` would show it.
        .env("PGPASSWORD", services::password(service))
        .exec();
    anyhow::bail!("could not run {}: {err}", psql.display())
}

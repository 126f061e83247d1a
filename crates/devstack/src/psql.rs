//! `devstack psql <service>`: psql on that service's database, as its role;
//! and the connection every per-service command (psql, dump, restore) makes.

use std::{
    os::unix::process::CommandExt,
    path::Path,
    process::{Command, ExitCode},
};

use crate::{
    postgres::Binaries,
    services::{self, Ports, Service},
    state,
    up::DEFAULT_PG_PORT,
};

/// The service `name`, or exit status 2 after naming the valid ones (`verb` is the subcommand).
pub fn service(name: &str, verb: &str) -> Result<&'static Service, ExitCode> {
    let service = services::by_name(name).ok_or_else(|| {
        eprintln!("devstack {verb}: no service named {name:?}; the services are: {}", services::names());
        ExitCode::from(2)
    })?;
    if service.database.is_none() {
        eprintln!("devstack {verb}: {name} has no database ({} service)", service.kind.as_str());
        return Err(ExitCode::from(2));
    }
    Ok(service)
}

/// A PostgreSQL client program, next to the server if it is there.
pub fn client(tool: &str) -> Command {
    Command::new(Binaries::find().map(|b| b.client(tool)).unwrap_or_else(|_| tool.into()))
}

/// `tool` (`psql`, `pg_dump`) connected over TCP as `service`'s role to its
/// database, on the port the last `up` used (so it sees what the service
/// sees, no more).
pub fn connected(data_dir: &Path, tool: &str, service: &Service) -> anyhow::Result<Command> {
    let ports = match state::read(data_dir)? {
        Some(s) => s.ports,
        None => Ports::new(DEFAULT_PG_PORT, &[])?,
    };
    let mut cmd = client(tool);
    cmd.args(["--host", "127.0.0.1", "--port", &ports.postgres.to_string(), "--username", &service.name])
        .args(["--dbname", service.database(), "--no-password"])
        // Not on the command line, where other users' `ps` would show it.
        .env("PGPASSWORD", services::password(service));
    Ok(cmd)
}

/// Replaces this process with psql. Returns only when psql could not be started.
pub fn run(data_dir: &Path, name: &str, args: &[String]) -> anyhow::Result<ExitCode> {
    let service = match service(name, "psql") {
        Ok(service) => service,
        Err(code) => return Ok(code),
    };
    let mut cmd = connected(data_dir, "psql", service)?;
    let err = cmd.args(args).exec();
    anyhow::bail!("could not run {}: {err}", cmd.get_program().to_string_lossy())
}

//! `devstack dump <service>` and `devstack restore <service> <file>`: one
//! service's database out to a file and back, with `pg_dump` and
//! `pg_restore` from the cluster's own PostgreSQL, connected as the
//! service's role, so a dump holds exactly what the service can see and a
//! restore can touch nothing else.

use std::{
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::Context;

use crate::{
    postgres::Binaries,
    services::{self, Ports, Service},
    state,
    up::DEFAULT_PG_PORT,
};

/// `pg_dump` (custom format) or `pg_restore` as `service`'s role on its database.
fn command(data_dir: &Path, tool: &str, service: &Service) -> anyhow::Result<Command> {
    let ports = match state::read(data_dir)? {
        Some(s) => s.ports,
        None => Ports::new(DEFAULT_PG_PORT, &[])?,
    };
    let binary = Binaries::find().map(|b| b.client(tool)).unwrap_or_else(|_| tool.into());
    let mut cmd = Command::new(binary);
    cmd.args(["--host", "127.0.0.1", "--port", &ports.postgres.to_string(), "--username", &service.name])
        .args(["--dbname", &service.database, "--no-password"])
        // Not on the command line, where other users' `ps` would show it.
        .env("PGPASSWORD", services::password(service));
    Ok(cmd)
}

fn service(name: &str, verb: &str) -> Result<&'static Service, ExitCode> {
    services::by_name(name).ok_or_else(|| {
        eprintln!("devstack {verb}: no service named {name:?}; the services are: {}", services::names());
        ExitCode::from(2)
    })
}

fn run(mut cmd: Command, what: &str) -> anyhow::Result<bool> {
    let status = cmd.status().with_context(|| format!("could not run {what} (is PostgreSQL installed?)"))?;
    Ok(status.success())
}

/// Writes `name`'s database to `output` (default `<name>.dump` here).
pub fn dump(data_dir: &Path, name: &str, output: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let service = match service(name, "dump") {
        Ok(service) => service,
        Err(code) => return Ok(code),
    };
    let output = output.unwrap_or_else(|| PathBuf::from(format!("{name}.dump")));
    let mut cmd = command(data_dir, "pg_dump", service)?;
    // Custom format: compressed, and pg_restore can clean and restore it in one transaction.
    cmd.args(["--format", "custom", "--no-owner", "--no-privileges", "--file"]).arg(&output);
    if !run(cmd, "pg_dump")? {
        eprintln!("devstack dump: pg_dump failed; is the stack up (`devstack status`)?");
        return Ok(ExitCode::FAILURE);
    }
    println!("{}: {} written ({} bytes)", service.database, output.display(), std::fs::metadata(&output)?.len());
    Ok(ExitCode::SUCCESS)
}

/// Replaces `name`'s database contents with `file`'s, all or nothing.
pub fn restore(data_dir: &Path, name: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let service = match service(name, "restore") {
        Ok(service) => service,
        Err(code) => return Ok(code),
    };
    anyhow::ensure!(file.is_file(), "{}: no such file", file.display());
    let mut cmd = command(data_dir, "pg_restore", service)?;
    // Drop what the dump holds first, in one transaction: an error leaves the database as it was.
    cmd.args(["--clean", "--if-exists", "--no-owner", "--no-privileges", "--single-transaction", "--exit-on-error"])
        .arg(file);
    if !run(cmd, "pg_restore")? {
        eprintln!("devstack restore: pg_restore failed; {} is unchanged", service.database);
        return Ok(ExitCode::FAILURE);
    }
    println!("{}: restored from {}", service.database, file.display());
    Ok(ExitCode::SUCCESS)
}

//! `devstack dump <service>` and `devstack restore <service> <file>`: one
//! service's database out to a file and back, with the cluster's own
//! `pg_dump`, `pg_restore` and `psql`, connected as the service's role, so a
//! dump holds exactly what the service can see and a restore can touch
//! nothing else.
//!
//! A restore replaces everything the role owns: `DROP OWNED` and the dump's
//! SQL run in one transaction, so objects made after the dump (a newer
//! migration's table, say) go too, and any error leaves the database as it
//! was. Dumps hold password and token hashes (auth's), so they are written
//! readable by their owner only.

use std::{
    fs::OpenOptions,
    os::unix::fs::OpenOptionsExt,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

use anyhow::Context;

use crate::psql::{client, connected, service};

/// Creates (or empties) `path` readable and writable by its owner only;
/// PostgreSQL's tools keep an existing file's mode.
fn private_file(path: &Path) -> anyhow::Result<()> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    Ok(())
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
    private_file(&output)?;
    let mut cmd = connected(data_dir, "pg_dump", service)?;
    // Custom format: compressed, and pg_restore can clean and restore it in one transaction.
    cmd.args(["--format", "custom", "--no-owner", "--no-privileges", "--file"]).arg(&output);
    if !run(cmd, "pg_dump")? {
        eprintln!("devstack dump: pg_dump failed; is the stack up (`devstack status`)?");
        return Ok(ExitCode::FAILURE);
    }
    println!("{}: {} written ({} bytes)", service.database(), output.display(), std::fs::metadata(&output)?.len());
    Ok(ExitCode::SUCCESS)
}

/// Replaces `name`'s database contents with `file`'s, all or nothing.
pub fn restore(data_dir: &Path, name: &str, file: &Path) -> anyhow::Result<ExitCode> {
    let service = match service(name, "restore") {
        Ok(service) => service,
        Err(code) => return Ok(code),
    };
    anyhow::ensure!(file.is_file(), "{}: no such file", file.display());
    let unchanged = |why: &str| {
        eprintln!("devstack restore: {why}; {} is unchanged", service.database());
        Ok(ExitCode::FAILURE)
    };
    // The archive as SQL first: a file that is no dump fails here, before anything is touched.
    std::fs::create_dir_all(data_dir)?;
    let sql = data_dir.join(format!("restore-{name}.sql"));
    private_file(&sql)?;
    let mut convert = client("pg_restore");
    convert.args(["--no-owner", "--no-privileges", "--file"]).arg(&sql).arg(file);
    let converted = run(convert, "pg_restore")?;
    let restored = converted && {
        let mut apply = connected(data_dir, "psql", service)?;
        apply
            .args(["--quiet", "--single-transaction", "--set", "ON_ERROR_STOP=1"])
            // The role's name is a checked identifier (services.toml): lowercase letters and digits.
            .args(["--command", &format!("DROP OWNED BY \"{}\"", service.name), "--file"])
            .arg(&sql);
        run(apply, "psql")?
    };
    let _ = std::fs::remove_file(&sql);
    if !converted {
        return unchanged(&format!("{} is not a pg_dump archive pg_restore can read", file.display()));
    }
    if !restored {
        return unchanged("the restore failed and was rolled back");
    }
    println!("{}: restored from {}", service.database(), file.display());
    Ok(ExitCode::SUCCESS)
}

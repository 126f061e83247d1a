//! PostgreSQL: finding the server binaries, creating the cluster once,
//! starting it, and giving every service its role and database.
//!
//! The cluster lives in `<data dir>/pg`. Over TCP (loopback only) every role
//! needs its password (`scram-sha-256`); the `postgres` superuser has none
//! and is reachable only through the Unix socket inside the data directory,
//! which is how devstack provisions. Run as root, the server runs as
//! `nobody`, since PostgreSQL refuses to run as root.

use std::{
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use sqlx::{Connection, Executor, PgConnection, postgres::PgConnectOptions};

use crate::services::Service;

/// The directory holding `initdb`, `postgres` and `psql`.
#[derive(Debug, Clone)]
pub struct Binaries {
    pub dir: PathBuf,
}

impl Binaries {
    /// `PG_BIN`, else the directory on `PATH` with both `initdb` and `postgres`, else the newest
    /// `/usr/lib/postgresql/<version>/bin` (Debian and Ubuntu keep them off `PATH`).
    pub fn find() -> anyhow::Result<Self> {
        if let Some(dir) = std::env::var_os("PG_BIN").filter(|d| !d.is_empty()) {
            return Ok(Self { dir: dir.into() });
        }
        let on_path = std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file());
        if let Some(dir) = on_path {
            return Ok(Self { dir });
        }
        newest_debian(Path::new("/usr/lib/postgresql")).map(|dir| Self { dir }).ok_or_else(|| {
            anyhow::anyhow!(
                "PostgreSQL server binaries (initdb, postgres) not found on PATH or in /usr/lib/postgresql/*/bin. \
                 Install them (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`; \
                 Nix: `nix develop`) or set PG_BIN to their directory."
            )
        })
    }

    pub fn get(&self, program: &str) -> PathBuf {
        self.dir.join(program)
    }

    /// A client program (`psql`, `pg_dump`, `pg_restore`) next to the server, else the one on `PATH`.
    pub fn client(&self, program: &str) -> PathBuf {
        let here = self.get(program);
        if here.is_file() { here } else { PathBuf::from(program) }
    }
}

fn newest_debian(root: &Path) -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir(root)
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, dir)| dir)
}

/// The system user PostgreSQL runs as when devstack runs as root.
#[derive(Debug, Clone, Copy)]
pub struct RunAs {
    pub uid: u32,
    pub gid: u32,
}

impl RunAs {
    /// `nobody` when this process is root, `None` otherwise.
    pub fn detect() -> anyhow::Result<Option<Self>> {
        if !nix::unistd::geteuid().is_root() {
            return Ok(None);
        }
        let nobody = nix::unistd::User::from_name("nobody")
            .context("looking up the `nobody` user")?
            .context("running as root, PostgreSQL must run as another user, and there is no `nobody` user")?;
        Ok(Some(Self { uid: nobody.uid.as_raw(), gid: nobody.gid.as_raw() }))
    }

    pub fn apply(self, cmd: &mut tokio::process::Command) {
        cmd.uid(self.uid).gid(self.gid).env("HOME", "/tmp");
    }

    /// Fails, naming the directory, when this user cannot reach `dir` (a root-only home, say):
    /// PostgreSQL would otherwise stop with a bare "Permission denied".
    pub fn check_reachable(self, dir: &Path) -> anyhow::Result<()> {
        use std::os::unix::fs::MetadataExt;
        for ancestor in dir.ancestors().filter(|a| a.exists()) {
            let meta = std::fs::metadata(ancestor)?;
            let mode = meta.mode();
            let search = if meta.uid() == self.uid {
                mode & 0o100
            } else if meta.gid() == self.gid {
                mode & 0o010
            } else {
                mode & 0o001
            };
            anyhow::ensure!(
                search != 0,
                "devstack runs as root, so PostgreSQL runs as `nobody`, which cannot enter {} (mode {:o}); \
                 use a --data-dir it can reach or allow it in (chmod o+x {})",
                ancestor.display(),
                mode & 0o7777,
                ancestor.display()
            );
        }
        Ok(())
    }
}

/// The cluster's directory (`PGDATA`), also its Unix socket directory.
pub fn cluster_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("pg")
}

/// Whether `initdb` has already run there.
pub fn initialised(data_dir: &Path) -> bool {
    cluster_dir(data_dir).join("PG_VERSION").is_file()
}

/// Creates the cluster. Durable writes are skipped here: a crash this early loses nothing worth
/// keeping, and the next start after `--fresh` redoes it.
pub async fn initdb(bin: &Binaries, data_dir: &Path, run_as: Option<RunAs>) -> anyhow::Result<()> {
    let pgdata = cluster_dir(data_dir);
    std::fs::create_dir_all(&pgdata).with_context(|| format!("creating {}", pgdata.display()))?;
    std::fs::set_permissions(&pgdata, std::fs::Permissions::from_mode(0o700))?;
    if let Some(user) = run_as {
        std::os::unix::fs::chown(&pgdata, Some(user.uid), Some(user.gid))
            .with_context(|| format!("chown {} to the PostgreSQL user", pgdata.display()))?;
    }
    let mut cmd = tokio::process::Command::new(bin.get("initdb"));
    cmd.args([
        "--no-sync",
        "--username=postgres",
        "--auth-local=trust",
        "--auth-host=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C",
        "-D",
    ])
    .arg(&pgdata)
    .current_dir(&pgdata);
    if let Some(user) = run_as {
        user.apply(&mut cmd);
    }
    let out = cmd.output().await.with_context(|| format!("running {}", bin.get("initdb").display()))?;
    if !out.status.success() {
        anyhow::bail!("initdb failed ({}):\n{}", out.status, String::from_utf8_lossy(&out.stderr).trim_end());
    }
    Ok(())
}

/// The server command: loopback only, its socket in the cluster directory.
pub fn server_command(bin: &Binaries, data_dir: &Path, port: u16, run_as: Option<RunAs>) -> tokio::process::Command {
    let pgdata = cluster_dir(data_dir);
    let mut cmd = tokio::process::Command::new(bin.get("postgres"));
    cmd.arg("-D")
        .arg(&pgdata)
        .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1", "-c"])
        .arg(format!("unix_socket_directories={}", pgdata.display()))
        // Clusters made by older versions default to md5; the roles' passwords must be SCRAM.
        .args(["-c", "password_encryption=scram-sha-256"])
        .current_dir(&pgdata);
    if let Some(user) = run_as {
        user.apply(&mut cmd);
    }
    cmd
}

/// The superuser, over the Unix socket.
pub fn admin_options(data_dir: &Path, port: u16) -> PgConnectOptions {
    PgConnectOptions::new().socket(cluster_dir(data_dir)).port(port).username("postgres").database("postgres")
}

/// Waits until the server accepts connections. It says it is ready in `postmaster.pid` (as
/// `pg_ctl -w` reads it), which spares the log a "starting up" refusal per attempt.
pub async fn wait_ready(data_dir: &Path, options: &PgConnectOptions) -> PgConnection {
    let pid_file = cluster_dir(data_dir).join("postmaster.pid");
    loop {
        let says_ready =
            std::fs::read_to_string(&pid_file).is_ok_and(|t| t.lines().nth(7).is_some_and(|l| l.trim() == "ready"));
        if says_ready && let Ok(conn) = PgConnection::connect_with(options).await {
            return conn;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Makes every service's role and database exist as they should, whatever
/// ran before: a login role per service owning its database and nothing
/// else, and no database open to `PUBLIC`, so a role reaches its own
/// database only.
pub async fn provision(conn: &mut PgConnection, services: &[&Service]) -> anyhow::Result<()> {
    // Not waiting for each commit to reach the disk makes a CREATE DATABASE several times faster.
    // A crash right after loses at most these commits, which the next start simply redoes.
    conn.execute("SET synchronous_commit = off").await?;
    let roles: Vec<String> = sqlx::query_scalar("SELECT rolname::text FROM pg_roles").fetch_all(&mut *conn).await?;
    let databases: Vec<String> =
        sqlx::query_scalar("SELECT datname::text FROM pg_database").fetch_all(&mut *conn).await?;
    for service in services.iter().filter(|s| s.database.is_some()) {
        for statement in
            statements(service, roles.contains(&service.name), databases.iter().any(|d| d == service.database()))
        {
            conn.execute(statement.as_str()).await.with_context(|| format!("provisioning {}", service.name))?;
        }
    }
    conn.execute("REVOKE CONNECT, TEMPORARY ON DATABASE postgres, template1 FROM PUBLIC")
        .await
        .context("closing the system databases to other roles")?;
    Ok(())
}

/// The statements for one service. Names are fixed lowercase identifiers (a test checks), so
/// quoting is enough; DDL takes no bind parameters.
pub fn statements(service: &Service, role_exists: bool, database_exists: bool) -> Vec<String> {
    let role = format!("\"{}\"", service.name);
    let database = format!("\"{}\"", service.database());
    let password = crate::services::password(service).replace('\'', "''");
    let mut out = Vec::new();
    if !role_exists {
        out.push(format!("CREATE ROLE {role} LOGIN"));
    }
    // Reasserted every time: a role left with other attributes by hand is put right.
    out.push(format!(
        "ALTER ROLE {role} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '{password}'"
    ));
    if !database_exists {
        out.push(format!("CREATE DATABASE {database} OWNER {role}"));
    }
    out.push(format!("ALTER DATABASE {database} OWNER TO {role}"));
    out.push(format!("REVOKE ALL ON DATABASE {database} FROM PUBLIC"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::by_name;

    #[test]
    fn statements_create_only_what_is_missing() {
        let greeter = by_name("greeter").unwrap();
        let all = statements(greeter, false, false).join(";\n");
        assert!(all.contains("CREATE ROLE \"greeter\" LOGIN"), "{all}");
        assert!(all.contains("CREATE DATABASE \"greeter_db\" OWNER \"greeter\""), "{all}");
        assert!(all.contains("REVOKE ALL ON DATABASE \"greeter_db\" FROM PUBLIC"), "{all}");
        let again = statements(greeter, true, true);
        assert!(again.iter().all(|s| !s.starts_with("CREATE")), "{again:?}");
        let again = again.join(";\n");
        assert!(again.contains("NOSUPERUSER") && again.contains("OWNER TO \"greeter\""), "{again}");
    }

    #[test]
    fn a_directory_the_server_user_cannot_enter_is_named() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        let private = root.path().join("private");
        std::fs::create_dir(&private).unwrap();
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
        let nobody = RunAs { uid: 65534, gid: 65534 };
        let err = nobody.check_reachable(&private.join("data")).unwrap_err().to_string();
        assert!(err.contains(&format!("cannot enter {} (mode 700)", private.display())), "{err}");
        std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o711)).unwrap();
        nobody.check_reachable(&private.join("data")).unwrap();
    }

    #[test]
    fn newest_debian_version_wins() {
        let root = tempfile::tempdir().unwrap();
        for v in ["9", "15", "16", "notaversion"] {
            let bin = root.path().join(v).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            std::fs::write(bin.join("initdb"), "").unwrap();
        }
        // 17 has no initdb: not a server installation.
        std::fs::create_dir_all(root.path().join("17/bin")).unwrap();
        assert_eq!(newest_debian(root.path()), Some(root.path().join("16/bin")));
        assert_eq!(newest_debian(&root.path().join("absent")), None);
    }
}

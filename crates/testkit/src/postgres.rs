//! A PostgreSQL server of a test's own, to crash and start again: every
//! server process killed at once (SIGKILL to its process group), then
//! crash recovery from the WAL on the next start, as after a power cut of
//! the database alone.
//!
//! Unlike the shared server ([`crate::database`]) it commits synchronously
//! (`synchronous_commit=on`), so an acknowledged commit is in the kernel
//! before the client hears of it and survives the crash. `fsync` stays off:
//! the machine does not crash, only PostgreSQL.

use std::{
    os::unix::process::CommandExt,
    path::PathBuf,
    process::{Child, Command, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    time::Duration,
};

use platform::db::{DbConfig, parse_url};
use sqlx::{Connection, Executor, PgConnection};

use crate::{NOBODY, drop_privileges, find_binaries, free_port, is_root, wait_ready};

pub struct Postgres {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    as_root: bool,
    postmaster: Option<Child>,
}

impl Postgres {
    /// Initialises a cluster in a fresh directory and starts it on a free port.
    pub fn start() -> Postgres {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let bin = find_binaries().unwrap_or_else(|e| panic!("{e}"));
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!("testkit-pg-crash-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&root).expect("a directory for PostgreSQL");
        let as_root = is_root();
        if as_root {
            std::os::unix::fs::chown(&root, Some(NOBODY), Some(NOBODY)).expect("chown to nobody");
        }
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args(["--no-sync", "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "-D"])
            .arg(root.join("data"))
            .current_dir(&root);
        drop_privileges(&mut initdb, as_root);
        let out = initdb.output().expect("running initdb");
        assert!(out.status.success(), "initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        let port = free_port().expect("a free loopback port");
        let mut pg = Postgres { bin, root, port, as_root, postmaster: None };
        pg.resume();
        pg
    }

    fn admin_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A fresh, empty database on this server.
    pub async fn database(&self) -> DbConfig {
        let mut admin = PgConnection::connect(&self.admin_url()).await.expect("connect to PostgreSQL");
        admin.execute(r#"CREATE DATABASE "test""#).await.expect("create the test database");
        let url = format!("postgres://postgres@127.0.0.1:{}/test", self.port);
        DbConfig {
            url: parse_url(&url).expect("test URL is valid"),
            max_connections: 5,
            connect_timeout: Duration::from_secs(2),
        }
    }

    /// Kills every process of the server at once: no shutdown checkpoint,
    /// open transactions and connections gone.
    pub fn crash(&mut self) {
        if let Some(mut postmaster) = self.postmaster.take() {
            // The postmaster leads the process group its backends are in.
            let group = format!("-{}", postmaster.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = postmaster.wait();
        }
    }

    /// Starts it again on the same port and data (recovering from a crash).
    pub fn resume(&mut self) {
        assert!(self.postmaster.is_none(), "PostgreSQL is running already");
        let mut postgres = Command::new(self.bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-p", &self.port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", self.root.display()))
            .args(["-c", "fsync=off", "-c", "synchronous_commit=on", "-c", "log_min_messages=warning"])
            .current_dir(&self.root)
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.root.join("postgres.log")).map(Stdio::from).unwrap_or(Stdio::null()));
        drop_privileges(&mut postgres, self.as_root);
        let mut child = postgres.spawn().expect("starting postgres");
        // On a thread of its own: wait_ready blocks, and tests call this from a runtime.
        let (url, root) = (self.admin_url(), self.root.clone());
        let ready = std::thread::scope(|s| s.spawn(|| wait_ready(&url, &root, &mut child)).join());
        ready.expect("waiting for PostgreSQL").unwrap_or_else(|e| panic!("{e}"));
        self.postmaster = Some(child);
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.crash();
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

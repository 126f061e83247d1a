//! A throwaway PostgreSQL for tests.
//!
//! The first test that asks for a database starts a private PostgreSQL
//! server from the installed binaries (`initdb` into a temporary directory,
//! a free loopback port, durability off for speed); every test then gets a
//! fresh, empty database of its own on it. The server lives as long as the
//! test process: a supervising shell holds the read end of a pipe whose
//! write end only this process has, so when the process exits — however it
//! exits — the server is stopped and its directory removed.
//!
//! Run as root (CI containers), the server runs as `nobody`, since
//! PostgreSQL refuses to run as root.
//!
//! Set `TEST_DATABASE_URL` to an existing server's admin URL (a role that
//! may `CREATE DATABASE`) to use it instead; `PG_BIN` to pick the binaries.

use std::{
    io::Read,
    net::TcpListener,
    os::unix::{fs::PermissionsExt, process::CommandExt},
    path::{Path, PathBuf},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Mutex, OnceLock,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

pub mod nats;
pub mod otlp;
pub mod postgres;

use platform::db::{DbConfig, parse_url};
use sqlx::{Connection, Executor, PgConnection};

const NOBODY: u32 = 65534;

struct Server {
    admin_url: String,
    // Dropping these would stop the server; they live for the process.
    _supervisor: Option<Mutex<(Child, ChildStdin)>>,
}

fn server() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(|| match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Server { admin_url: url, _supervisor: None },
        // Started on a plain thread: callers are usually inside a runtime.
        _ => std::thread::spawn(start)
            .join()
            .expect("PostgreSQL start-up thread panicked")
            .unwrap_or_else(|e| panic!("could not start a throwaway PostgreSQL for tests: {e}")),
    })
}

/// A fresh, empty database for one test.
pub async fn database() -> DbConfig {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let server = server();
    let name = format!(
        "test_{}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0)
    );
    let mut admin = PgConnection::connect(&server.admin_url).await.expect("connect to the test PostgreSQL");
    admin.execute(format!(r#"CREATE DATABASE "{name}""#).as_str()).await.expect("create test database");
    let mut url = url::Url::parse(&server.admin_url).expect("admin URL is valid");
    url.set_path(&name);
    DbConfig {
        url: parse_url(url.as_str()).expect("test URL is valid"),
        max_connections: 5,
        connect_timeout: Duration::from_secs(10),
    }
}

/// The test server's superuser URL (starting the server if need be), for
/// tests that act on the cluster itself: roles, or running `psql`.
pub fn admin_url() -> &'static str {
    &server().admin_url
}

/// The directory of the PostgreSQL binaries (`psql`, `initdb`, ...): `PG_BIN`,
/// else the first on `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn pg_bin() -> Result<PathBuf, String> {
    find_binaries()
}

fn start() -> Result<Server, String> {
    let bin = find_binaries()?;
    let root = std::env::temp_dir().join(format!("testkit-pg-{}", std::process::id()));
    let data = root.join("data");
    std::fs::create_dir_all(&root).map_err(|e| format!("creating {}: {e}", root.display()))?;
    let as_root = is_root();
    if as_root {
        std::os::unix::fs::chown(&root, Some(NOBODY), Some(NOBODY))
            .map_err(|e| format!("chown {}: {e}", root.display()))?;
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o700)).map_err(|e| e.to_string())?;
    }

    let mut initdb = Command::new(bin.join("initdb"));
    initdb
        .args(["--no-sync", "--auth=trust", "--username=postgres", "--encoding=UTF8", "--locale=C", "-D"])
        .arg(&data)
        .current_dir(&root);
    drop_privileges(&mut initdb, as_root);
    let out = initdb.output().map_err(|e| format!("running initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!("initdb failed: {}", String::from_utf8_lossy(&out.stderr)));
    }

    let port = free_port()?;
    // The supervisor stops PostgreSQL (fast shutdown) and removes its files
    // when its standard input closes, i.e. when this process is gone.
    let script = r#"
        "$PG_BIN/postgres" -D "$DATA" -p "$PORT" -c listen_addresses=127.0.0.1 \
            -c unix_socket_directories="$ROOT" -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=300 -c log_min_messages=warning \
            > "$ROOT/postgres.log" 2>&1 &
        pid=$!
        cat > /dev/null
        kill -INT "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "$ROOT"
    "#;
    let mut sh = Command::new("sh");
    sh.args(["-c", script])
        .env("PG_BIN", &bin)
        .env("DATA", &data)
        .env("ROOT", &root)
        .env("PORT", port.to_string())
        .current_dir(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    drop_privileges(&mut sh, as_root);
    let mut child = sh.spawn().map_err(|e| format!("starting postgres: {e}"))?;
    let stdin = child.stdin.take().expect("stdin is piped");

    let admin_url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    wait_ready(&admin_url, &root, &mut child)?;
    Ok(Server { admin_url, _supervisor: Some(Mutex::new((child, stdin))) })
}

fn wait_ready(url: &str, root: &Path, child: &mut Child) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())?;
    loop {
        if rt.block_on(PgConnection::connect(url)).is_ok() {
            return Ok(());
        }
        let died = matches!(child.try_wait(), Ok(Some(_)));
        if died || Instant::now() > deadline {
            let mut log = String::new();
            let _ = std::fs::File::open(root.join("postgres.log")).and_then(|mut f| f.read_to_string(&mut log));
            return Err(format!("PostgreSQL did not become ready: {log}"));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn drop_privileges(cmd: &mut Command, as_root: bool) {
    if as_root {
        cmd.uid(NOBODY).gid(NOBODY).env("HOME", "/tmp");
    }
}

fn is_root() -> bool {
    // The owner of a file this process just created is its effective uid.
    let probe = std::env::temp_dir().join(format!("testkit-uid-{}", std::process::id()));
    let uid = std::fs::write(&probe, b"")
        .and_then(|()| std::fs::metadata(&probe))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m));
    let _ = std::fs::remove_file(&probe);
    matches!(uid, Ok(0))
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

/// `PG_BIN`, else `initdb` on `PATH`, else the newest `/usr/lib/postgresql/*/bin`.
fn find_binaries() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("postgres").is_file() {
                return Ok(dir);
            }
        }
    }
    let mut candidates: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    candidates.sort_by_key(|p| {
        p.parent().and_then(|v| v.file_name()).and_then(|v| v.to_str()).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    candidates.pop().ok_or_else(|| {
        "PostgreSQL server binaries (initdb, postgres) not found. Install them \
         (Debian/Ubuntu: `apt-get install postgresql`; macOS: `brew install postgresql`; \
         Nix: `nix develop`), or set PG_BIN to their directory, or set \
         TEST_DATABASE_URL to an existing server's admin URL."
            .to_owned()
    })
}

/// Installs logging and tracing once per test process, so tests see the
/// services' logs (with `--nocapture`) and spans carry trace ids.
pub fn init_telemetry() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        if let Ok(t) = platform::telemetry::init_for_tests() {
            std::mem::forget(t);
        }
    });
}

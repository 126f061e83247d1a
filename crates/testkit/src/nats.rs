//! A throwaway nats-server with JetStream, for tests of events: its own
//! port and store directory, stopped and started again at will (the store
//! survives), killed when dropped. [`Cluster`] runs several as one
//! JetStream cluster on loopback, as production runs three.

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// The nats-server binary: `NATS_SERVER`, else `nats-server` on `PATH`, else
/// Debian's `/usr/sbin/nats-server`. Tests of events fail without one; they
/// never pass by skipping.
pub fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("NATS_SERVER").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|dir| dir.join("nats-server"))
        .find(|p| p.is_file());
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

pub struct Nats {
    child: Option<Child>,
    port: u16,
    store: tempdir::Dir,
    /// Arguments beyond the standalone server's (a cluster node's).
    args: Vec<String>,
}

impl Nats {
    /// Starts one on a free loopback port and waits until it accepts connections.
    pub fn start() -> Nats {
        Nats::with_args(Vec::new())
    }

    fn with_args(args: Vec<String>) -> Nats {
        let port = crate::free_port().expect("a free loopback port");
        let mut nats = Nats { child: None, port, store: tempdir::Dir::new(), args };
        nats.resume();
        nats
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills the server (SIGKILL: no goodbye to its clients).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and store.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "nats-server is running already");
        let binary = binary();
        let child = Command::new(&binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(self.store.path())
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {} (install nats-server, or set NATS_SERVER): {e}", binary.display()));
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {} within 10 s", self.port);
            std::thread::sleep(Duration::from_millis(20));
        }
        // A server that cannot bind a port it was given (a cluster node's
        // route port, taken meanwhile) exits just after listening.
        std::thread::sleep(Duration::from_millis(100));
        let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
        assert!(
            exited.is_none(),
            "nats-server on {} exited at start ({exited:?}): a port it needs is taken",
            self.port
        );
    }
}

/// A JetStream cluster of nats-servers on loopback, each with its own
/// client port, route port and store: what production runs, small.
pub struct Cluster {
    nodes: Vec<Nats>,
}

impl Cluster {
    /// Starts `size` nodes routed to each other. JetStream elects its meta
    /// leader a moment later: creating a stream may fail until then.
    pub fn start(size: usize) -> Cluster {
        let routes: Vec<u16> = (0..size).map(|_| crate::free_port().expect("a free loopback port")).collect();
        let nodes = routes
            .iter()
            .enumerate()
            .map(|(i, route)| {
                let others: Vec<String> =
                    routes.iter().filter(|r| *r != route).map(|r| format!("nats://127.0.0.1:{r}")).collect();
                Nats::with_args(vec![
                    "--name".into(),
                    format!("node-{i}"),
                    "--cluster_name".into(),
                    "testkit".into(),
                    "--cluster".into(),
                    format!("nats://127.0.0.1:{route}"),
                    "--routes".into(),
                    others.join(","),
                ])
            })
            .collect();
        Cluster { nodes }
    }

    /// Every node's client URL, comma-separated (as `NATS_URL` takes them).
    pub fn url(&self) -> String {
        self.nodes.iter().map(Nats::url).collect::<Vec<_>>().join(",")
    }

    /// Node `i` (`node-<i>`, its server name), to kill or resume.
    pub fn node(&mut self, i: usize) -> &mut Nats {
        &mut self.nodes[i]
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A directory removed when dropped (std has none; no extra dependency).
mod tempdir {
    use super::*;

    pub struct Dir(PathBuf);

    impl Dir {
        pub fn new() -> Dir {
            static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("testkit-nats-{}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("a store directory");
            Dir(dir)
        }

        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

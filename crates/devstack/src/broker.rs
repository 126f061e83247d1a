//! The event broker: `nats-server -js` when one is on `PATH`, its store in
//! `<data dir>/nats/` (events survive restarts with the rest). Without one
//! the services keep their events in their outboxes until a broker comes,
//! and devstack says so.

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

/// The name the broker's process is shown under.
pub const NAME: &str = "nats";
/// Its port unless told otherwise: the one the services' default `NATS_URL` names.
pub const DEFAULT_PORT: u16 = 4222;

/// A `nats-server` to run on `port`.
#[derive(Debug, Clone)]
pub struct Broker {
    binary: PathBuf,
    pub port: u16,
}

impl Broker {
    /// `nats-server` on `PATH` (Debian installs it in /usr/sbin, which is on
    /// root's), or why there is none.
    pub fn find(port: u16) -> Result<Broker, String> {
        let binary = std::env::var_os("PATH")
            .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("nats-server")).find(|p| p.is_file()))
            .ok_or("no `nats-server` on PATH (install nats-server, or use `nix develop`)")?;
        Ok(Broker { binary, port })
    }

    /// What the services' `NATS_URL` is.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn command(&self, data_dir: &Path) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(&self.binary);
        cmd.args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"]).arg(data_dir.join("nats"));
        cmd
    }

    /// Waits until it accepts connections, at most `limit`.
    pub async fn wait_ready(port: u16, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "nats-server did not listen on {port}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

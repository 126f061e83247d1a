//! The edge: Traefik v3 with the platform's routing table, rendered by the
//! `edge` crate from `deploy/edge/edge.toml` for the ports of this run.
//! It runs when a `traefik` binary is on `PATH`; without one the platform
//! runs without the edge, and says so.

use std::path::{Path, PathBuf};

use anyhow::Context;
use edge::{Addresses, Edge, StaticOptions};

use crate::{services::Ports, state::EdgePorts};

/// The name Traefik's process is shown under.
pub const NAME: &str = "traefik";

/// A public route of the edge. Traefik answers its ping before its file provider has loaded the
/// routes; until then every path is its own 404, after it this one reaches auth (or a 502).
const ROUTED_PATH: &str = "/auth/.well-known/jwks.json";

/// A `traefik` found on `PATH` whose version is still being asked (it takes a tenth of a
/// second, which overlaps PostgreSQL's start instead of delaying it).
#[derive(Debug)]
pub struct Candidate {
    traefik: PathBuf,
    ports: EdgePorts,
    version: tokio::task::JoinHandle<Result<String, String>>,
}

impl Candidate {
    /// `traefik` on `PATH`, with the edge's ports or these overrides; otherwise why there is none.
    pub fn find(web: Option<u16>, metrics: Option<u16>) -> Result<Self, String> {
        let traefik = std::env::var_os("PATH")
            .and_then(|p| std::env::split_paths(&p).map(|d| d.join(NAME)).find(|p| p.is_file()))
            .ok_or("no `traefik` on PATH (install Traefik v3, or use `nix develop`)")?;
        let edge = Edge::default_source();
        let ports = EdgePorts { web: web.unwrap_or(edge.web_port()), metrics: metrics.unwrap_or(edge.metrics_port()) };
        let version = tokio::spawn(traefik_version(traefik.clone()));
        Ok(Self { traefik, ports, version })
    }

    pub fn ports(&self) -> EdgePorts {
        self.ports
    }

    /// The edge, once Traefik turns out to be v3; otherwise why not.
    pub async fn confirm(self) -> Result<Plan, String> {
        let version = self.version.await.map_err(|e| format!("asking Traefik its version: {e}"))??;
        if !version.starts_with("3.") {
            return Err(format!("{} is Traefik {version}; the edge configuration is for v3", self.traefik.display()));
        }
        Ok(Plan { traefik: self.traefik, edge: Edge::default_source(), ports: self.ports })
    }
}

/// Traefik v3, ready to be configured and started.
#[derive(Debug, Clone)]
pub struct Plan {
    traefik: PathBuf,
    edge: Edge,
    ports: EdgePorts,
}

impl Plan {
    pub fn ports(&self) -> EdgePorts {
        self.ports
    }

    /// Traefik's ping, on its metrics entry point.
    pub fn ping_url(&self) -> String {
        format!("http://127.0.0.1:{}/ping", self.ports.metrics)
    }

    /// Waits until Traefik answers its ping and routes requests, for at most `limit`.
    pub async fn wait_ready(ping: String, routed: String, limit: std::time::Duration) -> anyhow::Result<()> {
        let client = crate::probe::client();
        crate::probe::wait_ready(&client, &ping, limit).await?;
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if crate::probe::check(&client, &routed).await != crate::probe::Health::NotReady(404) {
                return Ok(());
            }
            anyhow::ensure!(tokio::time::Instant::now() < deadline, "{routed} is still unrouted after {limit:?}");
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }

    /// A URL the edge routes once its configuration is loaded.
    pub fn routed_url(&self) -> String {
        format!("http://127.0.0.1:{}{ROUTED_PATH}", self.ports.web)
    }

    /// Writes the static and dynamic configuration under `<data dir>/traefik/` and returns the
    /// command that runs Traefik with them, on loopback only.
    pub fn command(&self, data_dir: &Path, ports: &Ports) -> anyhow::Result<tokio::process::Command> {
        let dir = data_dir.join("traefik");
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let addresses = self
            .edge
            .upstreams()
            .fold(Addresses::new(), |a, upstream| a.with(upstream, format!("127.0.0.1:{}", ports.of(upstream))));
        let dynamic_file = dir.join("dynamic.yml");
        let static_file = dir.join("static.yml");
        let options = StaticOptions {
            listen_host: "127.0.0.1".to_owned(),
            web_port: Some(self.ports.web),
            metrics_port: Some(self.ports.metrics),
            ..StaticOptions::new(&dynamic_file)
        };
        std::fs::write(&dynamic_file, self.edge.render_dynamic(&addresses)?)
            .with_context(|| format!("writing {}", dynamic_file.display()))?;
        std::fs::write(&static_file, self.edge.render_static(&options)?)
            .with_context(|| format!("writing {}", static_file.display()))?;
        let mut cmd = tokio::process::Command::new(&self.traefik);
        cmd.arg(format!("--configFile={}", static_file.display())).current_dir(&dir);
        Ok(cmd)
    }
}

/// `traefik version` prints `Version:      3.6.2` among other lines.
async fn traefik_version(traefik: PathBuf) -> Result<String, String> {
    let out = tokio::process::Command::new(&traefik)
        .arg("version")
        .output()
        .await
        .map_err(|e| format!("running `{} version`: {e}", traefik.display()))?;
    parse_version(&String::from_utf8_lossy(&out.stdout))
        .ok_or_else(|| format!("`{} version` printed no version", traefik.display()))
}

fn parse_version(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Version:"))
        .map(|v| v.trim().trim_start_matches('v').to_owned())
        .filter(|v| !v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_traefiks_version_output() {
        let v3 = "Version:      3.6.2\nCodename:     ramequin\nGo version:   go1.24.9\n";
        assert_eq!(parse_version(v3).as_deref(), Some("3.6.2"));
        assert_eq!(parse_version("Version: v2.11.0\n").as_deref(), Some("2.11.0"));
        assert_eq!(parse_version("nothing here"), None);
    }

    #[test]
    fn renders_configuration_for_this_runs_ports() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan {
            traefik: "/bin/traefik".into(),
            edge: Edge::default_source(),
            ports: EdgePorts { web: 40081, metrics: 40082 },
        };
        let ports = Ports::new(5432, &[("greeter".into(), 18080), ("auth".into(), 18090)]).unwrap();
        let cmd = plan.command(dir.path(), &ports).unwrap();
        let arg = cmd.as_std().get_args().next().unwrap().to_string_lossy().into_owned();
        assert_eq!(arg, format!("--configFile={}", dir.path().join("traefik/static.yml").display()));
        let dynamic = std::fs::read_to_string(dir.path().join("traefik/dynamic.yml")).unwrap();
        assert!(dynamic.contains("h2c://127.0.0.1:18080"), "{dynamic}");
        assert!(dynamic.contains("http://127.0.0.1:18090/auth/verify"), "{dynamic}");
        assert!(!dynamic.contains(":8081"), "caller is never routed:\n{dynamic}");
        let static_config = std::fs::read_to_string(dir.path().join("traefik/static.yml")).unwrap();
        assert!(
            static_config.contains("127.0.0.1:40081") && static_config.contains("127.0.0.1:40082"),
            "{static_config}"
        );
        assert_eq!(plan.ping_url(), "http://127.0.0.1:40082/ping");
        // The readiness probe's path is one the edge routes.
        assert!(dynamic.contains("PathPrefix(`/auth/`)") && ROUTED_PATH.starts_with("/auth/"), "{dynamic}");
    }
}

//! `<data dir>/devstack.json`: the ports the last `up` used, so `status` and
//! `psql` find a stack started with non-default ports.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::services::Ports;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct State {
    /// devstack's own process id.
    pub pid: u32,
    pub ports: Ports,
    /// The services started (all unless some were left out).
    pub services: Vec<String>,
    /// Traefik's public and metrics (ping) ports, when it runs.
    pub edge: Option<EdgePorts>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EdgePorts {
    pub web: u16,
    pub metrics: u16,
}

pub fn path(data_dir: &Path) -> PathBuf {
    data_dir.join("devstack.json")
}

pub fn write(data_dir: &Path, state: &State) -> anyhow::Result<()> {
    let file = path(data_dir);
    std::fs::write(&file, serde_json::to_vec_pretty(state)?).with_context(|| format!("writing {}", file.display()))
}

/// The saved state, or `None` when there is none (nothing was started with this data directory).
pub fn read(data_dir: &Path) -> anyhow::Result<Option<State>> {
    let file = path(data_dir);
    match std::fs::read(&file) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).with_context(|| format!("reading {}", file.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", file.display())),
    }
}

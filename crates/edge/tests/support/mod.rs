//! What the integration tests share: the repository's paths and the rendered defaults.
#![allow(dead_code)]

use std::path::PathBuf;

use edge::{Addresses, Edge, StaticOptions};
use serde_json::Value;

/// The repository root (this crate is `crates/edge`).
pub fn repo() -> PathBuf {
    // At run time (cargo sets it for tests): a copy of the checkout reuses this build.
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../..")
}

/// Where the committed Traefik files live.
pub fn traefik_dir() -> PathBuf {
    repo().join("deploy/edge/traefik")
}

/// The dynamic file as the committed static configuration names it: relative to the
/// repository root, so `traefik --configFile=deploy/edge/traefik/static.yml` works from there;
/// the NixOS module and devstack put their own path in.
pub const COMMITTED_DYNAMIC_FILE: &str = "deploy/edge/traefik/dynamic.yml";

/// The committed files' contents as freshly rendered from `deploy/edge/edge.toml`.
pub fn rendered_defaults() -> (String, String) {
    let edge = Edge::load(repo().join("deploy/edge/edge.toml")).expect("deploy/edge/edge.toml loads");
    let static_config = edge.render_static(&StaticOptions::new(COMMITTED_DYNAMIC_FILE)).expect("static renders");
    let dynamic = edge.render_dynamic(&Addresses::local()).expect("dynamic renders");
    (static_config, dynamic)
}

pub fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|error| panic!("rendered configuration is not JSON: {error}\n{text}"))
}

/// The built-in source with `from` replaced by `to` (which must occur), loaded.
pub fn edited(from: &str, to: &str) -> Result<Edge, edge::Error> {
    assert!(edge::SOURCE.contains(from), "edge.toml no longer contains {from:?}; update this test");
    Edge::parse(&edge::SOURCE.replacen(from, to, 1), "edited edge.toml")
}

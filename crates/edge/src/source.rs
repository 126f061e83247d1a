//! The shape of `edge.toml`. Upstreams are not declared here: a router names a
//! service, and services.toml (the `catalog` crate) says how to reach it.
//! Unknown keys are errors: a misspelled option must not be
//! dropped silently. Middlewares are kept as written (Traefik's own shape) and checked
//! by `validate` and, in the tests, by Traefik's JSON Schema.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Source {
    pub entrypoint: EntryPoint,
    pub routers: Vec<Router>,
    #[serde(default)]
    pub middlewares: BTreeMap<String, Value>,
    /// Where the edge's requests come from, by environment (`local`,
    /// `kubernetes`): auth's `AUTH_TRUSTED_PROXIES`. Not rendered for Traefik.
    #[serde(default)]
    pub trusted_proxies: BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct EntryPoint {
    pub name: String,
    pub port: u16,
    pub metrics_port: u16,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Router {
    pub name: String,
    pub rule: String,
    pub upstream: String,
    #[serde(default)]
    pub middlewares: Vec<String>,
    pub priority: Option<u32>,
}

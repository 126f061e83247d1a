//! The platform's edge, written once in `deploy/edge/edge.toml`, and the Traefik v3
//! configuration rendered from it. Routers name services; how to reach each one
//! (its port, and h2c for gRPC services, HTTP/1.1 for REST ones) comes from
//! `services.toml` through the `catalog` crate, which also embeds this file.
//!
//! ```no_run
//! use edge::{Addresses, Edge, StaticOptions};
//!
//! let edge = Edge::default_source();
//! let dynamic = edge.render_dynamic(&Addresses::local().with("greeter", "127.0.0.1:18080"))?;
//! let static_config = edge.render_static(&StaticOptions::new("/tmp/devstack/traefik/dynamic.yml"))?;
//! std::fs::write("/tmp/devstack/traefik/dynamic.yml", dynamic)?;
//! std::fs::write("/tmp/devstack/traefik/static.yml", static_config)?;
//! // traefik --configFile=/tmp/devstack/traefik/static.yml
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Both renderers emit pretty-printed JSON with sorted keys. JSON is YAML, so the
//! output goes into `.yml` files, the extension Traefik's file provider and
//! `--configFile` choose their parser by; Nix reads the same bytes with
//! `builtins.fromJSON`, and the tests validate exactly those bytes against
//! Traefik's JSON Schemas.

mod addresses;
mod error;
mod json;
mod render;
mod routes;
mod source;
mod validate;

use std::{collections::BTreeMap, path::Path};

use catalog::{Catalog, Kind};

pub use addresses::Addresses;
pub use error::Error;
pub use render::{METRICS_ENTRYPOINT, StaticOptions};
pub use routes::Routed;

/// `deploy/edge/edge.toml` as it was when the `catalog` crate was built.
pub const SOURCE: &str = catalog::EDGE_TOML;

/// A parsed and validated edge: entry point, upstreams, routers and middlewares.
#[derive(Debug, Clone)]
pub struct Edge {
    source: source::Source,
    /// Every service a router or middleware names, with how it speaks.
    upstreams: BTreeMap<String, Kind>,
}

impl Edge {
    /// The edge built into this crate ([`SOURCE`]), so binaries need no checkout at run time.
    ///
    /// # Panics
    ///
    /// Never in practice: the crate's tests load the same text and fail if it is invalid.
    pub fn default_source() -> Edge {
        Edge::parse(SOURCE, "deploy/edge/edge.toml (built in)")
            .unwrap_or_else(|error| panic!("the built-in edge source is invalid: {error}"))
    }

    /// Reads, parses and validates an edge file.
    pub fn load(path: impl AsRef<Path>) -> Result<Edge, Error> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        Edge::parse(&text, &path.display().to_string())
    }

    /// Parses and validates edge TOML against the built-in services
    /// ([`catalog::catalog`]); `origin` names it in error messages.
    pub fn parse(text: &str, origin: &str) -> Result<Edge, Error> {
        Edge::parse_with(text, origin, catalog::catalog())
    }

    /// Parses and validates edge TOML against `services` (a description
    /// being edited, say, rather than the built-in one).
    pub fn parse_with(text: &str, origin: &str, services: &Catalog) -> Result<Edge, Error> {
        let source: source::Source =
            toml::from_str(text).map_err(|source| Error::Parse { origin: origin.to_owned(), source })?;
        let problems = validate::problems(&source, services);
        if !problems.is_empty() {
            return Err(Error::Invalid { origin: origin.to_owned(), problems });
        }
        let upstreams = validate::upstreams(&source)
            .into_iter()
            .filter_map(|name| services.get(name).map(|s| (name.to_owned(), s.kind)))
            .collect();
        Ok(Edge { source, upstreams })
    }

    /// The edge without the routers to `services` (and so without those upstreams).
    pub fn without_upstreams(&self, services: &[&str]) -> Edge {
        let mut source = self.source.clone();
        source.routers.retain(|r| !services.contains(&r.upstream.as_str()));
        let upstreams = self.upstreams.iter().filter(|(n, _)| !services.contains(&n.as_str()));
        Edge { source, upstreams: upstreams.map(|(n, k)| (n.clone(), *k)).collect() }
    }

    /// The public entry point's port (`entrypoint.port`).
    pub fn web_port(&self) -> u16 {
        self.source.entrypoint.port
    }

    /// The port of Traefik's own metrics and ping entry point (`entrypoint.metrics_port`).
    pub fn metrics_port(&self) -> u16 {
        self.source.entrypoint.metrics_port
    }

    /// The services the edge routes to, by name; [`Edge::render_dynamic`] needs an address for each.
    pub fn upstreams(&self) -> impl Iterator<Item = &str> {
        self.upstreams.keys().map(String::as_str)
    }

    /// The router that takes `method path`, with the access level its
    /// middlewares enforce (`public`, `user` or `admin`); `None` when no
    /// router matches (not routed). An error for a rule it cannot evaluate
    /// or a priority tie.
    pub fn route(&self, method: &str, path: &str) -> Result<Option<Routed>, String> {
        routes::route(&self.source, method, path)
    }

    /// The addresses the edge reaches services from where it runs in
    /// `environment` (`local` or `kubernetes`), for auth's `AUTH_TRUSTED_PROXIES`.
    pub fn trusted_proxies(&self, environment: &str) -> Option<&[String]> {
        self.source.trusted_proxies.get(environment).map(Vec::as_slice)
    }

    /// Traefik's static configuration (entry points, file provider, access log, metrics, ping, log).
    pub fn render_static(&self, options: &StaticOptions) -> Result<String, Error> {
        render::static_config(&self.source, options)
    }

    /// Traefik's dynamic configuration for the file provider: routers, services and middlewares,
    /// with each upstream at its address in `addresses` and `{service}` placeholders expanded.
    pub fn render_dynamic(&self, addresses: &Addresses) -> Result<String, Error> {
        render::dynamic_config(&self.source, &self.upstreams, addresses)
    }
}

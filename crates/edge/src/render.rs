//! Traefik v3 static and dynamic (file provider) configuration.

use std::{collections::BTreeMap, path::PathBuf};

use serde_json::{Map, json};

use catalog::Kind;

use crate::source::Source;
use crate::{Addresses, Error, json};

/// The entry point that serves Traefik's Prometheus metrics (`/metrics`) and ping (`/ping`),
/// apart from the public one so neither is reachable through it.
pub const METRICS_ENTRYPOINT: &str = "traefik";

const LOG_LEVELS: &[&str] = &["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL", "PANIC"];

/// What the static configuration needs besides the edge itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticOptions {
    /// The dynamic configuration file (what [`crate::Edge::render_dynamic`] wrote); Traefik
    /// watches it. A relative path is resolved against Traefik's working directory.
    pub dynamic_file: PathBuf,
    /// The address both entry points listen on; empty means every interface.
    pub listen_host: String,
    /// Overrides `entrypoint.port`.
    pub web_port: Option<u16>,
    /// Overrides `entrypoint.metrics_port`.
    pub metrics_port: Option<u16>,
    /// Traefik's log level: TRACE, DEBUG, INFO, WARN, ERROR, FATAL or PANIC.
    pub log_level: String,
}

impl StaticOptions {
    /// Every interface, the edge's ports, log level INFO.
    pub fn new(dynamic_file: impl Into<PathBuf>) -> StaticOptions {
        StaticOptions {
            dynamic_file: dynamic_file.into(),
            listen_host: String::new(),
            web_port: None,
            metrics_port: None,
            log_level: "INFO".to_owned(),
        }
    }
}

pub(crate) fn static_config(source: &Source, options: &StaticOptions) -> Result<String, Error> {
    let dynamic_file = options.dynamic_file.to_str().filter(|path| !path.is_empty()).ok_or_else(|| {
        Error::BadOption { option: "dynamic_file", reason: format!("{:?} is empty or not UTF-8", options.dynamic_file) }
    })?;
    let log_level = options.log_level.to_ascii_uppercase();
    if !LOG_LEVELS.contains(&log_level.as_str()) {
        return Err(Error::BadOption {
            option: "log_level",
            reason: format!("`{}` is not one of {}", options.log_level, LOG_LEVELS.join(", ")),
        });
    }
    let web_port = options.web_port.unwrap_or(source.entrypoint.port);
    let metrics_port = options.metrics_port.unwrap_or(source.entrypoint.metrics_port);
    if web_port == metrics_port {
        return Err(Error::BadOption { option: "web_port", reason: format!("equals metrics_port ({web_port})") });
    }
    let host = match options.listen_host.as_str() {
        host if host.contains(':') && !host.starts_with('[') => format!("[{host}]"),
        host => host.to_owned(),
    };

    let config = json!({
        // No update checks or usage reports: the edge makes no calls of its own.
        "global": { "checkNewVersion": false, "sendAnonymousUsage": false },
        "entryPoints": {
            source.entrypoint.name.as_str(): { "address": format!("{host}:{web_port}") },
            METRICS_ENTRYPOINT: { "address": format!("{host}:{metrics_port}") },
        },
        "providers": { "file": { "filename": dynamic_file, "watch": true } },
        // One JSON line per request on stdout; request headers (Authorization) are dropped by default.
        "accessLog": { "format": "json" },
        "metrics": {
            "prometheus": {
                "entryPoint": METRICS_ENTRYPOINT,
                "addEntryPointsLabels": true,
                "addRoutersLabels": true,
                "addServicesLabels": true,
            }
        },
        "ping": { "entryPoint": METRICS_ENTRYPOINT },
        "log": { "level": log_level },
        // No `api` section: the API and dashboard stay off.
    });
    Ok(json::pretty(&config))
}

pub(crate) fn dynamic_config(
    source: &Source,
    upstreams: &BTreeMap<String, Kind>,
    addresses: &Addresses,
) -> Result<String, Error> {
    let mut routers = Map::new();
    for router in &source.routers {
        let mut entry = json!({
            "entryPoints": [source.entrypoint.name],
            "rule": router.rule,
            "service": router.upstream,
        });
        if !router.middlewares.is_empty() {
            entry["middlewares"] = json!(router.middlewares);
        }
        if let Some(priority) = router.priority {
            entry["priority"] = json!(priority);
        }
        routers.insert(router.name.clone(), entry);
    }

    let mut services = Map::new();
    for (name, kind) in upstreams {
        // Traefik's `h2c` scheme: cleartext HTTP/2 with prior knowledge, which gRPC needs.
        let scheme = match kind {
            Kind::Grpc => "h2c",
            Kind::Rest | Kind::Web => "http",
        };
        let url = format!("{scheme}://{}", addresses.require(name)?);
        services.insert(name.clone(), json!({ "loadBalancer": { "servers": [{ "url": url }] } }));
    }

    // `{service}` is that service's base URL. Plain http even for h2c upstreams: the
    // middlewares that take URLs (forwardAuth, errors) speak HTTP/1.1, which every service accepts.
    let base_url = |service: &str| addresses.require(service).map(|address| format!("http://{address}"));
    let mut middlewares = Map::new();
    for (name, middleware) in &source.middlewares {
        middlewares.insert(name.clone(), json::expand(middleware, &base_url)?);
    }

    let config = json!({ "http": { "routers": routers, "services": services, "middlewares": middlewares } });
    Ok(json::pretty(&config))
}

//! The platform's services as devstack runs them: the description in
//! services.toml (the `catalog` crate), the ports of one run, and the
//! environment each service starts with.

use std::{collections::BTreeMap, path::Path};

pub use catalog::Service;

/// Every service, each after its peers: the order they start in.
pub fn all() -> Vec<&'static Service> {
    catalog::catalog().start_order()
}

/// Loopback only: greeter may be pointed at local servers; private and cloud
/// metadata ranges stay refused.
pub const CALLER_ALLOWED_NETWORKS: &str = "127.0.0.0/8,::1/128";

/// The auth signing key's file name inside the data directory.
pub const SIGNING_KEY_FILE: &str = "auth-signing-key.pem";

/// Vite's dev server port (web/vite.config.ts), which proxies to the edge.
pub const VITE_DEV_PORT: u16 = 5173;

/// The origins whose pages may keep auth's refresh token in a cookie: the
/// edge's, by name and by address, and Vite's dev server.
pub fn cookie_origins(edge_port: u16) -> String {
    [format!("http://localhost:{edge_port}"), format!("http://127.0.0.1:{edge_port}")]
        .into_iter()
        .chain([format!("http://localhost:{VITE_DEV_PORT}")])
        .collect::<Vec<_>>()
        .join(",")
}

/// The service that issues tokens; every other service has a client identity at it.
pub fn issuer() -> &'static Service {
    catalog::catalog().issuer()
}

/// Where a service's client secret is kept in the data directory.
pub fn client_secret_file(data_dir: &Path, service: &str) -> std::path::PathBuf {
    data_dir.join("clients").join(format!("{service}.secret"))
}

/// The role's password. Equal to the name, as in the services' built-in
/// `DATABASE_URL` default, so `cargo run -p greeter` on its own talks to
/// devstack's PostgreSQL on 5432. PostgreSQL listens on loopback only.
pub fn password(service: &Service) -> &str {
    &service.name
}

/// Looks a service up by name.
pub fn by_name(name: &str) -> Option<&'static Service> {
    catalog::catalog().get(name)
}

/// The valid service names, for error messages.
pub fn names() -> String {
    catalog::catalog().names()
}

/// Where everything listens, for one run.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Ports {
    pub postgres: u16,
    pub services: BTreeMap<String, u16>,
}

impl Ports {
    /// The default ports, with `overrides` (service name → port) applied.
    pub fn new(postgres: u16, overrides: &[(String, u16)]) -> anyhow::Result<Self> {
        let mut services: BTreeMap<String, u16> = all().iter().map(|s| (s.name.clone(), s.port)).collect();
        for (name, port) in overrides {
            let Some(slot) = services.get_mut(name) else {
                anyhow::bail!("--port {name}={port}: no service named {name:?} (services: {})", names());
            };
            *slot = *port;
        }
        Ok(Self { postgres, services })
    }

    pub fn of(&self, service: &str) -> u16 {
        self.services.get(service).copied().unwrap_or_else(|| by_name(service).map_or(0, |s| s.port))
    }

    pub fn url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.of(service))
    }

    /// # Panics
    ///
    /// For a service without a database (a web service).
    pub fn database_url(&self, service: &Service) -> String {
        format!("postgres://{}:{}@127.0.0.1:{}/{}", service.name, password(service), self.postgres, service.database())
    }
}

/// The environment a service starts with, on top of devstack's own (so
/// `RUST_LOG` or `LOG_FORMAT` set by the user reach every service).
/// `clients`: auth's `AUTH_CLIENTS` value (each client's id and secret hash).
pub fn environment(
    service: &Service,
    ports: &Ports,
    data_dir: &Path,
    edge: bool,
    clients: &str,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOST".to_owned(), "127.0.0.1".to_owned()),
        ("PORT".to_owned(), ports.of(&service.name).to_string()),
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), String::new()),
    ];
    if service.database.is_some() {
        env.push(("DATABASE_URL".to_owned(), ports.database_url(service)));
    }
    for peer in &service.peers {
        env.push((Service::peer_variable(peer), ports.url(peer)));
    }
    env.extend(service.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    if service.token_issuer {
        {
            let key = data_dir.join(SIGNING_KEY_FILE);
            env.push(("AUTH_SIGNING_KEY_FILE".to_owned(), key.display().to_string()));
            // The signing key comes from the file; a value inherited from the shell would clash.
            env.push(("AUTH_SIGNING_KEY".to_owned(), String::new()));
            env.push(("AUTH_CLIENTS".to_owned(), clients.to_owned()));
            env.push(("AUTH_CLIENTS_FILE".to_owned(), String::new()));
            if edge {
                // Behind the local edge every client arrives from loopback; believe the
                // edge's X-Forwarded-For so per-address throttling sees the real client.
                let edge = edge::Edge::default_source();
                let trusted = edge.trusted_proxies("local").unwrap_or_default().join(",");
                env.push(("AUTH_TRUSTED_PROXIES".to_owned(), trusted));
                // The site through the edge, and Vite's dev server that proxies to it.
                env.push(("AUTH_COOKIE_ORIGINS".to_owned(), cookie_origins(edge.web_port())));
            }
        }
    } else if service.kind == catalog::Kind::Web {
        env.push(("WEB_DIST".to_owned(), crate::paths::web_dist().display().to_string()));
    } else {
        // Every other service verifies tokens itself and has a service identity.
        let auth = ports.url(&issuer().name);
        env.push(("AUTH_JWKS_URL".to_owned(), format!("{auth}/auth/.well-known/jwks.json")));
        env.push(("AUTH_TOKEN_URL".to_owned(), format!("{auth}/auth/token")));
        let secret = client_secret_file(data_dir, &service.name);
        env.push(("SERVICE_CLIENT_SECRET_FILE".to_owned(), secret.display().to_string()));
        env.push(("SERVICE_CLIENT_SECRET".to_owned(), String::new()));
    }
    if service.name == "caller" {
        env.push(("CALLER_ALLOWED_NETWORKS".to_owned(), CALLER_ALLOWED_NETWORKS.to_owned()));
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(name: &str, ports: &Ports, edge: bool) -> BTreeMap<String, String> {
        environment(by_name(name).unwrap(), ports, Path::new("/data"), edge, "greeter:00").into_iter().collect()
    }

    #[test]
    fn peers_come_before_the_services_that_call_them() {
        let order = all();
        for (i, service) in order.iter().enumerate() {
            for peer in &service.peers {
                let at = order.iter().position(|s| &s.name == peer).expect("peer is a service");
                assert!(at < i, "{peer} must precede {}", service.name);
            }
        }
    }

    #[test]
    fn every_service_gets_its_port_database_and_peers() {
        let ports = Ports::new(15432, &[("caller".into(), 18081), ("auth".into(), 18090)]).unwrap();
        let greeter = env_of("greeter", &ports, false);
        assert_eq!(greeter["PORT"], catalog::port("greeter").to_string());
        assert_eq!(greeter["DATABASE_URL"], "postgres://greeter:greeter@127.0.0.1:15432/greeter_db");
        assert_eq!(greeter["CALLER_URL"], "http://127.0.0.1:18081");
        assert_eq!(greeter["OTEL_EXPORTER_OTLP_ENDPOINT"], "");
        assert!(!greeter.contains_key("CALLER_ALLOWED_NETWORKS"));

        let gateway = env_of("gateway", &ports, false);
        assert_eq!(gateway["LANG_URL"], catalog::local_url("lang"));
        assert_eq!(gateway["AUTH_URL"], "http://127.0.0.1:18090");
        assert_eq!(gateway["AUTH_JWKS_URL"], "http://127.0.0.1:18090/auth/.well-known/jwks.json");
        assert_eq!(gateway["DATABASE_URL"], "postgres://gateway:gateway@127.0.0.1:15432/gateway_db");

        let caller = env_of("caller", &ports, false);
        assert_eq!(caller["PORT"], "18081");
        assert_eq!(caller["CALLER_ALLOWED_NETWORKS"], "127.0.0.0/8,::1/128");

        let auth = env_of("auth", &ports, false);
        assert_eq!(auth["AUTH_SIGNING_KEY_FILE"], "/data/auth-signing-key.pem");
        assert_eq!(auth["AUTH_SIGNING_KEY"], "");
        assert_eq!(auth["AUTH_CLIENTS"], "greeter:00");
        assert!(!auth.contains_key("AUTH_TRUSTED_PROXIES") && !auth.contains_key("SERVICE_CLIENT_SECRET_FILE"));
        assert_eq!(env_of("auth", &ports, true)["AUTH_TRUSTED_PROXIES"], "127.0.0.0/8,::1/128");
        assert_eq!(
            env_of("auth", &ports, true)["AUTH_COOKIE_ORIGINS"],
            "http://localhost:30081,http://127.0.0.1:30081,http://localhost:5173"
        );
        assert!(!auth.contains_key("AUTH_COOKIE_ORIGINS"), "no edge, no site to log in from");

        let web = env_of("web", &ports, true);
        assert!(web["WEB_DIST"].ends_with("web/dist"), "{}", web["WEB_DIST"]);
        for absent in ["DATABASE_URL", "AUTH_JWKS_URL", "SERVICE_CLIENT_SECRET_FILE"] {
            assert!(!web.contains_key(absent), "web has no {absent}");
        }
        assert_eq!(greeter["SERVICE_CLIENT_SECRET_FILE"], "/data/clients/greeter.secret");
        assert_eq!(greeter["AUTH_TOKEN_URL"], "http://127.0.0.1:18090/auth/token");
        assert_eq!(caller["AUTH_JWKS_URL"], "http://127.0.0.1:18090/auth/.well-known/jwks.json");
    }

    #[test]
    fn unknown_port_overrides_name_the_valid_services() {
        let err = Ports::new(5432, &[("greter".into(), 1)]).unwrap_err().to_string();
        assert!(err.contains("greter") && err.contains("greeter, "), "{err}");
    }
}

//! The platform's services as devstack runs them: name, port, peers, and the
//! environment each one starts with.
//!
//! This mirrors `nix/services.nix` (the description the Nix layer derives
//! everything from); a test reads that file and fails when the two disagree.

use std::{collections::BTreeMap, path::Path};

/// One service of the platform. Its role is its name and its database `<name>_db`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    pub name: &'static str,
    /// Default listen port, the one the binary itself defaults to.
    pub port: u16,
    /// Services it calls; each becomes `<PEER>_URL` in its environment and is started (and
    /// ready) before it.
    pub peers: &'static [&'static str],
}

/// Every service, in an order that starts peers first.
pub const SERVICES: [Service; 5] = [
    Service { name: "auth", port: 8090, peers: &[] },
    Service { name: "caller", port: 8081, peers: &["auth"] },
    Service { name: "lang", port: 3000, peers: &["auth"] },
    Service { name: "greeter", port: 8080, peers: &["caller", "auth"] },
    Service { name: "gateway", port: 8082, peers: &["lang", "auth"] },
];

/// Loopback only: greeter may be pointed at local servers; private and cloud
/// metadata ranges stay refused.
pub const CALLER_ALLOWED_NETWORKS: &str = "127.0.0.0/8,::1/128";

/// The auth signing key's file name inside the data directory.
pub const SIGNING_KEY_FILE: &str = "auth-signing-key.pem";

/// The service that issues tokens; every other service has a client identity at it.
pub const AUTH: &str = "auth";

/// Where a service's client secret is kept in the data directory.
pub fn client_secret_file(data_dir: &Path, service: &str) -> std::path::PathBuf {
    data_dir.join("clients").join(format!("{service}.secret"))
}

impl Service {
    pub fn database(&self) -> String {
        format!("{}_db", self.name)
    }

    /// The role's password. Equal to the name, as in the services' built-in
    /// `DATABASE_URL` default, so `cargo run -p greeter` on its own talks to
    /// devstack's PostgreSQL on 5432. PostgreSQL listens on loopback only.
    pub fn password(&self) -> &'static str {
        self.name
    }
}

/// Looks a service up by name.
pub fn by_name(name: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name == name)
}

/// The valid service names, for error messages.
pub fn names() -> String {
    SERVICES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
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
        let mut services: BTreeMap<String, u16> = SERVICES.iter().map(|s| (s.name.to_owned(), s.port)).collect();
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

    pub fn database_url(&self, service: &Service) -> String {
        format!("postgres://{}:{}@127.0.0.1:{}/{}", service.name, service.password(), self.postgres, service.database())
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
        ("PORT".to_owned(), ports.of(service.name).to_string()),
        ("DATABASE_URL".to_owned(), ports.database_url(service)),
        ("OTEL_EXPORTER_OTLP_ENDPOINT".to_owned(), String::new()),
    ];
    for peer in service.peers {
        env.push((format!("{}_URL", peer.to_ascii_uppercase()), ports.url(peer)));
    }
    match service.name {
        "auth" => {
            let key = data_dir.join(SIGNING_KEY_FILE);
            env.push(("AUTH_SIGNING_KEY_FILE".to_owned(), key.display().to_string()));
            // The signing key comes from the file; a value inherited from the shell would clash.
            env.push(("AUTH_SIGNING_KEY".to_owned(), String::new()));
            env.push(("AUTH_CLIENTS".to_owned(), clients.to_owned()));
            env.push(("AUTH_CLIENTS_FILE".to_owned(), String::new()));
            if edge {
                // Behind the local edge every client arrives from loopback; believe the
                // edge's X-Forwarded-For so per-address throttling sees the real client.
                let trusted = edge::Edge::default_source().trusted_proxies("local").unwrap_or_default().join(",");
                env.push(("AUTH_TRUSTED_PROXIES".to_owned(), trusted));
            }
        }
        "caller" => env.push(("CALLER_ALLOWED_NETWORKS".to_owned(), CALLER_ALLOWED_NETWORKS.to_owned())),
        _ => {}
    }
    if service.name != AUTH {
        // Every other service verifies tokens itself and has a service identity.
        let auth = ports.url(AUTH);
        env.push(("AUTH_JWKS_URL".to_owned(), format!("{auth}/auth/.well-known/jwks.json")));
        env.push(("AUTH_TOKEN_URL".to_owned(), format!("{auth}/auth/token")));
        let secret = client_secret_file(data_dir, service.name);
        env.push(("SERVICE_CLIENT_SECRET_FILE".to_owned(), secret.display().to_string()));
        env.push(("SERVICE_CLIENT_SECRET".to_owned(), String::new()));
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
        for (i, service) in SERVICES.iter().enumerate() {
            for peer in service.peers {
                let at = SERVICES.iter().position(|s| s.name == *peer).expect("peer is a service");
                assert!(at < i, "{peer} must precede {}", service.name);
            }
        }
    }

    #[test]
    fn names_are_safe_sql_identifiers() {
        // Provisioning interpolates them into DDL, which takes no bind parameters.
        for s in SERVICES {
            assert!(s.name.bytes().all(|b| b.is_ascii_lowercase()), "{}", s.name);
        }
    }

    #[test]
    fn every_service_gets_its_port_database_and_peers() {
        let ports = Ports::new(15432, &[("caller".into(), 18081), ("auth".into(), 18090)]).unwrap();
        let greeter = env_of("greeter", &ports, false);
        assert_eq!(greeter["PORT"], "8080");
        assert_eq!(greeter["DATABASE_URL"], "postgres://greeter:greeter@127.0.0.1:15432/greeter_db");
        assert_eq!(greeter["CALLER_URL"], "http://127.0.0.1:18081");
        assert_eq!(greeter["OTEL_EXPORTER_OTLP_ENDPOINT"], "");
        assert!(!greeter.contains_key("CALLER_ALLOWED_NETWORKS"));

        let gateway = env_of("gateway", &ports, false);
        assert_eq!(gateway["LANG_URL"], "http://127.0.0.1:3000");
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
        assert_eq!(greeter["SERVICE_CLIENT_SECRET_FILE"], "/data/clients/greeter.secret");
        assert_eq!(greeter["AUTH_TOKEN_URL"], "http://127.0.0.1:18090/auth/token");
        assert_eq!(caller["AUTH_JWKS_URL"], "http://127.0.0.1:18090/auth/.well-known/jwks.json");
    }

    #[test]
    fn unknown_port_overrides_name_the_valid_services() {
        let err = Ports::new(5432, &[("greter".into(), 1)]).unwrap_err().to_string();
        assert!(err.contains("greter") && err.contains("greeter, "), "{err}");
    }

    /// `nix/services.nix` is the platform's one description; devstack's copy must agree.
    #[test]
    fn agrees_with_the_nix_service_description() {
        let nix = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../nix/services.nix")).unwrap();
        for s in SERVICES {
            let start =
                nix.find(&format!("\n  {} = {{", s.name)).unwrap_or_else(|| panic!("{} in services.nix", s.name));
            let block = &nix[start..start + nix[start..].find("\n  };").expect("entry ends")];
            assert!(block.contains(&format!("port = {};", s.port)), "{} port differs:\n{block}", s.name);
            assert!(block.contains(&format!("database = \"{}\";", s.database())), "{}:\n{block}", s.name);
            let peers: Vec<&str> = match block.find("peers = [") {
                None => Vec::new(),
                Some(p) => {
                    let list = &block[p + 9..p + block[p..].find(']').expect("list ends")];
                    list.split_whitespace().map(|w| w.trim_matches('"')).collect()
                }
            };
            assert_eq!(peers, s.peers, "{} peers differ", s.name);
        }
    }
}

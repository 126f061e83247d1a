//! The description's shape. Unknown keys are errors: a misspelt field must
//! not be dropped silently.

use std::collections::BTreeMap;

use serde::Deserialize;

/// How a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// gRPC, gRPC-Web and Connect on one port (HTTP/2 cleartext to it).
    Grpc,
    /// HTTP/1.1 REST under `/<name>/`.
    Rest,
    /// A front end's built files over HTTP/1.1: no database, no tokens,
    /// never a peer.
    Web,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Grpc => "grpc",
            Kind::Rest => "rest",
            Kind::Web => "web",
        }
    }
}

/// Kubernetes requests and limits, production values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    #[serde(default)]
    pub requests: Quantities,
    #[serde(default)]
    pub limits: Quantities,
}

/// CPU and memory as Kubernetes writes them (`100m`, `128Mi`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quantities {
    pub cpu: Option<String>,
    pub memory: Option<String>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// The table's name: the crate under `services/`, the database role and the client id.
    #[serde(skip)]
    pub name: String,
    /// Listen port, and the binary's `PORT` default.
    pub port: u16,
    pub kind: Kind,
    /// Its own PostgreSQL database: every kind but [`Kind::Web`] has one.
    pub database: Option<String>,
    /// The services it calls; each becomes `<PEER>_URL` in its environment.
    #[serde(default)]
    pub peers: Vec<String>,
    /// Whether it issues the platform's tokens (exactly one does).
    #[serde(default)]
    pub token_issuer: bool,
    /// How many run in production.
    #[serde(default = "one")]
    pub replicas: u32,
    #[serde(default)]
    pub resources: Resources,
    /// Extra environment, the same wherever it runs.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub description: String,
}

fn one() -> u32 {
    1
}

impl Service {
    /// Whether it verifies the issuer's tokens and has a client identity
    /// there: every service but the issuer and web services.
    pub fn is_client(&self) -> bool {
        !self.token_issuer && self.kind != Kind::Web
    }

    /// Its database.
    ///
    /// # Panics
    ///
    /// For a web service; callers pick services with a database first
    /// ([`Catalog::with_databases`]).
    pub fn database(&self) -> &str {
        self.database.as_deref().unwrap_or_else(|| panic!("{} has no database", self.name))
    }

    /// The variable it reads a peer's base URL from: `CALLER_URL` for `caller`.
    pub fn peer_variable(peer: &str) -> String {
        format!("{}_URL", peer.to_ascii_uppercase().replace('-', "_"))
    }
}

/// Every service, checked ([`Catalog::parse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    /// By name.
    pub(crate) services: BTreeMap<String, Service>,
}

impl Catalog {
    /// Every service, by name.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    pub fn get(&self, name: &str) -> Option<&Service> {
        self.services.get(name)
    }

    /// The names, comma-separated, for error messages.
    pub fn names(&self) -> String {
        self.services.keys().map(String::as_str).collect::<Vec<_>>().join(", ")
    }

    /// The description without its web services: what the Compose model
    /// deploys until it serves the front end too (issue 21).
    pub fn without_web(&self) -> Catalog {
        let services = self.services.iter().filter(|(_, s)| s.kind != Kind::Web);
        Catalog { services: services.map(|(n, s)| (n.clone(), s.clone())).collect() }
    }

    /// The services with a database of their own (all but web services).
    pub fn with_databases(&self) -> impl Iterator<Item = &Service> {
        self.services().filter(|s| s.database.is_some())
    }

    /// The services with a client identity at the issuer.
    pub fn clients(&self) -> impl Iterator<Item = &Service> {
        self.services().filter(|s| s.is_client())
    }

    /// The service that issues tokens.
    pub fn issuer(&self) -> &Service {
        self.services().find(|s| s.token_issuer).expect("checked: exactly one issuer")
    }

    /// Every service, each after its peers (ties by name): the order to start them in.
    pub fn start_order(&self) -> Vec<&Service> {
        let mut order: Vec<&Service> = Vec::with_capacity(self.services.len());
        while order.len() < self.services.len() {
            let next = self
                .services()
                .find(|s| {
                    !order.iter().any(|o| o.name == s.name)
                        && s.peers.iter().all(|p| order.iter().any(|o| &o.name == p))
                })
                .expect("checked: peers form no cycle");
            order.push(next);
        }
        order
    }

    /// The services that list `name` among their peers.
    pub fn callers_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Service> {
        self.services().filter(move |s| s.peers.iter().any(|p| p == name))
    }
}

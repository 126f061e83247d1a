use std::collections::BTreeMap;

use crate::Error;

/// Where each upstream listens, as `host:port` by service name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addresses(BTreeMap<String, String>);

impl Addresses {
    /// No addresses.
    pub fn new() -> Addresses {
        Addresses::default()
    }

    /// Every service on 127.0.0.1 at its default port (services.toml).
    pub fn local() -> Addresses {
        Addresses::local_for(catalog::catalog())
    }

    /// Every service of `services` on 127.0.0.1 at its default port.
    pub fn local_for(services: &catalog::Catalog) -> Addresses {
        services
            .services()
            .fold(Addresses::new(), |addresses, s| addresses.with(&s.name, format!("127.0.0.1:{}", s.port)))
    }

    /// Sets (or replaces) `service`'s address, e.g. `"127.0.0.1:18080"`.
    pub fn with(mut self, service: impl Into<String>, address: impl Into<String>) -> Addresses {
        self.0.insert(service.into(), address.into());
        self
    }

    /// `service`'s address, if set.
    pub fn get(&self, service: &str) -> Option<&str> {
        self.0.get(service).map(String::as_str)
    }

    /// `service`'s address, checked to be `host:port`.
    pub(crate) fn require(&self, service: &str) -> Result<&str, Error> {
        let address = self.get(service).ok_or_else(|| Error::MissingAddress { upstream: service.to_owned() })?;
        let bad = || Error::BadAddress { service: service.to_owned(), address: address.to_owned() };
        if address.contains("://") || address.contains('/') {
            return Err(bad());
        }
        let (host, port) = address.rsplit_once(':').ok_or_else(bad)?;
        if host.is_empty() || port.parse::<u16>().map_or(true, |port| port == 0) {
            return Err(bad());
        }
        Ok(address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_addresses_are_loopback_default_ports() {
        let local = Addresses::local();
        let auth = catalog::service("auth").port;
        assert_eq!(local.get("auth"), Some(format!("127.0.0.1:{auth}").as_str()));
        assert_eq!(local.get("nope"), None);
    }

    #[test]
    fn addresses_must_be_host_and_port() {
        for bad in ["http://127.0.0.1:8080", "127.0.0.1", "127.0.0.1:0", ":8080", "127.0.0.1:8080/x", "h:99999"] {
            let error = Addresses::new().with("greeter", bad).require("greeter").unwrap_err();
            assert!(matches!(error, Error::BadAddress { .. }), "{bad}: {error}");
        }
        for good in ["127.0.0.1:8080", "[::1]:8080", "greeter.default.svc:8080"] {
            assert_eq!(Addresses::new().with("greeter", good).require("greeter").unwrap(), good);
        }
        let missing = Addresses::new().require("greeter").unwrap_err();
        assert!(missing.to_string().contains("no address for upstream `greeter`"), "{missing}");
    }
}

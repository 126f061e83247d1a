//! The platform's services as `services.toml` (at the workspace root)
//! describes them: name, port, kind, database, peers and the one token
//! issuer, parsed, checked and typed.
//!
//! This is the only crate that reads files outside itself at build time: it
//! embeds `services.toml`, `deploy/edge/edge.toml` (for the `edge` crate) and
//! `deploy/images.toml` (the third-party images),
//! copied by its build script, so binaries need no checkout at run time and
//! cargo rebuilds what depends on them when either changes. Everything else that
//! knows a service's port or peers asks [`catalog()`]; nothing keeps a copy.
//!
//! ```
//! let greeter = catalog::service("greeter");
//! assert_eq!(greeter.kind, catalog::Kind::Grpc);
//! assert_eq!(catalog::local_url("caller"), format!("http://127.0.0.1:{}", catalog::port("caller")));
//! ```

mod check;
mod model;

use std::sync::LazyLock;

pub use check::{Error, MAX_NAME, valid_name};
pub use model::{Catalog, Kind, Quantities, Resources, Service};

/// `services.toml` as it was when this crate was built.
pub const SERVICES_TOML: &str = include_str!(concat!(env!("OUT_DIR"), "/services.toml"));

/// `deploy/edge/edge.toml` as it was when this crate was built: the routes
/// (the `edge` crate parses it).
pub const EDGE_TOML: &str = include_str!(concat!(env!("OUT_DIR"), "/edge.toml"));

/// `deploy/images.toml` as it was when this crate was built: the third-party
/// images (PostgreSQL, Traefik), pinned once.
pub const IMAGES_TOML: &str = include_str!(concat!(env!("OUT_DIR"), "/images.toml"));

/// The third-party images of [`IMAGES_TOML`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Images {
    /// PostgreSQL, e.g. `docker.io/library/postgres:17.6`.
    pub postgres: String,
    /// Traefik v3, e.g. `docker.io/library/traefik:v3.7.15`.
    pub traefik: String,
}

impl Images {
    /// Traefik's version (`3.7.15`): the image's tag without its `v`.
    pub fn traefik_version(&self) -> &str {
        let tag = self.traefik.rsplit_once(':').map_or("", |(_, tag)| tag);
        tag.strip_prefix('v').unwrap_or(tag)
    }
}

/// The built-in third-party images ([`IMAGES_TOML`]).
///
/// # Panics
///
/// When `deploy/images.toml` is invalid; this crate's tests parse it first.
pub fn images() -> Images {
    toml::from_str(IMAGES_TOML).unwrap_or_else(|error| panic!("deploy/images.toml (built in): {error}"))
}

/// The built-in description ([`SERVICES_TOML`]).
///
/// # Panics
///
/// When `services.toml` is invalid; this crate's tests parse the same text,
/// so that fails `cargo test` first.
pub fn catalog() -> &'static Catalog {
    static CATALOG: LazyLock<Catalog> = LazyLock::new(|| {
        Catalog::parse(SERVICES_TOML).unwrap_or_else(|error| panic!("services.toml (built in): {error}"))
    });
    &CATALOG
}

/// The service named `name`.
///
/// # Panics
///
/// When there is none: callers name services they are written for.
pub fn service(name: &str) -> &'static Service {
    catalog().get(name).unwrap_or_else(|| panic!("services.toml has no service {name:?} ({})", catalog().names()))
}

/// `name`'s default listen port.
pub fn port(name: &str) -> u16 {
    service(name).port
}

/// `name` on loopback at its default port, e.g. `http://127.0.0.1:8081`:
/// the default of every `<PEER>_URL`.
pub fn local_url(name: &str) -> String {
    format!("http://127.0.0.1:{}", port(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_images_are_pinned_tags() {
        let images = images();
        for image in [&images.postgres, &images.traefik] {
            let (_, tag) = image.rsplit_once(':').unwrap_or_else(|| panic!("{image} has no tag"));
            assert!(!tag.is_empty() && tag != "latest" && !tag.contains('/'), "{image}: pin a version");
        }
        assert!(images.traefik_version().starts_with("3."), "{}", images.traefik);
    }

    #[test]
    fn the_built_in_description_is_valid() {
        let catalog = catalog();
        assert!(catalog.services().count() >= 2, "{}", catalog.names());
        assert_eq!(catalog.issuer().name, "auth");
        // Defaults the services and devstack take from here.
        assert_eq!(local_url("auth"), format!("http://127.0.0.1:{}", service("auth").port));
    }

    #[test]
    #[should_panic(expected = "services.toml has no service \"nope\"")]
    fn an_unknown_name_panics_naming_the_services() {
        service("nope");
    }
}

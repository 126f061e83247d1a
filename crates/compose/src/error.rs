/// Why the model could not be rendered: the descriptions disagree with what
/// Compose needs.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Edge(#[from] edge::Error),
    #[error(
        "deploy/edge/edge.toml: trusted_proxies.compose must be Traefik's one address on the Compose network, an \
         IPv4 /32 such as 172.30.81.2/32 (its network is that address's /24); found {found}"
    )]
    EdgeAddress { found: String },
    #[error("services.toml: a service named `{0}` would clash with the Compose model's own `{0}` service")]
    ReservedName(String),
    #[error("services.toml: [{service}] resources.limits.{field} = {value:?} has no Compose equivalent: {reason}")]
    Quantity { service: String, field: &'static str, value: String, reason: String },
}

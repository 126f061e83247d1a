//! Wiring: the site's router on the shared runtime.

use platform::Server;

use crate::{Config, site};

/// Binds the port; the returned server runs with [`Server::run_until`]. A
/// missing build is not fatal: the site then answers 503 saying how to
/// build it, so `devstack up` works before the first `npm run build`.
pub async fn build(config: Config) -> anyhow::Result<Server> {
    let site = site::Site::new(&config.dist);
    if site.is_built() {
        tracing::info!(dist = %config.dist.display(), "serving the built site");
    } else {
        tracing::warn!(dist = %config.dist.display(), "no built site here: {}", site::BUILD_HINT);
    }
    Server::without_database(&config.common, site.router()).await
}

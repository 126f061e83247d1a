//! Wiring: database, upstream client, the user projection's consumers and
//! the cache's eviction, token verification, request recording, RPC
//! surface, server.

use events::{deletion, relay::Relay};
use std::{net::SocketAddr, sync::Arc, time::Duration};

use platform::{Server, shutdown::Draining};
use platform_rpc::RpcRouter;
use sqlx::postgres::PgPoolOptions;

use authn::{AccessLayer, Gate};

use crate::{
    Config,
    access::ACCESS,
    freshness,
    projection::Projection,
    recorder::{Recorder, Writer},
    recording::Recording,
    service::Gateway,
    store::{self, Store},
    upstream::LangClient,
    watch::OverviewFeed,
};

/// How long shutdown waits for queued request records to be written.
const FLUSH_GRACE: Duration = Duration::from_secs(5);

/// The gateway bound to its port, with the writer of its request records.
pub struct Application {
    server: Server,
    writer: Writer,
}

/// Connects to the database, applies migrations, starts the request
/// recorder and binds the port; run it with [`Application::run_until`].
pub async fn build(config: Config) -> anyhow::Result<Application> {
    let pool = platform::db::connect(&config.common.database, &store::MIGRATOR).await?;
    // Records are written through a small pool of their own: a burst of
    // batches never takes the connections requests read with, and it is
    // still open to write the last records after the server has stopped.
    let writes = PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(config.common.database.url.options.clone());
    let (recorder, writer) = Recorder::spawn(Store::new(writes), &config.recorder);

    let jwks = Arc::new(authn::Jwks::new(&config.authn)?);
    let lang = LangClient::new(&config.lang_url, config.lang_policy.clone())?;
    let (projection, consumers) = Projection::spawn(pool.clone(), &config.events.nats_url, config.events.replicas);
    let relay = Relay::new(pool.clone(), config.events.clone()).spawn();
    let deletions = deletion::consumer(
        pool.clone(),
        deletion::config(&config.events, "gateway"),
        "gateway",
        crate::projection::remove_user(),
    )
    .spawn();
    // Watches end when shutdown begins, not when the grace period runs out.
    let draining = Draining::new();
    let feed = OverviewFeed::new(config.watch_interval, config.max_watchers, draining.clone());
    let gateway =
        Gateway::new(lang, projection, Store::new(pool.clone()), &config.cache, config.recorder.retention, feed);
    let eviction = freshness::spawn(config.events.nats_url.clone(), {
        let gateway = gateway.clone();
        move || gateway.translations_changed()
    });
    // Recording outermost, so calls the access layer refuses are recorded too.
    let revocations = authn::Revocations::new(config.authn.revocation_retain);
    let revoking = revocations.clone().follow(config.events.nats_url.clone());
    let access = AccessLayer::new(Gate::new(jwks, Vec::new()).with_revocations(revocations), ACCESS);
    let service = Recording::new(access.wrap(gateway.into_server()), recorder);
    let mut server = RpcRouter::new(platform_proto::FILE_DESCRIPTOR_SET)
        .add_service(service)
        .bind(&config.common, pool)
        .await?
        .with_draining(draining)
        .with_retention(vec![
            events::consumer::Config::prune(events::consumer::INBOX_RETENTION),
            config.events.prune(),
            crate::projection::prune_tombstones(config.events.max_age),
        ])
        .with_background(eviction)
        .with_background(relay)
        .with_background(deletions)
        .with_background(revoking);
    for consumer in consumers {
        server = server.with_background(consumer);
    }
    Ok(Application { server, writer })
}

impl Application {
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Request records dropped so far (queue full or database failing).
    pub fn dropped_records(&self) -> u64 {
        self.writer.dropped()
    }

    /// Serves until `shutdown` completes (see [`Server::run_until`]), then
    /// writes the request records still queued.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let result = self.server.run_until(shutdown).await;
        // The server has dropped its handlers, and with them the recorder.
        self.writer.finish(FLUSH_GRACE).await;
        result
    }
}

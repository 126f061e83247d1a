//! Serving a service on one port until asked to stop.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::Router;
use sqlx::PgPool;
use tokio::{net::TcpListener, sync::Notify, task::JoinHandle};

use crate::{CommonConfig, health::Readiness, rpc::RpcRouter};

/// A service bound to its port with what it must release when it stops.
pub struct Server {
    listener: TcpListener,
    router: Router,
    grace: Duration,
    pool: PgPool,
    background: Vec<JoinHandle<()>>,
}

impl Server {
    /// A gRPC service: `rpc` on every protocol, plus health and metrics.
    pub async fn rpc(config: &CommonConfig, pool: PgPool, rpc: RpcRouter) -> anyhow::Result<Self> {
        let readiness = Readiness::new(pool.clone());
        let (router, watcher) = rpc.into_router(readiness.clone()).await;
        let mut server = Self::http(config, pool, router).await?;
        server.background.push(watcher);
        Ok(server)
    }

    /// An HTTP service: `router` plus health and metrics.
    pub async fn http(config: &CommonConfig, pool: PgPool, router: Router) -> anyhow::Result<Self> {
        let addr = config.listen_addr();
        // Install the recorder before the first request is counted.
        crate::metrics::handle();
        let router =
            crate::health::router(Readiness::new(pool.clone())).merge(router).layer(crate::keepalive::CloseUnreadLayer);
        // A port in use is reported with the address.
        let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        Ok(Self { listener, router, grace: config.shutdown_grace, pool, background: Vec::new() })
    }

    /// A task of the service's own (a refresh, a relay) that stops with the server.
    pub fn with_background(mut self, task: JoinHandle<()>) -> Self {
        self.background.push(task);
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Serves HTTP/1.1 and HTTP/2 (h2c, as gRPC needs) until `shutdown`
    /// completes, then stops accepting, lets in-flight requests finish for
    /// at most the grace period, and closes the database pool.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let stopping = Arc::new(Notify::new());
        let notify = stopping.clone();
        let serve = axum::serve(self.listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                shutdown.await;
                notify.notify_one();
            });
        tracing::info!(%addr, "listening");
        let grace = self.grace;
        let result = tokio::select! {
            res = serve => res.map_err(anyhow::Error::from),
            () = async {
                stopping.notified().await;
                tokio::time::sleep(grace).await;
            } => {
                tracing::warn!(?grace, "grace period over; dropping unfinished requests");
                Ok(())
            }
        };
        for task in self.background {
            task.abort();
        }
        self.pool.close().await;
        tracing::info!(%addr, "stopped");
        result
    }
}

//! Serving a service on one port until asked to stop.

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use sqlx::PgPool;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::{CommonConfig, health::Readiness};

/// A service bound to its port with what it must release when it stops.
pub struct Server {
    listener: TcpListener,
    router: Router,
    grace: Duration,
    /// None for a service without a database (a web service).
    pool: Option<PgPool>,
    background: Vec<JoinHandle<()>>,
    draining: crate::shutdown::Draining,
}

impl Server {
    /// A service serving `router`, plus health and metrics, on its port.
    /// (The RPC runtime builds a gRPC service's router and calls this.)
    pub async fn http(config: &CommonConfig, pool: PgPool, router: Router) -> anyhow::Result<Self> {
        Self::bind(config, Some(pool), router).await
    }

    /// A service without a database (a web service's files): ready whenever it runs.
    pub async fn without_database(config: &CommonConfig, router: Router) -> anyhow::Result<Self> {
        Self::bind(config, None, router).await
    }

    async fn bind(config: &CommonConfig, pool: Option<PgPool>, router: Router) -> anyhow::Result<Self> {
        let addr = config.listen_addr();
        // Install the recorder before the first request is counted.
        crate::metrics::handle();
        // Outermost: every answer, the protocol adapters' own included, carries the request id.
        let router = crate::health::router(Readiness::new(pool.clone()))
            .merge(router)
            .layer(crate::keepalive::CloseUnreadLayer)
            .layer(crate::request_id::ErrorBodyLayer)
            .layer(tower_http::request_id::PropagateRequestIdLayer::x_request_id())
            .layer(tower_http::request_id::SetRequestIdLayer::x_request_id(crate::request_id::Random))
            .layer(tower::util::MapRequestLayer::new(crate::request_id::drop_unacceptable::<axum::body::Body>));
        // A port in use is reported with the address.
        let listener = TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
        Ok(Self {
            listener,
            router,
            grace: config.shutdown_grace,
            pool,
            background: Vec::new(),
            draining: crate::shutdown::Draining::new(),
        })
    }

    /// Prunes `jobs` in the background (at start, then hourly) on the
    /// service's pool, stopping with the server ([`crate::retention`]).
    ///
    /// # Panics
    ///
    /// For a server built [`Server::without_database`].
    pub fn with_retention(self, jobs: Vec<crate::retention::Prune>) -> Self {
        let pool = self.pool.clone().expect("retention needs the service's database");
        let task = crate::retention::spawn(pool, crate::retention::EVERY, jobs);
        self.with_background(task)
    }

    /// A task of the service's own (a refresh, a relay) that stops with the server.
    pub fn with_background(mut self, task: JoinHandle<()>) -> Self {
        self.background.push(task);
        self
    }

    /// Begins `draining` when shutdown begins (the service hands it to its
    /// long-lived streams when it builds them).
    pub fn with_draining(mut self, draining: crate::shutdown::Draining) -> Self {
        self.draining = draining;
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    /// Serves HTTP/1.1 and HTTP/2 (h2c, as gRPC needs) until `shutdown`
    /// completes, then stops accepting, lets in-flight requests finish for
    /// at most the grace period, aborts the connections still open, and
    /// closes the database pool (waiting for that at most a few seconds).
    ///
    /// The accept loop is written out, rather than `axum::serve`'s, because
    /// axum spawns each connection as a task it does not hand back: past the
    /// grace period those kept running, and a request in flight outlived the
    /// shutdown. Here every connection is a task of a `JoinSet`, which
    /// aborts what is left.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        let addr = self.local_addr();
        tracing::info!(%addr, "listening");
        let mut builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        builder
            .http2()
            .max_concurrent_streams(MAX_STREAMS_PER_CONNECTION)
            // Pings find peers that vanished without closing, which would
            // otherwise hold a long-lived stream until TCP gives up.
            .timer(hyper_util::rt::TokioTimer::new())
            .keep_alive_interval(Some(KEEPALIVE_INTERVAL))
            .keep_alive_timeout(KEEPALIVE_TIMEOUT);
        let graceful = hyper_util::server::graceful::GracefulShutdown::new();
        let mut connections = tokio::task::JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            // Out of descriptors and the like: pause instead of spinning.
                            tracing::warn!(error = %e, "accepting a connection failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    tune(&stream);
                    let router = self.router.clone();
                    let service = hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(axum::extract::ConnectInfo(peer));
                        tower::ServiceExt::oneshot(router.clone(), req)
                    });
                    let conn = builder.serve_connection_with_upgrades(hyper_util::rt::TokioIo::new(stream), service);
                    let conn = graceful.watch(conn.into_owned());
                    connections.spawn(async move {
                        if let Err(e) = conn.await {
                            tracing::debug!(error = %e, "connection ended with an error");
                        }
                    });
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(self.listener);
        // Open streams end themselves now, rather than at the grace period's end.
        self.draining.begin();
        let grace = self.grace;
        if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
            tracing::warn!(?grace, open = connections.len(), "grace period over; dropping unfinished requests");
        }
        connections.shutdown().await;
        for task in self.background {
            task.abort();
        }
        if let Some(pool) = self.pool
            && tokio::time::timeout(POOL_CLOSE_LIMIT, pool.close()).await.is_err()
        {
            tracing::warn!(limit = ?POOL_CLOSE_LIMIT, "the database pool did not close in time");
        }
        tracing::info!(%addr, "stopped");
        Ok(())
    }
}

/// Sets TCP_NODELAY on an accepted connection. HTTP/2 writes an answer as
/// several small frames (headers, data, trailers); with Nagle's algorithm
/// on, a frame waits for the peer's delayed ACK (40 ms on Linux), which
/// the protocol benchmark showed as a 44 ms p50 for gRPC calls.
fn tune(stream: &tokio::net::TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(error = %e, "TCP_NODELAY could not be set");
    }
}

/// HTTP/2 streams one connection may have open at once; a client that
/// opens more has the excess refused (`REFUSED_STREAM`), which gRPC and
/// Connect clients retry on another connection. An HTTP/1.1 connection
/// carries one call at a time.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 200;

/// How often an idle HTTP/2 connection is pinged, and how long a ping may
/// go unanswered before the connection is closed.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// The longest shutdown waits for the database pool to close.
const POOL_CLOSE_LIMIT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn accepted_connections_send_small_writes_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        assert!(!accepted.nodelay().unwrap(), "Linux's default: Nagle on");
        super::tune(&accepted);
        assert!(accepted.nodelay().unwrap());
        drop(client);
    }
}

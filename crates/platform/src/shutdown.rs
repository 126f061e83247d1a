//! Waiting for the signals that ask a service to stop, and telling
//! long-lived work that the stop has begun.

use tokio_util::sync::CancellationToken;

/// Set when the server begins to shut down, before it waits for requests
/// in flight: open streams (watches) end themselves then, with a status
/// that tells their clients to reconnect elsewhere, instead of being cut
/// when the grace period is over.
#[derive(Debug, Clone, Default)]
pub struct Draining(CancellationToken);

impl Draining {
    pub fn new() -> Self {
        Self::default()
    }

    /// Completes once shutdown has begun.
    pub async fn started(&self) {
        self.0.cancelled().await;
    }

    pub fn has_started(&self) -> bool {
        self.0.is_cancelled()
    }

    /// Marks the start of shutdown ([`crate::Server::run_until`] does).
    pub fn begin(&self) {
        self.0.cancel();
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes, systemd and
/// devstack send).
pub async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received; shutting down"),
        () = term => tracing::info!("SIGTERM received; shutting down"),
    }
}

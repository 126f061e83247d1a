//! Liveness (`GET /healthz`), readiness (`GET /readyz`) and the standard
//! `grpc.health.v1.Health` service.

use std::time::Duration;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use sqlx::PgPool;

/// How long a readiness check waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// What readiness depends on.
#[derive(Clone)]
pub struct Readiness {
    pool: PgPool,
}

impl Readiness {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub async fn check(&self) -> bool {
        crate::db::ping(&self.pool, PING_TIMEOUT).await
    }
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { Json(serde_json::json!({ "status": "ok" })) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(crate::metrics::render))
        .with_state(readiness)
}

async fn ready(State(readiness): State<Readiness>) -> impl IntoResponse {
    if readiness.check().await {
        (StatusCode::OK, Json(serde_json::json!({ "status": "ready" })))
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(serde_json::json!({ "status": "not ready", "reason": "database unreachable" })),
        )
    }
}

/// Keeps the gRPC health service in step with readiness: every listed
/// service (and the server as a whole, `""`) is `SERVING` while the database
/// answers. The first status is published before this returns, so a server
/// never answers `NOT_FOUND` for its own services; the returned task keeps
/// it current until aborted.
pub async fn watch_grpc(
    readiness: Readiness,
    reporter: tonic_health::server::HealthReporter,
    services: Vec<&'static str>,
) -> tokio::task::JoinHandle<()> {
    let publish = move |ok: bool| {
        let reporter = reporter.clone();
        let services = services.clone();
        async move {
            let status =
                if ok { tonic_health::ServingStatus::Serving } else { tonic_health::ServingStatus::NotServing };
            for name in std::iter::once("").chain(services.iter().copied()) {
                reporter.set_service_status(name, status).await;
            }
        }
    };
    let mut last = readiness.check().await;
    publish(last).await;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(2)).await;
            let ok = readiness.check().await;
            if ok != last {
                tracing::warn!(ready = ok, "readiness changed");
                publish(ok).await;
                last = ok;
            }
        }
    })
}

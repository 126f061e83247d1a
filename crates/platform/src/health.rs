//! Liveness (`GET /healthz`) and readiness (`GET /readyz`).

use std::time::Duration;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use sqlx::PgPool;

/// How long a readiness check waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(1);

/// What readiness depends on: the database, for a service that has one.
#[derive(Clone)]
pub struct Readiness {
    pool: Option<PgPool>,
}

impl Readiness {
    pub fn new(pool: Option<PgPool>) -> Self {
        Self { pool }
    }

    pub async fn check(&self) -> bool {
        match &self.pool {
            Some(pool) => crate::db::ping(pool, PING_TIMEOUT).await,
            None => true,
        }
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

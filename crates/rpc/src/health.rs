//! The standard `grpc.health.v1.Health` service, kept in step with readiness.

use std::time::Duration;

use platform::health::Readiness;

/// Keeps the gRPC health service in step with readiness: every listed
/// service (and the server as a whole, `""`) is `SERVING` while the database
/// answers. The first status is published before this returns, so a server
/// never answers `NOT_FOUND` for its own services; the returned task keeps
/// it current until aborted.
pub async fn watch(
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

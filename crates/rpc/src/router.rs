//! [`RpcRouter`]: the tonic services a process serves, turned into one axum
//! router for every protocol.

use std::{convert::Infallible, sync::Arc};

use axum::Router;
use http::Request;
use platform::{CommonConfig, Server, health::Readiness, observe::ObserveLayer};
use prost_reflect::DescriptorPool;
use sqlx::PgPool;
use tonic::server::NamedService;
use tower::Service;

use crate::{
    connect::{Catalog, ConnectLayer},
    limits::MessageLimitLayer,
    timeout::GrpcTimeoutLayer,
};

/// The standard services every RPC process adds to its own.
const HEALTH: &str = "grpc.health.v1.Health";
const REFLECTION: &str = "grpc.reflection.v1.ServerReflection";

/// The tonic services a process serves, and the contracts that describe them.
pub struct RpcRouter {
    descriptors: &'static [u8],
    routes: tonic::service::Routes,
    services: Vec<&'static str>,
}

impl RpcRouter {
    /// `descriptors` is the encoded `FileDescriptorSet` of the service's
    /// contracts (`platform_proto::FILE_DESCRIPTOR_SET`): Connect's JSON
    /// mapping, its GET rules and reflection are read from it.
    pub fn new(descriptors: &'static [u8]) -> Self {
        Self { descriptors, routes: tonic::service::Routes::default(), services: Vec::new() }
    }

    /// Adds a generated tonic server (`FooServiceServer::new(impl)`, usually
    /// through [`crate::configure!`]).
    pub fn add_service<S>(mut self, service: S) -> Self
    where
        S: Service<Request<tonic::body::Body>, Error = Infallible> + NamedService + Clone + Send + Sync + 'static,
        S::Response: axum::response::IntoResponse,
        S::Future: Send + 'static,
    {
        self.services.push(S::NAME);
        self.routes = self.routes.add_service(service);
        self
    }

    /// Binds the service's port: the router on every protocol, plus
    /// `/healthz`, `/readyz` and `/metrics`.
    pub async fn bind(self, config: &CommonConfig, pool: PgPool) -> anyhow::Result<Server> {
        let (router, watcher) = self.into_router(Readiness::new(Some(pool.clone()))).await?;
        Ok(Server::http(config, pool, router).await?.with_background(watcher))
    }

    /// The router serving every protocol, plus `grpc.health.v1.Health`
    /// (kept in step with `readiness` by the returned task) and server
    /// reflection, which lists exactly the services served here, so
    /// `grpcurl` and `buf curl` work without local `.proto` files.
    pub async fn into_router(self, readiness: Readiness) -> anyhow::Result<(Router, tokio::task::JoinHandle<()>)> {
        let pool = descriptor_pool(self.descriptors)?;
        if let Some(missing) = self.services.iter().find(|s| pool.get_service_by_name(s).is_none()) {
            anyhow::bail!("{missing} is served but not described by the descriptor set given to RpcRouter::new");
        }
        let served: Vec<&str> = self.services.iter().copied().chain([HEALTH, REFLECTION]).collect();
        let catalog = Arc::new(Catalog::new(pool, &served));

        let (reporter, health) = tonic_health::server::health_reporter();
        let watcher = crate::health::watch(readiness, reporter, self.services).await;
        let reflection = served
            .iter()
            .fold(
                tonic_reflection::server::Builder::configure()
                    .register_encoded_file_descriptor_set(self.descriptors)
                    .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
                |builder, name| builder.with_service_name(*name),
            )
            .build_v1()?;
        let router = self
            .routes
            .add_service(crate::configure!(health))
            .add_service(crate::configure!(reflection))
            .into_axum_router()
            .layer(MessageLimitLayer::new(crate::MAX_MESSAGE_BYTES))
            .layer(GrpcTimeoutLayer)
            .layer(crate::tap::StatusTapLayer)
            .layer(tonic_web::GrpcWebLayer::new())
            .layer(ConnectLayer::new(catalog.clone()))
            .layer(ObserveLayer::rpc(catalog.methods()));
        Ok((router, watcher))
    }
}

/// The service's contracts, plus the standard services it adds and the
/// `google.rpc` error details (so Connect errors can show them as JSON).
fn descriptor_pool(descriptors: &[u8]) -> anyhow::Result<DescriptorPool> {
    let mut pool = DescriptorPool::new();
    for set in [
        descriptors,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_types::pb::FILE_DESCRIPTOR_SET,
    ] {
        pool.decode_file_descriptor_set(set)?;
    }
    Ok(pool)
}

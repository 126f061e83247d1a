//! `caller.v1.CallerService`.

use authn::{Access, Route};
use platform::pagination::{PageRequest, timestamp};
use platform_proto::caller::v1::{
    self as pb,
    caller_service_server::{CallerService, CallerServiceServer},
};
use tonic::{Request, Response, Status};

use crate::{
    fetch::{Fetcher, Target},
    store::{NewCall, Store},
};

/// Who may call which RPC: only the platform's services that are allowed to
/// (`SERVICE_ALLOWED_CLIENTS`), enforced by [`authn::AccessLayer`]. caller
/// is never routed at the edge.
pub const ACCESS: &[Route] = &[
    Route::rpc("/caller.v1.CallerService/Call", Access::Service),
    Route::rpc("/caller.v1.CallerService/ListCalls", Access::Service),
];

pub struct Caller {
    fetcher: Fetcher,
    store: Store,
}

impl Caller {
    pub fn new(fetcher: Fetcher, store: Store) -> Self {
        Self { fetcher, store }
    }

    pub fn into_server(self) -> CallerServiceServer<Self> {
        CallerServiceServer::new(self)
    }
}

fn storage_error(e: sqlx::Error) -> Status {
    tracing::error!(error = %e, "caller_db query failed");
    Status::unavailable("the call history is unavailable; try again")
}

#[tonic::async_trait]
impl CallerService for Caller {
    async fn call(&self, request: Request<pb::CallRequest>) -> Result<Response<pb::CallResponse>, Status> {
        let req = request.into_inner();
        let target = Target::parse(&req.url, &req.method).map_err(Status::invalid_argument)?;
        let url = target.display_url();
        let method = target.method.as_str();

        match self.fetcher.fetch(&target).await {
            Err((refused, took)) => {
                let msg = refused.to_string();
                tracing::warn!(%url, reason = %msg, "outbound call refused");
                self.store
                    .record(&NewCall {
                        url: &url,
                        method,
                        status_code: None,
                        error: Some(&msg),
                        duration_ms: took.as_millis() as i64,
                        content_length: 0,
                        content_type: None,
                    })
                    .await
                    .map_err(storage_error)?;
                Err(Status::permission_denied(msg))
            }
            Ok(outcome) => {
                let duration_ms = outcome.duration.as_millis() as i64;
                let call_id = self
                    .store
                    .record(&NewCall {
                        url: &url,
                        method,
                        status_code: outcome.status_code.map(i32::from),
                        error: outcome.error.as_deref(),
                        duration_ms,
                        content_length: outcome.content_length as i64,
                        content_type: outcome.content_type.as_deref(),
                    })
                    .await
                    .map_err(storage_error)?;
                tracing::info!(%url, method, status = ?outcome.status_code, error = ?outcome.error, duration_ms, "outbound call");
                Ok(Response::new(pb::CallResponse {
                    status_code: outcome.status_code.map(i32::from).unwrap_or(0),
                    duration_ms,
                    content_type: outcome.content_type.unwrap_or_default(),
                    content_length: outcome.content_length as i64,
                    error: outcome.error.unwrap_or_default(),
                    call_id,
                }))
            }
        }
    }

    async fn list_calls(
        &self,
        request: Request<pb::ListCallsRequest>,
    ) -> Result<Response<pb::ListCallsResponse>, Status> {
        let req = request.into_inner();
        let page = PageRequest::parse(req.page_size, &req.page_token)?;
        let (rows, next_page_token) = self.store.list(&page).await.map_err(storage_error)?;
        Ok(Response::new(pb::ListCallsResponse {
            calls: rows
                .into_iter()
                .map(|r| pb::Call {
                    id: r.id,
                    url: r.url,
                    method: r.method,
                    status_code: r.status_code.unwrap_or(0),
                    error: r.error.unwrap_or_default(),
                    duration_ms: r.duration_ms,
                    content_length: r.content_length,
                    content_type: r.content_type.unwrap_or_default(),
                    created_at: Some(timestamp(r.created_at)),
                })
                .collect(),
            next_page_token,
        }))
    }
}

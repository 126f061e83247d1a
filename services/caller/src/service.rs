//! `caller.v1.CallerService`.

use authn::{Access, Route};
use platform_proto::caller::v1::{
    self as pb,
    caller_service_server::{CallerService, CallerServiceServer},
};
use platform_rpc::{
    details::invalid_field,
    pagination::{PageRequest, timestamp},
    reply,
};
use tonic::{Request, Response, Status};

use std::time::Duration;

use crate::{
    fetch::{Fetcher, Outcome, Target},
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
        platform_rpc::configure!(CallerServiceServer::new(self))
    }
}

fn storage_error(e: sqlx::Error) -> Status {
    tracing::error!(error = %e, "caller_db query failed");
    Status::unavailable("the call history is unavailable; try again")
}

/// What clients are told of a refusal. Which rule refused which resolved
/// address is for caller's logs and records, never for the client: it
/// would map internal networks for whoever asks.
pub const REFUSED: &str = "caller refused the destination: it is not a public address, or not one it may call";

/// The part of the client's remaining deadline not spent on the fetch: a
/// quarter, at most 500 ms — ample to record the call and answer.
const RESERVE_DIVISOR: u32 = 4;
const MAX_RESERVE: Duration = Duration::from_millis(500);

impl Caller {
    /// Records the call in a task of its own: the client giving up (its
    /// deadline, a disconnect) cannot drop the record. One retry, then the
    /// loss is counted and logged; the call's outcome is answered either way.
    async fn record(&self, call: NewCall) -> Option<i64> {
        let store = self.store.clone();
        let task = tokio::spawn(async move {
            for attempt in 0..2 {
                match store.record(&call).await {
                    Ok(id) => return Some(id),
                    Err(e) if attempt == 0 => {
                        tracing::warn!(error = %e, "recording a call failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    Err(e) => {
                        metrics::counter!("caller_unrecorded_calls_total").increment(1);
                        tracing::error!(error = %e, url = %call.url, "a call could not be recorded");
                    }
                }
            }
            None
        });
        task.await.ok().flatten()
    }
}

#[tonic::async_trait]
impl CallerService for Caller {
    async fn call(&self, request: Request<pb::CallRequest>) -> Result<Response<pb::CallResponse>, Status> {
        let req = request.into_inner();
        let target = Target::parse(&req.url, &req.method).map_err(|e| invalid_field("url", e))?;
        let url = target.display_url();
        let method = target.method.as_str();

        // The fetch ends in time to record it and answer within the client's deadline.
        let started = tokio::time::Instant::now();
        let fetched = match platform::deadline::reserving(RESERVE_DIVISOR, MAX_RESERVE) {
            Some(until) => match tokio::time::timeout_at(until, self.fetcher.fetch(&target)).await {
                Ok(fetched) => fetched,
                Err(_) => Ok(Outcome {
                    error: Some(format!(
                        "gave up after {} ms: the caller's deadline left no more time",
                        started.elapsed().as_millis()
                    )),
                    duration: started.elapsed(),
                    ..Outcome::default()
                }),
            },
            None => self.fetcher.fetch(&target).await,
        };
        match fetched {
            Err((refused, took)) => {
                let reason = refused.to_string();
                tracing::warn!(%url, %reason, "outbound call refused");
                let call = NewCall {
                    url,
                    method,
                    status_code: None,
                    error: Some(reason),
                    duration_ms: took.as_millis() as i64,
                    content_length: 0,
                    content_type: None,
                };
                self.record(call).await;
                Err(Status::permission_denied(REFUSED))
            }
            Ok(outcome) => {
                let duration_ms = outcome.duration.as_millis() as i64;
                tracing::info!(%url, method, status = ?outcome.status_code, error = ?outcome.error, duration_ms, "outbound call");
                let call = NewCall {
                    url,
                    method,
                    status_code: outcome.status_code.map(i32::from),
                    error: outcome.error.clone(),
                    duration_ms,
                    content_length: outcome.content_length as i64,
                    content_type: outcome.content_type.clone(),
                };
                // 0 when it could not be recorded: the call was made, and its outcome is the answer.
                let call_id = self.record(call).await.unwrap_or(0);
                Ok(reply(pb::CallResponse {
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
        Ok(reply(pb::ListCallsResponse {
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

//! `greeter.v1.GreeterService`.

use std::{pin::Pin, time::Duration};

use authn::{Access, Identity, Route};
use futures_util::{Stream, StreamExt};
use platform_proto::greeter::v1::{
    self as pb,
    greeter_service_server::{GreeterService, GreeterServiceServer},
};
use platform_rpc::{
    details::invalid_field,
    pagination::{PageRequest, timestamp},
    reply,
};
use tonic::{Request, Response, Status, Streaming};

use idempotency::{Begun, Idempotency, Outcome, Scope};
use prost::Message;

use crate::{
    store::{self, GreetingRow, NewGreeting, Store},
    upstream::CallerClient,
    watch::{Event, Watchers},
};

/// Who may call which RPC, enforced by [`authn::AccessLayer`] in front of
/// the service. `ListGreetings` lists the caller's own greetings; an
/// admin's lists everyone's. `WatchGreetings` watches the caller's own; an
/// admin may ask for everyone's.
pub const ACCESS: &[Route] = &[
    Route::rpc("/greeter.v1.GreeterService/Greet", Access::User),
    Route::rpc("/greeter.v1.GreeterService/ListGreetings", Access::User),
    Route::rpc("/greeter.v1.GreeterService/GreetMany", Access::User),
    Route::rpc("/greeter.v1.GreeterService/WatchGreetings", Access::User),
];

/// Greet's full name: the method and path its idempotency keys fingerprint.
const GREET: &str = "/greeter.v1.GreeterService/Greet";

/// The most greetings one `GreetMany` stream may carry.
pub const MAX_BATCH: usize = 100;

/// The verified user the access layer admitted.
fn caller<T>(request: &Request<T>) -> Result<Identity, Status> {
    // The layer admits only users here; a missing identity is a wiring bug, refused all the same.
    request
        .extensions()
        .get::<Identity>()
        .filter(|id| id.is_user())
        .cloned()
        .ok_or_else(|| Status::unauthenticated("send a user's access token"))
}

/// Longest URL accepted (the caller service's limit).
const MAX_URL_LEN: usize = 2048;

/// The part of a client's remaining deadline not given to caller: a
/// quarter, at most 500 ms — ample for one insert.
const RESERVE_DIVISOR: u32 = 4;
const MAX_RESERVE: Duration = Duration::from_millis(500);

pub struct Greeter {
    caller: CallerClient,
    store: Store,
    idempotency: Idempotency,
    default_url: url::Url,
    watchers: Watchers,
}

/// A greeting checked and made, not yet stored.
struct Prepared {
    name: String,
    greeting: String,
    url: String,
    external_status: Option<i32>,
    external_error: Option<String>,
}

impl Prepared {
    fn row<'a>(&'a self, owner: &'a str) -> NewGreeting<'a> {
        NewGreeting {
            owner,
            name: &self.name,
            greeting: &self.greeting,
            url: &self.url,
            external_status: self.external_status,
            external_error: self.external_error.as_deref(),
        }
    }
}

impl Greeter {
    pub fn new(
        caller: CallerClient,
        store: Store,
        idempotency: Idempotency,
        default_url: url::Url,
        watchers: Watchers,
    ) -> Self {
        Self { caller, store, idempotency, default_url, watchers }
    }

    /// Checks a request and asks caller about its URL: the greeting to store.
    async fn prepare(&self, name: &str, url: &str) -> Result<Prepared, Status> {
        let name = platform::validate::name(name).map_err(|e| invalid_field("name", e))?;
        let url = self.target_url(url)?;
        // Keep part of the client's budget back for storing and answering,
        // so that a slow caller cannot make the greeting itself miss it.
        let external = match platform::deadline::reserving(RESERVE_DIVISOR, MAX_RESERVE) {
            Some(until) => platform::deadline::scope(until, self.caller.check(&url)).await,
            None => self.caller.check(&url).await,
        };
        // Kept, logged and returned without credentials, query or fragment.
        let shown = platform::redact::url(&url);
        if let Some(error) = &external.error {
            tracing::warn!(url = %shown, %error, "external check failed; greeting anyway");
        }
        Ok(Prepared {
            greeting: format!("Hello, {name}!"),
            name: name.to_owned(),
            url: shown,
            external_status: external.status,
            external_error: external.error,
        })
    }

    pub fn into_server(self) -> GreeterServiceServer<Self> {
        platform_rpc::configure!(GreeterServiceServer::new(self))
    }

    /// The URL to check: the request's, or the configured default.
    fn target_url(&self, raw: &str) -> Result<String, Status> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Ok(self.default_url.to_string());
        }
        if raw.len() > MAX_URL_LEN {
            return Err(invalid_field(
                "url",
                format!("url is {} characters; at most {MAX_URL_LEN} are allowed", raw.len()),
            ));
        }
        match url::Url::parse(raw) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(raw.to_owned()),
            _ => Err(invalid_field("url", "url must be an absolute http:// or https:// URL, or empty for the default")),
        }
    }
}

fn storage_error(e: sqlx::Error) -> Status {
    tracing::error!(error = %e, "greeter_db query failed");
    Status::unavailable("greetings are unavailable; try again")
}

fn to_pb(r: &GreetingRow) -> pb::Greeting {
    pb::Greeting {
        id: r.id,
        name: r.name.clone(),
        greeting: r.greeting.clone(),
        url: r.url.clone(),
        external_status: r.external_status.unwrap_or(0),
        external_error: r.external_error.clone().unwrap_or_default(),
        created_at: Some(timestamp(r.created_at)),
    }
}

fn greet_response(row: GreetingRow) -> pb::GreetResponse {
    pb::GreetResponse {
        greeting: row.greeting,
        external_status: row.external_status.unwrap_or(0),
        external_error: row.external_error.unwrap_or_default(),
        greeting_id: row.id,
        created_at: Some(timestamp(row.created_at)),
    }
}

type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchGreetingsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl GreeterService for Greeter {
    async fn greet(&self, request: Request<pb::GreetRequest>) -> Result<Response<pb::GreetResponse>, Status> {
        let owner = caller(&request)?;
        let key = idempotency::grpc::key(request.metadata())?;
        let req = request.into_inner();
        let Some(key) = key else {
            let prepared = self.prepare(&req.name, &req.url).await?;
            let row = self.store.insert(&prepared.row(&owner.user_id)).await.map_err(storage_error)?;
            return Ok(reply(greet_response(row)));
        };
        // Claimed before caller is asked, so a repeat neither greets nor calls twice.
        let keyed = key.request(&Scope::subject(&owner.user_id), GREET, GREET, &req.encode_to_vec());
        let mut write = match self.idempotency.begin(Some(&keyed)).await.map_err(idempotency::grpc::refused)? {
            Begun::Replay(outcome) => {
                let first = pb::GreetResponse::decode(&outcome.body[..]).map_err(|e| {
                    tracing::error!(error = %e, "a stored Greet outcome does not decode");
                    Status::internal("the stored outcome of this idempotency key is unreadable")
                })?;
                let mut response = reply(first);
                idempotency::grpc::mark_replayed(&mut response);
                return Ok(response);
            }
            Begun::Write(write) => write,
        };
        let prepared = self.prepare(&req.name, &req.url).await?;
        let row = store::insert(write.conn(), &prepared.row(&owner.user_id)).await.map_err(storage_error)?;
        let answer = greet_response(row);
        write.commit(|| Outcome { status: 0, body: answer.encode_to_vec() }).await.map_err(storage_error)?;
        Ok(reply(answer))
    }

    async fn greet_many(
        &self,
        request: Request<Streaming<pb::GreetManyRequest>>,
    ) -> Result<Response<pb::GreetManyResponse>, Status> {
        let owner = caller(&request)?;
        let mut names = request.into_inner();
        let mut prepared = Vec::new();
        while let Some(req) = names.message().await? {
            if prepared.len() == MAX_BATCH {
                return Err(Status::resource_exhausted(format!(
                    "GreetMany takes at most {MAX_BATCH} names a stream; send the rest in another"
                )));
            }
            prepared.push(self.prepare(&req.name, &req.url).await?);
        }
        let rows: Vec<NewGreeting> = prepared.iter().map(|p| p.row(&owner.user_id)).collect();
        let stored = self.store.insert_many(&rows).await.map_err(storage_error)?;
        Ok(reply(pb::GreetManyResponse { greetings: stored.into_iter().map(greet_response).collect() }))
    }

    type WatchGreetingsStream = WatchStream;

    async fn watch_greetings(
        &self,
        request: Request<pb::WatchGreetingsRequest>,
    ) -> Result<Response<WatchStream>, Status> {
        let who = caller(&request)?;
        if request.get_ref().all && !who.is_admin() {
            return Err(Status::permission_denied("only admins may watch everyone's greetings; leave `all` unset"));
        }
        let owner = (!request.get_ref().all).then_some(who.user_id);
        let events = self.watchers.watch(owner)?.map(|event| {
            event.map(|event| pb::WatchGreetingsResponse {
                event: Some(match event {
                    Event::Greeting(row) => pb::watch_greetings_response::Event::Greeting(to_pb(&row)),
                    Event::Heartbeat => pb::watch_greetings_response::Event::Heartbeat(pb::Heartbeat {
                        at: Some(timestamp(chrono::Utc::now())),
                    }),
                }),
            })
        });
        Ok(Response::new(Box::pin(events)))
    }

    async fn list_greetings(
        &self,
        request: Request<pb::ListGreetingsRequest>,
    ) -> Result<Response<pb::ListGreetingsResponse>, Status> {
        let who = caller(&request)?;
        let req = request.into_inner();
        let page = PageRequest::parse(req.page_size, &req.page_token)?;
        let owner = (!who.is_admin()).then_some(who.user_id.as_str());
        let (rows, next_page_token) = self.store.list(owner, &page).await.map_err(storage_error)?;
        Ok(reply(pb::ListGreetingsResponse { greetings: rows.iter().map(to_pb).collect(), next_page_token }))
    }
}

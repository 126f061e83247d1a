//! authn's access layer in front of a real tonic service, verifying tokens
//! issued by a real auth server through its JWKS. (They live with auth, so
//! that authn, a shared crate, depends on no service.)

use std::{net::SocketAddr, sync::Arc, time::Duration};

use authn::{Access, AccessLayer, Gate, Identity, Jwks, Route};
use platform::Env;
use platform_proto::greeter::v1::{
    GreetRequest, GreetResponse, ListGreetingsRequest, ListGreetingsResponse,
    greeter_service_client::GreeterServiceClient,
    greeter_service_server::{GreeterService, GreeterServiceServer},
};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tonic::{Code, Request, Response, Status, transport::Channel};
use tower::Layer;

/// Greets whoever the layer says is calling.
struct Echo;

#[tonic::async_trait]
impl GreeterService for Echo {
    async fn greet(&self, request: Request<GreetRequest>) -> Result<Response<GreetResponse>, Status> {
        let who = match request.extensions().get::<Identity>() {
            Some(id) => format!("{} ({})", id.email, id.user_id),
            None => "anonymous".into(),
        };
        Ok(Response::new(GreetResponse { greeting: format!("Hello, {who}!"), ..Default::default() }))
    }

    async fn list_greetings(
        &self,
        _: Request<ListGreetingsRequest>,
    ) -> Result<Response<ListGreetingsResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    async fn greet_many(
        &self,
        _: Request<tonic::Streaming<platform_proto::greeter::v1::GreetManyRequest>>,
    ) -> Result<Response<platform_proto::greeter::v1::GreetManyResponse>, Status> {
        Err(Status::unimplemented("not in this test"))
    }

    type WatchGreetingsStream =
        tokio_stream::Empty<Result<platform_proto::greeter::v1::WatchGreetingsResponse, Status>>;

    async fn watch_greetings(
        &self,
        _: Request<platform_proto::greeter::v1::WatchGreetingsRequest>,
    ) -> Result<Response<Self::WatchGreetingsStream>, Status> {
        Err(Status::unimplemented("not in this test"))
    }
}

/// A running auth server and how to stop it.
struct AuthServer {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl AuthServer {
    async fn start(port: u16) -> Self {
        testkit::init_telemetry();
        let mut config = auth::Config::from_env(&Env::from_pairs([("AUTH_BCRYPT_COST", "4")])).unwrap();
        config.common.port = port;
        config.common.database = testkit::database().await;
        let server = auth::build(config).await.unwrap();
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Self { addr, stop, done }
    }

    async fn shut_down(self) {
        let _ = self.stop.send(());
        self.done.await.unwrap().unwrap();
    }

    fn jwks_url(&self) -> url::Url {
        format!("http://{}/auth/.well-known/jwks.json", self.addr).parse().unwrap()
    }

    /// Signs up a fresh account; its access token and id.
    async fn token(&self, email: &str) -> (String, String) {
        let res = reqwest::Client::new()
            .post(format!("http://{}/auth/signup", self.addr))
            .json(&json!({"email": email, "password": "correct horse battery staple"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.unwrap();
        (body["tokens"]["access_token"].as_str().unwrap().to_owned(), body["user"]["id"].as_str().unwrap().to_owned())
    }
}

fn jwks(url: url::Url, min_refresh: Duration) -> Arc<Jwks> {
    let mut config = authn::Config::new(url);
    config.min_refresh = min_refresh;
    Arc::new(Jwks::new(&config).unwrap())
}

/// Greet needs a user's token.
const USER: &[Route] = &[Route::rpc("/greeter.v1.GreeterService/Greet", Access::User)];
/// Greet is public: a token is optional, but must be valid when sent.
const PUBLIC: &[Route] = &[Route::rpc("/greeter.v1.GreeterService/Greet", Access::Public)];

/// `Echo` behind the layer, served on loopback; a client for it.
async fn guarded(jwks: Arc<Jwks>, mode: &'static [Route]) -> GreeterServiceClient<Channel> {
    let addr = serve(jwks, mode).await;
    GreeterServiceClient::connect(format!("http://{addr}")).await.unwrap()
}

async fn serve(jwks: Arc<Jwks>, mode: &'static [Route]) -> std::net::SocketAddr {
    let service = AccessLayer::new(Gate::new(jwks, Vec::new()), mode).layer(GreeterServiceServer::new(Echo));
    // Served as platform::Server serves it, with its HTTP/1.1 keep-alive guard.
    let router = tonic::service::Routes::new(service).into_axum_router().layer(platform::keepalive::CloseUnreadLayer);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    addr
}

/// `token` with `other`'s claims: a tampered token.
fn swap_payload(token: &str, other: &str) -> String {
    let t: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", t[0], other.split('.').nth(1).unwrap(), t[2])
}

async fn greet(client: &mut GreeterServiceClient<Channel>, authorization: Option<&str>) -> Result<String, Status> {
    let mut req = Request::new(GreetRequest::default());
    if let Some(a) = authorization {
        req.metadata_mut().insert("authorization", a.parse().unwrap());
    }
    client.greet(req).await.map(|r| r.into_inner().greeting)
}

#[tokio::test]
async fn required_mode_lets_valid_tokens_through_with_the_identity() {
    let auth = AuthServer::start(0).await;
    let (token, user_id) = auth.token("Ada@Example.com").await;
    let (other, _) = auth.token("mallory@example.com").await;
    let jwks = jwks(auth.jwks_url(), Duration::from_secs(30));
    let mut client = guarded(jwks.clone(), USER).await;

    let greeting = greet(&mut client, Some(&format!("Bearer {token}"))).await.unwrap();
    assert_eq!(greeting, format!("Hello, ada@example.com ({user_id})!"));

    for (authorization, needle) in [
        (None, "no bearer token"),
        (Some("Basic YWRhOnB3".to_owned()), "Bearer"),
        (Some(format!("Bearer {}", swap_payload(&token, &other))), "signature"),
        (Some("Bearer not.a.jwt".to_owned()), "well-formed"),
    ] {
        let err = greet(&mut client, authorization.as_deref()).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated, "{authorization:?}");
        assert!(err.message().contains(needle), "{authorization:?}: {}", err.message());
    }
    // Keys were fetched once and reused for every call.
    assert_eq!(jwks.fetches(), 1);
}

#[tokio::test]
async fn optional_mode_lets_anonymous_calls_through_but_not_bad_tokens() {
    let auth = AuthServer::start(0).await;
    let (token, _) = auth.token("grace@example.com").await;
    let mut client = guarded(jwks(auth.jwks_url(), Duration::from_secs(30)), PUBLIC).await;
    assert_eq!(greet(&mut client, None).await.unwrap(), "Hello, anonymous!");
    assert!(greet(&mut client, Some(&format!("Bearer {token}"))).await.unwrap().contains("grace@example.com"));
    let (other, _) = auth.token("mallory@example.com").await;
    let err = greet(&mut client, Some(&format!("Bearer {}", swap_payload(&token, &other)))).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
}

#[tokio::test]
async fn tokens_for_another_audience_or_issuer_are_refused() {
    let auth = AuthServer::start(0).await;
    let (token, _) = auth.token("ada@example.com").await;
    for (audience, issuer) in [("other-platform", "auth"), ("platform", "someone-else")] {
        let mut config = authn::Config::new(auth.jwks_url());
        config.expected.audience = audience.into();
        config.expected.issuer = issuer.into();
        let mut client = guarded(Arc::new(Jwks::new(&config).unwrap()), USER).await;
        let err = greet(&mut client, Some(&format!("Bearer {token}"))).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert!(err.message().contains("audience"), "{}", err.message());
    }
}

#[tokio::test]
async fn an_unknown_key_id_refetches_the_keys_at_most_once_per_interval() {
    const INTERVAL: Duration = Duration::from_millis(1500);
    // auth with key 1.
    let first = AuthServer::start(0).await;
    let port = first.addr.port();
    let (old_token, _) = first.token("ada@example.com").await;
    let jwks = jwks(first.jwks_url(), INTERVAL);
    let mut client = guarded(jwks.clone(), USER).await;
    assert!(greet(&mut client, Some(&format!("Bearer {old_token}"))).await.is_ok());
    // No earlier than the fetch that call made.
    let fetched = tokio::time::Instant::now();
    assert_eq!(jwks.fetches(), 1);

    // auth restarts on the same address with a new key (ephemeral keys differ).
    first.shut_down().await;
    let second = AuthServer::start(port).await;
    let (new_token, _) = second.token("grace@example.com").await;
    let old_kid = jsonwebtoken::decode_header(&old_token).unwrap().kid;
    assert_ne!(jsonwebtoken::decode_header(&new_token).unwrap().kid, old_kid);

    // The new kid is unknown: one refetch (once the interval since the
    // last fetch has passed), then the token is accepted.
    tokio::time::sleep_until(fetched + INTERVAL).await;
    assert!(greet(&mut client, Some(&format!("Bearer {new_token}"))).await.unwrap().contains("grace@example.com"));
    assert_eq!(jwks.fetches(), 2);

    // The old key is gone from the new set. Tokens naming it (or any
    // made-up kid) are refused without asking auth again inside the interval.
    for _ in 0..5 {
        let err = greet(&mut client, Some(&format!("Bearer {old_token}"))).await.unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
        assert!(err.message().contains("unknown key"), "{}", err.message());
    }
    assert_eq!(jwks.fetches(), 2);
    // After the interval, one more fetch is allowed.
    tokio::time::sleep(INTERVAL).await;
    assert!(greet(&mut client, Some(&format!("Bearer {old_token}"))).await.is_err());
    assert_eq!(jwks.fetches(), 3);
    second.shut_down().await;
}

#[tokio::test]
async fn unreachable_auth_is_unavailable_not_unauthenticated() {
    let auth = AuthServer::start(0).await;
    let (token, _) = auth.token("ada@example.com").await;
    let url = auth.jwks_url();
    auth.shut_down().await;
    let jwks = jwks(url, Duration::from_secs(30));
    let mut client = guarded(jwks.clone(), USER).await;
    for _ in 0..3 {
        let err = greet(&mut client, Some(&format!("Bearer {token}"))).await.unwrap_err();
        assert_eq!(err.code(), Code::Unavailable, "{err:?}");
    }
    assert_eq!(jwks.fetches(), 1, "failed fetches are rate-limited too");
    // No token at all is still a plain refusal.
    assert_eq!(greet(&mut client, None).await.unwrap_err().code(), Code::Unauthenticated);
}

/// A refusal leaves the request body unread; over HTTP/1.1 platform's
/// keep-alive guard discards it so the connection carries the next call (or,
/// for a body too large to discard, says `Connection: close`). Without it the
/// next call on the connection failed with a broken pipe (gRPC-Web clients).
#[tokio::test]
async fn http1_refusals_leave_the_connection_usable() {
    let auth = AuthServer::start(0).await;
    let addr = serve(jwks(auth.jwks_url(), Duration::from_secs(30)), USER).await;
    // One connection for every call: a broken one fails the next request.
    let client = reqwest::Client::builder().http1_only().pool_max_idle_per_host(1).build().unwrap();
    let url = format!("http://{addr}/greeter.v1.GreeterService/Greet");
    for authorization in [None, Some("Bearer not.a.jwt"), None] {
        let mut request = client.post(&url).header("content-type", "application/grpc").body(vec![0u8; 1024]);
        if let Some(a) = authorization {
            request = request.header("authorization", a);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["grpc-status"], "16", "{authorization:?}");
        assert!(response.headers().get("connection").is_none(), "{authorization:?}");
    }
    let big = vec![0u8; platform::keepalive::DRAIN_BYTES + 1];
    let response = client.post(&url).header("content-type", "application/grpc").body(big).send().await.unwrap();
    assert_eq!(response.headers()["connection"], "close");
    // Over HTTP/2 the stream is reset on its own; the connection stays.
    let mut h2 = guarded(jwks(auth.jwks_url(), Duration::from_secs(30)), USER).await;
    for _ in 0..3 {
        assert_eq!(greet(&mut h2, None).await.unwrap_err().code(), Code::Unauthenticated);
    }
}

/// A key endpoint that answers auth's JWKS after `delay`.
async fn slow_jwks(upstream: url::Url, delay: Duration) -> url::Url {
    let app = axum::Router::new().route(
        "/jwks.json",
        axum::routing::get(move || {
            let upstream = upstream.clone();
            async move {
                tokio::time::sleep(delay).await;
                reqwest::get(upstream).await.unwrap().text().await.unwrap()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/jwks.json").parse().unwrap()
}

/// The fetch is shared work: a request that gives up (its deadline, a
/// disconnect) while it waits does not cancel it, and the keys it brings
/// serve the next requests within the refresh interval. On the old code
/// the fetch ran inside the first request and died with it, and every
/// valid token was refused for the next 30 s.
#[tokio::test]
async fn a_cancelled_request_does_not_cancel_the_key_fetch() {
    let auth = AuthServer::start(0).await;
    let (token, _) = auth.token("ada@example.com").await;
    let jwks = jwks(slow_jwks(auth.jwks_url(), Duration::from_millis(300)).await, Duration::from_secs(30));
    let gave_up = tokio::time::timeout(Duration::from_millis(50), jwks.verify(&token)).await;
    assert!(gave_up.is_err(), "the first request gave up before the keys came");
    // Within the refresh interval a valid token verifies, once the one fetch has landed.
    let started = tokio::time::Instant::now();
    let claims = loop {
        match jwks.verify(&token).await {
            Ok(claims) => break claims,
            Err(e) => {
                assert!(started.elapsed() < Duration::from_secs(10), "still refused: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(claims.email, "ada@example.com");
    assert_eq!(jwks.fetches(), 1, "one fetch served them all");
}

/// Past `max_age` the keys held keep verifying at once while one refresh
/// runs in the background; requests do not queue behind it.
#[tokio::test]
async fn stale_keys_verify_while_a_refresh_runs() {
    let auth = AuthServer::start(0).await;
    let (token, _) = auth.token("ada@example.com").await;
    let mut config = authn::Config::new(slow_jwks(auth.jwks_url(), Duration::from_millis(500)).await);
    config.max_age = Duration::from_millis(100);
    config.min_refresh = Duration::ZERO;
    let jwks = Arc::new(Jwks::new(&config).unwrap());
    jwks.verify(&token).await.unwrap();
    tokio::time::sleep(Duration::from_millis(150)).await;
    // Stale now: these verify from the cache, and start one refresh between them.
    let verifications: Vec<_> = (0..20)
        .map(|_| {
            let (jwks, token) = (jwks.clone(), token.clone());
            tokio::spawn(async move { jwks.verify(&token).await })
        })
        .collect();
    for v in verifications {
        assert!(v.await.unwrap().is_ok());
    }
    assert_eq!(jwks.fetches(), 2, "one refresh for twenty stale verifications");
}

//! The gateway with real neighbours: lang and auth started in-process on
//! random ports with their own databases, or loopback stand-ins where a
//! test needs an upstream to misbehave.

#![allow(dead_code)]

pub mod stack;

use std::{net::SocketAddr, time::Duration};

use axum::Router;
use platform::{CommonConfig, Env, db::DbConfig};
use platform_proto::gateway::v1::gateway_service_client::GatewayServiceClient;
use serde_json::Value;
use tokio::sync::oneshot;
use tonic::transport::Channel;

pub async fn common(service: &str) -> CommonConfig {
    testkit::init_telemetry();
    let mut c = CommonConfig::from_env(&Env::default(), service, 0).unwrap();
    c.port = 0;
    c.database = testkit::database().await;
    c
}

/// A real lang service.
pub async fn lang() -> SocketAddr {
    let config = lang::Config { common: common("lang").await, ..lang::Config::from_env(&Env::default()).unwrap() };
    let server = lang::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

/// A real lang service trusting `auth`'s tokens (so its admin routes can
/// be used) and relaying its events to the broker at `nats_url`.
pub async fn lang_with_events(auth: &Auth, nats_url: &str) -> SocketAddr {
    let mut config = lang::Config { common: common("lang").await, ..lang::Config::from_env(&Env::default()).unwrap() };
    config.authn = auth.fixture.authn();
    config.events.nats_url = nats_url.to_owned();
    let server = lang::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

/// A real auth service (cheap bcrypt), publishing its events to a broker
/// when started with [`Auth::with_events`].
pub struct Auth {
    pub addr: SocketAddr,
    pub fixture: auth::testing::Fixture,
}

impl Auth {
    pub async fn start() -> Self {
        let fixture = auth::testing::Fixture::start().await;
        Self { addr: fixture.addr, fixture }
    }

    /// auth relaying its outbox to the broker at `nats_url`.
    pub async fn with_events(nats_url: &str) -> Self {
        let fixture = auth::testing::Fixture::start_with(|c| c.events.nats_url = nats_url.to_owned()).await;
        Self { addr: fixture.addr, fixture }
    }

    pub fn jwks_url(&self) -> url::Url {
        format!("http://{}/auth/.well-known/jwks.json", self.addr).parse().unwrap()
    }

    /// Signs up a fresh account; its access token.
    pub async fn token(&self, email: &str) -> String {
        self.fixture.user(email).await.1
    }

    /// A fresh admin account; its access token (with the admin role).
    pub async fn admin_token(&self, email: &str) -> String {
        self.fixture.admin(email).await.1
    }
}

/// A loopback HTTP server for `app`.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A loopback port with nothing listening.
pub fn dead_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

/// Where the gateway's neighbours are. `jwks` defaults to `auth`'s.
pub struct Neighbours {
    pub lang: SocketAddr,
    pub auth: SocketAddr,
    pub jwks: Option<url::Url>,
}

/// A gateway configuration for tests: records flushed every 50 ms, lang
/// called once per request (no retries) unless `env` says otherwise, and no
/// broker (a test that wants events sets `nats_url`).
pub async fn config(n: &Neighbours, env: &[(&str, &str)]) -> gateway::Config {
    let mut pairs = vec![("LANG_RETRIES", "0"), ("GATEWAY_METRICS_FLUSH_MS", "50")];
    pairs.extend_from_slice(env);
    let mut config = gateway::Config::from_env(&Env::from_pairs(pairs)).unwrap();
    config.common = common("gateway").await;
    config.lang_url = format!("http://{}", n.lang).parse().unwrap();
    config.auth_url = format!("http://{}", n.auth).parse().unwrap();
    config.authn.jwks_url =
        n.jwks.clone().unwrap_or_else(|| format!("http://{}/auth/.well-known/jwks.json", n.auth).parse().unwrap());
    // No broker unless a test starts one: nothing is read from a stray one on 4222.
    config.events.nats_url = format!("nats://{}", dead_port());
    config
}

/// A running gateway.
pub struct Gateway {
    pub addr: SocketAddr,
    pub database: DbConfig,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Gateway {
    pub async fn start(config: gateway::Config) -> Self {
        let database = config.common.database.clone();
        let app = gateway::build(config).await.unwrap();
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        Self { addr, database, stop: Some(stop), done }
    }

    pub async fn with(n: &Neighbours) -> Self {
        Self::start(config(n, &[]).await).await
    }

    /// Stops the gateway the way SIGTERM does and waits until it has.
    pub async fn shut_down(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.done).await.unwrap().unwrap();
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn client(&self) -> GatewayServiceClient<Channel> {
        GatewayServiceClient::connect(self.url("")).await.unwrap()
    }

    /// A Connect JSON call, as `curl` makes it; the status and JSON body.
    pub async fn connect(&self, method: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut req = reqwest::Client::new()
            .post(self.url(&format!("/gateway.v1.GatewayService/{method}")))
            .header("content-type", "application/json")
            .body(body.to_string());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.json().await.unwrap())
    }

    /// A connection to the gateway's database, e.g. to read what was recorded.
    pub async fn db(&self) -> sqlx::PgConnection {
        <sqlx::PgConnection as sqlx::Connection>::connect_with(&self.database.url.options).await.unwrap()
    }

    /// Drops the gateway's database from under it, closing its connections.
    pub async fn drop_database(&self) {
        let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect_with(
            &self.database.url.options.clone().database("postgres"),
        )
        .await
        .unwrap();
        sqlx::query(&format!(r#"DROP DATABASE "{}" WITH (FORCE)"#, self.database.url.database))
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

/// A gateway whose user projection reads the events at `nats_url`.
pub async fn with_events(n: &Neighbours, nats_url: &str, env: &[(&str, &str)]) -> Gateway {
    let mut config = config(n, env).await;
    config.events.nats_url = nats_url.to_owned();
    Gateway::start(config).await
}

/// The overview once its user count (read from events) has reached `want`.
pub async fn counted(gateway: &Gateway, token: &str, want: i64) -> platform_proto::gateway::v1::OverviewResponse {
    eventually(|| async {
        let mut client = gateway.client().await;
        // UNAVAILABLE while nothing at all can be had yet (lang down too).
        let r = client.overview(authorized(platform_proto::gateway::v1::OverviewRequest {}, token)).await.ok()?;
        let r = r.into_inner();
        (r.user_count >= Some(want)).then_some(r)
    })
    .await
}

/// `request` with `authorization: Bearer <token>`.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut req = tonic::Request::new(message);
    req.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    req
}

/// Polls `check` until it returns `Some`, for at most 30 s (a safety net,
/// not a timing assertion: background writes land within milliseconds).
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(tokio::time::Instant::now() < deadline, "condition not met within 30 s");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

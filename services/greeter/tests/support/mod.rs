//! Spawning greeter (and a real or fake caller behind it) on random ports,
//! in-process or as the real binary.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

pub use auth::testing::Fixture;
use axum::{Router, routing::get};
use platform::{CommonConfig, Env};
use platform_proto::greeter::v1::greeter_service_client::GreeterServiceClient;
use tonic::{service::interceptor::InterceptedService, transport::Channel};

/// A real auth server: users' tokens, and greeter's and caller's identities.
pub async fn auth() -> Fixture {
    Fixture::start().await
}

/// Adds `authorization: Bearer <token>` to every call.
#[derive(Clone)]
pub struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        if self.0 != "Bearer " {
            req.metadata_mut().insert("authorization", self.0.clone());
        }
        Ok(req)
    }
}

/// `authorization: Bearer <token>`; an empty token sends no header at all.
pub fn bearer(token: &str) -> Bearer {
    Bearer(format!("Bearer {token}").parse().unwrap())
}

pub type Client = GreeterServiceClient<InterceptedService<Channel, Bearer>>;

/// A gRPC client presenting `token`.
pub async fn client(base: impl std::fmt::Display, token: &str) -> Client {
    let channel = Channel::from_shared(base.to_string()).unwrap().connect().await.unwrap();
    GreeterServiceClient::with_interceptor(channel, bearer(token))
}

/// An HTTP client presenting `token` on every request.
pub fn http(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().unwrap());
    reqwest::Client::builder().default_headers(headers).build().unwrap()
}

pub fn common(service: &str) -> impl Future<Output = CommonConfig> {
    let service = service.to_owned();
    async move {
        testkit::init_telemetry();
        let mut c = CommonConfig::from_env(&Env::default(), &service, 0).unwrap();
        c.port = 0;
        c.database = testkit::database().await;
        c
    }
}

/// A local HTTP target: `/ok` answers 200 at once, `/slow` after 30 s.
pub async fn target() -> SocketAddr {
    let app = Router::new().route("/ok", get(|| async { "hello" })).route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            "late"
        }),
    );
    serve(app).await
}

pub async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A real caller service allowed to reach loopback targets, admitting greeter.
pub async fn caller(auth: &Fixture) -> SocketAddr {
    let config = caller::Config {
        common: common("caller").await,
        fetch: caller::config::FetchConfig {
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
            ..Default::default()
        },
        authn: auth.authn(),
        allowed_clients: vec!["greeter".into()],
        retention: Duration::from_secs(30 * 86_400),
        events: events::relay::Config::from_env(&platform::Env::default(), "caller").unwrap(),
    };
    let server = caller::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

pub async fn greeter_config(auth: &Fixture, caller: SocketAddr, timeout: Duration) -> greeter::Config {
    greeter::Config {
        common: common("greeter").await,
        caller_url: format!("http://{caller}").parse().unwrap(),
        caller: resilience::Policy { attempt_timeout: timeout, ..Default::default() },
        default_url: "http://127.0.0.1:9/".parse().unwrap(),
        authn: auth.authn(),
        retention: Duration::from_secs(90 * 86_400),
        identity: Some(auth.client("greeter")),
        watch: Default::default(),
        idempotency: Default::default(),
        events: events::relay::Config::from_env(&platform::Env::default(), "greeter").unwrap(),
    }
}

/// greeter backed by `caller`, with the given deadline for caller calls.
pub async fn greeter(auth: &Fixture, caller: SocketAddr, timeout: Duration) -> SocketAddr {
    let server = greeter::build(greeter_config(auth, caller, timeout).await).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

/// A loopback port with nothing listening.
pub fn dead_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// The real greeter binary on a fresh database and its own port; killed
/// when dropped, so a failing test leaves no process behind.
pub struct GreeterProcess {
    child: Option<std::process::Child>,
    pub base: String,
    /// A user's access token at the auth it trusts (set by tests that make one).
    pub token: String,
}

impl GreeterProcess {
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("still owned").id()
    }

    /// The process, for a test that stops it itself.
    pub fn into_child(mut self) -> std::process::Child {
        self.child.take().expect("still owned")
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.base)).await.unwrap().text().await.unwrap()
    }
}

impl Drop for GreeterProcess {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the real greeter binary with `env` (plus its database, port and
/// `auth`'s keys and greeter identity) and waits until it is ready. `stdout`
/// takes its JSON log lines.
pub async fn spawn_binary(auth: &Fixture, env: &[(&str, &str)], stdout: std::process::Stdio) -> GreeterProcess {
    spawn_binary_on(auth, &testkit::database().await, env, stdout).await
}

/// [`spawn_binary`] on a given database (a restart keeps its data).
pub async fn spawn_binary_on(
    auth: &Fixture,
    db: &platform::db::DbConfig,
    env: &[(&str, &str)],
    stdout: std::process::Stdio,
) -> GreeterProcess {
    let port = dead_port().port();
    let identity = auth.client("greeter");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_greeter"))
        .env("PORT", port.to_string())
        // The harness's role has no password, so the redacted form is the URL.
        .env("DATABASE_URL", db.url.redacted())
        .env("LOG_FORMAT", "json")
        .env("AUTH_JWKS_URL", auth.authn().jwks_url.as_str())
        .env("AUTH_TOKEN_URL", identity.token_url.as_str())
        .env("SERVICE_CLIENT_SECRET", identity.secret.expose())
        .envs(env.iter().copied())
        .stdout(stdout)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let process = GreeterProcess { child: Some(child), base: format!("http://127.0.0.1:{port}"), token: String::new() };
    let http = reqwest::Client::new();
    for _ in 0..400 {
        if http.get(format!("{}/readyz", process.base)).send().await.is_ok_and(|r| r.status() == 200) {
            return process;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("greeter binary did not become ready");
}

/// The value of the Prometheus sample `series` (name and labels, exactly as
/// rendered), if present.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

pub mod fake_caller;

/// The names of the stored greetings once the retention task has run (it
/// runs at start); polled for at most 30 s, a bound against hanging only.
pub async fn eventually_names(conn: &mut sqlx::PgConnection) -> Vec<String> {
    for _ in 0..300 {
        let names: Vec<String> =
            sqlx::query_scalar("SELECT name FROM greetings ORDER BY id").fetch_all(&mut *conn).await.unwrap();
        if names.len() < 2 {
            return names;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the old greeting was never deleted");
}

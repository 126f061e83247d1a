//! Connect JSON against native gRPC on the same methods, the same server
//! and the same machine, in one run: requests per second and latency
//! percentiles, and their ratios to gRPC. It prints figures; nothing here
//! passes or fails on a number.
//!
//!   cargo bench -p greeter --bench protocols
//!   BENCH_SECS=10 BENCH_CONCURRENCY=64 cargo bench -p greeter --bench protocols
//!
//! greeter runs in this process on its own runtime (a real PostgreSQL from
//! testkit, a real auth for the token), with request logs off. Each row
//! drives one method for BENCH_SECS (default 5) from BENCH_CONCURRENCY
//! (default 32) concurrent callers after a one-second warm-up:
//!
//! - gRPC: tonic's generated client; over HTTP/2 the callers share
//!   BENCH_CONNECTIONS (default 8) connections, round robin;
//! - Connect JSON and binary over h2c on as many connections: the same
//!   transport as gRPC, so the difference is the protocol's (and what
//!   Traefik forwards);
//! - Connect JSON over HTTP/1.1, one connection per caller, as curl and
//!   browsers send it.
//!
//! Connect's request body is encoded once and its answer only read, so the
//! client adds as little as it can.
//!
//! Methods: `grpc.health.v1.Health/Check` (no work in the handler: the
//! protocol stack alone) and `ListGreetings` returning 20 greetings (a page
//! read from PostgreSQL, about 2 KiB of JSON).

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client as HttpClient, rt::TokioExecutor};
use platform_proto::greeter::v1::{GreetRequest, ListGreetingsRequest, greeter_service_client::GreeterServiceClient};
use prost::Message;
use tonic::transport::Channel;
use tonic_health::pb::health_client::HealthClient;

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    // Errors only: a log line per request would measure the terminal.
    // (Installed first, so the test fixtures' own logger stays out.)
    tracing_subscriber::fmt().with_env_filter(tracing_subscriber::EnvFilter::new("error")).init();
    let secs = env("BENCH_SECS", 5);
    let concurrency = env("BENCH_CONCURRENCY", 32) as usize;
    let connections = env("BENCH_CONNECTIONS", 8).max(1) as usize;
    // The server on a runtime of its own, the load on another.
    let server = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (addr, token) = server.block_on(start());
    let load = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    load.block_on(run(addr, &token, Duration::from_secs(secs), concurrency, connections));
    drop(server);
}

/// auth and greeter (its caller unreachable: only reads are measured), 20 greetings.
async fn start() -> (SocketAddr, String) {
    let auth = Box::leak(Box::new(auth::testing::Fixture::start().await));
    let (_, token) = auth.user("bench@example.com").await;
    let mut common = platform::CommonConfig::from_env(&platform::Env::default(), "greeter", 0).unwrap();
    common.port = 0;
    common.database = testkit::database().await;
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let config = greeter::Config {
        common,
        caller_url: format!("http://{dead}").parse().unwrap(),
        caller: resilience::Policy { attempt_timeout: Duration::from_millis(100), ..Default::default() },
        default_url: "http://127.0.0.1:9/".parse().unwrap(),
        authn: auth.authn(),
        retention: Duration::from_secs(86_400),
        identity: None,
        watch: Default::default(),
        idempotency: Default::default(),
        events: events::relay::Config::from_env(&platform::Env::default(), "greeter").unwrap(),
    };
    let server = greeter::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    let mut client = grpc_client(addr, &token).await;
    for i in 0..20 {
        client.greet(GreetRequest { name: format!("Guest number {i}"), url: String::new() }).await.unwrap();
    }
    (addr, token)
}

/// Adds the user's token to every call.
#[derive(Clone)]
struct Bearer(tonic::metadata::MetadataValue<tonic::metadata::Ascii>);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

type Grpc = GreeterServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

async fn grpc_client(addr: SocketAddr, token: &str) -> Grpc {
    let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
    with_token(channel, token)
}

fn with_token(channel: Channel, token: &str) -> Grpc {
    GreeterServiceClient::with_interceptor(channel, Bearer(format!("Bearer {token}").parse().unwrap()))
}

#[derive(Clone, Copy, PartialEq)]
enum Method {
    Health,
    List,
}

#[derive(Clone, Copy, PartialEq)]
enum Wire {
    Grpc,
    ConnectJsonH2,
    ConnectProtoH2,
    ConnectJsonH1,
}

impl Wire {
    fn label(self) -> &'static str {
        match self {
            Self::Grpc => "gRPC (h2, tonic client)",
            Self::ConnectJsonH2 => "Connect JSON (h2c)",
            Self::ConnectProtoH2 => "Connect binary (h2c)",
            Self::ConnectJsonH1 => "Connect JSON (HTTP/1.1, a connection per caller)",
        }
    }

    fn h2(self) -> bool {
        self != Self::ConnectJsonH1
    }
}

struct Row {
    rps: f64,
    p50: Duration,
    p99: Duration,
}

async fn run(addr: SocketAddr, token: &str, duration: Duration, concurrency: usize, connections: usize) {
    println!(
        "greeter on {addr}; {concurrency} concurrent callers ({connections} HTTP/2 connections), {} s a row after 1 s of warm-up",
        duration.as_secs()
    );
    for method in [Method::Health, Method::List] {
        let name = match method {
            Method::Health => "grpc.health.v1.Health/Check",
            Method::List => "greeter.v1.GreeterService/ListGreetings (20 greetings)",
        };
        println!("\n{name}");
        println!("| protocol | requests/s | p50 | p99 | req/s vs gRPC | p99 vs gRPC |");
        println!("|---|---|---|---|---|---|");
        let mut baseline: Option<Row> = None;
        for wire in [Wire::Grpc, Wire::ConnectJsonH2, Wire::ConnectProtoH2, Wire::ConnectJsonH1] {
            let load = Load { addr, method, wire, concurrency, connections };
            drive(&load, token, Duration::from_secs(1)).await;
            let row = drive(&load, token, duration).await;
            let (rate, tail) = match &baseline {
                Some(b) => (format!("{:.2}", row.rps / b.rps), format!("{:.2}", ms(row.p99) / ms(b.p99))),
                None => ("1.00".into(), "1.00".into()),
            };
            println!(
                "| {} | {:.0} | {:.2} ms | {:.2} ms | {rate} | {tail} |",
                wire.label(),
                row.rps,
                ms(row.p50),
                ms(row.p99)
            );
            if wire == Wire::Grpc {
                baseline = Some(row);
            }
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One row's load.
struct Load {
    addr: SocketAddr,
    method: Method,
    wire: Wire,
    concurrency: usize,
    connections: usize,
}

/// The load's callers calling back to back for `duration`.
async fn drive(load: &Load, token: &str, duration: Duration) -> Row {
    let Load { addr, method, wire, concurrency, connections } = *load;
    let until = Instant::now() + duration;
    // HTTP/2 clients: one connection each, shared round robin by the callers.
    let mut grpc = Vec::new();
    let mut http = Vec::new();
    for _ in 0..if wire.h2() { connections } else { 1 } {
        if wire == Wire::Grpc {
            let channel = Channel::from_shared(format!("http://{addr}")).unwrap().connect().await.unwrap();
            grpc.push((with_token(channel.clone(), token), HealthClient::new(channel)));
        } else {
            // TCP_NODELAY, as tonic's channels and Traefik set it.
            let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
            connector.set_nodelay(true);
            http.push(Arc::new(HttpClient::builder(TokioExecutor::new()).http2_only(wire.h2()).build(connector)));
        }
    }
    let mut callers = tokio::task::JoinSet::new();
    for i in 0..concurrency {
        let mut grpc = (!grpc.is_empty()).then(|| grpc[i % grpc.len()].clone());
        let http = (!http.is_empty()).then(|| http[i % http.len()].clone());
        let token = token.to_owned();
        callers.spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                match (&mut grpc, &http) {
                    (Some(client), _) => grpc_call(client, method).await,
                    (None, Some(http)) => connect_call(http, addr, &token, method, wire).await,
                    (None, None) => unreachable!("a client for every wire"),
                }
                latencies.push(started.elapsed());
            }
            latencies
        });
    }
    let mut all = Vec::new();
    while let Some(latencies) = callers.join_next().await {
        all.extend(latencies.unwrap());
    }
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Row { rps: all.len() as f64 / duration.as_secs_f64(), p50: at(0.50), p99: at(0.99) }
}

async fn grpc_call((client, health): &mut (Grpc, HealthClient<Channel>), method: Method) {
    match method {
        Method::Health => {
            let request = tonic_health::pb::HealthCheckRequest { service: String::new() };
            health.check(request).await.expect("health answers");
        }
        Method::List => {
            let request = ListGreetingsRequest { page_size: 20, page_token: String::new() };
            let list = client.list_greetings(request).await.expect("the list answers").into_inner();
            assert_eq!(list.greetings.len(), 20);
        }
    }
}

async fn connect_call(
    http: &HttpClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
    token: &str,
    method: Method,
    wire: Wire,
) {
    let path = match method {
        Method::Health => "/grpc.health.v1.Health/Check",
        Method::List => "/greeter.v1.GreeterService/ListGreetings",
    };
    let (content_type, body) = match (wire, method) {
        (Wire::ConnectProtoH2, Method::Health) => ("application/proto", Bytes::new()),
        (Wire::ConnectProtoH2, Method::List) => (
            "application/proto",
            Bytes::from(ListGreetingsRequest { page_size: 20, ..Default::default() }.encode_to_vec()),
        ),
        (_, Method::Health) => ("application/json", Bytes::from_static(b"{}")),
        (_, Method::List) => ("application/json", Bytes::from_static(br#"{"pageSize":20}"#)),
    };
    let req = http::Request::post(format!("http://{addr}{path}"))
        .version(if wire.h2() { http::Version::HTTP_2 } else { http::Version::HTTP_11 })
        .header("content-type", content_type)
        .header("connect-protocol-version", "1")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(body))
        .unwrap();
    let res = http.request(req).await.expect("the server answers");
    assert_eq!(res.status(), 200);
    res.into_body().collect().await.expect("the body is read");
}

//! Spawning greeter (and a real caller behind it) on random ports.

#![allow(dead_code)]

use std::{net::SocketAddr, time::Duration};

use axum::{Router, routing::get};
use platform::{CommonConfig, Env};

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

/// A real caller service allowed to reach loopback targets.
pub async fn caller() -> SocketAddr {
    let config = caller::Config {
        common: common("caller").await,
        fetch: caller::config::FetchConfig {
            allowed_networks: vec!["127.0.0.0/8".parse().unwrap()],
            ..Default::default()
        },
    };
    let server = caller::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

pub async fn greeter_config(caller: SocketAddr, timeout: Duration) -> greeter::Config {
    greeter::Config {
        common: common("greeter").await,
        caller_url: format!("http://{caller}").parse().unwrap(),
        caller_timeout: timeout,
        default_url: "http://127.0.0.1:9/".parse().unwrap(),
    }
}

/// greeter backed by `caller`, with the given deadline for caller calls.
pub async fn greeter(caller: SocketAddr, timeout: Duration) -> SocketAddr {
    let server = greeter::build(greeter_config(caller, timeout).await).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    addr
}

/// A loopback port with nothing listening.
pub fn dead_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

//! The whole platform in-process for tests that need every service: auth,
//! greeter, lang and gateway on their own databases, one nats-server
//! between them.

use std::{net::SocketAddr, time::Duration};

use auth::testing::Fixture;
use platform::{Env, db::DbConfig};
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use testkit::nats::Nats;
use tokio::sync::oneshot;

use super::{Gateway, Neighbours};

/// How often auth asks silent participants again, here.
pub const RETRY: Duration = Duration::from_millis(500);

pub async fn auth(nats: &Nats) -> Fixture {
    auth_giving_up_after(nats, 1000).await
}

/// auth whose deletions count a participant failed after `max_attempts` silent requests.
pub async fn auth_giving_up_after(nats: &Nats, max_attempts: i32) -> Fixture {
    let url = nats.url();
    Fixture::start_with(|c| {
        c.events.nats_url = url;
        c.deletion.retry = RETRY;
        c.deletion.max_attempts = max_attempts;
    })
    .await
}

/// A service running until [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub db: DbConfig,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub fn spawn(server: platform::Server, db: DbConfig) -> Running {
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let done = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        Running { addr, db, stop: Some(stop), done }
    }

    /// Stops it as SIGTERM would (its consumers and relay with it).
    pub async fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
        self.done.await.unwrap().unwrap();
    }

    pub async fn db(&self) -> PgConnection {
        PgConnection::connect_with(&self.db.url.options).await.unwrap()
    }
}

pub async fn greeter(auth: &Fixture, nats: &Nats) -> Running {
    let mut config = greeter::Config {
        common: super::common("greeter").await,
        ..greeter::Config::from_env(&Env::default()).unwrap()
    };
    config.authn = auth.authn();
    config.events.nats_url = nats.url();
    let db = config.common.database.clone();
    Running::spawn(greeter::build(config).await.unwrap(), db)
}

/// lang on `db` (a fresh database when `None`).
pub async fn lang(auth: &Fixture, nats: &Nats, db: Option<DbConfig>) -> Running {
    let mut config =
        lang::Config { common: super::common("lang").await, ..lang::Config::from_env(&Env::default()).unwrap() };
    if let Some(db) = db {
        config.common.database = db;
    }
    config.authn = auth.authn();
    config.events.nats_url = nats.url();
    let db = config.common.database.clone();
    Running::spawn(lang::build(config).await.unwrap(), db)
}

pub async fn gateway(auth: &Fixture, lang: SocketAddr, nats: &Nats) -> Gateway {
    let jwks = Some(auth.authn().jwks_url.clone());
    let n = Neighbours { lang, auth: super::dead_port(), jwks };
    super::with_events(&n, &nats.url(), &[]).await
}

/// A Connect JSON call to greeter; the status and body.
pub async fn greeter_call(greeter: &Running, method: &str, token: &str, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://{}/greeter.v1.GreeterService/{method}", greeter.addr))
        .header("content-type", "application/json")
        .bearer_auth(token)
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// Whether each service still admits `token` (a user route at each): auth,
/// lang, greeter, gateway, in that order.
pub async fn admitted(auth: &Fixture, lang: &Running, greeter: &Running, gateway: &Gateway, token: &str) -> [bool; 4] {
    let http = reqwest::Client::new();
    let auth_ok = http.get(auth.url("/auth/verify")).bearer_auth(token).send().await.unwrap().status() != 401;
    let lang_url = format!("http://{}/lang/v1/translations/en/greeting", lang.addr);
    let lang_ok = http.get(lang_url).bearer_auth(token).send().await.unwrap().status() != 401;
    let greeter_ok = greeter_call(greeter, "ListGreetings", token, serde_json::json!({})).await.0 != 401;
    let gateway_ok =
        gateway.connect("LocalizedGreeting", Some(token), serde_json::json!({"name": "Ada"})).await.0 != 401;
    [auth_ok, lang_ok, greeter_ok, gateway_ok]
}

/// Waits (30 s at most, generously) until no service admits `token`; how long it took.
pub async fn refused_everywhere(
    auth: &Fixture,
    lang: &Running,
    greeter: &Running,
    gateway: &Gateway,
    token: &str,
) -> Duration {
    let started = std::time::Instant::now();
    loop {
        let admitted = admitted(auth, lang, greeter, gateway, token).await;
        if admitted == [false; 4] {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "still admitted after 30 s (auth, lang, greeter, gateway): {admitted:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

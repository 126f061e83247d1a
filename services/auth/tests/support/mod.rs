//! Spawning auth on a random port against a fresh database.

#![allow(dead_code)]

use auth::config::{Config, KeySource};
use platform::{Env, db::DbConfig};
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery staple";
pub const GATEWAY_SECRET: &str = "gateway-secret";

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

pub struct Auth {
    pub base: String,
    pub http: reqwest::Client,
    /// The signing key's PEM, so tests can mint tokens the server would.
    pub pem: String,
    pub db: DbConfig,
}

/// Config for tests: bcrypt cost 4 for speed, a known signing key.
pub async fn config() -> (Config, String) {
    let mut config = Config::from_env(&Env::from_pairs([("AUTH_BCRYPT_COST", "4")])).unwrap();
    config.common.port = 0;
    config.common.database = testkit::database().await;
    let pem = auth::keys::generate_pem().unwrap();
    config.tokens.key = KeySource::Pem(pem.clone());
    // gateway, with the secret `gateway-secret`, may read /auth/stats.
    config.clients = auth::config::Clients::parse(&format!("gateway:{}", sha256_hex(GATEWAY_SECRET))).unwrap();
    (config, pem)
}

pub async fn spawn() -> Auth {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(configure: impl FnOnce(&mut Config)) -> Auth {
    let (mut config, pem) = config().await;
    configure(&mut config);
    start(config, pem).await
}

pub async fn start(config: Config, pem: String) -> Auth {
    let db = config.common.database.clone();
    let server = auth::build(config).await.unwrap();
    let addr = server.local_addr();
    tokio::spawn(server.run_until(std::future::pending()));
    Auth { base: format!("http://{addr}"), http: reqwest::Client::builder().no_proxy().build().unwrap(), pem, db }
}

impl Auth {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> Response {
        self.http.post(self.url(path)).json(&body).send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    /// Signs up and returns the response body.
    pub async fn signup(&self, email: &str, password: &str) -> Value {
        let res = self.post("/auth/signup", json!({"email": email, "password": password})).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{:?}", res.text().await);
        res.json().await.unwrap()
    }

    /// `/auth/stats` as gateway reads it, with its service token.
    pub async fn stats(&self) -> Value {
        let res = self
            .http
            .post(self.url("/auth/token"))
            .basic_auth("gateway", Some(GATEWAY_SECRET))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let token = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
        let res = self.get("/auth/stats", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::OK);
        res.json().await.unwrap()
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.post("/auth/login", json!({"email": email, "password": password})).await
    }
}

/// Asserts the error shape and returns the code.
pub async fn error(res: Response, status: StatusCode) -> (String, String) {
    assert_eq!(res.status(), status);
    assert_eq!(res.headers()["content-type"], "application/json");
    let body: Value = res.json().await.unwrap();
    let (code, message) = (body["error"]["code"].as_str(), body["error"]["message"].as_str());
    assert!(code.is_some() && message.is_some(), "not the error shape: {body}");
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    (code.unwrap().to_owned(), message.unwrap().to_owned())
}

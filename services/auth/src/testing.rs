//! A real auth server in-process, for other services' tests: accounts,
//! admins and service clients, on a random port and its own database.
//! Enabled by the `testing` feature; never part of a service binary.

use std::{collections::BTreeMap, net::SocketAddr};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::{
    Config,
    config::{Clients, KeySource},
};

/// The password of every account the fixture makes.
pub const PASSWORD: &str = "correct horse battery staple";

/// The service clients the fixture knows, each with the secret `<name>-secret-…`.
pub const CLIENTS: &[&str] = &["greeter", "gateway", "caller", "lang", "intruder"];

/// Whether `path` names an RPC (`/<package>.<Service>/<Method>`) rather than a REST route.
fn is_rpc(path: &str) -> bool {
    path.strip_prefix('/')
        .and_then(|p| p.split_once('/'))
        .is_some_and(|(service, method)| service.contains('.') && !method.is_empty() && !method.contains('/'))
}

pub struct Fixture {
    pub addr: SocketAddr,
    pub config: Config,
    http: reqwest::Client,
}

fn secret(client: &str) -> String {
    format!("{client}-secret-0123456789abcdef0123456789abcdef")
}

/// The identity of service `client` at the fixture whose token endpoint is
/// `token_url` (which may be down, for tests of that).
pub fn client_config(token_url: &str, client: &str) -> authn::config::ClientConfig {
    authn::config::ClientConfig {
        token_url: token_url.parse().unwrap(),
        client_id: client.to_owned(),
        secret: authn::config::Secret::new(secret(client)),
        timeout: std::time::Duration::from_secs(5),
    }
}

impl Fixture {
    /// auth with cheap bcrypt, every client of [`CLIENTS`], and gateway
    /// allowed to read `/auth/stats`.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> Self {
        testkit::init_telemetry();
        let mut config = Config::from_env(&platform::Env::from_pairs([("AUTH_BCRYPT_COST", "4")])).unwrap();
        config.common.port = 0;
        config.common.database = testkit::database().await;
        config.tokens.key = KeySource::Pem(crate::keys::generate_pem().unwrap());
        let clients: BTreeMap<String, [u8; 32]> =
            CLIENTS.iter().map(|c| (c.to_string(), Sha256::digest(secret(c).as_bytes()).into())).collect();
        config.clients = Clients(clients);
        configure(&mut config);
        let server = crate::build(config.clone()).await.unwrap();
        let addr = server.local_addr();
        tokio::spawn(server.run_until(std::future::pending()));
        Self { addr, config, http: reqwest::Client::builder().no_proxy().build().unwrap() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// What a verifying service is configured with to trust this auth.
    pub fn authn(&self) -> authn::Config {
        authn::Config::new(self.url("/auth/.well-known/jwks.json").parse().unwrap())
    }

    /// The identity of service `client` at this auth.
    pub fn client(&self, client: &str) -> authn::config::ClientConfig {
        client_config(&self.url("/auth/token"), client)
    }

    /// A service token for `client`.
    pub async fn service_token(&self, client: &str) -> String {
        let res = self
            .http
            .post(self.url("/auth/token"))
            .basic_auth(client, Some(secret(client)))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "service token for {client}");
        res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned()
    }

    /// Signs up `email`; its user id and access token.
    pub async fn user(&self, email: &str) -> (String, String) {
        let res = self
            .http
            .post(self.url("/auth/signup"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "signup {email}");
        let body: Value = res.json().await.unwrap();
        (body["user"]["id"].as_str().unwrap().to_owned(), body["tokens"]["access_token"].as_str().unwrap().to_owned())
    }

    /// An admin (made with the operator command); its user id and an
    /// access token carrying the role.
    pub async fn admin(&self, email: &str) -> (String, String) {
        crate::ops::create_admin(&self.config, email, Some(PASSWORD)).await.unwrap();
        let res = self
            .http
            .post(self.url("/auth/login"))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "login {email}");
        let token = res.json::<Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
        let me: Value =
            self.http.get(self.url("/auth/me")).bearer_auth(&token).send().await.unwrap().json().await.unwrap();
        (me["id"].as_str().unwrap().to_owned(), token)
    }
}

/// Who calls, in [`Fixture::walk`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caller {
    Anonymous,
    User,
    Admin,
    /// A service the route's owner allows.
    Allowed,
    /// A service it does not.
    Intruder,
}

impl Fixture {
    /// Sends every route of `routes` to the service at `base` as an
    /// anonymous caller, a user, an admin, the allowed service `allowed` and
    /// another service, and checks each answer against the route's declared
    /// level: refused with 401 (no token) or 403 (a token that does not
    /// grant it), or let past the gate (any other status). RPCs are walked
    /// over gRPC-Web, which carries every kind of RPC over HTTP/1.1 (a
    /// streaming one that is let past is left at its first headers); its
    /// refusals, `UNAUTHENTICATED` and `PERMISSION_DENIED`, count as 401
    /// and 403.
    /// Returns how many requests were checked.
    pub async fn walk(&self, base: &str, routes: &[authn::Route], allowed: &str) -> usize {
        use authn::Access;
        let (user_id, user) = self.user(&format!("walker-{}@example.com", routes.len())).await;
        let (_, admin) = self.admin(&format!("walker-admin-{}@example.com", routes.len())).await;
        let service = self.service_token(allowed).await;
        let intruder = self.service_token("intruder").await;
        let mut checked = 0;
        for route in routes {
            let path = route
                .path
                .replace("{language}", "fr")
                .replace("{key}", "greeting")
                .replace("{user_id}", &user_id)
                .replace("{role}", "admin");
            for caller in [Caller::Anonymous, Caller::User, Caller::Admin, Caller::Allowed, Caller::Intruder] {
                let token = match caller {
                    Caller::Anonymous => None,
                    Caller::User => Some(&user),
                    Caller::Admin => Some(&admin),
                    Caller::Allowed => Some(&service),
                    Caller::Intruder => Some(&intruder),
                };
                let method = reqwest::Method::from_bytes(route.method.as_bytes()).unwrap();
                let rpc = is_rpc(&path);
                let mut req = self.http.request(method.clone(), format!("{base}{path}"));
                if rpc {
                    // One empty message, framed.
                    req = req
                        .header("content-type", "application/grpc-web+proto")
                        .header("x-grpc-web", "1")
                        .body(vec![0u8, 0, 0, 0, 0]);
                } else if method != reqwest::Method::GET && method != reqwest::Method::DELETE {
                    req = req.header("content-type", "application/json").body("{}");
                }
                if let Some(token) = token {
                    req = req.bearer_auth(token);
                }
                let res = req.send().await.unwrap();
                let status = match res.headers().get("grpc-status").and_then(|v| v.to_str().ok()) {
                    Some("16") if rpc => 401,
                    Some("7") if rpc => 403,
                    _ => res.status().as_u16(),
                };
                let expected: Option<u16> = match (route.access, caller) {
                    (Access::Public | Access::Client, _) => None,
                    (_, Caller::Anonymous) => Some(401),
                    (Access::User, Caller::User | Caller::Admin) => None,
                    (Access::Admin, Caller::Admin) => None,
                    (Access::Service, Caller::Allowed) => None,
                    _ => Some(403),
                };
                match expected {
                    Some(refusal) => assert_eq!(
                        status, refusal,
                        "{} {path} ({}) as {caller:?}: expected {refusal}, got {status}",
                        route.method, route.access
                    ),
                    None => assert!(
                        status != 401 && status != 403,
                        "{} {path} ({}) as {caller:?} was refused with {status}",
                        route.method,
                        route.access
                    ),
                }
                checked += 1;
            }
        }
        checked
    }
}

//! The real thing: `devstack up` with a temporary data directory and free
//! ports, starting the service binaries cargo built next to it, then driven
//! over HTTP, SQL, signals and psql.
//!
//! The service binaries are the workspace's own: `cargo test --workspace`
//! builds every package's binaries into the same `target/<profile>/`
//! before any test runs (a package with integration tests gets its binaries
//! built). `cargo test -p devstack` alone does not build them; then these
//! tests fail and say which `cargo build` to run.

use std::{
    io::{BufRead, BufReader},
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use nix::{sys::signal::Signal, unistd::Pid};
use serde_json::{Value, json};
use sqlx::Connection;

const DEVSTACK: &str = env!("CARGO_BIN_EXE_devstack");
/// Generous: debug binaries on a loaded 2-core machine. Only a guard against hanging forever.
const READY_LIMIT: Duration = Duration::from_secs(180);

/// The services this workspace has (gateway lands in its own change).
fn services() -> Vec<&'static str> {
    catalog::catalog().services().map(|s| s.name.as_str()).collect()
}

fn require_binaries() {
    let dir = Path::new(DEVSTACK).parent().unwrap();
    let missing: Vec<&str> = services().into_iter().filter(|s| !dir.join(s).is_file()).collect();
    assert!(
        missing.is_empty(),
        "service binaries missing from {}: {missing:?}. `cargo test --workspace` builds them; with \
         `cargo test -p devstack` alone, run `cargo build {}` first.",
        dir.display(),
        missing.iter().map(|m| format!("-p {m}")).collect::<Vec<_>>().join(" ")
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn port_is_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// Ports for one stack, all different from the defaults so tests never meet a real devstack.
#[derive(Debug, Clone)]
struct Ports {
    postgres: u16,
    services: Vec<(&'static str, u16)>,
    edge: u16,
    edge_metrics: u16,
    broker: u16,
}

impl Ports {
    fn free() -> Self {
        Self {
            postgres: free_port(),
            services: services().into_iter().map(|s| (s, free_port())).collect(),
            edge: free_port(),
            edge_metrics: free_port(),
            broker: free_port(),
        }
    }

    fn of(&self, service: &str) -> u16 {
        self.services.iter().find(|(s, _)| *s == service).unwrap().1
    }

    fn url(&self, service: &str) -> String {
        format!("http://127.0.0.1:{}", self.of(service))
    }

    fn args(&self) -> Vec<String> {
        let mut args = vec!["--pg-port".to_owned(), self.postgres.to_string()];
        for (s, p) in &self.services {
            args.extend(["--port".to_owned(), format!("{s}={p}")]);
        }
        if !services().contains(&"gateway") {
            args.extend(["--without".to_owned(), "gateway".to_owned()]);
        }
        args.extend(["--edge-port".to_owned(), self.edge.to_string()]);
        args.extend(["--edge-metrics-port".to_owned(), self.edge_metrics.to_string()]);
        args.extend(["--broker-port".to_owned(), self.broker.to_string()]);
        args
    }

    fn all(&self) -> Vec<u16> {
        let mut all = vec![self.postgres, self.edge, self.edge_metrics, self.broker];
        all.extend(self.services.iter().map(|(_, p)| *p));
        all
    }
}

/// A running `devstack up` and everything it printed.
struct Up {
    child: Child,
    output: Arc<Mutex<Vec<String>>>,
}

impl Up {
    fn start(data_dir: &Path, ports: &Ports, extra: &[&str], env: &[(&str, &str)]) -> Self {
        require_binaries();
        let mut child = Command::new(DEVSTACK)
            .arg("--data-dir")
            .arg(data_dir)
            .arg("up")
            .args(ports.args())
            .args(extra)
            .envs(env.iter().copied())
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("devstack starts");
        let output = Arc::new(Mutex::new(Vec::new()));
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let output = output.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    output.lock().unwrap().push(line);
                }
            });
        }
        Self { child, output }
    }

    fn text(&self) -> String {
        self.output.lock().unwrap().join("\n")
    }

    /// Waits for `platform ready`; panics with the output if devstack exits first.
    fn ready(&mut self) -> &mut Self {
        let started = Instant::now();
        while !self.text().contains("platform ready in ") {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("devstack exited ({status}) before it was ready:\n{}", self.text());
            }
            assert!(started.elapsed() < READY_LIMIT, "not ready after {READY_LIMIT:?}:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
        self
    }

    /// Waits for devstack to exit by itself.
    fn exit(&mut self) -> ExitStatus {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Let the reader threads catch the last lines.
                std::thread::sleep(Duration::from_millis(200));
                return status;
            }
            assert!(started.elapsed() < READY_LIMIT, "devstack did not exit:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn terminate(&mut self) -> ExitStatus {
        nix::sys::signal::kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        self.exit()
    }
}

impl Drop for Up {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = nix::sys::signal::kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
            let _ = self.child.wait();
        }
    }
}

fn devstack(data_dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(DEVSTACK).arg("--data-dir").arg(data_dir).args(args).env("NO_COLOR", "1").output().unwrap()
}

async fn post(url: &str, body: Value) -> (u16, Value) {
    post_as(url, None, body).await
}

async fn post_as(url: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = reqwest::Client::new().post(url).json(&body);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn get(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Logs in (or, the first time, signs up) `email`; its access token.
async fn token(ports: &Ports, email: &str, password: &str) -> String {
    let credentials = json!({"email": email, "password": password});
    let (status, body) = post(&format!("{}/auth/login", ports.url("auth")), credentials.clone()).await;
    if status == 200 {
        return body["access_token"].as_str().unwrap().to_owned();
    }
    let (status, body) = post(&format!("{}/auth/signup", ports.url("auth")), credentials).await;
    assert_eq!(status, 201, "{body}");
    body["tokens"]["access_token"].as_str().unwrap().to_owned()
}

async fn greet(ports: &Ports, token: &str, name: &str) -> Value {
    let url = format!("{}/greeter.v1.GreeterService/Greet", ports.url("greeter"));
    let target = format!("{}/healthz", ports.url("caller"));
    let (status, body) = post_as(&url, Some(token), json!({ "name": name, "url": target })).await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn greetings(ports: &Ports, token: &str) -> Vec<String> {
    let url = format!("{}/greeter.v1.GreeterService/ListGreetings", ports.url("greeter"));
    let (status, body) = post_as(&url, Some(token), json!({ "pageSize": 50 })).await;
    assert_eq!(status, 200, "{body}");
    body["greetings"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|g| g["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn signing_kid(ports: &Ports) -> String {
    let (status, jwks) = get(&format!("{}/auth/.well-known/jwks.json", ports.url("auth"))).await;
    assert_eq!(status, 200);
    jwks["keys"][0]["kid"].as_str().unwrap().to_owned()
}

fn all_stopped(ports: &Ports, data_dir: &Path) {
    for port in ports.all() {
        assert!(port_is_free(port), "port {port} still in use after devstack stopped");
    }
    assert!(!data_dir.join("pg/postmaster.pid").exists(), "PostgreSQL did not shut down cleanly");
}

#[tokio::test]
async fn up_runs_the_platform_keeps_its_data_and_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("stack");
    let ports = Ports::free();

    // From nothing.
    let mut up = Up::start(&data, &ports, &[], &[]);
    up.ready();
    let out = up.text();
    assert!(out.contains("creating the PostgreSQL cluster"), "{out}");
    for (service, port) in &ports.services {
        assert!(
            out.lines().any(|l| l.starts_with(service) && l.contains(&format!("http://127.0.0.1:{port}"))),
            "{service} in the table:\n{out}"
        );
    }
    let edge = which_traefik().is_some();
    if edge {
        let (status, _) = get(&format!("http://127.0.0.1:{}/lang/v1/languages", ports.edge)).await;
        assert_eq!(status, 200, "lang through the edge");
        let r = reqwest::Client::new()
            .post(format!("http://127.0.0.1:{}/greeter.v1.GreeterService/Greet", ports.edge))
            .json(&json!({ "name": "Ada" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 401, "the edge asks for a token on greeter");
    } else {
        assert!(out.contains("running WITHOUT the edge (Traefik): no `traefik` on PATH"), "{out}");
    }

    // greeter → caller → a loopback URL: the peer address, greeter's service
    // identity at caller and caller's loopback opening work.
    let ada = token(&ports, "ada@example.com", "correct horse battery").await;
    let greeting = greet(&ports, &ada, "Ada").await;
    assert_eq!(greeting["externalStatus"], 200, "{greeting}");
    // With nats-server installed the greeting's event reaches greeter's stream.
    if which("nats-server").is_some() {
        assert!(out.contains("nats ready on"), "{out}");
        let url = format!("nats://127.0.0.1:{}", ports.broker);
        let published = events::inspect::wait_for(&url, "platform-greeter", 1, Duration::from_secs(20)).await.unwrap();
        assert_eq!(published[0].subject.as_deref(), greeting["greetingId"].as_str(), "the greeting's event");
    } else {
        assert!(out.contains("running WITHOUT the event broker"), "{out}");
    }
    let kid = signing_kid(&ports).await;
    // The local admin was made, and its password kept.
    assert!(out.contains("local admin: admin@platform.localhost"), "{out}");
    let password = std::fs::read_to_string(data.join("admin-password")).unwrap();
    let admin = token(&ports, "admin@platform.localhost", password.trim()).await;
    let (status, body) =
        post_as(&format!("{}/gateway.v1.GatewayService/Metrics", ports.url("gateway")), Some(&admin), json!({})).await;
    assert_eq!(status, 200, "the admin reads Metrics: {body}");
    let (status, _) =
        post_as(&format!("{}/gateway.v1.GatewayService/Metrics", ports.url("gateway")), Some(&ada), json!({})).await;
    assert_eq!(status, 403, "a user does not");

    // Every role reaches its own database, and no other.
    let pg = ports.postgres;
    let mut own =
        sqlx::PgConnection::connect(&format!("postgres://greeter:greeter@127.0.0.1:{pg}/greeter_db")).await.unwrap();
    let (user,): (String,) = sqlx::query_as("SELECT current_user::text").fetch_one(&mut own).await.unwrap();
    assert_eq!(user, "greeter");
    for db in ["caller_db", "auth_db", "postgres", "template1"] {
        let err =
            sqlx::PgConnection::connect(&format!("postgres://greeter:greeter@127.0.0.1:{pg}/{db}")).await.unwrap_err();
        assert!(err.to_string().contains("permission denied"), "greeter into {db}: {err}");
    }
    let err =
        sqlx::PgConnection::connect(&format!("postgres://greeter:wrong@127.0.0.1:{pg}/greeter_db")).await.unwrap_err();
    assert!(err.to_string().contains("password authentication failed"), "{err}");
    let err = sqlx::PgConnection::connect(&format!("postgres://postgres@127.0.0.1:{pg}/postgres")).await.unwrap_err();
    assert!(err.to_string().contains("password"), "the superuser has no TCP access: {err}");
    drop(own);

    // status and psql find the stack through its data directory.
    let status = devstack(&data, &["status"]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(status.status.success(), "{text}");
    for (service, port) in &ports.services {
        assert!(
            text.lines().any(|l| l.starts_with(service) && l.contains(&port.to_string()) && l.ends_with(" ready")),
            "{text}"
        );
    }
    let psql = devstack(&data, &["psql", "lang", "--", "-Atc", "select current_user || ' ' || current_database()"]);
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));
    assert_eq!(String::from_utf8_lossy(&psql.stdout).trim(), "lang lang_db");

    // dump and restore: greeter's database out to a file, emptied, and back as it was.
    let file = dir.path().join("greeter.dump");
    let dump = devstack(&data, &["dump", "greeter", "--output", file.to_str().unwrap()]);
    assert!(dump.status.success(), "{}", String::from_utf8_lossy(&dump.stderr));
    let before = greetings(&ports, &ada).await;
    assert!(!before.is_empty());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "a dump is readable by its owner only");
    let emptied =
        devstack(&data, &["psql", "greeter", "--", "-Atc", "delete from greetings; create table made_later (x int)"]);
    assert!(emptied.status.success(), "{}", String::from_utf8_lossy(&emptied.stderr));
    assert!(greetings(&ports, &ada).await.is_empty());
    let restore = devstack(&data, &["restore", "greeter", file.to_str().unwrap()]);
    assert!(restore.status.success(), "{}", String::from_utf8_lossy(&restore.stderr));
    assert_eq!(greetings(&ports, &ada).await, before, "restored as dumped");
    let tables = devstack(
        &data,
        &["psql", "greeter", "--", "-Atc", "select count(*) from pg_tables where tablename = 'made_later'"],
    );
    assert_eq!(String::from_utf8_lossy(&tables.stdout).trim(), "0", "what the dump lacks is gone too");
    // A file that is no dump is refused, and changes nothing.
    let bad = dir.path().join("bad.dump");
    std::fs::write(&bad, "not a dump").unwrap();
    let refused = devstack(&data, &["restore", "greeter", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("greeter_db is unchanged"));
    assert_eq!(greetings(&ports, &ada).await, before);

    assert!(up.terminate().success(), "{}", up.text());
    assert!(up.text().contains("stopped "), "{}", up.text());
    all_stopped(&ports, &data);
    let down = devstack(&data, &["status"]);
    assert!(!down.status.success());
    assert!(String::from_utf8_lossy(&down.stdout).contains("is not running"));

    // Again, with the data directory as it was: data, accounts and the signing key survive.
    let mut up = Up::start(&data, &ports, &[], &[]);
    up.ready();
    assert!(!up.text().contains("creating the PostgreSQL cluster"), "{}", up.text());
    let ada = token(&ports, "ada@example.com", "correct horse battery").await;
    assert!(greetings(&ports, &ada).await.contains(&"Ada".to_owned()));
    assert_eq!(signing_kid(&ports).await, kid);
    let (status, body) = post(
        &format!("{}/auth/login", ports.url("auth")),
        json!({"email": "ada@example.com", "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(up.terminate().success());
    all_stopped(&ports, &data);

    // --fresh: a new cluster and a new key.
    let mut up = Up::start(&data, &ports, &["--fresh"], &[]);
    up.ready();
    let (status, _) = post(
        &format!("{}/auth/login", ports.url("auth")),
        json!({"email": "ada@example.com", "password": "correct horse battery"}),
    )
    .await;
    assert_eq!(status, 401, "the account is gone");
    let grace = token(&ports, "grace@example.com", "correct horse battery").await;
    assert!(greetings(&ports, &grace).await.is_empty());
    assert_ne!(signing_kid(&ports).await, kid);
    assert!(up.terminate().success());
    all_stopped(&ports, &data);
}

/// Spans leave every process and meet in whole traces at a real OTLP
/// receiver (`testkit::otlp`, decoding opentelemetry-proto's messages): a Greet's
/// server span in greeter, caller's server span under it; the greeting's
/// event published under the Greet (greeter's relay) and processed under
/// that publish (gateway's projection). Each span names its service and
/// carries the RPC or messaging attributes; a server failure is an error, a
/// client's mistake is not.
#[tokio::test]
async fn traces_cross_every_hop_to_a_real_otlp_receiver() {
    if which("nats-server").is_none() {
        panic!("nats-server is not on PATH: the producer → consumer trace needs it (CI installs it)");
    }
    let receiver = testkit::otlp::Receiver::start().await;
    let dir = tempfile::tempdir().unwrap();
    let ports = Ports::free();
    let endpoint = receiver.endpoint();
    let mut up = Up::start(&dir.path().join("stack"), &ports, &["--no-edge", "--otlp-endpoint", &endpoint], &[]);
    up.ready();
    let ada = token(&ports, "ada@example.com", "correct horse battery").await;
    greet(&ports, &ada, "Ada").await;
    let greet_url = format!("{}/greeter.v1.GreeterService/Greet", ports.url("greeter"));
    let (status, _) = post_as(&greet_url, Some(&ada), json!({ "name": "" })).await;
    assert_eq!(status, 400, "a client's mistake");
    let nope = format!("{}/greeter.v1.GreeterService/Nope", ports.url("greeter"));
    let (status, _) = post_as(&nope, Some(&ada), json!({})).await;
    assert_eq!(status, 404, "an RPC greeter does not have: unimplemented");

    // Spans are exported in batches (every 5 s by default): wait for the last hop.
    let wait = Duration::from_secs(60);
    let started = Instant::now();
    let process = receiver
        .wait_for(wait, |spans| {
            spans
                .iter()
                .find(|s| s.service == "gateway" && s.name == "process platform.greeter.greeting.created")
                .cloned()
        })
        .await
        .unwrap_or_else(|| panic!("no process span from gateway; received: {:#?}", receiver.spans()));
    eprintln!("the consumer's span reached the receiver {:?} after the Greet", started.elapsed());
    let spans = receiver.spans();
    let by_id = |id: &str| spans.iter().find(|s| s.span_id == id);
    let ancestors = |span: &testkit::otlp::Span| {
        let mut chain = Vec::new();
        let mut at = by_id(&span.parent_span_id);
        while let Some(parent) = at {
            chain.push(parent.clone());
            at = by_id(&parent.parent_span_id);
        }
        chain
    };
    let ok_greets: Vec<_> = spans
        .iter()
        .filter(|s| {
            s.service == "greeter" && s.name == "/greeter.v1.GreeterService/Greet" && s.attributes["status"] == "ok"
        })
        .collect();
    assert_eq!(ok_greets.len(), 1, "one successful Greet: {ok_greets:#?}");
    let greet = ok_greets[0];
    assert_eq!(greet.kind, 2, "a server span");
    assert_eq!(
        (
            greet.attributes["rpc.system"].as_str(),
            greet.attributes["rpc.service"].as_str(),
            greet.attributes["rpc.method"].as_str()
        ),
        ("connect_rpc", "greeter.v1.GreeterService", "Greet")
    );
    assert!(!greet.error);

    // greeter → caller: caller's server span under the Greet, in its trace.
    let call = spans
        .iter()
        .find(|s| s.service == "caller" && s.name == "/caller.v1.CallerService/Call")
        .unwrap_or_else(|| panic!("no caller span: {spans:#?}"));
    assert_eq!(call.trace_id, greet.trace_id, "one trace");
    assert!(ancestors(call).iter().any(|a| a.span_id == greet.span_id), "caller's span is under the Greet");
    assert_eq!(call.attributes["rpc.system"], "grpc", "greeter calls caller over gRPC");

    // producer → broker → consumer: greeter's publish span under the Greet,
    // gateway's process span under that publish.
    let publish = spans
        .iter()
        .find(|s| s.service == "greeter" && s.name == "publish platform.greeter.greeting.created")
        .unwrap_or_else(|| panic!("no publish span: {spans:#?}"));
    assert_eq!((publish.kind, process.kind), (4, 5), "producer and consumer spans");
    assert_eq!(publish.trace_id, greet.trace_id, "the event's trace is the request's");
    assert!(ancestors(publish).iter().any(|a| a.span_id == greet.span_id), "published under the Greet");
    assert_eq!(process.trace_id, greet.trace_id);
    assert_eq!(process.parent_span_id, publish.span_id, "processed under the publish");
    assert_eq!(process.attributes["messaging.system"], "nats");
    assert_eq!(process.attributes["messaging.consumer.group.name"], "gateway-activity");
    assert_eq!(process.attributes["messaging.message.id"], publish.attributes["messaging.message.id"]);

    // Error status: a server failure is one, a client's mistake is not.
    let refused = spans
        .iter()
        .find(|s| {
            s.service == "greeter"
                && s.name == "/greeter.v1.GreeterService/Greet"
                && s.attributes["status"] == "invalid_argument"
        })
        .expect("the refused Greet's span");
    assert!(!refused.error, "invalid_argument is the client's mistake");
    let unimplemented = spans
        .iter()
        .find(|s| s.service == "greeter" && s.attributes.get("status").map(String::as_str) == Some("unimplemented"))
        .unwrap_or_else(|| panic!("no unimplemented span: {spans:#?}"));
    assert!(unimplemented.error, "unimplemented is the server's failure");
    assert_eq!(unimplemented.name, "unknown", "an unserved method keeps the bounded name");
    up.terminate();
}

#[tokio::test]
async fn a_port_in_use_is_reported_by_name_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("stack");
    let ports = Ports::free();
    let _held = TcpListener::bind(("127.0.0.1", ports.of("lang"))).unwrap();
    let _held_pg = TcpListener::bind(("127.0.0.1", ports.postgres)).unwrap();
    let mut up = Up::start(&data, &ports, &[], &[]);
    assert!(!up.exit().success());
    let out = up.text();
    assert!(out.contains(&format!("{} (postgres)", ports.postgres)), "{out}");
    assert!(out.contains(&format!("{} (lang)", ports.of("lang"))), "{out}");
    assert!(out.contains("Nothing was started"), "{out}");
    assert!(!data.exists(), "nothing may be created when a port is taken");
}

#[tokio::test]
async fn a_service_that_dies_is_named_with_its_status_and_last_lines() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("stack");
    let ports = Ports::free();
    // Inherited by every service; only caller reads it, and refuses to start.
    // Without backtraces (CI may enable them) the error is within the last lines.
    let env = [("CALLER_MAX_BODY_BYTES", "lots"), ("RUST_BACKTRACE", "0"), ("RUST_LIB_BACKTRACE", "0")];
    let mut up = Up::start(&data, &ports, &["--no-edge"], &env);
    let status = up.exit();
    let out = up.text();
    assert!(!status.success(), "{out}");
    assert!(out.contains("caller exited unexpectedly (exit status: 1); stopping the rest"), "{out}");
    let tail = out.split("its last ").nth(1).expect("the last lines are shown");
    assert!(tail.contains("CALLER_MAX_BODY_BYTES"), "{out}");
    assert!(!out.contains("platform ready"), "{out}");
    all_stopped(&ports, &data);
}

#[test]
fn psql_lists_the_services_when_given_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = devstack(dir.path(), &["psql", "greter"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"greter\"") && err.contains("auth, caller, gateway, greeter, lang"), "{err}");
}

fn which_traefik() -> Option<PathBuf> {
    which("traefik")
}

/// `binary` on `PATH`, as devstack looks for it.
fn which(binary: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(binary)).find(|p| p.is_file())
}

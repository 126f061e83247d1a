//! `devstack up`: plan everything, check it can run, then PostgreSQL, the
//! databases, the edge and the services in dependency order, each waited on
//! until it answers; then run until told to stop or until something dies.

use std::{
    collections::HashSet,
    path::{Path, PathBuf},
    process::ExitCode,
    time::{Duration, Instant},
};

use anyhow::Context;
use sqlx::Connection;
use tokio::task::JoinSet;

use crate::{
    admin, broker, edge, keys,
    output::{Output, table},
    paths::BinaryFinder,
    ports, postgres, probe,
    services::{self, Ports, Service},
    stack::{POSTGRES, Stack, Stop},
    state::{self, State},
};

/// PostgreSQL's port unless told otherwise: the one the services' default `DATABASE_URL` names.
pub const DEFAULT_PG_PORT: u16 = 5432;

/// How long PostgreSQL, a service or the edge may take to become ready (a service's own
/// database wait is 30 s).
const READY_LIMIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct Options {
    pub data_dir: PathBuf,
    pub fresh: bool,
    pub pg_port: u16,
    pub ports: Vec<(String, u16)>,
    pub without: Vec<String>,
    pub no_edge: bool,
    pub edge_port: Option<u16>,
    pub edge_metrics_port: Option<u16>,
    pub no_broker: bool,
    pub broker_port: Option<u16>,
    /// Where the services send their traces; `None`: nowhere.
    pub otlp_endpoint: Option<String>,
    pub grace: Duration,
}

/// Everything found out before anything starts.
struct Plan {
    services: Vec<(&'static Service, PathBuf)>,
    /// The event broker, or why it does not run.
    broker: Result<broker::Broker, String>,
    otlp_endpoint: Option<String>,
    ports: Ports,
    pg: postgres::Binaries,
    run_as: Option<postgres::RunAs>,
}

/// The edge: running with this plan, or why not.
type EdgeOutcome = Result<edge::Plan, String>;

pub async fn run(opts: Options) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let out = Output::detect();
    let plan = plan(&opts)?;
    let edge = match opts.no_edge {
        true => Err("--no-edge given".to_owned()),
        false => edge::Candidate::find(opts.edge_port, opts.edge_metrics_port),
    };
    check_ports(&plan, edge.as_ref().ok().map(edge::Candidate::ports))?;

    if opts.fresh && opts.data_dir.exists() {
        std::fs::remove_dir_all(&opts.data_dir)
            .with_context(|| format!("--fresh: removing {}", opts.data_dir.display()))?;
        out.say(format!("--fresh: removed {}", opts.data_dir.display()));
    }
    std::fs::create_dir_all(&opts.data_dir).with_context(|| format!("creating {}", opts.data_dir.display()))?;
    // Absolute, so the paths handed to children hold whatever their working directory.
    let data_dir = opts.data_dir.canonicalize()?;
    if let Some(user) = plan.run_as {
        user.check_reachable(&data_dir)?;
    }
    let mut state = State {
        pid: std::process::id(),
        ports: plan.ports.clone(),
        services: plan.services.iter().map(|(s, _)| s.name.to_owned()).collect(),
        edge: None,
    };
    state::write(&data_dir, &state)?;
    let key = data_dir.join(services::SIGNING_KEY_FILE);
    if plan.services.iter().any(|(s, _)| s.token_issuer) && keys::ensure(&key)? {
        out.say(format!("made auth's signing key: {}", key.display()));
    }
    let clients: Vec<&str> = catalog::catalog().clients().map(|s| s.name.as_str()).collect();
    let clients = keys::ensure_clients(&data_dir, &clients)?;

    let mut stack = Stack::new(out)?;
    let outcome = match start(&mut stack, &plan, edge, &data_dir, &clients, started).await {
        Ok(edge) => {
            state.edge = edge.as_ref().ok().map(edge::Plan::ports);
            if let Err(e) = state::write(&data_dir, &state) {
                out.warn(format!("{e:#}; `devstack status` will not see the edge"));
            }
            announce(out, &plan, &edge, &data_dir, started);
            stack.during(std::future::pending::<()>()).await.expect_err("pending never completes")
        }
        Err(stop) => stop,
    };
    stack.explain(&outcome);
    stack.shutdown(opts.grace).await;
    Ok(match outcome {
        Stop::Signal(_) => ExitCode::SUCCESS,
        Stop::Died(_) | Stop::Failed(_) => ExitCode::FAILURE,
    })
}

fn plan(opts: &Options) -> anyhow::Result<Plan> {
    for name in &opts.without {
        anyhow::ensure!(
            services::by_name(name).is_some(),
            "--without {name}: no such service (services: {})",
            services::names()
        );
    }
    let finder = BinaryFinder::new();
    let wanted: Vec<&'static Service> =
        services::all().into_iter().filter(|s| !opts.without.contains(&s.name)).collect();
    let found: Vec<(&'static Service, Option<PathBuf>)> = wanted.iter().map(|s| (*s, finder.find(&s.name))).collect();
    let missing: Vec<&str> = found.iter().filter(|(_, p)| p.is_none()).map(|(s, _)| s.name.as_str()).collect();
    if !missing.is_empty() {
        anyhow::bail!(finder.missing_error(&missing));
    }
    let port = opts.broker_port.unwrap_or(broker::DEFAULT_PORT);
    Ok(Plan {
        services: found.into_iter().map(|(s, p)| (s, p.expect("checked above"))).collect(),
        broker: if opts.no_broker { Err("--no-broker given".to_owned()) } else { broker::Broker::find(port) },
        otlp_endpoint: opts.otlp_endpoint.clone(),
        ports: Ports::new(opts.pg_port, &opts.ports)?,
        pg: postgres::Binaries::find()?,
        run_as: postgres::RunAs::detect()?,
    })
}

/// Every port this run needs, by name: clashes between them, then ports something else holds.
fn check_ports(plan: &Plan, edge: Option<state::EdgePorts>) -> anyhow::Result<()> {
    let mut wanted = vec![(POSTGRES.to_owned(), plan.ports.postgres)];
    wanted.extend(plan.services.iter().map(|(s, _)| (s.name.to_owned(), plan.ports.of(&s.name))));
    if let Some(p) = edge {
        wanted.push(("edge".to_owned(), p.web));
        wanted.push(("edge metrics".to_owned(), p.metrics));
    }
    if let Ok(broker) = &plan.broker {
        wanted.push((broker::NAME.to_owned(), broker.port));
    }
    let clashes = ports::clashes(&wanted);
    anyhow::ensure!(clashes.is_empty(), "port clash: {}", clashes.join("; "));
    let taken = ports::taken(&wanted);
    if !taken.is_empty() {
        let list: Vec<String> = taken.iter().map(|(name, port)| format!("{port} ({name})")).collect();
        anyhow::bail!(
            "port{} already in use: {}. Nothing was started. Stop what holds {} (a devstack still running? \
             `devstack status`), or choose other ports (--pg-port, --port <service>=<port>, --edge-port, --broker-port).",
            if taken.len() > 1 { "s" } else { "" },
            list.join(", "),
            if taken.len() > 1 { "them" } else { "it" },
        );
    }
    Ok(())
}

async fn start(
    stack: &mut Stack,
    plan: &Plan,
    edge: Result<edge::Candidate, String>,
    data_dir: &Path,
    clients: &str,
    started: Instant,
) -> Result<EdgeOutcome, Stop> {
    let out = stack.out;
    if !postgres::initialised(data_dir) {
        out.say(format!("creating the PostgreSQL cluster in {}", postgres::cluster_dir(data_dir).display()));
        stack.during(postgres::initdb(&plan.pg, data_dir, plan.run_as)).await??;
        out.say(format!("cluster created ({:.2}s)", started.elapsed().as_secs_f64()));
    }
    stack.start(POSTGRES, postgres::server_command(&plan.pg, data_dir, plan.ports.postgres, plan.run_as))?;
    let admin = postgres::admin_options(data_dir, plan.ports.postgres);
    let mut conn = stack
        .during(tokio::time::timeout(READY_LIMIT, postgres::wait_ready(data_dir, &admin)))
        .await?
        .map_err(|_| anyhow::anyhow!("PostgreSQL did not accept connections within {}s", READY_LIMIT.as_secs()))?;
    out.say(format!("postgres accepts connections ({:.2}s)", started.elapsed().as_secs_f64()));
    let services: Vec<&Service> = plan.services.iter().map(|(s, _)| *s).collect();
    stack.during(postgres::provision(&mut conn, &services)).await??;
    let _ = conn.close().await;
    out.say(format!("postgres ready, databases provisioned ({:.2}s)", started.elapsed().as_secs_f64()));

    // The broker before the services: their relays connect at start (they
    // would retry, but the first events then wait less).
    if let Ok(broker) = &plan.broker {
        stack.start(broker::NAME, broker.command(data_dir))?;
        stack.during(broker::Broker::wait_ready(broker.port, READY_LIMIT)).await??;
        out.say(format!("nats ready on {} ({:.2}s)", broker.url(), started.elapsed().as_secs_f64()));
    }

    // The edge starts with the services: it only forwards, and its start-up overlaps theirs.
    let edge = match edge {
        Ok(candidate) => stack.during(candidate.confirm()).await?,
        Err(reason) => Err(reason),
    };
    let edge_ready = match &edge {
        Ok(edge) => {
            stack.start(edge::NAME, edge.command(data_dir, &plan.ports)?)?;
            Some(tokio::spawn(edge::Plan::wait_ready(edge.ping_url(), edge.routed_url(), READY_LIMIT)))
        }
        Err(_) => None,
    };
    start_services(stack, plan, edge.is_ok(), data_dir, clients, started).await?;
    if let Some((_, auth)) = plan.services.iter().find(|(s, _)| s.token_issuer) {
        stack.during(admin::ensure(auth, &plan.ports, data_dir, out)).await??;
    }
    if let Some(ready) = edge_ready {
        stack.during(ready).await?.context("the edge's readiness probe")?.context("the edge never became ready")?;
        out.say(format!("edge ready ({:.2}s)", started.elapsed().as_secs_f64()));
    }
    Ok(edge)
}

/// Starts each service once its peers answer, independent ones together.
async fn start_services(
    stack: &mut Stack,
    plan: &Plan,
    edge: bool,
    data_dir: &Path,
    clients: &str,
    started: Instant,
) -> Result<(), Stop> {
    let selected: HashSet<&str> = plan.services.iter().map(|(s, _)| s.name.as_str()).collect();
    let mut ready: HashSet<&str> = HashSet::new();
    let mut waiting: Vec<&(&'static Service, PathBuf)> = plan.services.iter().collect();
    let mut probes: JoinSet<anyhow::Result<&'static str>> = JoinSet::new();
    let client = probe::client();
    loop {
        let (now, later): (Vec<_>, Vec<_>) = waiting
            .into_iter()
            .partition(|(s, _)| s.peers.iter().all(|p| ready.contains(p.as_str()) || !selected.contains(p.as_str())));
        waiting = later;
        for (service, binary) in now {
            let mut cmd = tokio::process::Command::new(binary);
            cmd.envs(services::environment(service, &plan.ports, data_dir, edge, clients));
            if let Ok(broker) = &plan.broker {
                cmd.env("NATS_URL", broker.url());
            }
            if let Some(endpoint) = &plan.otlp_endpoint {
                cmd.env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint);
            }
            stack.start(&service.name, cmd)?;
            let (client, url, name) =
                (client.clone(), format!("{}/readyz", plan.ports.url(&service.name)), service.name.as_str());
            probes.spawn(async move {
                probe::wait_ready(&client, &url, READY_LIMIT)
                    .await
                    .with_context(|| format!("{name} never became ready"))?;
                Ok(name)
            });
        }
        let Some(done) = stack.during(probes.join_next()).await? else {
            return Ok(());
        };
        let name = done.context("a readiness probe panicked")??;
        ready.insert(name);
        stack.out.say(format!("{name} ready ({:.2}s)", started.elapsed().as_secs_f64()));
    }
}

/// The table of what runs where, and the ready line.
fn announce(out: Output, plan: &Plan, edge: &EdgeOutcome, data_dir: &Path, started: Instant) {
    let mut rows = vec![vec![
        POSTGRES.to_owned(),
        format!("127.0.0.1:{}", plan.ports.postgres),
        format!("data in {}; `devstack psql <service>` for a shell", postgres::cluster_dir(data_dir).display()),
    ]];
    for (service, binary) in &plan.services {
        let mut note = match &service.database {
            Some(database) => format!("database {database}"),
            None => {
                let dist = crate::paths::web_dist();
                if dist.join("index.html").is_file() {
                    format!("serves {}; open the edge's / in a browser", dist.display())
                } else {
                    format!("no site built yet: {}", crate::paths::WEB_BUILD_HINT)
                }
            }
        };
        if service.name == "caller" {
            note.push_str("; internal; may call loopback besides public addresses");
        }
        note.push_str(&format!("; {}", binary.display()));
        rows.push(vec![service.name.clone(), plan.ports.url(&service.name), note]);
    }
    match edge {
        Ok(edge) => {
            let p = edge.ports();
            rows.push(vec![
                "edge".to_owned(),
                format!("http://127.0.0.1:{}", p.web),
                format!("Traefik; metrics http://127.0.0.1:{}/metrics", p.metrics),
            ]);
        }
        Err(reason) => rows.push(vec!["edge".to_owned(), "-".to_owned(), format!("not running: {reason}")]),
    }
    match &plan.broker {
        Ok(broker) => rows.push(vec![
            broker::NAME.to_owned(),
            broker.url(),
            format!("nats-server with JetStream; store in {}", data_dir.join("nats").display()),
        ]),
        Err(reason) => rows.push(vec![broker::NAME.to_owned(), "-".to_owned(), format!("not running: {reason}")]),
    }
    out.plain("");
    out.plain(table(&["what", "where", "notes"], &rows));
    out.plain("");
    if let Err(reason) = edge {
        out.warn(format!("running WITHOUT the edge (Traefik): {reason}"));
    }
    if let Err(reason) = &plan.broker {
        out.warn(format!("running WITHOUT the event broker: {reason}; events wait in the services' outboxes"));
    }
    if plan.services.iter().any(|(s, _)| s.token_issuer) {
        out.plain(format!(
            "local admin: {} (password in {}); POST it to /auth/login",
            admin::EMAIL,
            admin::password_file(data_dir).display()
        ));
    }
    out.plain(out.bold(&format!("platform ready in {:.2}s", started.elapsed().as_secs_f64())));
    out.plain("Ctrl-C stops everything");
}

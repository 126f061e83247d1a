//! `devstack status`: what of the stack answers now.

use std::{net::SocketAddr, path::Path, process::ExitCode, time::Duration};

use crate::{
    output::{Output, table},
    probe::{self, Health},
    services::{self, Ports},
    state::{self, EdgePorts},
    up::DEFAULT_PG_PORT,
};

/// Checks PostgreSQL, each service's `/readyz` and the edge's ping, at the
/// ports the last `up` with this data directory used (the defaults when
/// there was none). Succeeds when everything that run started is up.
pub async fn run(data_dir: &Path) -> anyhow::Result<ExitCode> {
    let out = Output::detect();
    let saved = state::read(data_dir)?;
    let (ports, started, edge) = match &saved {
        Some(s) => (s.ports.clone(), s.services.clone(), s.edge),
        None => (Ports::new(DEFAULT_PG_PORT, &[])?, services::all().iter().map(|s| s.name.clone()).collect(), None),
    };
    let client = probe::client();
    let mut rows = Vec::new();
    let mut all_up = true;

    let pg = SocketAddr::from(([127, 0, 0, 1], ports.postgres));
    let pg_up =
        tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(pg)).await.is_ok_and(|r| r.is_ok());
    all_up &= pg_up;
    rows.push(vec!["postgres".into(), pg.to_string(), if pg_up { "up" } else { "down" }.into()]);

    for name in &started {
        let health = probe::check(&client, &format!("{}/readyz", ports.url(name))).await;
        all_up &= health == Health::Ready;
        rows.push(vec![name.clone(), ports.url(name), describe(&health)]);
    }
    match edge {
        Some(EdgePorts { web, metrics }) => {
            let health = probe::check(&client, &format!("http://127.0.0.1:{metrics}/ping")).await;
            all_up &= health == Health::Ready;
            rows.push(vec!["edge".into(), format!("http://127.0.0.1:{web}"), describe(&health)]);
        }
        None => rows.push(vec!["edge".into(), "-".into(), "not started".into()]),
    }

    match &saved {
        Some(s) => {
            let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(s.pid as i32), None).is_ok();
            out.plain(format!(
                "devstack (pid {}) {} with {}",
                s.pid,
                if alive { "is running" } else { "is not running" },
                data_dir.display()
            ));
        }
        None => out.plain(format!("no devstack has run with {}; checking the default ports", data_dir.display())),
    }
    out.plain(table(&["what", "where", "state"], &rows));
    Ok(if all_up { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

fn describe(health: &Health) -> String {
    match health {
        Health::Ready => "ready".into(),
        Health::NotReady(status) => format!("not ready ({status})"),
        Health::Down => "down".into(),
    }
}

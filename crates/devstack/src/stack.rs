//! The running stack: its children, and what interrupts it (a signal, a
//! child that exits, a step that fails); stopping it in order.

use std::time::Duration;

use nix::sys::signal::Signal;
use tokio::{
    signal::unix::{SignalKind, signal},
    sync::mpsc,
};

use crate::{
    children::{Child, Exit},
    output::Output,
};

/// The name PostgreSQL's process is shown under; it is stopped last.
pub const POSTGRES: &str = "postgres";

/// Why the stack stops.
#[derive(Debug)]
pub enum Stop {
    /// Asked to, by this signal.
    Signal(&'static str),
    /// A child exited on its own.
    Died(Exit),
    /// A step of start-up failed.
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for Stop {
    fn from(e: anyhow::Error) -> Self {
        Stop::Failed(e)
    }
}

struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "SIGINT",
            _ = self.term.recv() => "SIGTERM",
            _ = self.hup.recv() => "SIGHUP",
        }
    }
}

pub struct Stack {
    pub out: Output,
    children: Vec<Child>,
    exits_tx: mpsc::UnboundedSender<Exit>,
    exits: mpsc::UnboundedReceiver<Exit>,
    signals: Signals,
}

impl Stack {
    /// Installs the signal handlers: from here on, Ctrl-C stops the stack instead of devstack.
    pub fn new(out: Output) -> anyhow::Result<Self> {
        let (exits_tx, exits) = mpsc::unbounded_channel();
        let signals = Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        };
        Ok(Self { out, children: Vec::new(), exits_tx, exits, signals })
    }

    pub fn start(&mut self, name: &str, cmd: tokio::process::Command) -> anyhow::Result<()> {
        let child = Child::spawn(name, cmd, self.out, self.exits_tx.clone())?;
        self.children.push(child);
        Ok(())
    }

    pub fn child(&self, name: &str) -> Option<&Child> {
        self.children.iter().find(|c| c.name == name)
    }

    /// Runs `step` unless a signal arrives or a child exits first.
    pub async fn during<T>(&mut self, step: impl Future<Output = T>) -> Result<T, Stop> {
        tokio::select! {
            value = step => Ok(value),
            Some(exit) = self.exits.recv() => Err(Stop::Died(exit)),
            name = self.signals.recv() => Err(Stop::Signal(name)),
        }
    }

    /// Says why the stack stops; for a child that died, its status and last lines.
    pub fn explain(&self, stop: &Stop) {
        match stop {
            Stop::Signal(name) => self.out.say(format!("{name} received, stopping")),
            Stop::Failed(e) => self.out.warn(format!("{e:#}; stopping")),
            Stop::Died(exit) => {
                self.out.warn(format!("{} exited unexpectedly ({}); stopping the rest", exit.name, exit.status));
                let tail = self.child(&exit.name).map(Child::tail).unwrap_or_default();
                if tail.is_empty() {
                    self.out.warn(format!("{} printed nothing", exit.name));
                } else {
                    self.out.warn(format!("its last {} line(s):", tail.len()));
                    for line in tail {
                        self.out.warn(format!("  {line}"));
                    }
                }
            }
        }
    }

    /// Stops everything: the services and the edge at once (`SIGTERM`, then
    /// `SIGKILL` after `grace`), then PostgreSQL with a fast shutdown (`SIGINT`,
    /// what `pg_ctl stop -m fast` sends): open sessions are closed and the
    /// data is checkpointed, so the next start needs no recovery. A second
    /// Ctrl-C meanwhile kills whatever is left at once.
    pub async fn shutdown(&mut self, grace: Duration) {
        let (children, out) = (&self.children, self.out);
        tokio::select! {
            () = stop_in_order(children, out, grace) => {}
            name = self.signals.recv() => {
                out.warn(format!("{name} again: killing what is left"));
                for child in children {
                    child.signal(Signal::SIGKILL);
                }
                for child in children {
                    child.wait(Duration::from_secs(5)).await;
                }
            }
        }
        let stopped: Vec<&str> = self.children.iter().map(|c| c.name.as_str()).collect();
        if !stopped.is_empty() {
            self.out.say(format!("stopped {}", stopped.join(", ")));
        }
    }
}

async fn stop_in_order(children: &[Child], out: Output, grace: Duration) {
    let (postgres, others): (Vec<&Child>, Vec<&Child>) =
        children.iter().filter(|c| c.status().is_none()).partition(|c| c.name == POSTGRES);
    for child in &others {
        child.signal(Signal::SIGTERM);
    }
    let deadline = tokio::time::Instant::now() + grace;
    for child in &others {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !child.wait(left).await {
            out.warn(format!("{} did not stop within {}s; killing it", child.name, grace.as_secs()));
            child.stop(Signal::SIGKILL, Duration::from_secs(5)).await;
        }
    }
    for child in postgres {
        if !child.stop(Signal::SIGINT, Duration::from_secs(60)).await {
            out.warn("PostgreSQL did not shut down within 60s; killed it (the next start recovers)");
        }
    }
}

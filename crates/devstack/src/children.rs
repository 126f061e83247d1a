//! The processes devstack starts: their output, under their name, and the
//! last lines of it for when they die; their exit; signals to stop them.
//!
//! Each child runs in its own process group, so a Ctrl-C at the terminal
//! reaches devstack alone and devstack stops the children in order
//! (services, then PostgreSQL) instead of all of them at once.

use std::{
    collections::VecDeque,
    process::{ExitStatus, Stdio},
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::Context;
use nix::{sys::signal::Signal, unistd::Pid};
use tokio::{
    io::{AsyncBufReadExt, AsyncRead, BufReader},
    sync::{mpsc, watch},
};

use crate::output::Output;

/// Lines kept per child to explain its death.
pub const TAIL_LINES: usize = 20;

/// A child that exited while it was expected to run.
#[derive(Debug)]
pub struct Exit {
    pub name: String,
    pub status: ExitStatus,
}

/// A running (or exited) child.
pub struct Child {
    pub name: String,
    pid: Pid,
    tail: Arc<Mutex<VecDeque<String>>>,
    exited: watch::Receiver<Option<ExitStatus>>,
}

impl Child {
    /// Starts `cmd`; its lines go to `out` under `name`, and its exit to `exits`.
    pub fn spawn(
        name: &str,
        mut cmd: tokio::process::Command,
        out: Output,
        exits: mpsc::UnboundedSender<Exit>,
    ) -> anyhow::Result<Self> {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0).kill_on_drop(false);
        if !out.colour {
            // The services colour their logs unless told not to.
            cmd.env("NO_COLOR", "1");
        }
        let program = cmd.as_std().get_program().to_string_lossy().into_owned();
        let mut child = cmd.spawn().with_context(|| format!("starting {name} ({program})"))?;
        let pid = Pid::from_raw(child.id().context("a just-started child has a pid")? as i32);
        let tail = Arc::new(Mutex::new(VecDeque::with_capacity(TAIL_LINES)));
        let readers = [
            tokio::spawn(forward(child.stdout.take().expect("piped"), name.to_owned(), out, tail.clone())),
            tokio::spawn(forward(child.stderr.take().expect("piped"), name.to_owned(), out, tail.clone())),
        ];
        let (tx, exited) = watch::channel(None);
        let owned = name.to_owned();
        tokio::spawn(async move {
            let status = child.wait().await;
            // Let the readers drain what the child wrote last; its own children (PostgreSQL's
            // backends) may hold the pipes a little longer, so do not wait forever.
            for reader in readers {
                let _ = tokio::time::timeout(Duration::from_millis(300), reader).await;
            }
            let status = status.unwrap_or_else(|_| std::os::unix::process::ExitStatusExt::from_raw(-1));
            tx.send_replace(Some(status));
            let _ = exits.send(Exit { name: owned, status });
        });
        Ok(Self { name: name.to_owned(), pid, tail, exited })
    }

    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    /// The exit status, once it has exited.
    pub fn status(&self) -> Option<ExitStatus> {
        *self.exited.borrow()
    }

    /// Its last lines of output.
    pub fn tail(&self) -> Vec<String> {
        self.tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default()
    }

    /// Sends `signal` unless it has already exited (its pid may then be someone else's).
    pub fn signal(&self, signal: Signal) {
        if self.status().is_none() {
            let _ = nix::sys::signal::kill(self.pid, signal);
        }
    }

    /// Waits up to `grace` for it to exit; whether it did.
    pub async fn wait(&self, grace: Duration) -> bool {
        let mut exited = self.exited.clone();
        tokio::time::timeout(grace, exited.wait_for(Option::is_some)).await.is_ok()
    }

    /// `signal`, then up to `grace` for it to exit, then `SIGKILL`. Returns whether it stopped
    /// within the grace.
    pub async fn stop(&self, signal: Signal, grace: Duration) -> bool {
        self.signal(signal);
        if self.wait(grace).await {
            return true;
        }
        self.signal(Signal::SIGKILL);
        self.wait(Duration::from_secs(5)).await;
        false
    }
}

async fn forward(stream: impl AsyncRead + Unpin, name: String, out: Output, tail: Arc<Mutex<VecDeque<String>>>) {
    let mut reader = BufReader::new(stream);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']);
                out.line(&name, line);
                if let Ok(mut tail) = tail.lock() {
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.to_owned());
                }
            }
        }
    }
}

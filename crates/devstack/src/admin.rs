//! The local admin account: made on the first start of a data directory
//! with auth's own operator command (`auth admin create`, which writes to
//! auth_db directly), its password kept in the data directory.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::{
    output::Output,
    services::{self, Ports},
};

pub const EMAIL: &str = "admin@platform.localhost";

pub fn password_file(data_dir: &Path) -> PathBuf {
    data_dir.join("admin-password")
}

/// Makes the admin unless this data directory already has one.
pub async fn ensure(auth: &Path, ports: &Ports, data_dir: &Path, out: Output) -> anyhow::Result<()> {
    let file = password_file(data_dir);
    if file.is_file() {
        return Ok(());
    }
    let password = crate::keys::random_text::<18>()?;
    let service = services::issuer();
    let output = tokio::process::Command::new(auth)
        .args(["admin", "create", "--email", EMAIL])
        .env("DATABASE_URL", ports.database_url(service))
        .env("AUTH_ADMIN_PASSWORD", &password)
        .env("RUST_LOG", "warn")
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", "")
        .output()
        .await
        .with_context(|| format!("running {} admin create", auth.display()))?;
    anyhow::ensure!(
        output.status.success(),
        "`auth admin create` failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    );
    crate::keys::write_new(&file, format!("{password}\n").as_bytes())?;
    out.say(format!("made the local admin {EMAIL}; its password is in {}", file.display()));
    Ok(())
}

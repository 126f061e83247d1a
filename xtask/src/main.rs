//! `cargo xtask <task>` (an alias for `cargo run -p xtask --`): repository
//! tasks that edit the checkout it is run from.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::Context;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Repository tasks")]
struct Cli {
    #[command(subcommand)]
    task: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Rewrites the README's Access table from the services' declarations.
    AccessTable,
    /// Adds a service: its crate, first migration, integration test and (for
    /// gRPC) contract, its services.toml entry and, with --public, its edge routers.
    NewService {
        /// Its name: a lowercase letter, then lowercase letters or digits.
        name: String,
        #[arg(long, value_parser = ["grpc", "rest"])]
        kind: String,
        /// Its port; the first free one from 8091 up by default.
        #[arg(long)]
        port: Option<u16>,
        /// Services it calls, comma-separated (the token issuer is always one).
        #[arg(long, value_delimiter = ',')]
        peer: Vec<String>,
        /// Route it at the edge (its RPCs or routes need a user's token).
        #[arg(long)]
        public: bool,
    },
    /// Removes what new-service made; refuses while another service lists it as a peer.
    DeleteService { name: String },
    /// Writes each service's CycloneDX SBOM with cargo-cyclonedx (on PATH) to
    /// --out, and checks it against the CycloneDX schema and `cargo metadata`.
    Sbom {
        #[arg(long, default_value = "target/sbom")]
        out: PathBuf,
        /// Holds bom-1.5.schema.json, spdx.schema.json and jsf-0.82.schema.json.
        #[arg(long, default_value = "../shared/schemas/cyclonedx")]
        schemas: PathBuf,
        /// The target the SBOMs describe; the host's by default.
        #[arg(long)]
        target: Option<String>,
    },
}

/// The checkout the working directory is in (`cargo` runs xtask there).
fn root() -> anyhow::Result<PathBuf> {
    let here = std::env::current_dir()?;
    let root = here.ancestors().find(|dir| dir.join("services.toml").is_file() && dir.join("xtask").is_dir());
    root.map(Path::to_path_buf)
        .ok_or_else(|| anyhow::anyhow!("run it inside the checkout (no services.toml above {})", here.display()))
}

/// Runs `program args` in `dir`; its stdout, or an error with its stderr.
fn output(dir: &Path, program: &str, args: &[&str]) -> anyhow::Result<Vec<u8>> {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .with_context(|| format!("running {program} {}", args.join(" ")))?;
    if !out.status.success() {
        anyhow::bail!("{program} {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
    }
    Ok(out.stdout)
}

/// cargo-cyclonedx writes `<crate>.cdx.json` beside every workspace member's
/// Cargo.toml; each service's is moved to `out`, the others removed (but for
/// any that were there before).
fn sbom(root: &Path, out: &Path, schemas: &Path, target: Option<String>) -> anyhow::Result<()> {
    let target = match target {
        Some(target) => target,
        None => String::from_utf8(output(root, "rustc", &["-vV"])?)?
            .lines()
            .find_map(|line| line.strip_prefix("host: ").map(str::to_owned))
            .context("rustc -vV names no host")?,
    };
    let schema = xtask::sbom::Schema::load(schemas)?;
    let metadata: serde_json::Value = serde_json::from_slice(&output(
        root,
        "cargo",
        &["metadata", "--format-version", "1", "--filter-platform", &target],
    )?)?;
    let member_dirs: Vec<PathBuf> = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| metadata["workspace_members"].as_array().is_some_and(|m| m.contains(&p["id"])))
        .filter_map(|p| {
            Some(Path::new(p["manifest_path"].as_str()?).parent()?.join(format!("{}.cdx.json", p["name"].as_str()?)))
        })
        .collect();
    let before: Vec<&PathBuf> = member_dirs.iter().filter(|path| path.exists()).collect();
    let generated = output(
        root,
        "cargo",
        &[
            "cyclonedx",
            "--manifest-path",
            "Cargo.toml",
            "--format",
            "json",
            "--spec-version",
            xtask::sbom::SPEC_VERSION,
            "--target",
            &target,
            "--quiet",
        ],
    );
    std::fs::create_dir_all(out)?;
    let mut moved = Vec::new();
    for service in catalog::catalog().services() {
        let written = root.join("services").join(&service.name).join(format!("{}.cdx.json", service.name));
        if generated.is_ok() && written.exists() {
            let path = out.join(format!("{}.cdx.json", service.name));
            std::fs::rename(&written, &path)?;
            moved.push((service.name.clone(), path));
        }
    }
    for path in member_dirs.iter().filter(|path| !before.contains(path)) {
        let _ = std::fs::remove_file(path);
    }
    generated.context("is cargo-cyclonedx installed? (cargo install --locked cargo-cyclonedx)")?;
    let mut failed = Vec::new();
    for (service, path) in &moved {
        let bom: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
        match xtask::sbom::check(&bom, service, &metadata, &schema) {
            Ok(count) => println!(
                "{}: CycloneDX {} valid, {count} components, the same as cargo metadata gives {service} for {target}",
                path.strip_prefix(root).unwrap_or(path).display(),
                xtask::sbom::SPEC_VERSION
            ),
            Err(error) => failed.push(error.to_string()),
        }
    }
    if moved.len() != catalog::catalog().services().count() {
        failed.push(format!("cargo-cyclonedx wrote {} of the services' SBOMs", moved.len()));
    }
    if !failed.is_empty() {
        anyhow::bail!("{}", failed.join("\n"));
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let root = root()?;
    match Cli::parse().task {
        Task::AccessTable => {
            let path = root.join("README.md");
            let readme = std::fs::read_to_string(&path)?;
            std::fs::write(&path, xtask::with_table(&readme, &xtask::access_table()?)?)?;
            println!("README.md: access table rewritten");
        }
        Task::NewService { name, kind, port, peer, public } => {
            let kind = if kind == "grpc" { catalog::Kind::Grpc } else { catalog::Kind::Rest };
            let spec = xtask::scaffold::Spec { name, kind, port, peers: peer, public };
            print!("{}", xtask::scaffold::new_service(&root, &spec)?);
        }
        Task::DeleteService { name } => print!("{}", xtask::scaffold::delete_service(&root, &name)?),
        Task::Sbom { out, schemas, target } => sbom(&root, &root.join(out), &root.join(schemas), target)?,
    }
    Ok(())
}

//! Compiles the event contracts (`proto/events/`) with protox and
//! prost-build: messages only, no gRPC stack, so REST services can publish
//! and consume events without one.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Relative to the package, as crates/proto's build script does.
    let root = PathBuf::from("../../proto");
    let dir = root.join("events");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files = Vec::new();
    find(&dir, &mut files)?;
    files.sort();
    let fds = protox::compile(&files, [&root])?;
    prost_build::Config::new().compile_fds(fds)?;
    Ok(())
}

fn find(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            find(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            files.push(path);
        }
    }
    Ok(())
}

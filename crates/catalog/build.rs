//! Copies the description files at the workspace root into `OUT_DIR`, where
//! `lib.rs` embeds them. Not `include_str!` of the files in place: cargo
//! records a dependency outside the package by its absolute path, so a copy
//! of the checkout sharing this target directory (the scaffold test's) would
//! be built from the original's files. A relative `rerun-if-changed` is
//! resolved in whichever checkout builds.

use std::path::PathBuf;

const FILES: &[(&str, &str)] = &[
    ("../../services.toml", "services.toml"),
    ("../../deploy/edge/edge.toml", "edge.toml"),
    ("../../deploy/images.toml", "images.toml"),
];

fn main() -> std::io::Result<()> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    for (from, to) in FILES {
        println!("cargo:rerun-if-changed={from}");
        std::fs::copy(from, out.join(to))?;
    }
    Ok(())
}

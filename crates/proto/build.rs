//! Compiles every RPC contract under `proto/` (not `proto/events/`) with protox, a pure-Rust protobuf
//! compiler, so a plain `cargo build` needs no system `protoc`. The files are
//! found, not listed: a new service's `proto/<name>/v1/<name>.proto` is
//! compiled with the rest. The descriptor set is also kept in `OUT_DIR` for
//! runtime reflection (Connect JSON transcoding), and `packages.rs` nests
//! each package's generated code in modules (`greeter::v1`, …).
//!
//! Code is generated in two passes over the same descriptors: messages and
//! clients with prost's codec, then servers alone (the messages taken from
//! the first pass by `extern_path`) with [`crate::codec::ServerCodec`], so a
//! malformed request is the client's error and a malformed response the
//! server's.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Relative to the package (a build script's working directory), so a copy
    // of the checkout sharing this target directory finds the build fresh.
    let root = PathBuf::from("../../proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    // A directory: cargo reruns this when anything under it changes, new files included.
    println!("cargo:rerun-if-changed={}", root.display());

    let mut files = Vec::new();
    find(&root, &mut files)?;
    files.sort();
    let fds = protox::compile(&files, [&root])?;
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec())?;

    // Our packages, not the well-known types the contracts import.
    let ours: Vec<String> =
        files.iter().filter_map(|f| f.strip_prefix(&root).ok()).map(|f| f.to_string_lossy().into_owned()).collect();
    let packages: Vec<String> = fds
        .file
        .iter()
        .filter(|f| ours.iter().any(|o| Some(o) == f.name.as_ref()))
        .filter_map(|f| f.package.clone())
        .collect();
    std::fs::write(out.join("packages.rs"), modules(&packages))?;
    tonic_prost_build::configure().build_server(false).build_client(true).compile_fds(fds.clone())?;
    let servers = out.join("servers");
    std::fs::create_dir_all(&servers)?;
    let builder = packages.iter().fold(
        tonic_prost_build::configure()
            .build_server(true)
            .build_client(false)
            .codec_path("crate::codec::ServerCodec")
            .out_dir(&servers),
        |b, package| b.extern_path(format!(".{package}"), format!("crate::{}", package.replace('.', "::"))),
    );
    builder.compile_fds(fds)?;
    Ok(())
}

fn find(dir: &Path, files: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        // Event contracts are messages on the broker, not RPCs: crates/events
        // compiles them, without the gRPC stack REST services must not carry.
        if path.ends_with("events") && path.parent() == Some(Path::new("../../proto")) {
            continue;
        }
        if path.is_dir() {
            find(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            files.push(path);
        }
    }
    Ok(())
}

/// `pub mod greeter { pub mod v1 { include!(…/greeter.v1.rs); include!(…/servers/greeter.v1.rs); } }`
/// for each package.
fn modules(packages: &[String]) -> String {
    #[derive(Default)]
    struct Tree(BTreeMap<String, Tree>, Option<String>);
    let mut tree = Tree::default();
    for package in packages {
        let node = package.split('.').fold(&mut tree, |node, part| node.0.entry(part.to_owned()).or_default());
        node.1 = Some(package.clone());
    }
    fn render(tree: &Tree, out: &mut String) {
        if let Some(package) = &tree.1 {
            for file in [format!("{package}.rs"), format!("servers/{package}.rs")] {
                out.push_str(&format!("include!(concat!(env!(\"OUT_DIR\"), \"/{file}\"));\n"));
            }
        }
        for (name, child) in &tree.0 {
            out.push_str(&format!("pub mod {name} {{\n"));
            render(child, out);
            out.push_str("}\n");
        }
    }
    let mut out = String::new();
    render(&tree, &mut out);
    out
}

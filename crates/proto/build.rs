//! Compiles `proto/` with protox, a pure-Rust protobuf compiler, so a plain
//! `cargo build` needs no system `protoc`. The descriptor set is also kept in
//! `OUT_DIR` for runtime reflection (Connect JSON transcoding).

use std::path::PathBuf;

use prost::Message;

const FILES: &[&str] = &["greeter/v1/greeter.proto", "caller/v1/caller.proto", "gateway/v1/gateway.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("../../proto");
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", root.display());

    let files: Vec<PathBuf> = FILES.iter().map(|f| root.join(f)).collect();
    let fds = protox::compile(&files, [&root])?;
    std::fs::write(out.join("descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}

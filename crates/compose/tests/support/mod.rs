//! What the integration tests share: the repository's paths and parsing.
#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

/// The repository root (this crate is `crates/compose`).
pub fn repo() -> PathBuf {
    PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo")).join("../..")
}

/// Where the committed model lives.
pub fn compose_dir() -> PathBuf {
    repo().join("deploy/compose")
}

/// The freshly rendered files, by path under deploy/compose/.
pub fn rendered() -> Vec<compose::File> {
    compose::render(&compose::Inputs::built_in()).expect("the model renders")
}

/// The rendered compose.yaml as JSON: comment lines, then a JSON document
/// (YAML's subset, so Compose reads it as YAML).
pub fn parse(text: &str) -> Value {
    let body: String = text.lines().skip_while(|line| line.starts_with('#')).collect::<Vec<_>>().join("\n");
    serde_json::from_str(&body).unwrap_or_else(|error| panic!("compose.yaml is not a comment then JSON: {error}"))
}

pub fn document() -> Value {
    let file = rendered().into_iter().find(|f| f.path == "compose.yaml").expect("compose.yaml is rendered");
    parse(&file.text)
}

use std::path::PathBuf;

/// Why an edge could not be loaded or rendered.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the edge file {}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },

    #[error("{origin}: {source}")]
    Parse { origin: String, source: toml::de::Error },

    /// Every problem found, not just the first.
    #[error("{origin} is invalid:\n{}", bullets(problems))]
    Invalid { origin: String, problems: Vec<String> },

    #[error("no address for upstream `{upstream}`: add it to the Addresses passed to render_dynamic")]
    MissingAddress { upstream: String },

    #[error("address `{address}` for `{service}` must be host:port (no scheme, no path), e.g. 127.0.0.1:8080")]
    BadAddress { service: String, address: String },

    #[error("bad static option {option}: {reason}")]
    BadOption { option: &'static str, reason: String },
}

fn bullets(problems: &[String]) -> String {
    problems.iter().map(|problem| format!("  - {problem}")).collect::<Vec<_>>().join("\n")
}

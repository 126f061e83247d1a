//! Dependencies point down only: no crate under crates/ depends on one
//! under services/, as a normal, build or dev-dependency.

use std::process::Command;

#[test]
fn no_shared_crate_depends_on_a_service() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = format!("{}/..", std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--no-deps", "--offline"])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let root = std::path::Path::new(metadata["workspace_root"].as_str().unwrap()).to_path_buf();
    let under = |path: &str, dir: &str| std::path::Path::new(path).starts_with(root.join(dir));
    let mut checked = 0;
    let mut problems = Vec::new();
    for package in metadata["packages"].as_array().unwrap() {
        if !under(package["manifest_path"].as_str().unwrap(), "crates") {
            continue;
        }
        checked += 1;
        for dep in package["dependencies"].as_array().unwrap() {
            // Path dependencies carry their directory; kind is null (normal), "dev" or "build".
            if let Some(path) = dep["path"].as_str()
                && under(path, "services")
            {
                let kind = dep["kind"].as_str().unwrap_or("normal");
                problems.push(format!("{} depends on {} ({kind})", package["name"], dep["name"]));
            }
        }
    }
    assert!(checked >= 7, "only {checked} crates under crates/ were found");
    assert!(problems.is_empty(), "shared crates depend on services:\n{}", problems.join("\n"));
}

/// REST services build without the gRPC stack: tonic is nowhere in their
/// normal dependency graph (authn's gRPC layer is behind its `grpc`
/// feature, traces leave over OTLP/HTTP), while every gRPC service's graph
/// has it, which shows the check can fail.
#[test]
fn rest_services_do_not_build_the_grpc_stack() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let root = format!("{}/..", std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo"));
    let mut checked = 0;
    for service in catalog::catalog().services() {
        let out = Command::new(&cargo)
            .args(["tree", "--offline", "-e", "normal", "--prefix", "none", "-p", &service.name])
            .current_dir(&root)
            .output()
            .expect("cargo tree runs");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let tree = String::from_utf8_lossy(&out.stdout);
        let has_tonic = tree.lines().any(|line| line.starts_with("tonic "));
        let grpc = service.kind == catalog::Kind::Grpc;
        assert_eq!(
            has_tonic,
            grpc,
            "{} ({}): tonic in its dependencies: {has_tonic}",
            service.name,
            service.kind.as_str()
        );
        checked += 1;
    }
    assert!(checked >= 5);
}

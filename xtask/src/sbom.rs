//! Each service's CycloneDX SBOM, as `cargo xtask sbom` checks it: valid
//! against the CycloneDX JSON schema, and listing exactly the packages
//! `cargo metadata` says the service is built from (its normal and build
//! dependencies, transitively, for one target; no dev-dependencies).
//!
//! cargo-cyclonedx writes the SBOMs; this only checks them. No maintained
//! crate compares an SBOM with a cargo resolve graph, hence the walk below.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

use anyhow::{Context, anyhow, bail};
use serde_json::Value;

/// A package by name and version, as both an SBOM and cargo name it.
pub type Component = (String, String);

/// The CycloneDX version the SBOMs are written in (`--spec-version`).
pub const SPEC_VERSION: &str = "1.5";

/// The components an SBOM lists (not its subject, `metadata.component`).
pub fn components(bom: &Value) -> anyhow::Result<BTreeSet<Component>> {
    let list = bom["components"].as_array().ok_or_else(|| anyhow!("the SBOM has no components array"))?;
    list.iter()
        .map(|c| match (c["name"].as_str(), c["version"].as_str()) {
            (Some(name), Some(version)) => Ok((name.to_owned(), version.to_owned())),
            _ => Err(anyhow!("a component without a name and version: {c}")),
        })
        .collect()
}

/// What `package` is built from, per `cargo metadata --format-version 1`'s
/// resolve graph (run with `--filter-platform <target>`, so that other
/// targets' dependencies are already gone): the packages reached through
/// normal and build dependencies, not the package itself.
pub fn expected(metadata: &Value, package: &str) -> anyhow::Result<BTreeSet<Component>> {
    let packages: BTreeMap<&str, Component> = metadata["packages"]
        .as_array()
        .context("cargo metadata without packages")?
        .iter()
        .filter_map(|p| Some((p["id"].as_str()?, (p["name"].as_str()?.to_owned(), p["version"].as_str()?.to_owned()))))
        .collect();
    let nodes: BTreeMap<&str, &Value> = metadata["resolve"]["nodes"]
        .as_array()
        .context("cargo metadata without a resolve graph (was it run with --no-deps?)")?
        .iter()
        .filter_map(|n| Some((n["id"].as_str()?, n)))
        .collect();
    let members = metadata["workspace_members"].as_array().context("cargo metadata without workspace_members")?;
    let root = members
        .iter()
        .filter_map(Value::as_str)
        .find(|id| packages.get(id).is_some_and(|(name, _)| name == package))
        .ok_or_else(|| anyhow!("{package} is not a workspace member"))?;

    let mut reached = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(id) = stack.pop() {
        let node = nodes.get(id).ok_or_else(|| anyhow!("{id} is not in the resolve graph"))?;
        for dep in node["deps"].as_array().into_iter().flatten() {
            // dep_kinds: one entry per kind; `kind` is null (normal), "build" or "dev".
            let used = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|k| k["kind"].is_null() || k["kind"].as_str() == Some("build"));
            let Some(dep_id) = dep["pkg"].as_str() else { continue };
            if used && reached.insert(dep_id) {
                stack.push(dep_id);
            }
        }
    }
    reached
        .into_iter()
        .map(|id| packages.get(id).cloned().ok_or_else(|| anyhow!("{id} is not among the packages")))
        .collect()
}

/// The CycloneDX 1.5 JSON schema, with the two schemas it refers to.
pub struct Schema(jsonschema::Validator);

impl Schema {
    /// From a directory holding `bom-1.5.schema.json`, `spdx.schema.json` and
    /// `jsf-0.82.schema.json` (as `../shared/schemas/cyclonedx/` does). Nothing
    /// is fetched: a reference to any other document fails the build.
    pub fn load(dir: &Path) -> anyhow::Result<Schema> {
        let read = |file: &str| -> anyhow::Result<Value> {
            let path = dir.join(file);
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
        };
        let bom = read(&format!("bom-{SPEC_VERSION}.schema.json"))?;
        let mut registry = jsonschema::Registry::new();
        for file in ["spdx.schema.json", "jsf-0.82.schema.json"] {
            registry = registry
                .add(format!("http://cyclonedx.org/schema/{file}"), read(file)?)
                .map_err(|e| anyhow!("{file}: {e}"))?;
        }
        let registry = registry.prepare().map_err(|e| anyhow!("the CycloneDX schemas: {e}"))?;
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft7)
            .with_registry(&registry)
            .build(&bom)
            .map_err(|e| anyhow!("the CycloneDX schema does not compile: {e}"))?;
        Ok(Schema(validator))
    }

    /// Every violation, each as `<JSON pointer>: <message>`.
    pub fn errors(&self, bom: &Value) -> Vec<String> {
        self.0.iter_errors(bom).map(|e| format!("{}: {e}", e.instance_path())).collect()
    }
}

/// Checks one service's SBOM; the number of components when it passes.
pub fn check(bom: &Value, service: &str, metadata: &Value, schema: &Schema) -> anyhow::Result<usize> {
    let mut problems = schema.errors(bom);
    if bom["specVersion"].as_str() != Some(SPEC_VERSION) {
        problems.push(format!("specVersion is {}, not {SPEC_VERSION}", bom["specVersion"]));
    }
    let subject = bom["metadata"]["component"]["name"].as_str();
    if subject != Some(service) {
        problems.push(format!("it describes {subject:?}, not {service}"));
    }
    let listed = components(bom)?;
    let wanted = expected(metadata, service)?;
    let missing: Vec<_> = wanted.difference(&listed).map(|(n, v)| format!("{n} {v}")).collect();
    let extra: Vec<_> = listed.difference(&wanted).map(|(n, v)| format!("{n} {v}")).collect();
    if !missing.is_empty() {
        problems.push(format!("missing what cargo metadata lists: {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        problems.push(format!("lists what cargo metadata does not: {}", extra.join(", ")));
    }
    if problems.is_empty() { Ok(listed.len()) } else { bail!("{service}'s SBOM:\n  {}", problems.join("\n  ")) }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pkg(name: &str) -> Value {
        json!({ "id": format!("{name}-id"), "name": name, "version": "1.0.0" })
    }

    fn dep(name: &str, kinds: &[Option<&str>]) -> Value {
        let kinds: Vec<Value> = kinds.iter().map(|k| json!({ "kind": k, "target": null })).collect();
        json!({ "name": name, "pkg": format!("{name}-id"), "dep_kinds": kinds })
    }

    /// svc -> lib (normal) -> leaf; svc -> gen (build); svc -> helper (dev)
    /// -> only-dev; lib -> both (normal and dev).
    fn metadata() -> Value {
        let packages: Vec<Value> =
            ["svc", "other", "lib", "leaf", "gen", "helper", "only-dev", "both"].into_iter().map(pkg).collect();
        json!({
            "packages": packages,
            "workspace_members": ["svc-id", "other-id"],
            "resolve": { "nodes": [
                { "id": "svc-id", "deps": [dep("lib", &[None]), dep("gen", &[Some("build")]), dep("helper", &[Some("dev")])] },
                { "id": "other-id", "deps": [dep("leaf", &[None])] },
                { "id": "lib-id", "deps": [dep("leaf", &[None]), dep("both", &[Some("dev"), None])] },
                { "id": "leaf-id", "deps": [] },
                { "id": "gen-id", "deps": [] },
                { "id": "helper-id", "deps": [dep("only-dev", &[None])] },
                { "id": "only-dev-id", "deps": [] },
                { "id": "both-id", "deps": [] },
            ]},
        })
    }

    fn names(set: &BTreeSet<Component>) -> Vec<&str> {
        set.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn normal_and_build_dependencies_count_and_dev_dependencies_do_not() {
        let wanted = expected(&metadata(), "svc").unwrap();
        assert_eq!(names(&wanted), ["both", "gen", "leaf", "lib"]);
        assert_eq!(names(&expected(&metadata(), "other").unwrap()), ["leaf"]);
        assert!(expected(&metadata(), "leaf").unwrap_err().to_string().contains("not a workspace member"));
    }

    #[test]
    fn components_need_a_name_and_a_version() {
        let bom = json!({ "components": [{ "name": "a", "version": "1" }, { "name": "b" }] });
        assert!(components(&bom).unwrap_err().to_string().contains("without a name and version"));
        assert!(components(&json!({})).is_err());
    }
}

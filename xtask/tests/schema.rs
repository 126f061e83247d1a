//! The SBOM check against the real CycloneDX 1.5 schema (from beside the
//! repository, ../shared/schemas/cyclonedx, or SBOM_SCHEMA_DIR): a valid SBOM
//! passes, and a broken one or one that lists other packages fails.

use std::path::PathBuf;

use serde_json::{Value, json};
use xtask::sbom::{Schema, check};

fn schema() -> Schema {
    let dir = std::env::var_os("SBOM_SCHEMA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/schemas/cyclonedx"));
    Schema::load(&dir).expect("the CycloneDX schemas load")
}

/// svc depends on lib (normal) and on test-helper (dev only).
fn metadata() -> Value {
    let pkg = |name: &str| json!({ "id": format!("{name}-id"), "name": name, "version": "1.2.3" });
    let dep = |name: &str, kind: Value| json!({ "pkg": format!("{name}-id"), "dep_kinds": [{ "kind": kind }] });
    json!({
        "packages": [pkg("svc"), pkg("lib"), pkg("test-helper")],
        "workspace_members": ["svc-id"],
        "resolve": { "nodes": [
            { "id": "svc-id", "deps": [dep("lib", Value::Null), dep("test-helper", json!("dev"))] },
            { "id": "lib-id", "deps": [] },
            { "id": "test-helper-id", "deps": [] },
        ]},
    })
}

/// An SBOM shaped as cargo-cyclonedx 0.5 writes it.
fn bom(components: &[&str]) -> Value {
    let component = |name: &str| {
        json!({
            "type": "library",
            "bom-ref": format!("registry+https://github.com/rust-lang/crates.io-index#{name}@1.2.3"),
            "name": name,
            "version": "1.2.3",
            "scope": "required",
            "licenses": [{ "expression": "MIT OR Apache-2.0" }],
            "purl": format!("pkg:cargo/{name}@1.2.3"),
        })
    };
    json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "version": 1,
        "serialNumber": "urn:uuid:3e671687-395b-41f5-a30f-a58921a69b79",
        "metadata": {
            "timestamp": "2026-12-03T15:00:00.000000000Z",
            "tools": [{ "vendor": "CycloneDX", "name": "cargo-cyclonedx", "version": "0.5.9" }],
            "component": { "type": "application", "bom-ref": "svc", "name": "svc", "version": "1.2.3" },
        },
        "components": components.iter().map(|name| component(name)).collect::<Vec<_>>(),
        "dependencies": [{ "ref": "svc", "dependsOn": [] }],
    })
}

#[test]
fn an_sbom_listing_what_cargo_builds_passes() {
    assert_eq!(check(&bom(&["lib"]), "svc", &metadata(), &schema()).expect("a good SBOM"), 1);
}

#[test]
fn a_misspelt_key_or_a_bad_value_fails_the_schema() {
    let schema = schema();
    let mut misspelt = bom(&["lib"]);
    misspelt["components"][0]["licences"] = misspelt["components"][0]["licenses"].take();
    misspelt["components"][0].as_object_mut().unwrap().remove("licenses");
    let errors = schema.errors(&misspelt);
    assert!(errors.iter().any(|e| e.contains("/components/0") && e.contains("licences")), "{errors:?}");

    let mut kind = bom(&["lib"]);
    kind["components"][0]["type"] = json!("crate");
    assert!(!schema.errors(&kind).is_empty());
    let err = check(&kind, "svc", &metadata(), &schema).unwrap_err().to_string();
    assert!(err.contains("/components/0/type"), "{err}");
}

#[test]
fn an_sbom_listing_other_packages_fails() {
    let schema = schema();
    let missing = check(&bom(&[]), "svc", &metadata(), &schema).unwrap_err().to_string();
    assert!(missing.contains("missing what cargo metadata lists: lib 1.2.3"), "{missing}");
    let dev = check(&bom(&["lib", "test-helper"]), "svc", &metadata(), &schema).unwrap_err().to_string();
    assert!(dev.contains("lists what cargo metadata does not: test-helper 1.2.3"), "{dev}");
    let other = check(&bom(&["lib"]), "lib", &metadata(), &schema).unwrap_err().to_string();
    assert!(other.contains("not a workspace member"), "{other}");
}

#[test]
fn an_sbom_of_another_service_or_version_fails() {
    let schema = schema();
    let mut renamed = bom(&["lib"]);
    renamed["metadata"]["component"]["name"] = json!("other");
    let err = check(&renamed, "svc", &metadata(), &schema).unwrap_err().to_string();
    assert!(err.contains("describes Some(\"other\")"), "{err}");
    let mut old = bom(&["lib"]);
    old["specVersion"] = json!("1.4");
    assert!(check(&old, "svc", &metadata(), &schema).unwrap_err().to_string().contains("specVersion"));
}

//! The rendered Traefik configuration against Traefik's JSON Schemas (SchemaStore's
//! `traefik-v3.json` and `traefik-v3-file-provider.json`, draft-07), so a misspelled
//! option fails here rather than being ignored by Traefik at run time.
//!
//! The schemas live outside the repository, in `../shared/schemas/traefik/` (or wherever
//! `TRAEFIK_SCHEMAS_DIR` says). They leave a few objects open (the static root, the dynamic
//! `http` object, a load balancer's servers); the tests close them, so a misspelling there
//! fails too.

mod support;

use std::path::PathBuf;

use edge::{Addresses, StaticOptions};
use jsonschema::Validator;
use serde_json::{Value, json};

fn schema_dir() -> PathBuf {
    match std::env::var_os("TRAEFIK_SCHEMAS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => support::repo().join("../shared/schemas/traefik"),
    }
}

fn load_schema(name: &str) -> Value {
    let path = schema_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the Traefik JSON Schema {}: {error}. The schemas are in shared/schemas/traefik/ beside \
             the repository (../shared from the repo root); set TRAEFIK_SCHEMAS_DIR to their folder if they are elsewhere",
            path.display()
        )
    });
    let schema: Value = serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#", "{} is not draft-07", path.display());
    schema
}

fn validator(schema: &Value) -> Validator {
    jsonschema::draft7::new(schema).expect("the schema compiles")
}

/// traefik-v3.json as published, and with its root closed.
fn static_schemas() -> (Validator, Validator) {
    let published = load_schema("traefik-v3.json");
    let mut strict = published.clone();
    assert!(strict.get("additionalProperties").is_none(), "the static schema now closes its root; drop this patch");
    strict["additionalProperties"] = json!(false);
    (validator(&published), validator(&strict))
}

/// traefik-v3-file-provider.json with `http` and load-balancer servers closed.
fn dynamic_schema() -> Validator {
    let mut schema = load_schema("traefik-v3-file-provider.json");
    schema["properties"]["http"]["additionalProperties"] = json!(false);
    schema["definitions"]["httpLoadBalancerService"]["properties"]["servers"]["items"]["additionalProperties"] =
        json!(false);
    validator(&schema)
}

/// The errors, as `instance path: message` lines.
fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator.iter_errors(instance).map(|error| format!("{}: {error}", error.instance_path())).collect()
}

fn assert_valid(validator: &Validator, text: &str, what: &str) {
    let errors = errors(validator, &support::parse(text));
    assert!(errors.is_empty(), "{what} does not match Traefik's schema:\n{}\n{text}", errors.join("\n"));
}

/// Asserts the schema rejects `instance`, and at `path`.
fn assert_rejected_at(validator: &Validator, instance: &Value, path: &str) {
    let errors = errors(validator, instance);
    assert!(!errors.is_empty(), "the schema accepted a configuration it should refuse:\n{instance:#}");
    assert!(
        errors.iter().any(|error| error.starts_with(path)),
        "expected an error at {path}, got:\n{}",
        errors.join("\n")
    );
}

#[test]
fn committed_configuration_matches_the_schemas() {
    let (_, strict_static) = static_schemas();
    let dynamic = dynamic_schema();
    for (name, validator) in [("static.yml", &strict_static), ("dynamic.yml", &dynamic)] {
        let path = support::traefik_dir().join(name);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        assert_valid(validator, &text, &format!("deploy/edge/traefik/{name}"));
    }
}

#[test]
fn every_option_combination_matches_the_static_schema() {
    let (_, strict) = static_schemas();
    let edge = edge::Edge::default_source();
    let options = StaticOptions {
        dynamic_file: "/var/lib/devstack/traefik/dynamic.yml".into(),
        listen_host: "::1".to_owned(),
        web_port: Some(40081),
        metrics_port: Some(40082),
        log_level: "debug".to_owned(),
    };
    assert_valid(&strict, &edge.render_static(&options).unwrap(), "static configuration with every option set");
    let dynamic = edge.render_dynamic(&Addresses::local().with("auth", "localhost:18090")).unwrap();
    assert_valid(&dynamic_schema(), &dynamic, "dynamic configuration with other addresses");
}

#[test]
fn a_misspelled_middleware_option_in_edge_toml_fails_the_schema() {
    let dynamic = dynamic_schema();
    let edge = support::edited("average = 100", "averag = 100").expect("edge.toml keeps middlewares as written");
    let rendered = support::parse(&edge.render_dynamic(&Addresses::local()).unwrap());
    assert_rejected_at(&dynamic, &rendered, "/http/middlewares/rate-limit");

    let edge = support::edited("accessControlMaxAge", "accessControlMaxAges").unwrap();
    let rendered = support::parse(&edge.render_dynamic(&Addresses::local()).unwrap());
    assert_rejected_at(&dynamic, &rendered, "/http/middlewares/cors");

    let edge = support::edited("trustForwardHeader = false", "trustForwardHeader = \"no\"").unwrap();
    let rendered = support::parse(&edge.render_dynamic(&Addresses::local()).unwrap());
    assert_rejected_at(&dynamic, &rendered, "/http/middlewares/forward-auth");
}

#[test]
fn unknown_keys_in_the_dynamic_configuration_fail_the_schema() {
    let dynamic = dynamic_schema();
    let good = support::parse(&support::rendered_defaults().1);

    let mut router_key = good.clone();
    router_key["http"]["routers"]["greeter"]["middleware"] = json!(["cors"]);
    assert_rejected_at(&dynamic, &router_key, "/http/routers/greeter");

    let mut negative_priority = good.clone();
    negative_priority["http"]["routers"]["gateway"]["priority"] = json!(-1);
    assert_rejected_at(&dynamic, &negative_priority, "/http/routers/gateway/priority");

    // Open in the published schema, closed by these tests:
    let mut http_key = good.clone();
    http_key["http"]["router"] = json!({});
    assert_rejected_at(&dynamic, &http_key, "/http");
    let mut server_key = good;
    server_key["http"]["services"]["auth"]["loadBalancer"]["servers"][0]["uri"] = json!("http://127.0.0.1:8090");
    assert_rejected_at(&dynamic, &server_key, "/http/services/auth");
}

#[test]
fn unknown_keys_in_the_static_configuration_fail_the_schema() {
    let (published, strict) = static_schemas();
    let good = support::parse(&support::rendered_defaults().0);

    let mut nested = good.clone();
    nested["metrics"]["prometheus"]["entrypoint"] = json!("traefik");
    assert_rejected_at(&strict, &nested, "/metrics/prometheus");
    let mut entrypoint_key = good.clone();
    entrypoint_key["entryPoints"]["web"]["adress"] = json!(":30081");
    assert_rejected_at(&strict, &entrypoint_key, "/entryPoints/web");

    // The published schema lets any top-level key through; the closed one does not.
    let mut top_level = good;
    let access_log = top_level.as_object_mut().unwrap().remove("accessLog").unwrap();
    top_level["accesLog"] = access_log;
    assert!(published.is_valid(&top_level), "the published schema now closes its root: simplify static_schemas()");
    assert_rejected_at(&strict, &top_level, "");
}

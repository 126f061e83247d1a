//! deploy/compose/compose.yaml against the Compose Specification's JSON Schema
//! (`../shared/schemas/compose/compose-spec.json`, or `COMPOSE_SCHEMA`), which
//! refuses unknown keys in a service, and against [`compose::policy`], which
//! the schema does not express. Copies broken on purpose show both can fail.

mod support;

use std::path::PathBuf;

use jsonschema::Validator;
use serde_json::{Value, json};

fn validator() -> Validator {
    let path = std::env::var_os("COMPOSE_SCHEMA")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::repo().join("../shared/schemas/compose/compose-spec.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read the Compose Specification schema {}: {error}. It is in shared/schemas/compose/ beside the \
             repository (../shared from the repo root); set COMPOSE_SCHEMA to the file if it is elsewhere",
            path.display()
        )
    });
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft7::new(&schema).expect("the schema compiles")
}

fn errors(validator: &Validator, document: &Value) -> Vec<String> {
    validator.iter_errors(document).map(|error| format!("{}: {error}", error.instance_path())).collect()
}

#[test]
fn the_committed_model_is_schema_valid_and_meets_the_policy() {
    let committed = std::fs::read_to_string(support::compose_dir().join("compose.yaml")).expect("compose.yaml");
    let document = support::parse(&committed);
    let errors = errors(&validator(), &document);
    assert!(errors.is_empty(), "compose.yaml does not match the Compose Specification:\n{}", errors.join("\n"));
    let problems = compose::policy::check(&document);
    assert!(problems.is_empty(), "compose.yaml breaks the policy:\n{}", problems.join("\n"));
}

#[test]
fn a_misspelt_key_fails_the_schema() {
    let mut document = support::document();
    let greeter = document["services"]["greeter"].as_object_mut().expect("greeter");
    let check = greeter.remove("healthcheck").expect("a healthcheck");
    greeter.insert("healtcheck".into(), check);
    let errors = errors(&validator(), &document);
    assert!(
        errors.iter().any(|e| e.starts_with("/services/greeter") && e.contains("healtcheck")),
        "the schema accepted a misspelt key: {errors:?}"
    );

    let mut nested = support::document();
    nested["services"]["postgres"]["healthcheck"]["intervall"] = json!("5s");
    assert!(!errors_empty(&nested), "the schema accepted a misspelt healthcheck key");
}

fn errors_empty(document: &Value) -> bool {
    errors(&validator(), document).is_empty()
}

#[test]
fn a_missing_healthcheck_passes_the_schema_and_fails_the_policy() {
    let mut document = support::document();
    document["services"]["greeter"].as_object_mut().expect("greeter").remove("healthcheck");
    assert!(errors_empty(&document), "the schema itself requires no healthcheck; the policy must");
    let problems = compose::policy::check(&document);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("services.greeter: no healthcheck"), "{problems:?}");
}

#[test]
fn each_policy_rule_can_fail() {
    let broken = |edit: &dyn Fn(&mut Value), expected: &str| {
        let mut document = support::document();
        edit(&mut document);
        let problems = compose::policy::check(&document);
        assert!(problems.iter().any(|p| p.contains(expected)), "expected {expected:?}, got {problems:?}");
    };
    broken(&|d| d["services"]["caller"]["user"] = json!("0:0"), "services.caller: runs as root");
    broken(&|d| drop(d["services"]["lang"].as_object_mut().unwrap().remove("user")), "services.lang: no `user`");
    broken(&|d| d["services"]["auth"]["read_only"] = json!(false), "services.auth: its root filesystem is writable");
    broken(&|d| d["services"]["auth"]["cap_drop"] = json!([]), "services.auth: keeps Linux capabilities");
    broken(&|d| d["services"]["greeter"]["depends_on"] = json!(["postgres"]), "depends_on is a list");
    broken(
        &|d| d["services"]["greeter"]["depends_on"]["caller"]["condition"] = json!("service_started"),
        "depends on caller without `condition: service_healthy`",
    );
    broken(
        &|d| {
            d["services"]["greeter"]["environment"]["DATABASE_URL"] = json!("postgres://greeter:pw@postgres/greeter_db")
        },
        "DATABASE_URL would hold a secret inline",
    );
    broken(
        &|d| d["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] = json!("hunter2"),
        "POSTGRES_PASSWORD would hold a secret inline",
    );
    broken(&|d| d["secrets"]["auth-signing-key"] = json!({ "environment": "KEY" }), "secrets.auth-signing-key");
    broken(
        &|d| {
            d["services"]["gateway"]["healthcheck"]["test"] =
                json!(["CMD", "/bin/probe", "http://127.0.0.1:8082/healthz"])
        },
        "services.gateway: a platform service's healthcheck must ask its /readyz",
    );
    broken(
        &|d| d["services"]["gateway"]["healthcheck"]["test"] = json!(["CMD-SHELL", "curl -f localhost:8082/readyz"]),
        "exec form",
    );
}

#[test]
fn services_start_after_their_database_and_peers_and_the_edge_after_its_upstreams() {
    let document = support::document();
    let services = &document["services"];
    let inputs = compose::Inputs::built_in();
    for service in inputs.services.services() {
        let depends = services[&service.name]["depends_on"].as_object().expect("depends_on");
        let mut names: Vec<&str> = depends.keys().map(String::as_str).collect();
        names.sort_unstable();
        let mut expected: Vec<&str> = service.peers.iter().map(String::as_str).chain(["postgres"]).collect();
        expected.sort_unstable();
        assert_eq!(names, expected, "{}", service.name);
        let port = service.port;
        assert_eq!(
            services[&service.name]["healthcheck"]["test"],
            json!(["CMD", "/bin/probe", format!("http://127.0.0.1:{port}/readyz")])
        );
    }
    let edge = inputs.edge;
    let traefik = services["traefik"]["depends_on"].as_object().expect("traefik waits");
    for upstream in edge.upstreams() {
        assert!(traefik.contains_key(upstream), "traefik must wait for {upstream}");
    }
    assert_eq!(services["traefik"]["ports"], json!([format!("127.0.0.1:{0}:{0}", edge.web_port())]));
    // auth believes X-Forwarded-For from Traefik's fixed address, and only from it.
    let address = services["traefik"]["networks"]["platform"]["ipv4_address"].as_str().expect("a fixed address");
    assert_eq!(services["auth"]["environment"]["AUTH_TRUSTED_PROXIES"], json!(format!("{address}/32")));
}

#[test]
fn no_secret_is_inline_and_every_mounted_secret_is_declared() {
    let document = support::document();
    let declared = document["secrets"].as_object().expect("secrets");
    for (name, service) in document["services"].as_object().expect("services") {
        for secret in service["secrets"].as_array().into_iter().flatten() {
            let secret = secret.as_str().expect("short syntax");
            assert!(declared.contains_key(secret), "{name} mounts undeclared {secret}");
        }
        for (variable, value) in service["environment"].as_object().into_iter().flatten() {
            if let Some(file) = variable.strip_suffix("_FILE").map(|_| value.as_str().unwrap()) {
                let secret = file.strip_prefix("/run/secrets/").expect("a mounted secret");
                let mounted = service["secrets"].as_array().is_some_and(|s| s.iter().any(|m| m == secret));
                assert!(mounted, "{name}: {variable} names {secret}, which it does not mount");
            }
        }
    }
    for (name, secret) in declared {
        assert_eq!(secret, &json!({ "file": format!("./secrets/{name}") }));
    }
}

//! What every service of a Compose model must meet beyond the Compose
//! Specification's schema, which accepts a service with no healthcheck, run
//! as root, with a password inline.
//!
//! Checked on the committed `deploy/compose/compose.yaml` by this crate's
//! tests; [`check`] takes any Compose document (as JSON) so a copy broken on
//! purpose shows each rule can fail.

use serde_json::Value;

/// Environment variables whose value is a secret: set their `_FILE` twin,
/// pointing at a mounted secret, instead.
const SECRET_VARIABLES: &[&str] = &["PASSWORD", "SECRET", "TOKEN", "KEY", "DATABASE_URL", "CLIENTS"];

/// The rules each service breaks, as `services.<name>: <what is wrong>`.
pub fn check(document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(services) = document.get("services").and_then(Value::as_object) else {
        return vec!["no services".to_owned()];
    };
    for (name, service) in services {
        let mut problem = |what: String| problems.push(format!("services.{name}: {what}"));
        let field = |key: &str| service.get(key);

        match field("healthcheck") {
            None => problem("no healthcheck: `depends_on: condition: service_healthy` could never be met".into()),
            Some(check) if check.get("disable") == Some(&Value::Bool(true)) => {
                problem("its healthcheck is disabled".into())
            }
            Some(check) => match check.get("test").and_then(Value::as_array) {
                Some(test) if test.len() > 1 && test[0] == "CMD" => {
                    let image = field("image").and_then(Value::as_str).unwrap_or("");
                    let readyz = test.iter().filter_map(Value::as_str).any(|arg| arg.ends_with("/readyz"));
                    if image.starts_with("platform/") && !readyz {
                        problem("a platform service's healthcheck must ask its /readyz".into());
                    }
                }
                _ => problem("healthcheck.test must be an exec form [\"CMD\", ...] (the images have no shell)".into()),
            },
        }

        match field("user").and_then(Value::as_str) {
            None => problem("no `user`: it would run as the image's user, often root".into()),
            Some(user) if user.split(':').next().is_some_and(|u| u == "0" || u == "root") => {
                problem(format!("runs as root (`user: {user}`)"))
            }
            Some(_) => {}
        }
        if field("read_only") != Some(&Value::Bool(true)) {
            problem("its root filesystem is writable: set `read_only: true` (and tmpfs where it must write)".into());
        }
        if field("privileged") == Some(&Value::Bool(true)) {
            problem("is privileged".into());
        }
        let drops_all = field("cap_drop").and_then(Value::as_array).is_some_and(|caps| caps.iter().any(|c| c == "ALL"));
        if !drops_all {
            problem("keeps Linux capabilities: set `cap_drop: [ALL]`".into());
        }

        match field("depends_on") {
            None => {}
            Some(Value::Object(dependencies)) => {
                for (dependency, how) in dependencies {
                    if how.get("condition").and_then(Value::as_str) != Some("service_healthy") {
                        problem(format!("depends on {dependency} without `condition: service_healthy`"));
                    }
                }
            }
            Some(_) => problem("depends_on is a list: it waits for start, not for health".into()),
        }

        if let Some(environment) = field("environment") {
            let names: Vec<&str> = match environment {
                Value::Object(map) => map.keys().map(String::as_str).collect(),
                Value::Array(list) => {
                    list.iter().filter_map(Value::as_str).map(|kv| kv.split('=').next().unwrap_or(kv)).collect()
                }
                _ => Vec::new(),
            };
            for variable in names {
                let secret = SECRET_VARIABLES.iter().any(|s| variable.ends_with(s)) && !variable.ends_with("_FILE");
                if secret {
                    problem(format!("{variable} would hold a secret inline: set {variable}_FILE to a mounted secret"));
                }
            }
        }
    }
    if let Some(secrets) = document.get("secrets").and_then(Value::as_object) {
        for (name, secret) in secrets {
            if secret.get("file").is_none() {
                problems
                    .push(format!("secrets.{name}: not read from a file (`file:`); no inline or environment secrets"));
            }
        }
    }
    problems
}

//! Whole-table checks that serde cannot express. Every problem is reported, each saying
//! what to change.

use std::collections::{BTreeSet, HashSet};

use serde_json::Value;

use catalog::Catalog;

use crate::json;
use crate::render::METRICS_ENTRYPOINT;
use crate::source::Source;

/// The one service that must never be reachable from the edge.
pub(crate) const INTERNAL: &str = "caller";

/// Traefik v3's HTTP middleware kinds (`ipWhiteList` was removed in v3: use `ipAllowList`).
const MIDDLEWARE_KINDS: &[&str] = &[
    "addPrefix",
    "basicAuth",
    "buffering",
    "chain",
    "circuitBreaker",
    "compress",
    "contentType",
    "digestAuth",
    "errors",
    "forwardAuth",
    "grpcWeb",
    "headers",
    "inFlightReq",
    "ipAllowList",
    "passTLSClientCert",
    "plugin",
    "rateLimit",
    "redirectRegex",
    "redirectScheme",
    "replacePath",
    "replacePathRegex",
    "retry",
    "stripPrefix",
    "stripPrefixRegex",
];

pub(crate) fn problems(source: &Source, catalog: &Catalog) -> Vec<String> {
    let mut problems = Vec::new();
    entrypoint(source, &mut problems);
    routers(source, catalog, &mut problems);
    middlewares(source, catalog, &mut problems);
    unused(source, &mut problems);
    trusted_proxies(source, &mut problems);
    problems
}

fn trusted_proxies(source: &Source, problems: &mut Vec<String>) {
    for (environment, cidrs) in &source.trusted_proxies {
        for cidr in cidrs {
            let valid = cidr.split_once('/').is_some_and(|(addr, len)| {
                let max = match addr.parse::<std::net::IpAddr>() {
                    Ok(std::net::IpAddr::V4(_)) => 32,
                    Ok(std::net::IpAddr::V6(_)) => 128,
                    Err(_) => return false,
                };
                len.parse::<u8>().is_ok_and(|len| len <= max)
            });
            if !valid {
                problems.push(format!("trusted_proxies.{environment}: `{cidr}` is not a CIDR such as 127.0.0.0/8"));
            }
        }
    }
}

fn entrypoint(source: &Source, problems: &mut Vec<String>) {
    let entrypoint = &source.entrypoint;
    if !is_name(&entrypoint.name) {
        problems.push(format!("entrypoint.name `{}` {NAME_RULE}", entrypoint.name));
    }
    if entrypoint.name == METRICS_ENTRYPOINT {
        problems.push(format!(
            "entrypoint.name must not be `{METRICS_ENTRYPOINT}`: that entry point serves metrics and ping"
        ));
    }
    if entrypoint.port == 0 || entrypoint.metrics_port == 0 {
        problems.push("entrypoint.port and entrypoint.metrics_port must be real ports, not 0".to_owned());
    }
    if entrypoint.port == entrypoint.metrics_port {
        problems.push(format!("entrypoint.port and entrypoint.metrics_port are both {}", entrypoint.port));
    }
}

fn routers(source: &Source, catalog: &Catalog, problems: &mut Vec<String>) {
    if source.routers.is_empty() {
        problems.push("no [[routers]]: the edge routes nothing".to_owned());
    }
    let mut seen = HashSet::new();
    for router in &source.routers {
        let name = &router.name;
        if !is_name(name) {
            problems.push(format!("router `{name}` {NAME_RULE}"));
        }
        if !seen.insert(name.as_str()) {
            problems.push(format!("router `{name}` is defined twice"));
        }
        if let Some(problem) = rule_problem(&router.rule) {
            problems.push(format!("router `{name}`: rule {problem}"));
        }
        if router.upstream == INTERNAL {
            problems.push(format!(
                "router `{name}` routes to `{INTERNAL}`, which is internal and never routed from the edge"
            ));
        } else if catalog.get(&router.upstream).is_none() {
            problems.push(format!(
                "router `{name}` routes to `{}`, which services.toml does not describe (services: {})",
                router.upstream,
                catalog.names()
            ));
        }
        let mut in_chain = HashSet::new();
        for middleware in &router.middlewares {
            if !source.middlewares.contains_key(middleware) {
                problems.push(format!(
                    "router `{name}` uses middleware `{middleware}`, which is not in [middlewares] (have: {})",
                    list(source.middlewares.keys())
                ));
            }
            if !in_chain.insert(middleware) {
                problems.push(format!("router `{name}` lists middleware `{middleware}` twice"));
            }
        }
        cors_before_forward_auth(source, router, problems);
    }
}

/// A browser's preflight carries no token, so CORS must answer it before forward-auth refuses it.
fn cors_before_forward_auth(source: &Source, router: &crate::source::Router, problems: &mut Vec<String>) {
    let position = |wanted: fn(&Value) -> bool| {
        router.middlewares.iter().position(|name| source.middlewares.get(name).is_some_and(wanted))
    };
    if let (Some(cors), Some(auth)) = (position(is_cors), position(is_forward_auth))
        && auth < cors
    {
        problems.push(format!(
            "router `{}`: CORS middleware `{}` must come before forward-auth `{}`, or preflight requests get 401",
            router.name, router.middlewares[cors], router.middlewares[auth]
        ));
    }
}

pub(crate) fn is_cors(middleware: &Value) -> bool {
    middleware
        .get("headers")
        .and_then(Value::as_object)
        .is_some_and(|headers| headers.keys().any(|key| key.starts_with("accessControl")))
}

pub(crate) fn is_forward_auth(middleware: &Value) -> bool {
    middleware.get("forwardAuth").is_some()
}

fn middlewares(source: &Source, catalog: &Catalog, problems: &mut Vec<String>) {
    for (name, middleware) in &source.middlewares {
        if !is_name(name) {
            problems.push(format!("middleware `{name}` {NAME_RULE}"));
        }
        let kinds: Vec<_> = middleware.as_object().map(|object| object.iter().collect()).unwrap_or_default();
        match kinds.as_slice() {
            [(kind, options)] => {
                if !MIDDLEWARE_KINDS.contains(&kind.as_str()) {
                    problems.push(format!(
                        "middleware `{name}`: `{kind}` is not a Traefik v3 HTTP middleware (one of: {})",
                        MIDDLEWARE_KINDS.join(", ")
                    ));
                }
                if !options.is_object() {
                    problems.push(format!("middleware `{name}`: `{kind}` must be a table of options"));
                }
            }
            _ => problems.push(format!(
                "middleware `{name}` must be exactly one table named for its kind, e.g. [middlewares.{name}.rateLimit]"
            )),
        }
        for text in json::strings(middleware) {
            for placeholder in json::placeholders(text) {
                if catalog.get(placeholder).is_none() {
                    problems.push(format!(
                        "middleware `{name}`: placeholder `{{{placeholder}}}` names no service in services.toml (services: {})",
                        catalog.names()
                    ));
                }
            }
        }
    }
}

/// The services the edge reaches: every router's upstream and every `{service}` placeholder.
pub(crate) fn upstreams(source: &Source) -> BTreeSet<&str> {
    let mut used: BTreeSet<&str> = source.routers.iter().map(|router| router.upstream.as_str()).collect();
    for middleware in source.middlewares.values() {
        used.extend(json::strings(middleware).into_iter().flat_map(json::placeholders));
    }
    used
}

/// Anything defined but never used is most likely a typo somewhere else.
fn unused(source: &Source, problems: &mut Vec<String>) {
    let used_middlewares: BTreeSet<_> = source.routers.iter().flat_map(|router| &router.middlewares).collect();
    for name in source.middlewares.keys().filter(|name| !used_middlewares.contains(name)) {
        problems.push(format!("middleware `{name}` is defined but no router uses it"));
    }
}

/// Catches the slips a rule can make without knowing Traefik's whole grammar: emptiness,
/// unpaired backticks and unbalanced parentheses outside them.
fn rule_problem(rule: &str) -> Option<&'static str> {
    if rule.trim().is_empty() {
        return Some("is empty");
    }
    let (mut depth, mut quoted) = (0i32, false);
    for c in rule.chars() {
        match c {
            '`' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            _ => {}
        }
        if depth < 0 {
            return Some("closes a parenthesis it never opened");
        }
    }
    if quoted {
        Some("has an unpaired backtick")
    } else if depth != 0 {
        Some("leaves a parenthesis open")
    } else {
        None
    }
}

const NAME_RULE: &str = "must be lowercase letters, digits and `-`, starting with a letter (a Kubernetes name)";

/// A DNS label (RFC 1123), so the same names serve as Kubernetes object names.
fn is_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_lowercase()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && !name.ends_with('-')
}

fn list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let names: Vec<_> = names.map(|name| format!("`{name}`")).collect();
    if names.is_empty() { "none".to_owned() } else { names.join(", ") }
}

#[cfg(test)]
mod tests {
    use crate::{Edge, Error};

    const MINIMAL: &str = r#"
[entrypoint]
name = "web"
port = 30081
metrics_port = 30082

[[routers]]
name = "auth"
rule = "PathPrefix(`/auth/`)"
upstream = "auth"
middlewares = ["limit"]

[middlewares.limit.rateLimit]
average = 1
"#;

    /// The problems `text` is refused with.
    fn problems(text: &str) -> Vec<String> {
        match Edge::parse(text, "test.toml") {
            Err(Error::Invalid { problems, .. }) => problems,
            Err(other) => panic!("expected validation problems, got: {other}"),
            Ok(_) => panic!("accepted:\n{text}"),
        }
    }

    fn assert_problem(text: &str, expected: &str) {
        let problems = problems(text);
        assert!(problems.iter().any(|problem| problem.contains(expected)), "no {expected:?} in {problems:#?}");
    }

    #[test]
    fn the_committed_edge_and_a_minimal_one_are_valid() {
        Edge::parse(catalog::EDGE_TOML, "edge.toml").unwrap();
        let edge = Edge::parse(MINIMAL, "minimal").unwrap();
        assert_eq!((edge.web_port(), edge.metrics_port()), (30081, 30082));
        assert_eq!(edge.upstreams().collect::<Vec<_>>(), ["auth"]);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_parse_errors_with_a_location() {
        for (from, to, expected) in [
            ("middlewares = [\"limit\"]", "middleware = [\"limit\"]", "unknown field `middleware`"),
            ("[entrypoint]", "[upstreams.auth]\nscheme = \"http\"\n[entrypoint]", "unknown field `upstreams`"),
            ("metrics_port = 30082", "metrics-port = 30082", "unknown field `metrics-port`"),
            ("port = 30081", "port = 70000", "port"),
        ] {
            let error = Edge::parse(&MINIMAL.replacen(from, to, 1), "test.toml").unwrap_err();
            let message = error.to_string();
            assert!(matches!(error, Error::Parse { .. }) && message.contains(expected), "{from} -> {to}: {message}");
            assert!(message.contains("test.toml") && message.contains("line"), "{message}");
        }
    }

    #[test]
    fn references_must_resolve() {
        assert_problem(
            &MINIMAL.replace("upstream = \"auth\"", "upstream = \"nope\""),
            "routes to `nope`, which services.toml does not describe (services: auth, ",
        );
        assert_problem(
            &MINIMAL.replace("[\"limit\"]", "[\"limit\", \"cors\"]"),
            "uses middleware `cors`, which is not in [middlewares]",
        );
        assert_problem(&MINIMAL.replace("[\"limit\"]", "[\"limit\", \"limit\"]"), "lists middleware `limit` twice");
        let placeholder = format!("{MINIMAL}\n[middlewares.fa.forwardAuth]\naddress = \"{{nope}}/verify\"\n");
        assert_problem(
            &placeholder.replace("[\"limit\"]", "[\"limit\", \"fa\"]"),
            "placeholder `{nope}` names no service in services.toml",
        );
    }

    #[test]
    fn caller_is_never_routed() {
        let routed = MINIMAL.replace("upstream = \"auth\"", "upstream = \"caller\"");
        assert_problem(&routed, "routes to `caller`, which is internal");
    }

    #[test]
    fn rules_must_be_present_and_balanced() {
        assert_problem(&MINIMAL.replace("PathPrefix(`/auth/`)", "  "), "rule is empty");
        assert_problem(&MINIMAL.replace("PathPrefix(`/auth/`)", "PathPrefix(`/auth/)"), "unpaired backtick");
        assert_problem(&MINIMAL.replace("PathPrefix(`/auth/`)", "PathPrefix(`/auth/`"), "parenthesis open");
        assert_problem(&MINIMAL.replace("PathPrefix(`/auth/`)", "PathPrefix(`/a`))"), "closes a parenthesis");
        // Parentheses inside a backquoted value are the value's business.
        Edge::parse(&MINIMAL.replace("PathPrefix(`/auth/`)", "PathPrefix(`/a(`)"), "t").unwrap();
    }

    #[test]
    fn middlewares_are_one_known_kind_each() {
        assert_problem(
            &MINIMAL.replace("rateLimit]", "rateLimits]"),
            "`rateLimits` is not a Traefik v3 HTTP middleware",
        );
        let two = MINIMAL.replace("average = 1", "average = 1\n[middlewares.limit.compress]");
        assert_problem(&two, "must be exactly one table named for its kind");
    }

    #[test]
    fn names_are_kubernetes_names_and_unique() {
        assert_problem(
            &MINIMAL.replace("name = \"auth\"", "name = \"Auth_Router\""),
            "router `Auth_Router` must be lowercase",
        );
        let twice = format!("{MINIMAL}\n[[routers]]\nname = \"auth\"\nrule = \"Path(`/x`)\"\nupstream = \"auth\"\n");
        assert_problem(&twice, "router `auth` is defined twice");
        assert_problem(&MINIMAL.replace("name = \"web\"", "name = \"traefik\""), "must not be `traefik`");
        assert_problem(&MINIMAL.replace("metrics_port = 30082", "metrics_port = 30081"), "are both 30081");
    }

    #[test]
    fn unused_definitions_are_reported() {
        let extra = format!("{MINIMAL}\n[middlewares.spare.compress]\n");
        assert_problem(&extra, "middleware `spare` is defined but no router uses it");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text = MINIMAL.replace("upstream = \"auth\"", "upstream = \"nope\"").replace("[\"limit\"]", "[\"cors\"]");
        let message = Edge::parse(&text, "test.toml").unwrap_err().to_string();
        assert!(message.starts_with("test.toml is invalid:\n  - "), "{message}");
        assert!(
            message.contains("`nope`") && message.contains("`cors`") && message.contains("`limit` is defined"),
            "{message}"
        );
    }
}

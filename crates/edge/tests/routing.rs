//! What the rendered routing table does with real request paths, and the properties the
//! edge must keep: caller unreachable, forward-auth at auth, CORS before forward-auth,
//! the public Overview ahead of the gateway's token-guarded catch-all.

mod support;

use edge::{Addresses, Edge, Error};
use serde_json::Value;

fn dynamic(addresses: &Addresses) -> Value {
    support::parse(&Edge::default_source().render_dynamic(addresses).unwrap())
}

/// The router Traefik picks for `method path`, and its access level ([`Edge::route`]).
fn route_of(method: &str, path: &str) -> Option<(String, &'static str)> {
    Edge::default_source().route(method, path).unwrap().map(|r| (r.router, r.access))
}

#[test]
fn paths_reach_the_intended_routers() {
    let cases = [
        ("POST", "/greeter.v1.GreeterService/Greet", Some(("greeter", "user"))),
        ("POST", "/greeter.v1.GreeterService/ListGreetings", Some(("greeter", "user"))),
        ("POST", "/gateway.v1.GatewayService/Overview", Some(("gateway-overview", "public"))),
        ("POST", "/gateway.v1.GatewayService/Metrics", Some(("gateway-admin", "admin"))),
        ("POST", "/gateway.v1.GatewayService/OverviewAll", Some(("gateway", "user"))),
        ("POST", "/gateway.v1.GatewayService/Profile", Some(("gateway", "user"))),
        ("POST", "/auth/login", Some(("auth-credentials", "public"))),
        ("POST", "/auth/signup", Some(("auth-credentials", "public"))),
        ("POST", "/auth/refresh", Some(("auth-public", "public"))),
        ("GET", "/auth/.well-known/jwks.json", Some(("auth-public", "public"))),
        ("GET", "/auth/verify", Some(("auth", "user"))),
        ("GET", "/auth/me", Some(("auth", "user"))),
        ("PUT", "/auth/admin/users/u/roles/admin", Some(("auth-admin", "admin"))),
        ("GET", "/auth/stats", None),
        ("POST", "/auth/token", None),
        ("GET", "/lang/v1/greeting", Some(("lang-public", "public"))),
        ("POST", "/lang/v1/greeting", Some(("lang", "user"))),
        ("GET", "/lang/v1/translations/en/greeting", Some(("lang", "user"))),
        ("PUT", "/lang/v1/translations/en/greeting", Some(("lang-admin", "admin"))),
        ("DELETE", "/lang/v1/translations/en/greeting", Some(("lang-admin", "admin"))),
        ("PUT", "/lang/v1/preferences/me", Some(("lang", "user"))),
        ("GET", "/lang/v1/stats", None),
        ("POST", "/caller.v1.CallerService/Call", None),
        ("POST", "/grpc.health.v1.Health/Check", None),
        ("GET", "/metrics", None),
        ("GET", "/healthz", None),
        ("GET", "/readyz", None),
        ("GET", "/", Some(("web", "public"))),
        ("GET", "/history", Some(("web", "public"))),
        ("HEAD", "/login", Some(("web", "public"))),
        ("GET", "/assets/index-Bx1.js", Some(("web", "public"))),
        ("POST", "/history", None),
        ("GET", "/no/such/page", None),
    ];
    for (method, path, expected) in cases {
        let expected = expected.map(|(router, access)| (router.to_owned(), access));
        assert_eq!(route_of(method, path), expected, "{method} {path}");
    }
}

#[test]
fn overview_outranks_the_gateway_catch_all() {
    let config = dynamic(&Addresses::local());
    let routers = &config["http"]["routers"];
    let overview = routers["gateway-overview"]["priority"].as_u64().expect("Overview has an explicit priority");
    let catch_all = routers["gateway"]["priority"].as_u64().expect("the catch-all has an explicit priority");
    assert!(overview > catch_all, "Overview {overview} must outrank the gateway catch-all {catch_all}");
    assert!(!chain(&config, "gateway-overview").contains(&"forward-auth".to_owned()), "Overview is public");
    assert!(chain(&config, "gateway").contains(&"forward-auth".to_owned()), "the rest of the gateway needs a token");
}

#[test]
fn caller_is_never_routed() {
    let addresses = Addresses::local().with("caller", "127.0.0.1:8081");
    let config = dynamic(&addresses);
    let services = config["http"]["services"].as_object().unwrap();
    assert!(!services.contains_key("caller"));
    let text = config.to_string();
    assert!(!text.contains(":8081"), "caller's address leaked into the edge: {text}");
    for router in config["http"]["routers"].as_object().unwrap().values() {
        assert_ne!(router["service"], "caller");
        assert!(services.contains_key(router["service"].as_str().unwrap()), "{router} targets no service");
    }

    // And edge.toml cannot be changed to route it.
    let error = support::edited("upstream = \"lang\"", "upstream = \"caller\"").unwrap_err();
    assert!(error.to_string().contains("routes to `caller`, which is internal"), "{error}");
}

#[test]
fn forward_auth_asks_auth_at_its_address() {
    let config = dynamic(&Addresses::local());
    assert_eq!(
        config["http"]["middlewares"]["forward-auth"]["forwardAuth"]["address"],
        "http://127.0.0.1:8090/auth/verify"
    );
    assert_eq!(
        config["http"]["middlewares"]["forward-auth"]["forwardAuth"]["authResponseHeaders"],
        serde_json::json!(["X-User-Id", "X-User-Email"])
    );

    let moved = dynamic(&Addresses::local().with("auth", "127.0.0.1:18090"));
    assert_eq!(
        moved["http"]["middlewares"]["forward-auth"]["forwardAuth"]["address"],
        "http://127.0.0.1:18090/auth/verify"
    );
    assert_eq!(moved["http"]["services"]["auth"]["loadBalancer"]["servers"][0]["url"], "http://127.0.0.1:18090");

    let error = Edge::default_source().render_dynamic(&Addresses::local().with("auth", "http://x:1")).unwrap_err();
    assert!(matches!(error, Error::BadAddress { ref service, .. } if service == "auth"), "{error}");
}

#[test]
fn grpc_upstreams_are_h2c_and_rest_upstreams_http() {
    let config = dynamic(&Addresses::local());
    let url = |service: &str| config["http"]["services"][service]["loadBalancer"]["servers"][0]["url"].clone();
    assert_eq!(url("greeter"), "h2c://127.0.0.1:8080");
    assert_eq!(url("gateway"), "h2c://127.0.0.1:8082");
    assert_eq!(url("auth"), "http://127.0.0.1:8090");
    assert_eq!(url("lang"), "http://127.0.0.1:3000");
}

#[test]
fn cors_precedes_forward_auth_in_every_chain_that_has_both() {
    let config = dynamic(&Addresses::local());
    let middlewares = &config["http"]["middlewares"];
    let (mut checked, mut with_auth) = (0, 0);
    for name in config["http"]["routers"].as_object().unwrap().keys() {
        let chain = chain(&config, name);
        let cors = chain.iter().position(|m| middlewares[m]["headers"]["accessControlAllowOriginList"].is_array());
        let auth = chain.iter().position(|m| middlewares[m]["forwardAuth"].is_object());
        with_auth += usize::from(auth.is_some());
        if let (Some(cors), Some(auth)) = (cors, auth) {
            assert!(cors < auth, "router {name}: {chain:?}");
            checked += 1;
        }
    }
    assert!(with_auth >= 7, "greeter, gateway, auth and lang have forward-auth routers ({with_auth})");
    assert_eq!(checked, with_auth, "every router with forward-auth has CORS before it");

    let error = support::edited(
        "middlewares = [\"cors\", \"rate-limit\", \"forward-auth\"]",
        "middlewares = [\"forward-auth\", \"cors\", \"rate-limit\"]",
    )
    .unwrap_err();
    assert!(
        error.to_string().contains("router `greeter`: CORS middleware `cors` must come before forward-auth"),
        "{error}"
    );
}

#[test]
fn every_router_is_rate_limited_and_answers_cors() {
    let config = dynamic(&Addresses::local());
    let middlewares = &config["http"]["middlewares"];
    for name in config["http"]["routers"].as_object().unwrap().keys() {
        let chain = chain(&config, name);
        assert!(chain.iter().any(|m| middlewares[m]["rateLimit"].is_object()), "{name} is not rate limited: {chain:?}");
        assert_eq!(chain.first().map(String::as_str), Some("cors"), "{name} must answer CORS first");
    }
    let strict = &middlewares["rate-limit-credentials"]["rateLimit"];
    let general = &middlewares["rate-limit"]["rateLimit"];
    for option in ["average", "burst"] {
        assert!(
            strict[option].as_u64().unwrap() < general[option].as_u64().unwrap(),
            "{option}: {strict} vs {general}"
        );
    }
    assert_eq!((strict["period"].as_str(), general["period"].as_str()), (Some("1m"), Some("1s")));
    assert_eq!(chain(&config, "auth-credentials"), ["cors", "rate-limit-credentials"]);
}

fn chain(config: &Value, router: &str) -> Vec<String> {
    serde_json::from_value(config["http"]["routers"][router]["middlewares"].clone()).unwrap_or_default()
}

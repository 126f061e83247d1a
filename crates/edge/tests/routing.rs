//! What the rendered routing table does with real request paths, and the properties the
//! edge must keep: caller unreachable, forward-auth at auth, CORS before forward-auth,
//! the public Overview ahead of the gateway's token-guarded catch-all.

mod support;

use edge::{Addresses, Edge, Error};
use serde_json::Value;

fn dynamic(addresses: &Addresses) -> Value {
    support::parse(&Edge::default_source().render_dynamic(addresses).unwrap())
}

/// The router Traefik picks for `path`: among the routers whose rule matches, the one with
/// the highest priority, where a router without one has its rule's length (Traefik v3).
fn route(config: &Value, path: &str) -> Option<String> {
    let routers = config["http"]["routers"].as_object().unwrap();
    let mut matching: Vec<_> = routers
        .iter()
        .filter(|(_, router)| rule::matches(router["rule"].as_str().unwrap(), path))
        .map(|(name, router)| {
            let explicit = router["priority"].as_u64().unwrap_or(0);
            let priority = if explicit > 0 { explicit } else { router["rule"].as_str().unwrap().len() as u64 };
            (priority, name.clone())
        })
        .collect();
    matching.sort();
    let winner = matching.pop()?;
    assert!(matching.last().is_none_or(|runner_up| runner_up.0 < winner.0), "{path}: a priority tie in {matching:?}");
    Some(winner.1)
}

#[test]
fn paths_reach_the_intended_routers() {
    let config = dynamic(&Addresses::local());
    let cases = [
        ("/greeter.v1.GreeterService/Greet", Some("greeter")),
        ("/greeter.v1.GreeterService/ListGreetings", Some("greeter")),
        ("/gateway.v1.GatewayService/Overview", Some("gateway-overview")),
        ("/gateway.v1.GatewayService/OverviewAll", Some("gateway")),
        ("/gateway.v1.GatewayService/Profile", Some("gateway")),
        ("/auth/login", Some("auth-credentials")),
        ("/auth/signup", Some("auth-credentials")),
        ("/auth/refresh", Some("auth")),
        ("/auth/verify", Some("auth")),
        ("/auth/stats", None),
        ("/lang/v1/greeting", Some("lang")),
        ("/lang/v1/stats", None),
        ("/caller.v1.CallerService/Call", None),
        ("/grpc.health.v1.Health/Check", None),
        ("/metrics", None),
    ];
    for (path, expected) in cases {
        assert_eq!(route(&config, path).as_deref(), expected, "{path}");
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
    let error =
        support::edited("lang = { scheme = \"http\" }", "lang = { scheme = \"http\" }\ncaller = { scheme = \"h2c\" }")
            .unwrap_err();
    assert!(error.to_string().contains("`caller` is internal"), "{error}");
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
    let mut checked = 0;
    for name in config["http"]["routers"].as_object().unwrap().keys() {
        let chain = chain(&config, name);
        let cors = chain.iter().position(|m| middlewares[m]["headers"]["accessControlAllowOriginList"].is_array());
        let auth = chain.iter().position(|m| middlewares[m]["forwardAuth"].is_object());
        if let (Some(cors), Some(auth)) = (cors, auth) {
            assert!(cors < auth, "router {name}: {chain:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "greeter and gateway both have CORS and forward-auth");

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

/// Just enough of Traefik's rule language to evaluate this table's path rules:
/// `Path`, `PathPrefix`, `!`, `&&`, `||` and parentheses. Anything else fails the test, so a
/// new kind of rule gets a matcher here before it is trusted.
mod rule {
    pub fn matches(rule: &str, path: &str) -> bool {
        let mut parser = Parser { rest: rule.trim(), path };
        let value = parser.or();
        assert!(parser.rest.trim().is_empty(), "cannot parse rule {rule:?} at {:?}", parser.rest);
        value
    }

    struct Parser<'a> {
        rest: &'a str,
        path: &'a str,
    }

    impl Parser<'_> {
        fn eat(&mut self, token: &str) -> bool {
            self.rest = self.rest.trim_start();
            let found = self.rest.starts_with(token);
            if found {
                self.rest = &self.rest[token.len()..];
            }
            found
        }

        fn or(&mut self) -> bool {
            let mut value = self.and();
            while self.eat("||") {
                value |= self.and();
            }
            value
        }

        fn and(&mut self) -> bool {
            let mut value = self.unary();
            while self.eat("&&") {
                value &= self.unary();
            }
            value
        }

        fn unary(&mut self) -> bool {
            if self.eat("!") {
                return !self.unary();
            }
            if self.eat("(") {
                let value = self.or();
                assert!(self.eat(")"), "unclosed parenthesis before {:?}", self.rest);
                return value;
            }
            let name_end = self.rest.find('(').expect("a matcher");
            let name = self.rest[..name_end].trim();
            self.rest = &self.rest[name_end + 1..];
            assert!(self.eat("`"), "matcher {name} without a backquoted argument");
            let end = self.rest.find('`').expect("closing backquote");
            let argument = &self.rest[..end];
            self.rest = &self.rest[end + 1..];
            assert!(self.eat(")"), "matcher {name} takes one argument here");
            match name {
                "Path" => self.path == argument,
                "PathPrefix" => self.path.starts_with(argument),
                other => panic!("the test's rule evaluator does not know {other}"),
            }
        }
    }
}

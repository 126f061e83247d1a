//! The edge and every service agree on who may reach what, and the
//! README's Access table is what the declarations say.

#[test]
fn the_edge_and_every_service_agree() {
    let edge = edge::Edge::default_source();
    let mut problems = Vec::new();
    for (service, routes) in xtask::declarations() {
        for route in routes {
            if let Err(e) = xtask::service_agrees(&edge, service, route) {
                problems.push(format!("{service} {} {}: {e}", route.method, route.path));
            }
        }
    }
    assert!(problems.is_empty(), "the edge and the services disagree:\n{}", problems.join("\n"));
}

#[test]
fn a_disagreement_is_caught() {
    // lang's admin writes behind a plain forward-auth: the edge would admit any user.
    let text = edge::SOURCE.replace(
        "middlewares = [\"cors\", \"rate-limit\", \"forward-auth-admin\"]\npriority = 150\n\n[[routers]]\nname = \"lang\"",
        "middlewares = [\"cors\", \"rate-limit\", \"forward-auth\"]\npriority = 150\n\n[[routers]]\nname = \"lang\"",
    );
    assert_ne!(text, edge::SOURCE, "edge.toml changed; update this test");
    let weakened = edge::Edge::parse(&text, "weakened").unwrap();
    let put = authn::Route::new("PUT", "/lang/v1/translations/{language}/{key}", authn::Access::Admin);
    let err = xtask::edge_agrees(&weakened, "lang", &put).unwrap_err();
    assert!(err.contains("the service says admin") && err.contains("enforces user"), "{err}");
    let stats = authn::Route::new("GET", "/auth/stats", authn::Access::Service);
    let routed = edge::Edge::parse(&edge::SOURCE.replace("&& !Path(`/auth/stats`) ", ""), "stats routed").unwrap();
    assert!(xtask::edge_agrees(&routed, "auth", &stats).unwrap_err().contains("the edge routes it"));
}

#[test]
fn the_readme_access_table_is_fresh() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo");
    let readme = std::fs::read_to_string(format!("{dir}/../README.md")).unwrap();
    let fresh = xtask::with_table(&readme, &xtask::access_table().unwrap()).unwrap();
    assert!(readme == fresh, "README.md's Access table is stale: run `cargo run -p xtask -- access-table`");
}

//! Parsing and the rules a description keeps: names that are safe as crate,
//! role, database and variable names; distinct ports and databases; peers
//! that exist and form no cycle; exactly one token issuer, which every other
//! service names as a peer (it verifies the issuer's tokens and has a client
//! identity there).

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{Catalog, Kind, Service};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("services.toml: {0}")]
    Parse(#[from] toml::de::Error),
    #[error("services.toml: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

/// Longest service name: PostgreSQL truncates identifiers at 63 bytes, and
/// Kubernetes names (`<name>-client`, …) stay well inside their limits.
pub const MAX_NAME: usize = 30;

/// PostgreSQL's own roles and databases, which no service may take.
const POSTGRES_ROLES: &[&str] = &["postgres", "public", "none"];
const POSTGRES_DATABASES: &[&str] = &["postgres", "template0", "template1"];

/// Whether `name` can name a service: a lowercase letter, then lowercase
/// letters and digits. Provisioning puts it into DDL, which takes no bind
/// parameters, and into environment variable names.
pub fn valid_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

impl Catalog {
    /// Parses and checks a description; every problem is reported at once.
    pub fn parse(text: &str) -> Result<Catalog, Error> {
        let tables: BTreeMap<String, Service> = toml::from_str(text)?;
        let services: BTreeMap<String, Service> =
            tables.into_iter().map(|(name, service)| (name.clone(), Service { name, ..service })).collect();
        let problems = problems(&services);
        if problems.is_empty() { Ok(Catalog { services }) } else { Err(Error::Invalid(problems)) }
    }
}

fn problems(services: &BTreeMap<String, Service>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ports = BTreeMap::new();
    let mut databases = BTreeMap::new();
    for s in services.values() {
        let name = &s.name;
        if !valid_name(name) {
            problems.push(format!(
                "[{name}]: a name is a lowercase letter, then lowercase letters or digits, at most {MAX_NAME}"
            ));
        }
        if POSTGRES_ROLES.contains(&name.as_str()) {
            problems.push(format!("[{name}]: {name} is PostgreSQL's own role name"));
        }
        if s.port == 0 {
            problems.push(format!("[{name}]: port must be 1-65535"));
        }
        if let Some(other) = ports.insert(s.port, name) {
            problems.push(format!("[{name}]: port {} is {other}'s already", s.port));
        }
        match (&s.database, s.kind) {
            (Some(_), Kind::Web) => problems.push(format!("[{name}]: a web service has no database")),
            (None, Kind::Web) => {}
            (None, kind) => problems.push(format!("[{name}]: a {} service needs a database", kind.as_str())),
            (Some(database), _) => {
                if POSTGRES_DATABASES.contains(&database.as_str()) || database.len() > 63 {
                    problems
                        .push(format!("[{name}]: database {database:?} is PostgreSQL's own, or longer than 63 bytes"));
                }
                if !database.starts_with(|c: char| c.is_ascii_lowercase())
                    || !database.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                {
                    problems.push(format!("[{name}]: database {database:?} must be lowercase letters, digits and _"));
                }
                if let Some(other) = databases.insert(database, name) {
                    problems.push(format!("[{name}]: database {database} is {other}'s already"));
                }
            }
        }
        if s.kind == Kind::Web && (s.token_issuer || !s.peers.is_empty()) {
            problems.push(format!("[{name}]: a web service serves files: it has no peers and issues no tokens"));
        }
        let mut seen = BTreeSet::new();
        for peer in &s.peers {
            if peer == name {
                problems.push(format!("[{name}]: a service is not its own peer"));
            } else if !services.contains_key(peer) {
                problems.push(format!("[{name}]: peer {peer:?} is not a service here"));
            } else if services[peer].kind == Kind::Web {
                problems.push(format!("[{name}]: peer {peer} is a web service, which nothing calls"));
            } else if !seen.insert(peer) {
                problems.push(format!("[{name}]: peer {peer} is listed twice"));
            }
        }
    }
    let issuers: Vec<&Service> = services.values().filter(|s| s.token_issuer).collect();
    match issuers.as_slice() {
        [issuer] => {
            for s in services.values().filter(|s| s.is_client() && !s.peers.contains(&issuer.name)) {
                problems.push(format!(
                    "[{}]: must list {} among its peers (it verifies its tokens and has a client identity there)",
                    s.name, issuer.name
                ));
            }
        }
        _ => problems.push(format!("exactly one service sets token_issuer = true, not {}", issuers.len())),
    }
    if let Some(cycle) = cycle(services) {
        problems.push(format!("peers form a cycle: {}", cycle.join(" -> ")));
    }
    problems
}

/// A peer cycle, if any (each service calls the next), for the error message.
fn cycle(services: &BTreeMap<String, Service>) -> Option<Vec<String>> {
    fn visit<'a>(
        services: &'a BTreeMap<String, Service>,
        name: &'a str,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<String> = path[at..].iter().map(|n| n.to_string()).collect();
            cycle.push(name.to_owned());
            return Some(cycle);
        }
        if !done.insert(name) {
            return None;
        }
        path.push(name);
        for peer in services.get(name).map(|s| s.peers.as_slice()).unwrap_or_default() {
            if let Some(cycle) = visit(services, peer, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    services.keys().find_map(|name| visit(services, name, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    const AUTH: &str =
        "[auth]\nport = 8090\nkind = \"rest\"\ndatabase = \"auth_db\"\ntoken_issuer = true\ndescription = \"a\"\n";

    fn with(extra: &str) -> Result<Catalog, Error> {
        Catalog::parse(&format!("{AUTH}{extra}"))
    }

    fn problem(extra: &str) -> String {
        with(extra).unwrap_err().to_string()
    }

    #[test]
    fn peers_start_first() {
        let c = with(concat!(
            "[b]\nport = 2\nkind = \"grpc\"\ndatabase = \"b_db\"\npeers = [\"c\", \"auth\"]\ndescription = \"\"\n",
            "[c]\nport = 3\nkind = \"grpc\"\ndatabase = \"c_db\"\npeers = [\"auth\"]\ndescription = \"\"\n",
        ))
        .unwrap();
        let order: Vec<&str> = c.start_order().iter().map(|s| s.name.as_str()).collect();
        assert_eq!(order, ["auth", "c", "b"]);
        assert_eq!(c.callers_of("c").map(|s| s.name.as_str()).collect::<Vec<_>>(), ["b"]);
        assert_eq!(c.get("b").unwrap().replicas, 1);
    }

    #[test]
    fn every_rule_is_reported_with_the_service_it_concerns() {
        for (extra, expected) in [
            (
                "[x]\nport = 8090\nkind = \"grpc\"\ndatabase = \"x_db\"\npeers = [\"auth\"]\ndescription = \"\"\n",
                "port 8090 is auth's already",
            ),
            (
                "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"auth_db\"\npeers = [\"auth\"]\ndescription = \"\"\n",
                "database auth_db is auth's already",
            ),
            (
                "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\npeers = [\"auth\", \"nope\"]\ndescription = \"\"\n",
                "[x]: peer \"nope\" is not a service here",
            ),
            (
                "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\ndescription = \"\"\n",
                "[x]: must list auth among its peers",
            ),
            (
                "[Bad]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\npeers = [\"auth\"]\ndescription = \"\"\n",
                "[Bad]: a name is a lowercase letter",
            ),
            ("[x]\nport = 1\nkind = \"soap\"\ndatabase = \"x_db\"\ndescription = \"\"\n", "unknown variant `soap`"),
            (
                "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\nprot = 2\ndescription = \"\"\n",
                "unknown field `prot`",
            ),
            (
                "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\nresources = { limits = { cpuu = \"1\" } }\ndescription = \"\"\n",
                "unknown field `cpuu`",
            ),
            (
                "[postgres]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\npeers = [\"auth\"]\ndescription = \"\"\n",
                "[postgres]: postgres is PostgreSQL's own role name",
            ),
            (
                "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"template1\"\npeers = [\"auth\"]\ndescription = \"\"\n",
                "database \"template1\" is PostgreSQL's own",
            ),
            (
                "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\npeers = [\"auth\"]\ntoken_issuer = true\ndescription = \"\"\n",
                "exactly one service sets token_issuer = true, not 2",
            ),
            (
                concat!(
                    "[x]\nport = 1\nkind = \"grpc\"\ndatabase = \"x_db\"\npeers = [\"auth\", \"y\"]\ndescription = \"\"\n",
                    "[y]\nport = 2\nkind = \"grpc\"\ndatabase = \"y_db\"\npeers = [\"auth\", \"x\"]\ndescription = \"\"\n"
                ),
                "peers form a cycle: x -> y -> x",
            ),
            (
                "[x]\nport = 1\nkind = \"grpc\"\npeers = [\"auth\"]\ndescription = \"\"\n",
                "[x]: a grpc service needs a database",
            ),
            (
                "[w]\nport = 1\nkind = \"web\"\ndatabase = \"w_db\"\ndescription = \"\"\n",
                "[w]: a web service has no database",
            ),
            (
                "[w]\nport = 1\nkind = \"web\"\npeers = [\"auth\"]\ndescription = \"\"\n",
                "[w]: a web service serves files: it has no peers",
            ),
            (
                concat!(
                    "[w]\nport = 1\nkind = \"web\"\ndescription = \"\"\n",
                    "[x]\nport = 2\nkind = \"grpc\"\ndatabase = \"x_db\"\npeers = [\"auth\", \"w\"]\ndescription = \"\"\n"
                ),
                "[x]: peer w is a web service, which nothing calls",
            ),
        ] {
            let error = problem(extra);
            assert!(error.contains(expected), "{expected:?} not in {error}");
        }
    }

    #[test]
    fn a_web_service_needs_no_database_and_no_identity() {
        let c = with("[w]\nport = 1\nkind = \"web\"\ndescription = \"\"\n").unwrap();
        let w = c.get("w").unwrap();
        assert!(w.database.is_none() && !w.is_client());
        assert_eq!(c.with_databases().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["auth"]);
        assert_eq!(c.clients().count(), 0);
    }

    #[test]
    fn names_are_safe_identifiers() {
        for good in ["greeter", "a1", "x"] {
            assert!(valid_name(good), "{good}");
        }
        for bad in ["", "1a", "a-b", "a_b", "Greeter", "a b", "a;drop", &"a".repeat(31)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}

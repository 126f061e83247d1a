//! Which router takes a request, and the access level it enforces — what the
//! tests compare with each service's own declaration.
//!
//! The router is chosen as Traefik v3 chooses: among the routers whose rule
//! matches, the one with the highest priority, where a router without one
//! has its rule's length. The level is read off the router's middlewares:
//! a `forwardAuth` asking for `role=admin` is `admin`, any other
//! `forwardAuth` is `user`, none is `public`.

use crate::source::{Router, Source};

/// A routed request: the router's name and the level its middlewares enforce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    pub router: String,
    /// The service the router sends the request to.
    pub upstream: String,
    pub access: &'static str,
}

pub(crate) fn route(source: &Source, method: &str, path: &str) -> Result<Option<Routed>, String> {
    let mut matching = Vec::new();
    for router in &source.routers {
        if rule::matches(&router.rule, method, path)? {
            let priority = router.priority.map_or(router.rule.len() as u64, u64::from);
            matching.push((priority, router));
        }
    }
    matching.sort_by_key(|(priority, _)| *priority);
    let Some((priority, winner)) = matching.pop() else { return Ok(None) };
    if matching.last().is_some_and(|(runner_up, _)| *runner_up == priority) {
        return Err(format!("{method} {path}: routers tie at priority {priority}"));
    }
    Ok(Some(Routed { router: winner.name.clone(), upstream: winner.upstream.clone(), access: access(source, winner) }))
}

fn access(source: &Source, router: &Router) -> &'static str {
    let forward_auth: Vec<&str> = router
        .middlewares
        .iter()
        .filter_map(|m| source.middlewares.get(m)?.get("forwardAuth")?.get("address")?.as_str())
        .collect();
    if forward_auth.iter().any(|address| address.contains("role=admin")) {
        "admin"
    } else if forward_auth.is_empty() {
        "public"
    } else {
        "user"
    }
}

/// Enough of Traefik's rule language for this table: `Path`, `PathPrefix`,
/// `PathRegexp`, `Method`, `!`, `&&`, `||` and parentheses. Anything else is an error, so
/// a new kind of rule gets a matcher here before it is trusted.
pub(crate) mod rule {
    pub fn matches(rule: &str, method: &str, path: &str) -> Result<bool, String> {
        let mut parser = Parser { rest: rule.trim(), method, path };
        let value = parser.or()?;
        if !parser.rest.trim().is_empty() {
            return Err(format!("cannot parse rule {rule:?} at {:?}", parser.rest));
        }
        Ok(value)
    }

    struct Parser<'a> {
        rest: &'a str,
        method: &'a str,
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

        fn or(&mut self) -> Result<bool, String> {
            let mut value = self.and()?;
            while self.eat("||") {
                value |= self.and()?;
            }
            Ok(value)
        }

        fn and(&mut self) -> Result<bool, String> {
            let mut value = self.unary()?;
            while self.eat("&&") {
                value &= self.unary()?;
            }
            Ok(value)
        }

        fn unary(&mut self) -> Result<bool, String> {
            if self.eat("!") {
                return Ok(!self.unary()?);
            }
            if self.eat("(") {
                let value = self.or()?;
                if !self.eat(")") {
                    return Err(format!("unclosed parenthesis before {:?}", self.rest));
                }
                return Ok(value);
            }
            let name_end = self.rest.find('(').ok_or_else(|| format!("a matcher expected at {:?}", self.rest))?;
            let name = self.rest[..name_end].trim().to_owned();
            self.rest = &self.rest[name_end + 1..];
            if !self.eat("`") {
                return Err(format!("matcher {name} without a backquoted argument"));
            }
            let end = self.rest.find('`').ok_or("a closing backquote")?;
            let argument = &self.rest[..end];
            self.rest = &self.rest[end + 1..];
            if !self.eat(")") {
                return Err(format!("matcher {name} takes one argument here"));
            }
            match name.as_str() {
                "Path" => Ok(self.path == argument),
                "PathPrefix" => Ok(self.path.starts_with(argument)),
                // Go's RE2 and the regex crate agree on the plain patterns a route needs.
                "PathRegexp" => regex::Regex::new(argument)
                    .map(|re| re.is_match(self.path))
                    .map_err(|e| format!("PathRegexp `{argument}`: {e}")),
                "Method" => Ok(self.method.eq_ignore_ascii_case(argument)),
                other => Err(format!("the rule evaluator does not know {other}")),
            }
        }
    }
}

//! `new-service` and `delete-service`: a service added to (or removed from)
//! every place that knows the services, from the templates under
//! `xtask/templates/<kind>/`.
//!
//! Everything is checked and rendered in memory before the first write, so a
//! refusal leaves the tree as it was. What `new-service` adds to shared files
//! it appends as whole blocks (a `services.toml` table, `edge.toml` routers,
//! one line in xtask's manifest and declarations), so `delete-service`
//! removes exactly those bytes and the tree returns to what it was.

use std::{
    fmt::Write as _,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail, ensure};
use catalog::{Catalog, Kind};

/// Names a service cannot take: the shared crates and tools, and names that
/// would clash with the platform's own parts or the edge's and devstack's.
pub const RESERVED: &[&str] = &[
    "all", "catalog", "crates", "database", "devstack", "edge", "nats", "none", "platform", "postgres", "proto",
    "public", "services", "test", "tests", "traefik", "web", "xtask",
];

/// Rust's keywords (2024 edition, reserved ones included) and the standard
/// crates: a service's name is also a crate and a module name.
const RUST_WORDS: &[&str] = &[
    "abstract", "alloc", "as", "async", "await", "become", "box", "break", "const", "continue", "core", "crate", "do",
    "dyn", "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let", "loop", "macro",
    "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return", "self", "static", "std", "struct",
    "super", "trait", "true", "try", "type", "typeof", "union", "unsafe", "unsized", "use", "virtual", "where",
    "while", "yield",
];

/// Where new-service's lines go in xtask's own files.
const CARGO_MARKER: &str = "# new-service adds each service's line below\n";
const DECLARATIONS_MARKER: &str = "        // new-service adds each service's line below\n";

/// devstack's PostgreSQL port (the edge's come from edge.toml).
const POSTGRES_PORT: u16 = 5432;

/// What `new-service` was asked for.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub kind: Kind,
    pub port: Option<u16>,
    pub peers: Vec<String>,
    pub public: bool,
}

/// A file to write, relative to the root.
struct Write {
    path: PathBuf,
    text: String,
}

/// The repository's files that new-service and delete-service edit.
/// Where the Compose model lives (crates/compose renders it).
const COMPOSE: &str = "deploy/compose";

struct Shared {
    services: String,
    edge: String,
    cargo: String,
    declarations: String,
}

impl Shared {
    const SERVICES: &str = "services.toml";
    const EDGE: &str = "deploy/edge/edge.toml";
    const DYNAMIC: &str = "deploy/edge/traefik/dynamic.yml";
    const CARGO: &str = "xtask/Cargo.toml";
    const DECLARATIONS: &str = "xtask/src/lib.rs";

    fn read(root: &Path) -> anyhow::Result<Shared> {
        let read = |path: &str| std::fs::read_to_string(root.join(path)).with_context(|| format!("reading {path}"));
        Ok(Shared {
            services: read(Self::SERVICES)?,
            edge: read(Self::EDGE)?,
            cargo: read(Self::CARGO)?,
            declarations: read(Self::DECLARATIONS)?,
        })
    }

    /// The shared files as `writes`, with what is rendered from `services`:
    /// the edge's dynamic file and the Compose model (deploy/compose/, whose
    /// files all exist already, so each keeps its mode).
    fn writes(self, services: &Catalog) -> anyhow::Result<Vec<Write>> {
        let edge = edge::Edge::parse_with(&self.edge, Self::EDGE, services)?;
        let dynamic = edge.render_dynamic(&edge::Addresses::local_for(services))?;
        let images = catalog::images();
        let (deployed, deployed_edge) = compose::deployed(services, &edge);
        let inputs = compose::Inputs {
            services: &deployed,
            edge: &deployed_edge,
            images: &images,
            version: env!("CARGO_PKG_VERSION"),
        };
        let compose = compose::render(&inputs)?
            .into_iter()
            .map(|file| Write { path: Path::new(COMPOSE).join(file.path), text: file.text });
        Ok([
            Write { path: Self::SERVICES.into(), text: self.services },
            Write { path: Self::EDGE.into(), text: self.edge },
            Write { path: Self::DYNAMIC.into(), text: dynamic },
            Write { path: Self::CARGO.into(), text: self.cargo },
            Write { path: Self::DECLARATIONS.into(), text: self.declarations },
        ]
        .into_iter()
        .chain(compose)
        .collect())
    }
}

/// Adds the service `spec` describes; returns what to tell the user.
pub fn new_service(root: &Path, spec: &Spec) -> anyhow::Result<String> {
    let mut shared = Shared::read(root)?;
    let current = Catalog::parse(&shared.services)?;
    let name = spec.name.as_str();
    ensure!(spec.kind != Kind::Web, "new-service makes grpc or rest services");
    ensure!(
        catalog::valid_name(name),
        "{name:?} cannot name a service: a lowercase letter, then lowercase letters or digits, at most {} (it is \
         also its crate, database role and environment prefix)",
        catalog::MAX_NAME
    );
    ensure!(!RESERVED.contains(&name), "{name:?} is reserved (reserved: {})", RESERVED.join(", "));
    ensure!(
        !RUST_WORDS.contains(&name),
        "{name:?} is a Rust keyword or standard crate; it must name a crate and a module"
    );
    ensure!(current.get(name).is_none(), "there is already a service named {name:?} in services.toml");
    let lock = std::fs::read_to_string(root.join("Cargo.lock")).unwrap_or_default();
    ensure!(
        !lock.contains(&format!("\nname = \"{name}\"\n")),
        "{name:?} is already a crate in Cargo.lock (a dependency); pick another name"
    );
    for taken in [format!("services/{name}"), format!("crates/{name}"), format!("proto/{name}")] {
        ensure!(!root.join(&taken).exists(), "{taken} already exists; pick another name");
    }
    let issuer = current.issuer().name.clone();
    for peer in &spec.peers {
        ensure!(current.get(peer).is_some(), "--peer {peer}: no such service (services: {})", current.names());
    }
    let edge = edge::Edge::parse_with(&shared.edge, Shared::EDGE, &current)?;
    let elsewhere = [POSTGRES_PORT, edge.web_port(), edge.metrics_port()];
    let port = match spec.port {
        Some(port) => {
            ensure!(port >= 1024, "--port {port}: pick an unprivileged port (1024 or above)");
            if let Some(owner) = current.services().find(|s| s.port == port) {
                bail!("--port {port} is {}'s already", owner.name);
            }
            ensure!(!elsewhere.contains(&port), "--port {port} is taken by PostgreSQL or the edge");
            port
        }
        None => (8091..u16::MAX)
            .find(|p| !elsewhere.contains(p) && current.services().all(|s| s.port != *p))
            .context("no free port from 8091 up")?,
    };
    // Every service but the issuer verifies its tokens and has an identity there.
    let mut peers = spec.peers.clone();
    if !peers.contains(&issuer) {
        peers.push(issuer.clone());
    }

    let database = format!("{name}_db");
    let description = format!("the {name} service ({} template)", spec.kind.as_str());
    let quoted: Vec<String> = peers.iter().map(|p| format!("\"{p}\"")).collect();
    shared.services.push_str(&format!(
        "\n[{name}]\nport = {port}\nkind = \"{kind}\"\ndatabase = \"{database}\"\npeers = [{peers}]\nreplicas = 2\n\
         resources = {{ requests = {{ cpu = \"100m\", memory = \"128Mi\" }}, limits = {{ cpu = \"500m\", memory = \"128Mi\" }} }}\n\
         description = \"{description}\"\n",
        kind = spec.kind.as_str(),
        peers = quoted.join(", "),
    ));
    let services = Catalog::parse(&shared.services).context("the new services.toml")?;
    if spec.public {
        shared.edge.push_str(&routers(name, spec.kind));
    }
    shared.cargo =
        insert_after(&shared.cargo, CARGO_MARKER, &format!("{name} = {{ path = \"../services/{name}\" }}\n"))?;
    shared.declarations = insert_after(
        &shared.declarations,
        DECLARATIONS_MARKER,
        &format!("        (\"{name}\", {name}::service::ACCESS),\n"),
    )?;

    let values = Values { name, port, database: &database, description: &description };
    let mut writes = render_templates(root, spec.kind, &values)?;
    for write in &writes {
        ensure!(!root.join(&write.path).exists(), "{} already exists", write.path.display());
    }
    writes.extend(shared.writes(&services)?);
    for write in &writes {
        let path = root.join(&write.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, &write.text).with_context(|| format!("writing {}", path.display()))?;
    }

    // The templates are rustfmt-clean but for `use` order, which depends on the name.
    cargo(root, &["fmt", "-p", name], "run it before committing");

    let mut out = format!(
        "new {kind} service {name} on port {port}, database {database}, peers {peers}\n",
        kind = spec.kind.as_str(),
        peers = peers.join(", ")
    );
    let _ = writeln!(out, "  services/{name}/  (crate, first migration, integration test)");
    if spec.kind == Kind::Grpc {
        let _ = writeln!(out, "  proto/{name}/v1/{name}.proto");
    }
    let _ = writeln!(out, "  services.toml: [{name}]");
    if spec.public {
        let _ =
            writeln!(out, "  deploy/edge/edge.toml: routers for {name}; deploy/edge/traefik/dynamic.yml re-rendered");
    }
    let _ = writeln!(out, "  deploy/compose/: re-rendered with {name} (its container, database, role and secrets)");
    let _ = writeln!(out, "  xtask: {name}'s access declarations, for the README's Access table");
    let _ = writeln!(out, "next:");
    let _ = writeln!(out, "  cargo test -p {name}                      # its tests, against a throwaway PostgreSQL");
    let _ = writeln!(out, "  cargo run -p xtask -- access-table        # the README's Access table");
    let _ = writeln!(out, "  cargo run -p devstack -- up               # the platform, {name} included");
    let _ = writeln!(out, "  nix run .#gen-manifests                   # what Nix renders: the Kubernetes manifests");
    if spec.kind == Kind::Grpc {
        let _ = writeln!(out, "  npm --prefix web run generate             # the web front end's clients, from proto/");
    }
    Ok(out)
}

/// Removes what `new_service` made for `name`; returns what to tell the user.
pub fn delete_service(root: &Path, name: &str) -> anyhow::Result<String> {
    let mut shared = Shared::read(root)?;
    let current = Catalog::parse(&shared.services)?;
    let Some(service) = current.get(name) else {
        bail!("there is no service named {name:?} in services.toml (services: {})", current.names());
    };
    ensure!(!service.token_issuer, "{name} issues the platform's tokens; every other service needs it");
    let callers: Vec<&str> = current.callers_of(name).map(|s| s.name.as_str()).collect();
    ensure!(callers.is_empty(), "{name} is a peer of {}; remove it from their peers first", callers.join(", "));
    let placeholder = format!("{{{name}}}");
    ensure!(
        !shared.edge.contains(&placeholder),
        "deploy/edge/edge.toml's middlewares use {placeholder}; remove them first"
    );

    shared.services = remove_table(&shared.services, name)?;
    let services = Catalog::parse(&shared.services).context("services.toml without it")?;
    // Exactly one service less, the others untouched.
    ensure!(
        current.services().filter(|s| s.name != name).eq(services.services()),
        "services.toml: removing [{name}] would change other services; remove it by hand"
    );
    shared.edge = remove_once(&shared.edge, &routers(name, service.kind), "").unwrap_or(shared.edge);
    ensure!(
        !edge::Edge::parse_with(&shared.edge, Shared::EDGE, &current)?.upstreams().any(|u| u == name),
        "deploy/edge/edge.toml has routers to {name} that new-service did not write; remove them first"
    );
    let line = format!("{name} = {{ path = \"../services/{name}\" }}\n");
    shared.cargo = remove_once(&shared.cargo, &line, "").context("xtask/Cargo.toml lacks new-service's line")?;
    let line = format!("        (\"{name}\", {name}::service::ACCESS),\n");
    shared.declarations =
        remove_once(&shared.declarations, &line, "").context("xtask/src/lib.rs lacks new-service's line")?;
    let mut writes = shared.writes(&services)?;
    let readme = root.join("README.md");
    if let Ok(text) = std::fs::read_to_string(&readme) {
        writes.push(Write { path: "README.md".into(), text: without_table_rows(&text, name) });
    }

    let crate_dir = root.join("services").join(name);
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap_or_default();
    ensure!(
        manifest.is_empty() || manifest.contains(&format!("name = \"{name}\"")),
        "services/{name}/Cargo.toml is not the {name} crate; not deleting it"
    );
    for write in &writes {
        std::fs::write(root.join(&write.path), &write.text)
            .with_context(|| format!("writing {}", write.path.display()))?;
    }
    for dir in [crate_dir, root.join("proto").join(name)] {
        if dir.exists() {
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    // Drops the crate from Cargo.lock, changing nothing else (offline: no index update).
    cargo(root, &["update", "--workspace", "--offline", "--quiet"], &format!("Cargo.lock still lists {name}"));
    let mut out = format!(
        "deleted {name}: services/{name}/, proto/{name}/, its services.toml table, edge routers and xtask lines; \
         deploy/compose/ re-rendered\n"
    );
    let _ = writeln!(
        out,
        "  its database stays in devstack's PostgreSQL (`devstack dump {name}` keeps a copy); before a new"
    );
    let _ = writeln!(out, "  {name} uses it, empty it: `devstack psql {name} -- -c 'DROP OWNED BY CURRENT_USER'`");
    let _ = writeln!(out, "next:");
    let _ = writeln!(out, "  nix run .#gen-manifests                   # what Nix renders: the Kubernetes manifests");
    let _ = writeln!(out, "  npm --prefix web run generate             # the web front end's clients, from proto/");
    Ok(out)
}

/// Runs `cargo <args>` in the checkout; a failure is a warning saying `otherwise`.
fn cargo(root: &Path, args: &[&str], otherwise: &str) {
    let ok = std::process::Command::new("cargo").args(args).current_dir(root).status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("warning: `cargo {}` failed; {otherwise}", args.join(" "));
    }
}

/// The edge routers of a public service, at the level its template declares
/// (user), with CORS and rate limiting like the others.
fn routers(name: &str, kind: Kind) -> String {
    match kind {
        Kind::Grpc => format!(
            "\n# {name}: added by new-service; every RPC needs a user's token.\n[[routers]]\nname = \"{name}\"\n\
             rule = \"PathPrefix(`/{name}.v1.`)\"\nupstream = \"{name}\"\nmiddlewares = [\"cors\", \"rate-limit\", \"forward-auth\"]\n"
        ),
        Kind::Rest => format!(
            "\n# {name}: added by new-service; its OpenAPI document is public.\n[[routers]]\nname = \"{name}-public\"\n\
             rule = \"Method(`GET`) && Path(`/{name}/openapi.json`)\"\nupstream = \"{name}\"\nmiddlewares = [\"cors\", \"rate-limit\"]\n\
             \n# {name}: added by new-service; the rest needs a user's token.\n[[routers]]\nname = \"{name}\"\n\
             rule = \"PathPrefix(`/{name}/`)\"\nupstream = \"{name}\"\nmiddlewares = [\"cors\", \"rate-limit\", \"forward-auth\"]\n"
        ),
        // new-service makes grpc and rest services only; the one web service is written by hand.
        Kind::Web => String::new(),
    }
}

/// `text` with its one occurrence of `what` replaced by `with`; `None` unless there is exactly one.
fn remove_once(text: &str, what: &str, with: &str) -> Option<String> {
    (text.matches(what).count() == 1).then(|| text.replacen(what, with, 1))
}

/// `text` with `line` inserted after `marker`.
fn insert_after(text: &str, marker: &str, line: &str) -> anyhow::Result<String> {
    let at = text.find(marker).with_context(|| format!("the marker {:?} is missing", marker.trim()))? + marker.len();
    Ok(format!("{}{line}{}", &text[..at], &text[at..]))
}

/// `services.toml` without the table `[name]` (and its sub-tables) and the
/// blank line before it: the inverse of appending `"\n[name]\n…"`. It ends
/// at the last blank line before the next table, so that table keeps the
/// comments above it.
fn remove_table(text: &str, name: &str) -> anyhow::Result<String> {
    let header = format!("\n[{name}]\n");
    ensure!(text.matches(&header).count() == 1, "services.toml has no single [{name}] line");
    let start = text.find(&header).expect("counted");
    let own = format!("[{name}.");
    let mut at = start + header.len();
    let mut end = text.len();
    while let Some(offset) = text[at..].find("\n[") {
        let next = at + offset + 1;
        if !text[next..].starts_with(&own) {
            end = text[start + 1..next].rfind("\n\n").map_or(next - 1, |blank| start + 1 + blank + 1);
            break;
        }
        at = next;
    }
    Ok(format!("{}{}", &text[..start], &text[end..]))
}

/// The README without `name`'s rows in the generated Access table.
fn without_table_rows(text: &str, name: &str) -> String {
    let (Some(begin), Some(end)) = (text.find(crate::BEGIN), text.find(crate::END)) else {
        return text.to_owned();
    };
    let row = format!("| {name} |");
    let table: String = text[begin..end].split_inclusive('\n').filter(|l| !l.starts_with(&row)).collect();
    format!("{}{table}{}", &text[..begin], &text[end..])
}

struct Values<'a> {
    name: &'a str,
    port: u16,
    database: &'a str,
    description: &'a str,
}

impl Values<'_> {
    fn apply(&self, template: &str) -> String {
        let camel: String = self.name[..1].to_ascii_uppercase() + &self.name[1..];
        // Left to right, so `{{{Name}}` is a brace and then the name.
        template
            .replace("{{name}}", self.name)
            .replace("{{Name}}", &camel)
            .replace("{{NAME}}", &self.name.to_ascii_uppercase())
            .replace("{{port}}", &self.port.to_string())
            .replace("{{database}}", self.database)
            .replace("{{description}}", self.description)
            .replace("{{migration}}", &migration_version())
    }
}

/// Today's first migration version, `YYYYMMDD000001`, as the others are numbered.
fn migration_version() -> String {
    let days = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86_400);
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}000001")
}

/// Howard Hinnant's days-to-civil-date algorithm; a date library for one
/// file name would be more than this.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Every template of `kind`, rendered: `<path>.tmpl` becomes `<path>`, with
/// the values put into both the path and the text.
fn render_templates(root: &Path, kind: Kind, values: &Values) -> anyhow::Result<Vec<Write>> {
    let dir = root.join("xtask/templates").join(kind.as_str());
    let mut files = Vec::new();
    walk(&dir, &mut files)?;
    files.sort();
    ensure!(!files.is_empty(), "no templates under {}", dir.display());
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(&dir)?.to_string_lossy().into_owned();
            let relative = relative.strip_suffix(".tmpl").unwrap_or(&relative);
            let text = std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
            Ok(Write { path: values.apply(relative).into(), text: values.apply(&text) })
        })
        .collect()
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() { walk(&path, files)? } else { files.push(path) }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICES: &str = "# head\n\n[auth]\nport = 1\nkind = \"rest\"\ndatabase = \"auth_db\"\ntoken_issuer = true\ndescription = \"\"\n";

    #[test]
    fn an_appended_table_is_removed_to_the_byte() {
        let added = format!("{SERVICES}\n[demo]\nport = 2\nresources = {{ requests = {{}} }}\n");
        assert_eq!(remove_table(&added, "demo").unwrap(), SERVICES);
        let middle = format!("{SERVICES}\n[demo]\nport = 2\n[demo.env]\nA = \"b\"\n\n# zed's\n[zed]\nport = 3\n");
        assert_eq!(remove_table(&middle, "demo").unwrap(), format!("{SERVICES}\n# zed's\n[zed]\nport = 3\n"));
        let prefix = format!("{SERVICES}\n[demo2]\nport = 3\n\n[demo]\nport = 2\n");
        assert_eq!(remove_table(&prefix, "demo").unwrap(), format!("{SERVICES}\n[demo2]\nport = 3\n"));
        assert!(remove_table(SERVICES, "demo").is_err());
    }

    #[test]
    fn only_exact_text_is_removed() {
        let edge = "[entrypoint]\nname = \"web\"\n\n# lang\n[[routers]]\nname = \"lang\"\nupstream = \"lang\"\n";
        for kind in [Kind::Grpc, Kind::Rest] {
            let added = format!("{edge}{}", routers("demo", kind));
            assert_eq!(remove_once(&added, &routers("demo", kind), "").as_deref(), Some(edge), "{kind:?}");
        }
        assert_eq!(remove_once("a\na\n", "a\n", ""), None, "twice is ambiguous");
        assert_eq!(remove_once("b\n", "a\n", ""), None);
    }

    #[test]
    fn dates_are_civil() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(20_788), (2026, 12, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}

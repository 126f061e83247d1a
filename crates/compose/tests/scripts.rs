//! The rendered shell scripts, run for real: secrets.sh with openssl, od and
//! sha256sum into a temporary directory, and the PostgreSQL init script with
//! psql against the test server.

mod support;

use std::{
    collections::BTreeMap,
    fs,
    os::unix::fs::PermissionsExt,
    path::Path,
    process::{Command, Output},
};

use compose::{Database, SecretKind};
use sha2::{Digest, Sha256};
use sqlx::{Connection, PgConnection, Row};

fn script(path: &str) -> String {
    support::rendered().into_iter().find(|f| f.path == path).unwrap_or_else(|| panic!("{path} is rendered")).text
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("the command starts");
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn read_all(dir: &Path) -> BTreeMap<String, String> {
    fs::read_dir(dir)
        .expect("the secrets directory")
        .map(|entry| {
            let entry = entry.expect("an entry");
            (entry.file_name().into_string().expect("a UTF-8 name"), fs::read_to_string(entry.path()).expect("read"))
        })
        .collect()
}

#[test]
fn secrets_script_makes_every_secret_once_and_keeps_them() {
    let work = tempfile::tempdir().expect("a temporary directory");
    let sh = work.path().join("secrets.sh");
    fs::write(&sh, script("secrets.sh")).expect("write the script");
    let dir = work.path().join("secrets");
    run(Command::new("sh").arg(&sh).arg(&dir));

    let services = compose::Inputs::built_in().services;
    let expected = compose::secrets(services);
    let files = read_all(&dir);
    let names: Vec<&String> = files.keys().collect();
    let mut wanted: Vec<&String> = expected.iter().map(|s| &s.name).collect();
    wanted.sort();
    assert_eq!(names, wanted, "exactly the declared secrets, no temporaries left");
    assert_eq!(fs::metadata(&dir).expect("the directory").permissions().mode() & 0o777, 0o700);

    for secret in &expected {
        let text = &files[&secret.name];
        let mode = fs::metadata(dir.join(&secret.name)).expect("a secret").permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "{} is readable by the containers' users", secret.name);
        match &secret.kind {
            SecretKind::Random => {
                assert_eq!(text.len(), 64, "{}: 32 bytes in hex", secret.name);
                assert!(text.bytes().all(|b| b.is_ascii_hexdigit()), "{}: {text:?}", secret.name);
            }
            SecretKind::DatabaseUrl { role, database } => {
                let password = &files[&format!("{role}-db-password")];
                assert_eq!(text, &format!("postgres://{role}:{password}@postgres:5432/{database}"));
                url::Url::parse(text).expect("a URL");
            }
            SecretKind::SigningKey => {
                assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8 PEM: {text}");
                jsonwebtoken::EncodingKey::from_ed_pem(text.as_bytes()).expect("an Ed25519 key the issuer can load");
            }
            SecretKind::Clients { clients } => {
                let lines: Vec<String> = clients
                    .iter()
                    .map(|client| {
                        let secret = &files[&format!("{client}-client-secret")];
                        format!("{client}:{}", hex(&Sha256::digest(secret.as_bytes())))
                    })
                    .collect();
                assert_eq!(text.lines().collect::<Vec<_>>(), lines, "one line per client, its secret's SHA-256");
            }
        }
    }

    // A second run changes nothing; a lost client secret is made anew and
    // the issuer's clients file follows it.
    run(Command::new("sh").arg(&sh).arg(&dir));
    assert_eq!(read_all(&dir), files, "a rerun keeps every secret");
    fs::remove_file(dir.join("greeter-client-secret")).expect("remove a client secret");
    run(Command::new("sh").arg(&sh).arg(&dir));
    let again = read_all(&dir);
    assert_ne!(again["greeter-client-secret"], files["greeter-client-secret"]);
    assert_eq!(again["greeter-db-password"], files["greeter-db-password"]);
    let issuer = services.issuer();
    let clients = &again[&format!("{}-clients", issuer.name)];
    let line = format!("greeter:{}", hex(&Sha256::digest(again["greeter-client-secret"].as_bytes())));
    assert!(clients.lines().any(|l| l == line), "{clients}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn init_script_gives_each_service_a_login_role_and_a_private_database() {
    let admin = testkit::admin_url();
    let url = url::Url::parse(admin).expect("the admin URL");
    // Unique names: roles are global to the server, which other tests share.
    let prefix = format!("compose{}", std::process::id());
    let databases: Vec<Database> = compose::databases(compose::Inputs::built_in().services)
        .into_iter()
        .map(|d| Database { role: format!("{prefix}_{}", d.role), database: format!("{prefix}_{}", d.database) })
        .collect();
    let work = tempfile::tempdir().expect("a temporary directory");
    for (i, d) in databases.iter().enumerate() {
        // One password with a quote, to prove psql's quoting carries it.
        let password = if i == 0 { "it's-a-test".to_owned() } else { format!("password-{i}") };
        fs::write(work.path().join(format!("{}-db-password", d.role)), password).expect("write a password");
    }
    let sh = work.path().join("10-platform.sh");
    fs::write(&sh, compose::initdb_script(&databases)).expect("write the script");

    let bin = testkit::pg_bin().expect("PostgreSQL's binaries");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let output = run(Command::new("sh")
        .arg(&sh)
        .env("PATH", path)
        .env("PLATFORM_SECRETS_DIR", work.path())
        .env("PGHOST", url.host_str().expect("a host"))
        .env("PGPORT", url.port().unwrap_or(5432).to_string())
        .env("PGPASSWORD", url.password().unwrap_or_default())
        .env("POSTGRES_USER", url.username())
        .env("POSTGRES_DB", url.path().trim_start_matches('/')));
    let stdout = String::from_utf8_lossy(&output.stdout);

    let mut conn = PgConnection::connect(admin).await.expect("connect as the superuser");
    for d in &databases {
        assert!(stdout.contains(&format!("role {}, database {}", d.role, d.database)), "{stdout}");
        let row = sqlx::query(
            "SELECT r.rolcanlogin, r.rolsuper, r.rolcreatedb, r.rolcreaterole, \
                    coalesce(a.rolpassword LIKE 'SCRAM-SHA-256$%', false) AS hashed, \
                    pg_get_userbyid(db.datdba) AS owner, \
                    has_database_privilege('public', db.oid, 'CONNECT') AS public_connect \
             FROM pg_roles r JOIN pg_authid a ON a.oid = r.oid, pg_database db \
             WHERE r.rolname = $1 AND db.datname = $2",
        )
        .bind(&d.role)
        .bind(&d.database)
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("role {} and database {}: {error}", d.role, d.database));
        assert!(row.get::<bool, _>("rolcanlogin"), "{} logs in", d.role);
        assert!(!row.get::<bool, _>("rolsuper") && !row.get::<bool, _>("rolcreatedb"), "{}", d.role);
        assert!(!row.get::<bool, _>("rolcreaterole"), "{}", d.role);
        assert!(row.get::<bool, _>("hashed"), "{} has a password, stored hashed", d.role);
        assert_eq!(row.get::<String, _>("owner"), d.role);
        assert!(!row.get::<bool, _>("public_connect"), "{} is not open to PUBLIC", d.database);
    }
    // Another service's role may not connect to this database.
    let (a, b) = (&databases[0], &databases[1]);
    let allowed: bool = sqlx::query_scalar("SELECT has_database_privilege($1, $2, 'CONNECT')")
        .bind(&b.role)
        .bind(&a.database)
        .fetch_one(&mut conn)
        .await
        .expect("a privilege check");
    assert!(!allowed, "{} may not connect to {}", b.role, a.database);
    for d in &databases {
        sqlx::query(&format!(r#"DROP DATABASE "{}""#, d.database)).execute(&mut conn).await.expect("drop");
        sqlx::query(&format!(r#"DROP ROLE "{}""#, d.role)).execute(&mut conn).await.expect("drop");
    }
}

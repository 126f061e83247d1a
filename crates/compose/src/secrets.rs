//! The secrets the model reads, each a file under `deploy/compose/secrets/`
//! (never committed), and the script that creates them.

use catalog::Catalog;

use crate::{POSTGRES, generated_header};

/// What a secret holds, and so how it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretKind {
    /// 32 random bytes, hex: a password or a client secret.
    Random,
    /// `postgres://<role>:<password>@postgres:5432/<database>`, the password
    /// being the secret `<role>-db-password`.
    DatabaseUrl { role: String, database: String },
    /// An Ed25519 private key, PKCS#8 PEM: the issuer's signing key.
    SigningKey,
    /// The issuer's `<client id>:<hex SHA-256 of its secret>` lines, one per
    /// client, rewritten from the clients' secrets every time.
    Clients { clients: Vec<String> },
}

/// One file secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secret {
    pub name: String,
    pub kind: SecretKind,
    /// The Compose services that mount it.
    pub readers: Vec<String>,
}

impl Secret {
    fn new(name: String, kind: SecretKind, reader: &str) -> Secret {
        Secret { name, kind, readers: vec![reader.to_owned()] }
    }
}

/// The name of a service's client secret at the issuer.
pub(crate) fn client_secret(service: &str) -> String {
    format!("{service}-client-secret")
}

/// Every secret, in the order the script makes them (a database URL after
/// its password, the clients' file after every client secret).
pub fn secrets(services: &Catalog) -> Vec<Secret> {
    let issuer = services.issuer();
    let mut all = vec![Secret::new("postgres-password".to_owned(), SecretKind::Random, POSTGRES)];
    for s in services.with_databases() {
        all.push(Secret::new(format!("{}-db-password", s.name), SecretKind::Random, POSTGRES));
        all.push(Secret::new(
            format!("{}-database-url", s.name),
            SecretKind::DatabaseUrl { role: s.name.clone(), database: s.database().to_owned() },
            &s.name,
        ));
        if s.is_client() {
            all.push(Secret::new(client_secret(&s.name), SecretKind::Random, &s.name));
        }
    }
    all.push(Secret::new(format!("{}-signing-key", issuer.name), SecretKind::SigningKey, &issuer.name));
    let clients = services.clients().map(|s| s.name.clone()).collect();
    all.push(Secret::new(format!("{}-clients", issuer.name), SecretKind::Clients { clients }, &issuer.name));
    all
}

/// `deploy/compose/secrets.sh`: makes each missing secret, keeps the rest.
pub fn secrets_script(secrets: &[Secret]) -> String {
    let mut script = String::from("#!/bin/sh\n");
    script.push_str(&generated_header(
        "Creates the secrets compose.yaml reads, as files in ./secrets/ beside this\n\
         # script (or in the directory given), keeping every one that exists: the\n\
         # database passwords were set when PostgreSQL first initialised its volume\n\
         # and must not change under it. The issuer's clients file is rewritten\n\
         # from the client secrets each time. Needs openssl (1.1.1 or later, for\n\
         # Ed25519), od and sha256sum.\n\
         #\n\
         # The directory is private (0700). Its files are 0644: Compose bind-mounts\n\
         # them as they are, and the containers run as other users (65532, and\n\
         # PostgreSQL's 999), who must be able to read them.",
    ));
    script.push_str(
        r#"
set -eu
dir="${1:-$(dirname "$0")/secrets}"
umask 077
mkdir -p "$dir"
chmod 700 "$dir"

random() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }
url() { printf 'postgres://%s:%s@postgres:5432/%s' "$1" "$(cat "$dir/$1-db-password")" "$2"; }
sha256() { printf '%s' "$(cat "$dir/$1")" | sha256sum | cut -d ' ' -f 1; }
signing_key() { openssl genpkey -algorithm ed25519; }

# put NAME COMMAND...: NAME is COMMAND's output, written whole or not at all.
put() {
  name=$1
  shift
  "$@" > "$dir/$name.tmp"
  [ -s "$dir/$name.tmp" ] || { echo "secrets.sh: $name came out empty" >&2; exit 1; }
  chmod 644 "$dir/$name.tmp"
  mv "$dir/$name.tmp" "$dir/$name"
}
# new NAME COMMAND...: put, unless NAME exists.
new() {
  [ -s "$dir/$1" ] && return 0
  put "$@"
  echo "created $dir/$1"
}

"#,
    );
    for secret in secrets {
        match &secret.kind {
            SecretKind::Random => script.push_str(&format!("new {} random\n", secret.name)),
            SecretKind::DatabaseUrl { role, database } => {
                script.push_str(&format!("new {} url {role} {database}\n", secret.name))
            }
            SecretKind::SigningKey => script.push_str(&format!("new {} signing_key\n", secret.name)),
            SecretKind::Clients { clients } => {
                script.push_str("clients() {\n");
                for client in clients {
                    script.push_str(&format!("  printf '%s:%s\\n' {client} \"$(sha256 {})\"\n", client_secret(client)));
                }
                script.push_str(&format!("}}\nput {} clients\n", secret.name));
            }
        }
    }
    script.push_str("echo \"secrets in $dir\"\n");
    script
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_gets_its_database_url_and_every_client_its_secret() {
        let all = secrets(catalog::catalog());
        let named = |name: &str| all.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("no secret {name}"));
        for s in catalog::catalog().with_databases() {
            assert_eq!(named(&format!("{}-db-password", s.name)).readers, [POSTGRES]);
            assert_eq!(named(&format!("{}-database-url", s.name)).readers, [s.name.as_str()]);
            assert_eq!(all.iter().any(|x| x.name == client_secret(&s.name)), s.is_client(), "{}", s.name);
        }
        let issuer = catalog::catalog().issuer();
        let SecretKind::Clients { clients } = &named(&format!("{}-clients", issuer.name)).kind else { panic!() };
        assert!(!clients.contains(&issuer.name) && clients.len() == catalog::catalog().clients().count());
        // Made after what it is made from.
        let position = |name: &str| all.iter().position(|s| s.name == name).unwrap();
        assert!(position("greeter-db-password") < position("greeter-database-url"));
        assert!(position("greeter-client-secret") < position(&format!("{}-clients", issuer.name)));
    }
}

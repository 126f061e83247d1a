//! The PostgreSQL init script: a role and a database per service.

use catalog::Catalog;

use crate::{SECRETS_MOUNT, generated_header};

/// One service's database and the role that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Database {
    /// The role: the service's name. Its password is the secret `<role>-db-password`.
    pub role: String,
    pub database: String,
}

/// Every service's database.
pub fn databases(services: &Catalog) -> Vec<Database> {
    services.with_databases().map(|s| Database { role: s.name.clone(), database: s.database().to_owned() }).collect()
}

/// `deploy/compose/initdb/10-platform.sh`. The postgres image runs it once,
/// when it initialises an empty data volume, connected as the superuser over
/// its local socket. Names and passwords reach SQL only as psql variables
/// (`:"role"`, `:'password'`), which psql quotes.
pub fn initdb_script(databases: &[Database]) -> String {
    let mut script = String::from("#!/bin/sh\n");
    script.push_str(&generated_header(
        "Run once by the postgres image (/docker-entrypoint-initdb.d) on an empty\n\
         # data volume: for each service a role that may log in with the password in\n\
         # its secret <role>-db-password, and a database it owns that no other role\n\
         # may connect to (PostgreSQL grants CONNECT to PUBLIC otherwise).",
    ));
    script.push_str(&format!(
        r#"
set -eu
secrets="${{PLATFORM_SECRETS_DIR:-{SECRETS_MOUNT}}}"

# database ROLE DATABASE
database() {{
  password=$(cat "$secrets/$1-db-password")
  [ -n "$password" ] || {{ echo "10-platform.sh: $secrets/$1-db-password is empty" >&2; exit 1; }}
  psql --no-psqlrc --quiet -v ON_ERROR_STOP=1 \
    --username "${{POSTGRES_USER:-postgres}}" --dbname "${{POSTGRES_DB:-postgres}}" \
    -v role="$1" -v db="$2" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"db" OWNER :"role";
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
SQL
  echo "10-platform.sh: role $1, database $2"
}}

"#
    ));
    for db in databases {
        script.push_str(&format!("database {} {}\n", db.role, db.database));
    }
    script
}

#!/usr/bin/env bash
# Runs the services built so far on this machine, no containers:
# PostgreSQL in .devstack/ (data survives restarts), one database and role
# per service, then each service, waiting on its /readyz. Ctrl-C stops all.
# (Superseded by the `devstack` tool once it lands.)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD/.devstack
PGPORT=${PGPORT:-5432}
SERVICES=(caller:8081 greeter:8080 auth:8090 lang:3000)

pg_bin() {
  command -v initdb >/dev/null && { dirname "$(command -v initdb)"; return; }
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}
BIN=$(pg_bin)
[ -x "$BIN/initdb" ] || { echo "PostgreSQL server binaries not found (Debian: apt-get install postgresql)"; exit 1; }

# PostgreSQL refuses to run as root: run it as nobody then.
as_pg() { if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; else "$@"; fi; }

cargo build --quiet $(printf -- '-p %s ' "${SERVICES[@]%%:*}")

mkdir -p "$ROOT"
[ "$(id -u)" = 0 ] && chown nobody:nogroup "$ROOT"
if [ ! -f "$ROOT/pg/PG_VERSION" ]; then
  as_pg "$BIN/initdb" --auth=trust --username=postgres --encoding=UTF8 --locale=C -D "$ROOT/pg" >/dev/null
fi
as_pg "$BIN/pg_ctl" -D "$ROOT/pg" -l "$ROOT/postgres.log" -w \
  -o "-p $PGPORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$ROOT" start >/dev/null

pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  as_pg "$BIN/pg_ctl" -D "$ROOT/pg" -m fast stop >/dev/null || true
  echo "stopped"
}
trap stop INT TERM EXIT

for entry in "${SERVICES[@]}"; do
  svc=${entry%%:*}
  psql -qAt -h 127.0.0.1 -p "$PGPORT" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL >/dev/null
SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', '$svc', '$svc') WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$svc')\gexec
SELECT format('CREATE DATABASE %I OWNER %I', '${svc}_db', '$svc') WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '${svc}_db')\gexec
REVOKE ALL ON DATABASE ${svc}_db FROM PUBLIC;
SQL
done

for entry in "${SERVICES[@]}"; do
  svc=${entry%%:*} port=${entry##*:}
  PORT=$port DATABASE_URL="postgres://$svc:$svc@127.0.0.1:$PGPORT/${svc}_db" \
    CALLER_ALLOWED_NETWORKS=127.0.0.0/8,::1/128 OTEL_EXPORTER_OTLP_ENDPOINT="" \
    "target/debug/$svc" > >(sed -u "s/^/[$svc] /") 2>&1 &
  pids+=($!)
  for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null && break; sleep 0.05; done
  curl -fs "http://127.0.0.1:$port/readyz" >/dev/null || { echo "$svc did not become ready"; exit 1; }
done

printf '\n%-10s %s\n' service address
printf '%-10s %s\n' postgres "127.0.0.1:$PGPORT"
for entry in "${SERVICES[@]}"; do printf '%-10s http://127.0.0.1:%s\n' "${entry%%:*}" "${entry##*:}"; done
echo "platform ready; Ctrl-C stops it"
wait

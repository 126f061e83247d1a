#!/usr/bin/env bash
# Runs the end-to-end suite against the platform.
#
# If a stack already answers (greeter's /readyz), the suite uses it.
# Otherwise this starts `devstack up` from the workspace's debug binaries
# (target/debug, under CARGO_TARGET_DIR when set; DEVSTACK=path overrides) with a throwaway data directory,
# waits for "platform ready", runs the suite and stops devstack (SIGTERM).
# The suite goes through the Traefik edge on :30081 when it answers, and
# straight to the services otherwise; it says which, and ends with
# `e2e: N passed, N failed`. Exit status: 0 only when every check passed.
#
# Environment: E2E_GREETER_URL, E2E_GATEWAY_URL, E2E_AUTH_URL, E2E_LANG_URL,
# E2E_EDGE_URL, E2E_MODE, E2E_SKIP (see src/main.ts), DEVSTACK,
# E2E_STACK_TIMEOUT (seconds to wait for devstack, default 120),
# E2E_BROWSER (1: then run the site's browser suite, web/e2e, through the
# edge; it needs web/dist built, web's packages and chromium. 0: leave it
# out. Unset: run it when web/dist and chromium are there, else say so).
set -euo pipefail
cd "$(dirname "$0")"
E2E=$PWD
ROOT=$(cd .. && pwd)

say() { printf 'e2e: %s\n' "$*"; }
die() { printf 'e2e: %s\n' "$*" >&2; exit 1; }

command -v node >/dev/null || die "node is not installed (Node.js 20 or newer)"
[ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] ||
  die "Node.js 20 or newer is needed, found $(node --version)"
command -v curl >/dev/null || die "curl is not installed"

# --- node packages: buf from the root package.json, the clients from ours --
# The root lock cannot go through `npm ci` (the registry lacks buf's
# other-platform optional packages); `install --no-save` honours it. Ours
# holds plain JavaScript packages only, so `npm ci` takes it as it is.
BUF=$ROOT/node_modules/.bin/buf
if [ ! -x "$BUF" ]; then
  say "installing buf (root package.json)"
  (cd "$ROOT" && npm install --no-save --no-audit --no-fund --loglevel=error)
fi
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing the suite's packages (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# --- the client: generated from proto/ at every run, then compiled ---------
PATH="$E2E/node_modules/.bin:$PATH" "$BUF" generate
rm -rf dist
node_modules/.bin/tsc -p .

# --- the stack ---------------------------------------------------------------
GREETER=${E2E_GREETER_URL:-http://127.0.0.1:8080}
tmp=""
devstack_pid=""
cleanup() {
  local status=$?
  if [ -n "$devstack_pid" ] && kill -0 "$devstack_pid" 2>/dev/null; then
    say "stopping devstack (SIGTERM)"
    kill -TERM "$devstack_pid" 2>/dev/null || true
    for _ in $(seq 300); do kill -0 "$devstack_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$devstack_pid" 2>/dev/null; then
      say "devstack did not stop within 30 s; killing it"
      kill -KILL "$devstack_pid" 2>/dev/null || true
    fi
    wait "$devstack_pid" 2>/dev/null || true
  fi
  if [ -n "$tmp" ]; then
    # Its log is worth reading when something failed.
    if [ "$status" -ne 0 ] && [ -f "$tmp/devstack.log" ]; then
      say "last lines of devstack's log:"
      tail -n 60 "$tmp/devstack.log" | sed 's/^/  | /'
    fi
    rm -rf "$tmp"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if curl -fsS -o /dev/null --max-time 2 "$GREETER/readyz" 2>/dev/null; then
  say "using the stack already running ($GREETER answers)"
else
  DEVSTACK=${DEVSTACK:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/devstack}
  [ -x "$DEVSTACK" ] || die "no stack answers at $GREETER and $DEVSTACK is not built: cargo build --workspace --bins"
  tmp=$(mktemp -d)
  # PostgreSQL runs as nobody when this runs as root: it must reach its directory.
  chmod 755 "$tmp"
  say "starting $DEVSTACK up (data in $tmp/data)"
  # devstack's local admin: its password is kept in the data directory.
  export E2E_ADMIN_PASSWORD_FILE=$tmp/data/admin-password
: >"$tmp/devstack.log"
  "$DEVSTACK" up --data-dir "$tmp/data" --fresh >"$tmp/devstack.log" 2>&1 &
  devstack_pid=$!
  limit=${E2E_STACK_TIMEOUT:-120}
  SECONDS=0
  until grep -q "platform ready" "$tmp/devstack.log"; do
    kill -0 "$devstack_pid" 2>/dev/null || die "devstack exited before the platform was ready"
    ((SECONDS < limit)) || die "devstack was not ready within ${limit}s"
    sleep 0.2
  done
  say "devstack: $(grep -m1 -o 'platform ready in [0-9.]*s' "$tmp/devstack.log")"
fi

# --- the suite ---------------------------------------------------------------
# greeter's process, whose memory the streaming section reports.
E2E_GREETER_PID=${E2E_GREETER_PID:-$(pgrep -n -x greeter || true)}
export E2E_GREETER_PID
status=0
E2E_ROOT=$ROOT E2E_BUF=$BUF node dist/src/main.js || status=$?

# --- the site in a real browser (web/e2e), on the same stack ------------------
# After the suite above: its sign-ups and logins come from other 127/8
# addresses, so the edge's per-source budget for 127.0.0.1 is the browser's.
WEB=$ROOT/web
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
browser=${E2E_BROWSER:-}
if [ -z "$browser" ]; then
  if [ -f "$WEB/dist/index.html" ] && [ -d "$WEB/node_modules" ] && [ -x "$CHROMIUM" ]; then
    browser=1
  else
    browser=0
    say "browser suite left out: it needs web/dist (cd web && npm ci && npm run build) and $CHROMIUM (apt-get install chromium)"
  fi
fi
if [ "$browser" = 1 ]; then
  [ -f "$WEB/dist/index.html" ] || die "web/dist is not built: cd web && npm ci && npm run build"
  [ -d "$WEB/node_modules" ] || die "web's packages are not installed: cd web && npm ci"
  [ -x "$CHROMIUM" ] || die "no chromium at $CHROMIUM: apt-get install chromium (or set CHROMIUM)"
  EDGE=${E2E_EDGE_URL:-http://localhost:30081}
  curl -fsS -o /dev/null --max-time 2 "${EDGE%/}/" ||
    die "the browser suite goes through the edge, and $EDGE does not serve the site (is traefik on PATH?)"
  say "the site in chromium (web/e2e) at $EDGE"
  (cd "$WEB" && CHROMIUM=$CHROMIUM WEB_URL=$EDGE npm run --silent test:browser) || status=$?
fi
exit "$status"

#!/usr/bin/env bash
# The new-service / delete-service round trip, on a copy of this checkout:
#
#   1. copies the checkout (file times kept; build outputs, node_modules and
#      .devstack left out) to a temporary directory;
#   2. there, `new-service demo --kind grpc --peer greeter` and
#      `new-service notes --kind rest --public`;
#   3. builds the workspace, runs both new services' tests and the checks
#      that read what new-service wrote (buf lint, the README's Access table,
#      the edge's rendered file), then `devstack up` with both ready beside the
#      others: demo answers a Connect call, notes a REST call through the edge;
#   4. `delete-service notes` and `delete-service demo`; the copy must then be
#      byte-identical to the original, build outputs aside.
#
# It shares the workspace's target directory (CARGO_TARGET_DIR, else
# ./target), so only what the new services touch compiles. A last build in
# the copy, back at the original's contents, leaves that directory as the
# original would have it.
#
#   bash scripts/scaffold-test.sh          # after `cargo build --workspace --bins --tests`
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
# The schema tests (edge, compose, xtask) read the schemas beside the checkout, not beside the copy.
export TRAEFIK_SCHEMAS_DIR=${TRAEFIK_SCHEMAS_DIR:-$root/../shared/schemas/traefik}
export COMPOSE_SCHEMA=${COMPOSE_SCHEMA:-$root/../shared/schemas/compose/compose-spec.json}
export SBOM_SCHEMA_DIR=${SBOM_SCHEMA_DIR:-$root/../shared/schemas/cyclonedx}
started=$(date +%s)
say() { printf 'scaffold-test: %s\n' "$*"; }
die() { printf 'scaffold-test: FAILED: %s\n' "$*" >&2; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/scaffold-test.XXXXXX")
chmod 755 "$work" # PostgreSQL runs as nobody when this runs as root
copy=$work/repo
devstack_pid=""
stop_devstack() {
  [ -n "$devstack_pid" ] || return 0
  kill -TERM "$devstack_pid" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$devstack_pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$devstack_pid" 2>/dev/null || true
  wait "$devstack_pid" 2>/dev/null || true
  devstack_pid=""
}
cleanup() {
  local status=$?
  stop_devstack
  if [ "$status" -ne 0 ]; then
    if [ -f "$work/devstack.log" ]; then
      say "last lines of devstack's log:"
      tail -n 40 "$work/devstack.log" | sed 's/^/  | /'
    fi
    # The shared target directory now holds what the copy built; newer
    # times on the files the copy changed make the original rebuild them.
    touch "$root/services.toml" "$root/deploy/edge/edge.toml" "$root/Cargo.lock"
    find "$root/proto" -name '*.proto' -exec touch {} +
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

# Build outputs, tools and git's own files: left out of the copy and the comparison.
skipped=(./.git ./target ./node_modules ./e2e/node_modules ./e2e/dist ./e2e/gen ./.devstack ./result
  ./web/node_modules ./web/dist ./web/e2e/dist ./web/screenshots ./web/test-results)
mkdir -p "$copy"
tar -C "$root" "${skipped[@]/#/--exclude=}" -cf - . | tar -C "$copy" -xpf -
# Every directory and file under the current directory but the skipped ones, with the files' hashes.
tree() {
  local prune=() dir
  for dir in "${skipped[@]}"; do prune+=(-path "$dir" -prune -o); done
  find . "${prune[@]}" -print | LC_ALL=C sort
  find . "${prune[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
}
ln -s "$root/node_modules" "$copy/node_modules"
cd "$copy"
# xtask as the workspace build made it: `cargo xtask` (cargo run -p xtask)
# would resolve features for xtask alone and compile its dependencies again.
xtask="$CARGO_TARGET_DIR/debug/xtask"
[ -x "$xtask" ] || die "$xtask is not built: run \`cargo build --workspace --bins --tests\` first"

step() { printf '\n--- %s\n' "$*"; }
step "new-service (refusals first: nothing may be written)"
before=$(tree)
for bad in "greeter --kind grpc" "Demo --kind grpc" "xtask --kind rest" "demo --kind grpc --peer nope" \
  "demo --kind grpc --port 8080"; do
  # shellcheck disable=SC2086 # the arguments are meant to split
  code=0
  "$xtask" new-service $bad >"$work/refusal" 2>&1 || code=$?
  # A refusal is exit 1 with an error; a panic (101) or success is a failure of the test.
  [ "$code" = 1 ] && grep -q '^Error' "$work/refusal" || die "new-service $bad: exit $code: $(cat "$work/refusal")"
  say "refused: new-service $bad: $(grep -m1 '^error\|^Error' "$work/refusal")"
done
[ "$(tree)" = "$before" ] ||
  die "a refused new-service wrote files"
"$xtask" new-service demo --kind grpc --peer greeter
"$xtask" new-service notes --kind rest --public
code=0
"$xtask" delete-service greeter >"$work/refusal" 2>&1 || code=$?
[ "$code" = 1 ] && grep -q '^Error' "$work/refusal" || die "delete-service greeter (demo's peer): exit $code"
say "refused: delete-service greeter: $(grep -m1 '^error\|^Error' "$work/refusal")"

step "build, the new services' tests, and the checks that read what new-service wrote"
cargo build --workspace --bins --tests
"$xtask" access-table
grep -q '| demo | RPC | `/demo.v1.DemoService/Hello` | user | not routed: no router reaches demo |' README.md ||
  die "the README's Access table lacks demo"
# The test binaries `cargo test --workspace` builds, run for these packages
# only: `cargo test -p …` would resolve features for fewer packages and
# compile their dependencies again.
tests_of() {
  cargo test --workspace --no-run --message-format=json 2>/dev/null | python3 -c '
import json, sys
wanted = set(sys.argv[1:])
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["profile"]["test"] and m.get("executable"):
        if m["manifest_path"].rsplit("/", 2)[-2] in wanted:  # services/<name>/Cargo.toml
            print(m["manifest_path"].rsplit("/", 1)[0], m["executable"])
' "$@"
}
ran=0
while read -r dir executable; do
  (cd "$dir" && CARGO_MANIFEST_DIR=$dir "$executable" -q) || die "$executable failed"
  ran=$((ran + 1))
done < <(tests_of demo notes catalog xtask edge compose)
((ran >= 8)) || die "only $ran test binaries ran"
./node_modules/.bin/buf lint proto
./node_modules/.bin/buf format --diff --exit-code proto
cargo fmt --all --check

step "devstack up: every service ready, demo and notes answering"
: >"$work/devstack.log"
"$CARGO_TARGET_DIR/debug/devstack" up --data-dir "$work/data" --fresh >"$work/devstack.log" 2>&1 &
devstack_pid=$!
SECONDS=0
until grep -q "platform ready" "$work/devstack.log"; do
  kill -0 "$devstack_pid" 2>/dev/null || die "devstack exited before the platform was ready"
  ((SECONDS < 120)) || die "devstack was not ready within 120 s"
  sleep 0.2
done
for service in demo notes greeter; do grep -q "^$service ready\|$service ready" "$work/devstack.log" || die "$service never ready"; done
say "$(grep -o 'platform ready in [0-9.]*s' "$work/devstack.log")"
demo_port=$(sed -n 's/^port = //p' <(sed -n '/^\[demo\]/,/^$/p' services.toml))
auth_port=$(sed -n 's/^port = //p' <(sed -n '/^\[auth\]/,/^$/p' services.toml))
token=$(curl -fsS "http://127.0.0.1:$auth_port/auth/signup" -H 'content-type: application/json' \
  -d '{"email":"scaffold@example.com","password":"correct horse battery"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).tokens.access_token')
connect() {
  curl -sS "http://127.0.0.1:$demo_port/demo.v1.DemoService/Hello" -H 'content-type: application/json' \
    -H "authorization: Bearer $token" -d '{"name":"Ada"}'
}
answer=$(connect)
[ "$answer" = '{"message":"Hello, Ada!","count":1}' ] || die "demo's Connect answer: $answer"
say "demo over Connect: $answer"
# Through the edge when devstack runs one (Traefik on PATH), else straight to notes.
if command -v traefik >/dev/null; then
  notes="http://127.0.0.1:$(awk '/^port = / { print $3; exit }' deploy/edge/edge.toml)"
  via="through the edge"
else
  notes="http://127.0.0.1:$(sed -n 's/^port = //p' <(sed -n '/^\[notes\]/,/^$/p' services.toml))"
  via="directly (no traefik on PATH, so no edge)"
fi
answer=$(curl -sS "$notes/notes/v1/hello" -H 'content-type: application/json' \
  -H "authorization: Bearer $token" -d '{"name":"Bob"}')
[ "$answer" = '{"message":"Hello, Bob!","count":1}' ] || die "notes $via: $answer"
say "notes $via: $answer"
status=$(curl -sS -o /dev/null -w '%{http_code}' "$notes/notes/v1/hello" -H 'content-type: application/json' \
  -d '{"name":"Bob"}')
[ "$status" = 401 ] || die "notes without a token, $via: $status"
stop_devstack

step "delete-service: back to the original, byte for byte"
"$xtask" delete-service notes
"$xtask" delete-service demo
if ! diff <(cd "$root" && tree) <(tree) >"$work/diff"; then
  cat "$work/diff" >&2
  die "the copy differs from the original after delete-service"
fi
say "the copy is byte-identical to the original"

step "rebuild at the original's contents (the shared target directory)"
cargo build --workspace --bins --tests
say "passed in $(($(date +%s) - started))s"

#!/usr/bin/env bash
# Measures `devstack up` to `platform ready`: N runs from nothing (--fresh:
# new cluster, databases, key) and N runs with the data directory as the
# previous run left it. Uses the release binaries and a temporary data
# directory, so your own .devstack/ is left alone; the default ports must be
# free (devstack names any that is not).
#
#   cargo build --release && scripts/measure-devstack.sh [N]     # N defaults to 5
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-5}
devstack=${DEVSTACK:-target/release/devstack}
[ -x "$devstack" ] || { echo "no $devstack: run \`cargo build --release\` first" >&2; exit 1; }
shift $(($# > 0 ? 1 : 0))

data=$(mktemp -d "${TMPDIR:-/tmp}/devstack-measure.XXXXXX")
log=$data.log
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$data" "$log"
}
trap cleanup EXIT

# One `up`: sets $secs to the seconds devstack reported, then stops it.
once() {
  NO_COLOR=1 "$devstack" --data-dir "$data" up "$@" >"$log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    grep -q '^platform ready in ' "$log" && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; echo "devstack exited before it was ready" >&2; exit 1; }
    sleep 0.05
  done
  secs=$(sed -n 's/^platform ready in \([0-9.]*\)s$/\1/p' "$log")
  [ -n "$secs" ] || { cat "$log" >&2; echo "no \"platform ready in\" figure within 30s" >&2; exit 1; }
  kill -TERM "$pid"
  wait "$pid" || { cat "$log" >&2; echo "devstack did not stop cleanly" >&2; exit 1; }
  pid=
}

summary() { # label, figures...
  local label=$1; shift
  printf '%s\n' "$@" | sort -n | awk -v label="$label" '
    { v[NR] = $1; sum += $1 }
    END { printf "%-26s runs %d  min %.2fs  median %.2fs  max %.2fs  mean %.2fs\n",
          label, NR, v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR], sum / NR }'
}

fresh=() warm=()
for i in $(seq "$runs"); do
  once --fresh "$@"
  fresh+=("$secs")
  once "$@"
  warm+=("$secs")
  printf 'run %d: from nothing %ss, existing data %ss\n' "$i" "${fresh[-1]}" "${warm[-1]}"
done
edge=$(grep -q 'WITHOUT the edge' "$log" && echo "without the edge (no traefik on PATH)" || echo "with the Traefik edge")

echo
echo "devstack up -> platform ready, release binaries, $(nproc) cores, $edge"
summary "from nothing (--fresh)" "${fresh[@]}"
summary "existing data directory" "${warm[@]}"

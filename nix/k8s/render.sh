#!/usr/bin/env bash
# Renders the Kubernetes environments by evaluation alone (Nix 2.8 is enough;
# nothing is built) into deploy/k8s/manifests/<env>/ and deploy/k8s/helm/<env>/.
# `nix run .#gen-manifests` is the real thing (it also renders the Helm
# charts); this is what a machine without a current Nix and network can do.
#
#   NIXPKGS_LIB=<nixpkgs or nixpkgs.lib checkout> \
#   NIXIDY_SRC=<github:arnarg/nixidy checkout at flake.lock's revision> \
#   KUBE_GENERATORS_SRC=<github:farcaller/nix-kube-generators checkout at nixidy's lock> \
#     bash nix/k8s/render.sh [--check]
#
# --check renders into a temporary directory and fails, listing the stale
# files (then their diff), if the committed files differ from what the
# environments evaluate to; it writes nothing in the repository.
set -euo pipefail
cd "$(dirname "$0")/../.."

missing=0
for var in NIXPKGS_LIB NIXIDY_SRC KUBE_GENERATORS_SRC; do
  if [[ -z "${!var:-}" ]]; then
    echo "nix/k8s/render.sh: set $var" >&2
    missing=1
  fi
done
if ((missing)); then
  python3 - >&2 <<'PY'
import json
nodes = json.load(open("flake.lock"))["nodes"]
for name in ("nixidy", "nix-kube-generators"):
    l = nodes[name]["locked"]
    print(f"  {name}: github:{l['owner']}/{l['repo']} at {l['rev']}")
PY
  exit 2
fi

lib_dir="$NIXPKGS_LIB"
[[ -f "$lib_dir/lib/default.nix" ]] && lib_dir="$lib_dir/lib"
for f in "$lib_dir/default.nix" "$NIXIDY_SRC/make-env.nix" "$KUBE_GENERATORS_SRC/lib/default.nix"; do
  [[ -f "$f" ]] || { echo "nix/k8s/render.sh: $f not found" >&2; exit 2; }
done
abs() { (cd "$1" && pwd); }

json="$(mktemp)"
trap 'rm -f "$json"' EXIT
nix-instantiate --eval --strict --json \
  --arg lib "import $(abs "$lib_dir")" \
  --arg nixidy "$(abs "$NIXIDY_SRC")" \
  --arg kubeGenerators "$(abs "$KUBE_GENERATORS_SRC")" \
  nix/k8s/render.nix >"$json"

if [[ "${1:-}" == "--check" ]]; then
  out="$(mktemp -d)"
  trap 'rm -f "$json"; rm -rf "$out"' EXIT
  python3 nix/k8s/render.py "$out" <"$json"
  # Every file that differs, is missing or is no longer rendered.
  if ! python3 - "$out" deploy/k8s/manifests deploy/k8s/helm >&2 <<'PY'; then
import filecmp, os, sys

out, dirs = sys.argv[1], sys.argv[2:]


def files(top):
    return {os.path.relpath(os.path.join(d, f), top) for d, _, fs in os.walk(top) for f in fs}


stale = []
for top in dirs:
    committed, fresh = files(top), files(os.path.join(out, top))
    for rel in sorted(committed | fresh):
        path = os.path.join(top, rel)
        if rel not in fresh:
            stale.append(f"{path}: not rendered (remove it)")
        elif rel not in committed:
            stale.append(f"{path}: missing")
        elif not filecmp.cmp(path, os.path.join(out, path), shallow=False):
            stale.append(f"{path}: differs")
if stale:
    print(f"nix/k8s/render.sh: {len(stale)} stale file(s):")
    print("".join(f"  {s}\n" for s in stale), end="")
sys.exit(1 if stale else 0)
PY
    for dir in deploy/k8s/manifests deploy/k8s/helm; do
      diff -ru "$dir" "$out/$dir" >&2 || true
    done
    echo "nix/k8s/render.sh: the committed manifests are not what the environments evaluate to; run bash nix/k8s/render.sh" >&2
    exit 1
  fi
  echo "nix/k8s/render.sh: committed manifests match the evaluation"
else
  python3 nix/k8s/render.py . <"$json"
fi

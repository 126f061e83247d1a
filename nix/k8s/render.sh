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
# --check renders into a temporary directory and fails if the committed files
# differ from what the environments evaluate to.
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
  status=0
  for dir in deploy/k8s/manifests deploy/k8s/helm; do
    diff -r "$dir" "$out/$dir" || status=1
  done
  if ((status)); then
    echo "nix/k8s/render.sh: the committed manifests are not what the environments evaluate to; run bash nix/k8s/render.sh" >&2
    exit 1
  fi
  echo "nix/k8s/render.sh: committed manifests match the evaluation"
else
  python3 nix/k8s/render.py . <"$json"
fi

#!/usr/bin/env bash
# What CI checks of the Nix layer without building anything (nothing here
# can: nixpkgs cannot be fetched, and Debian's Nix is 2.8 while the flake
# targets Nix >= 2.31):
#
#   1. every .nix file parses                       (always)
#   2. flake.lock is complete and matches flake.nix (always; builtins only)
#   3. evaluation tests of nix/lib.nix, the service description
#      (services.toml, and others: a service more, broken ones), flake.nix's
#      pure outputs, the NixOS modules, the edge files and the VM tests' node
#      and scripts                                   (needs nixpkgs' lib:
#      NIXPKGS_LIB=<a nixpkgs or nixpkgs.lib checkout, or its lib/ dir>;
#      skipped with a message when it is not set)
#   4. the VM tests' Python scripts compile         (with 3, if python3 exists)
#   5. nix/tests/k8s.nix (with 3), and with NIXIDY_SRC and KUBE_GENERATORS_SRC
#      checkouts too, that deploy/k8s/manifests is what nix/k8s evaluates to
#      (nix/k8s/render.sh --check)
#
# Usage: bash nix/check.sh   (from anywhere; installs nix-bin if missing)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v nix-instantiate >/dev/null; then
  echo "nix/check.sh: installing Debian's nix-bin (parser and evaluator only)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nix-bin >/dev/null
fi
nix-instantiate --version

# Evaluates a Nix expression that yields a list of check names (or a set of
# such lists) and prints one "ok: <name>" line per check; a failed check
# throws, and its message goes to stderr with a non-zero exit.
run_checks() {
  local expr="$1"
  shift
  local out
  out="$(nix-instantiate --eval --strict --json "$@" -E \
    "let r = $expr; l = if builtins.isList r then r else builtins.concatLists (builtins.attrValues (removeAttrs r [ \"testScripts\" ])); in builtins.concatStringsSep \"\n\" l")"
  out="${out#\"}"
  out="${out%\"}"
  out="${out//\\n/$'\n'}"
  printf '  ok: %s\n' "${out//$'\n'/$'\n'  ok: }"
  CHECKS_PASSED=$((CHECKS_PASSED + $(printf '%s\n' "$out" | wc -l)))
}
CHECKS_PASSED=0

echo "==> parse every .nix file"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- '*.nix')
else
  mapfile -t files < <(find . -name '*.nix' -not -path './target/*' -not -path './node_modules/*' -not -path './.devstack/*' | sed 's|^\./||')
fi
if ((${#files[@]} == 0)); then
  echo "nix/check.sh: no .nix files found" >&2
  exit 1
fi
parsed=0
for f in "${files[@]}"; do
  # in git's index but deleted in the work tree (the deletion not committed yet)
  [[ -e "$f" ]] || continue
  nix-instantiate --parse "$f" >/dev/null
  echo "  parsed $f"
  parsed=$((parsed + 1))
done

echo "==> flake.lock against flake.nix"
run_checks "import ./nix/tests/lock.nix"

echo "==> evaluation tests (nixpkgs lib)"
lib_dir=""
if [[ -n "${NIXPKGS_LIB:-}" ]]; then
  if [[ -f "$NIXPKGS_LIB/lib/default.nix" ]]; then
    lib_dir="$NIXPKGS_LIB/lib"
  elif [[ -f "$NIXPKGS_LIB/default.nix" && -f "$NIXPKGS_LIB/fixed-points.nix" ]]; then
    lib_dir="$NIXPKGS_LIB"
  else
    echo "nix/check.sh: NIXPKGS_LIB=$NIXPKGS_LIB holds no nixpkgs lib (lib/default.nix)" >&2
    exit 1
  fi
fi
if [[ -z "$lib_dir" ]]; then
  echo "  SKIPPED: set NIXPKGS_LIB to a nixpkgs (or nixpkgs.lib) checkout to evaluate"
  echo "  nix/tests/eval.nix (nixpkgs is not in the repository or any package registry)"
else
  lib_dir="$(cd "$lib_dir" && pwd)"
  echo "  nixpkgs lib $(nix-instantiate --eval -E "(import $lib_dir).version") from $lib_dir"
  run_checks "import ./nix/tests/eval.nix { lib = import $lib_dir; }"
  run_checks "import ./nix/tests/k8s.nix { lib = import $lib_dir; }"
  if [[ -n "${NIXIDY_SRC:-}" && -n "${KUBE_GENERATORS_SRC:-}" ]]; then
    echo "==> the committed Kubernetes manifests are what the environments evaluate to"
    bash nix/k8s/render.sh --check
  fi

  echo "==> the VM tests' Python compiles"
  if command -v python3 >/dev/null; then
    nix-instantiate --eval --strict --json \
      -E "(import ./nix/tests/eval.nix { lib = import $lib_dir; }).testScripts" >"${TMPDIR:-/tmp}/platform-vm-scripts.json"
    compiled="$(python3 - "${TMPDIR:-/tmp}/platform-vm-scripts.json" <<'PY'
import json, sys
scripts = json.load(open(sys.argv[1]))
for name, text in sorted(scripts.items()):
    compile(text, f"nix/tests/vm-{name}.nix (testScript)", "exec")
    print(f"the {name} VM test's script")
if not scripts:
    print("(none: deploy/edge/traefik/ has no rendered files yet)")
PY
)"
    rm -f "${TMPDIR:-/tmp}/platform-vm-scripts.json"
    printf '  ok: %s\n' "${compiled//$'\n'/$'\n'  ok: }"
    CHECKS_PASSED=$((CHECKS_PASSED + $(grep -c "VM test's script" <<<"$compiled" || true)))
  else
    echo "  SKIPPED: no python3"
  fi
fi

echo "==> nix/check.sh: $parsed files parsed, $CHECKS_PASSED checks passed"

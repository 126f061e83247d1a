#!/usr/bin/env bash
# Type-checks and lints the NixOS VM tests' scripts (nix/tests/vm-*.nix) the
# way the NixOS test driver's build does (nixos/lib/testing/driver.nix):
#
#   mypy --no-implicit-optional --pretty --no-color-output testScriptWithTypes
#     where testScriptWithTypes = nixos/lib/test-script-prepend.py
#       + one `<node>: QemuMachine;` per node (and `machine` when the only
#         node has another name) + `vlan1: VLan` + the test script,
#     with the driver package (nixos/lib/test-driver/src, which ships
#     py.typed) installed, so mypy sees the real Machine API;
#   PYFLAKES_BUILTINS="<nodes>,<driver symbols>" pyflakes <test script>
#     where the driver symbols are what generate-driver-symbols writes
#     (the keys of Driver.test_symbols()).
#
# Not part of CI: it needs the test driver's Python sources, which no
# registry has. Dev-time only, like nix/check.sh's NIXPKGS_LIB:
#
#   NIXPKGS_LIB=<nixpkgs or nixpkgs.lib checkout, or its lib/>
#   NIXOS_LIB=<nixpkgs checkout, or a directory laid out like its nixos/lib/:
#              test-script-prepend.py and test-driver/src/test_driver/,
#              or a nixpkgs git directory (a bare clone or mirror)>
#   NIXPKGS_REV=<commit to take nixos/lib from when NIXOS_LIB is a git
#              directory> (default: flake.lock's nixpkgs rev)
#   PYTHON=<python >= 3.13, as nixpkgs' python3> (default: the first of
#          python3.14, python3.13, python3 on PATH that is >= 3.13)
#   MYPY_VERSION, PYFLAKES_VERSION: pin the PyPI versions (default: newest)
#   VENV=<virtualenv to create or reuse> (default: $TMPDIR/platform-vm-typecheck)
#
# The driver sources should be those of flake.lock's nixpkgs revision: the
# script prints the revision it used (a git checkout's HEAD, or NIXPKGS_REV)
# and warns when that is not the locked one or cannot be told (a plain copy).
#
# Usage: NIXPKGS_LIB=... NIXOS_LIB=... bash nix/tests/typecheck-vm.sh
# Exit status 1 when mypy or pyflakes reports anything.
set -euo pipefail
cd "$(dirname "$0")/../.."

die() {
  echo "nix/tests/typecheck-vm.sh: $*" >&2
  exit 2
}

# nixpkgs' lib, found as nix/check.sh finds it
[[ -n "${NIXPKGS_LIB:-}" ]] || die "set NIXPKGS_LIB to a nixpkgs (or nixpkgs.lib) checkout"
if [[ -f "$NIXPKGS_LIB/lib/default.nix" ]]; then
  lib_dir="$NIXPKGS_LIB/lib"
elif [[ -f "$NIXPKGS_LIB/default.nix" && -f "$NIXPKGS_LIB/fixed-points.nix" ]]; then
  lib_dir="$NIXPKGS_LIB"
else
  die "NIXPKGS_LIB=$NIXPKGS_LIB holds no nixpkgs lib (lib/default.nix)"
fi
lib_dir="$(cd "$lib_dir" && pwd)"

# flake.lock's nixpkgs revision
locked_rev="$(nix-instantiate --eval --json -E \
  '(builtins.fromJSON (builtins.readFile ./flake.lock)).nodes.nixpkgs.locked.rev' | tr -d '"')"

work="$(mktemp -d "${TMPDIR:-/tmp}/platform-vm-typecheck.XXXXXX")"
trap 'rm -rf "$work"' EXIT

[[ -n "${NIXOS_LIB:-}" ]] || die "set NIXOS_LIB to a nixpkgs checkout (or a copy of its nixos/lib/, or a nixpkgs git directory)"
driver_rev=""
if [[ ! -e "$NIXOS_LIB/nixos" && -f "$NIXOS_LIB/HEAD" && -d "$NIXOS_LIB/objects" ]]; then
  # a git directory: nixos/lib at NIXPKGS_REV
  driver_rev="${NIXPKGS_REV:-$locked_rev}"
  driver_rev="$(git --git-dir="$NIXOS_LIB" rev-parse --verify --quiet "$driver_rev^{commit}")" ||
    die "NIXOS_LIB=$NIXOS_LIB has no commit ${NIXPKGS_REV:-$locked_rev}"
  mkdir "$work/nixpkgs"
  git --git-dir="$NIXOS_LIB" archive "$driver_rev" nixos/lib/test-script-prepend.py nixos/lib/test-driver/src |
    tar -x -C "$work/nixpkgs" || die "no nixos/lib/test-driver/src at $driver_rev in $NIXOS_LIB"
  nixos_lib="$work/nixpkgs/nixos/lib"
elif [[ -f "$NIXOS_LIB/nixos/lib/test-script-prepend.py" ]]; then
  nixos_lib="$NIXOS_LIB/nixos/lib"
elif [[ -f "$NIXOS_LIB/test-script-prepend.py" ]]; then
  nixos_lib="$NIXOS_LIB"
else
  die "NIXOS_LIB=$NIXOS_LIB holds no test-script-prepend.py (nor nixos/lib/test-script-prepend.py)"
fi
nixos_lib="$(cd "$nixos_lib" && pwd)"
[[ -f "$nixos_lib/test-driver/src/test_driver/__init__.py" ]] ||
  die "$nixos_lib/test-driver/src/test_driver/ is missing"
# which nixpkgs revision the driver sources are: a git directory's NIXPKGS_REV,
# or a checkout's HEAD (with local changes to nixos/lib noted)
if [[ -z "$driver_rev" ]] && git -C "$nixos_lib" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  driver_rev="$(git -C "$nixos_lib" rev-parse HEAD)"
  [[ -z "$(git -C "$nixos_lib" status --porcelain -- .)" ]] || driver_rev+=" (with local changes)"
fi
echo "driver sources: $nixos_lib"
echo "  nixpkgs revision: ${driver_rev:-unknown (not a git checkout)}; flake.lock: $locked_rev"
[[ "$driver_rev" == "$locked_rev" ]] ||
  echo "  WARNING: not verified to be flake.lock's nixpkgs revision" >&2

if [[ -n "${PYTHON:-}" ]]; then
  python="$PYTHON"
else
  python=python3
  for candidate in python3.14 python3.13 python3; do
    if command -v "$candidate" >/dev/null &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 13))' 2>/dev/null; then
      python="$candidate"
      break
    fi
  done
fi
"$python" -c 'import sys; sys.exit(sys.version_info < (3, 13))' ||
  die "$python is $("$python" --version 2>&1); the driver needs Python >= 3.13 (set PYTHON)"
echo "python: $(command -v "$python") ($("$python" --version 2>&1))"

venv="${VENV:-${TMPDIR:-/tmp}/platform-vm-typecheck}"
echo "==> virtualenv $venv: mypy, pyflakes, the driver's dependencies, the driver"
[[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check \
  "mypy${MYPY_VERSION:+==$MYPY_VERSION}" "pyflakes${PYFLAKES_VERSION:+==$PYFLAKES_VERSION}" \
  setuptools typing_extensions colorama ipython junitparser junit-xml ptpython remote-pdb
# built from a copy: setuptools writes build/ and *.egg-info beside the sources
cp -r "$nixos_lib/test-driver/src" "$work/driver-src"
"$venv/bin/pip" install --quiet --disable-pip-version-check --no-build-isolation \
  --force-reinstall --no-deps "$work/driver-src"
"$venv/bin/python" -m mypy --version
echo "pyflakes $("$venv/bin/python" -m pyflakes --version | head -1)"

echo "==> the VM tests' scripts and nodes (nix/tests/eval.nix's testScripts)"
nix-instantiate --eval --strict --json \
  -E "(import ./nix/tests/eval.nix { lib = import $lib_dir; }).testScripts" >"$work/scripts.json"
# node names: each vm-<name>.nix's `nodes` (the common node is not evaluated)
nodes_json="{"
for f in nix/tests/vm-*.nix; do
  [[ "$f" == nix/tests/vm-common.nix ]] && continue
  name="${f#nix/tests/vm-}"
  name="${name%.nix}"
  nodes="$(nix-instantiate --eval --strict --json -E \
    "builtins.attrNames (import ./$f { common = { node = { }; prelude = \"\"; has = _: false; }; }).nodes")"
  nodes_json+="\"$name\": $nodes,"
done
nodes_json="${nodes_json%,}}"
printf '%s\n' "$nodes_json" >"$work/nodes.json"

# The driver's own symbols for pyflakes, as its generate-driver-symbols writes them.
(cd "$work" && "$venv/bin/python" - >/dev/null <<'PY'
from pathlib import Path
import test_driver
from test_driver.driver import Driver
from test_driver.logger import CompositeLogger
try:
    test_driver.generate_driver_symbols()
except TypeError:
    # a driver package assembled from files of different commits: its
    # __init__.py may predate driver.py's nspawn-era Driver(vm_names,
    # vm_start_scripts, container_names, container_start_scripts, vlans,
    # tests, out_dir, logger); the symbols are the same call's keys
    d = Driver(None, [], None, [], [], "", Path(), CompositeLogger([]))
    Path("driver-symbols").write_text(",".join(d.test_symbols().keys()))
PY
)
echo "driver symbols: $(cat "$work/driver-symbols")"

echo "==> mypy and pyflakes, as nixos/lib/testing/driver.nix runs them"
"$venv/bin/python" - "$work" "$nixos_lib/test-script-prepend.py" "$venv/bin/python" <<'PY'
import json, os, re, subprocess, sys
from pathlib import Path

work, prepend, py = Path(sys.argv[1]), Path(sys.argv[2]).read_text(), sys.argv[3]
scripts = json.loads((work / "scripts.json").read_text())
nodes = json.loads((work / "nodes.json").read_text())
symbols = (work / "driver-symbols").read_text().strip()

def pythonize(name: str) -> str:  # driver.nix's pythonizeName
    return re.sub(r"^[^A-Za-z_]", "_", name[:1]) + re.sub(r"[^A-Za-z0-9_]", "_", name[1:])

failed = 0
for name, script in sorted(scripts.items()):
    label = f"nix/tests/vm-{name}.nix"
    names = [pythonize(n) for n in nodes[name]]
    if len(names) == 1 and "machine" not in nodes[name]:
        names.append("machine")
    d = work / name
    d.mkdir()
    # the default virtualisation.vlans of a node is [ 1 ]; these set none
    (d / "testScriptWithTypes").write_text(
        prepend
        + " ".join(f"{n}: QemuMachine;" for n in names) + "\n"
        + "\n"
        + "vlan1: VLan\n"
        + script
    )
    (d / "test-script").write_text(script)
    mypy = subprocess.run(
        [py, "-m", "mypy", "--no-implicit-optional", "--pretty", "--no-color-output",
         "testScriptWithTypes"],
        cwd=d, capture_output=True, text=True)
    out = mypy.stdout.strip()
    m = re.search(r"Found (\d+) errors?", out)
    errors = int(m.group(1)) if m else (0 if mypy.returncode == 0 else 1)
    print(f"{label}: mypy: {errors} error(s)" + ("" if errors == 0 else "\n" + out))
    flakes = subprocess.run(
        [py, "-m", "pyflakes", "test-script"], cwd=d, capture_output=True, text=True,
        env=dict(os.environ, PYFLAKES_BUILTINS=",".join(names) + "," + symbols))
    lines = [l for l in (flakes.stdout + flakes.stderr).splitlines() if l.strip()]
    print(f"{label}: pyflakes: {len(lines)} message(s)" + "".join("\n  " + l for l in lines))
    failed += errors + len(lines) + (mypy.returncode not in (0, 1))
if not scripts:
    print("(no scripts: deploy/edge/traefik/ has no rendered files yet)")
sys.exit(1 if failed else 0)
PY

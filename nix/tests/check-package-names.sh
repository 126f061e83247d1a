#!/usr/bin/env bash
# Checks that every nixpkgs attribute the flake takes from `pkgs` exists in a
# given nixpkgs revision (by default flake.lock's), without evaluating
# nixpkgs: nothing here can fetch or evaluate it (see nix/check.sh).
#
# Which names: every `pkgs.<name>` (and `inherit (pkgs) <name>`, and the
# elements of `with pkgs; [ ... ]` lists) in flake.nix, nix/**/*.nix and
# deploy/k8s/**/*.nix, read from `nix-instantiate --parse` output, so
# comments and string text do not count and `${pkgs.x}` does. NixOS option
# paths (services.postgresql, ...) are not taken from `pkgs` and are not
# looked at.
#
# Where a name may be defined (the first found is printed):
#   pkgs/by-name/<first two letters, lower case>/<name>/package.nix
#   pkgs/top-level/all-packages.nix  an attribute of its top-level set
#                                    (`  name =` or an `inherit` there)
#   pkgs/top-level/stage.nix, splice.nix, variants.nix and the files
#     stage.nix imports (trivial builders, stdenv adapters): an attribute
#   pkgs/top-level/aliases.nix       reported as an alias; a `throw` there
#                                    (a removed package) fails
# For a few nested sets the member is checked too: testers.<m>,
# dockerTools.<m>, rustPlatform.<m>, python3Packages.<m> (and python3.pkgs.<m>),
# in the file that defines the set. Other members (pkgs.postgresql.version,
# pkgs.stdenv.hostPlatform) are not checked.
#
# Not part of CI: it needs a nixpkgs source tree. Dev-time only:
#
#   NIXPKGS=<nixpkgs checkout, or a nixpkgs git directory (bare clone, mirror)>
#   NIXPKGS_REV=<commit to read> (default: a git directory: flake.lock's
#              nixpkgs rev; a checkout: its work tree as it is)
#
# Usage: NIXPKGS=... bash nix/tests/check-package-names.sh
#        bash nix/tests/check-package-names.sh --list   (the names only)
# Exit status 1 when a name is missing (or only a removed alias).
set -euo pipefail
cd "$(dirname "$0")/../.."

die() {
  echo "nix/tests/check-package-names.sh: $*" >&2
  exit 2
}
command -v nix-instantiate >/dev/null || die "needs nix-instantiate (Debian's nix-bin)"
command -v python3 >/dev/null || die "needs python3"

list_only=false
[[ "${1:-}" == "--list" ]] && list_only=true

locked_rev="$(nix-instantiate --eval --json -E \
  '(builtins.fromJSON (builtins.readFile ./flake.lock)).nodes.nixpkgs.locked.rev' 2>/dev/null | tr -d '"')"

work="$(mktemp -d "${TMPDIR:-/tmp}/platform-package-names.XXXXXX")"
trap 'rm -rf "$work"' EXIT

# the flake's Nix files, parsed (comments gone, `inherit (pkgs) x` spelled
# `x = (pkgs).x`, every reference to pkgs written `(pkgs).<path>`)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
    flake.nix 'nix/*.nix' 'deploy/k8s/*.nix' | sort -u)
else
  mapfile -t files < <({ [[ -f flake.nix ]] && echo flake.nix; find nix deploy/k8s -name '*.nix' 2>/dev/null; } | sort -u)
fi
mkdir "$work/parsed"
n=0
for f in "${files[@]}"; do
  [[ -e "$f" ]] || continue
  n=$((n + 1))
  printf '%s\n' "$f" >"$work/parsed/$n.name"
  nix-instantiate --parse "$f" >"$work/parsed/$n.nix" 2>/dev/null || die "$f does not parse"
done
((n > 0)) || die "no .nix files found"

mode=none
gitdir=""
rev=""
if ! $list_only; then
  [[ -n "${NIXPKGS:-}" ]] || die "set NIXPKGS to a nixpkgs checkout or git directory (or pass --list)"
  if [[ -f "$NIXPKGS/pkgs/top-level/all-packages.nix" && -z "${NIXPKGS_REV:-}" ]]; then
    mode=tree
    rev="$(git -C "$NIXPKGS" rev-parse HEAD 2>/dev/null || true)"
    if [[ -n "$rev" && -n "$(git -C "$NIXPKGS" status --porcelain -- pkgs 2>/dev/null)" ]]; then
      rev+=" (with local changes)"
    fi
  else
    mode=git
    if [[ -f "$NIXPKGS/HEAD" && -d "$NIXPKGS/objects" ]]; then
      gitdir="$NIXPKGS"
    else
      gitdir="$(git -C "$NIXPKGS" rev-parse --absolute-git-dir 2>/dev/null)" ||
        die "NIXPKGS=$NIXPKGS is neither a nixpkgs checkout nor a git directory"
    fi
    want="${NIXPKGS_REV:-$locked_rev}"
    rev="$(git --git-dir="$gitdir" rev-parse --verify --quiet "$want^{commit}")" ||
      die "NIXPKGS=$NIXPKGS has no commit $want"
    git --git-dir="$gitdir" cat-file -e "$rev:pkgs/top-level/all-packages.nix" 2>/dev/null ||
      die "no pkgs/top-level/all-packages.nix at $rev in $NIXPKGS"
  fi
  echo "nixpkgs: $NIXPKGS"
  echo "  revision: ${rev:-unknown (not a git checkout)}; flake.lock: $locked_rev"
  [[ "$rev" == "$locked_rev" ]] ||
    echo "  WARNING: not flake.lock's nixpkgs revision" >&2
fi

python3 - "$work/parsed" "$mode" "${NIXPKGS:-}" "$gitdir" "$rev" <<'PY'
import os, re, subprocess, sys
from collections import defaultdict

parsed_dir, mode, tree, gitdir, rev = sys.argv[1:6]

# --- the names the flake uses -------------------------------------------------
IDENT = r"[A-Za-z_][A-Za-z0-9_'-]*"
COMPONENT = rf'(?:{IDENT}|"(?:[^"\\]|\\.)*")'
REF = re.compile(rf"\(pkgs\)((?:\.{COMPONENT})+)")

uses = defaultdict(set)      # path tuple -> files
unchecked = []               # (file, text) of `with pkgs;` bodies not read

def components(dotted):
    """The path's components, up to the first dynamic one ("${...}")."""
    out = []
    for c in re.findall(COMPONENT, dotted):
        if "${" in c:
            break
        out.append(c.strip('"'))
    return out

def balanced(text, start):
    """Index just past the bracket or paren group that opens at text[start]."""
    depth, i, instr = 0, start, False
    while i < len(text):
        c = text[i]
        if instr:
            if c == "\\":
                i += 1
            elif c == '"':
                instr = False
        elif c == '"':
            instr = True
        elif c in "([{":
            depth += 1
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return len(text)

def list_elements(body):
    """Top-level elements of a parsed list body (`[ (a) ((b).c) ]`)."""
    out, i = [], 0
    while i < len(body):
        if body[i].isspace():
            i += 1
        elif body[i] in "([{":
            j = balanced(body, i)
            out.append(body[i:j])
            i = j
        else:
            j = i
            while j < len(body) and not body[j].isspace():
                j += 1
            out.append(body[i:j])
            i = j
    return out

ELEMENT = re.compile(rf"^\(*({IDENT})\)?((?:\.{COMPONENT})*)\)*$")

for entry in sorted(os.listdir(parsed_dir)):
    if not entry.endswith(".nix"):
        continue
    base = os.path.join(parsed_dir, entry[:-4])
    name = open(base + ".name").read().strip()
    text = open(base + ".nix").read()
    if "${" in text:
        # dynamic attribute names ((pkgs)."${x}") cannot be checked
        for m in re.finditer(r'\(pkgs\)\."\$\{', text):
            unchecked.append((name, text[m.start():m.start() + 60]))
    for m in REF.finditer(text):
        path = components(m.group(1))
        if path:
            uses[tuple(path)].add(name)
    for m in re.finditer(r"\(with pkgs; ", text):
        k = m.end()
        if text.startswith("[", k):
            end = balanced(text, k)
            for el in list_elements(text[k + 1:end - 1]):
                em = ELEMENT.match(el)
                if em and not (em.group(2) or "").startswith('."${'):
                    uses[(em.group(1), *components(em.group(2)))].add(name)
                elif el.strip():
                    unchecked.append((name, "with pkgs; [ ... " + el[:60] + " ... ]"))
        else:
            unchecked.append((name, text[m.start():m.start() + 80]))

top = sorted({p[0] for p in uses})
if mode == "none":
    for t in top:
        where = sorted({f for p, fs in uses.items() if p[0] == t for f in fs})
        print(f"{t}\t{', '.join(where)}")
    for f, t in unchecked:
        print(f"not read: {f}: {t}", file=sys.stderr)
    sys.exit(0)

# --- the nixpkgs revision -----------------------------------------------------
def git(*args):
    return subprocess.run(["git", f"--git-dir={gitdir}", *args],
                          capture_output=True, text=True)

def exists(path):
    if mode == "tree":
        return os.path.exists(os.path.join(tree, path))
    return git("cat-file", "-e", f"{rev}:{path}").returncode == 0

def read(path):
    if mode == "tree":
        p = os.path.join(tree, path)
        return open(p, encoding="utf-8").read() if os.path.isfile(p) else None
    r = git("show", f"{rev}:{path}")
    return r.stdout if r.returncode == 0 else None

def resolve(base_dir, rel):
    p = os.path.normpath(os.path.join(base_dir, rel))
    if not p.endswith(".nix"):
        p = os.path.join(p, "default.nix")
    return p

def attr_lines(text, max_indent, min_indent=2, start=0):
    """name -> line number, for `name =` and `inherit ... name ...;` at an
    indentation between min_indent and max_indent."""
    found = {}
    lines = text.split("\n")
    i = start
    while i < len(lines):
        line = lines[i]
        indent = len(line) - len(line.lstrip(" "))
        s = line.strip()
        if min_indent <= indent <= max_indent and not s.startswith("#"):
            m = re.match(rf'^({IDENT}|"[^"]+")\s*=(?!=)', s)
            if m:
                found.setdefault(m.group(1).strip('"'), i + 1)
            elif re.match(r"^inherit\b", s):
                # comments dropped line by line, up to the `;`
                block, j = re.sub(r"#.*", "", s), i
                while ";" not in block and j + 1 < len(lines):
                    j += 1
                    block += " " + re.sub(r"#.*", "", lines[j]).strip()
                body = block[len("inherit"):].split(";")[0].strip()
                if body.startswith("("):
                    body = body[balanced(body, 0):]
                for n in re.findall(IDENT, body):
                    found.setdefault(n, i + 1)
                i = j
        i += 1
    return found

sources = []   # (label, path, {name: line})
allpkgs = read("pkgs/top-level/all-packages.nix")
if allpkgs is None:
    sys.exit("nix/tests/check-package-names.sh: no pkgs/top-level/all-packages.nix")
# the top-level set: after `with pkgs;` (a `let` before it binds no packages)
lines = allpkgs.split("\n")
start = next((i for i, l in enumerate(lines) if l.strip() == "with pkgs;"), 0)
sources.append(("pkgs/top-level/all-packages.nix", attr_lines(allpkgs, 2, 2, start)))

overlay_files = ["pkgs/top-level/stage.nix", "pkgs/top-level/splice.nix",
                 "pkgs/top-level/variants.nix"]
stage = read("pkgs/top-level/stage.nix") or ""
for rel in re.findall(r"import\s+(\.\.?/[A-Za-z0-9_./-]+)", stage):
    p = resolve("pkgs/top-level", rel)
    if os.path.basename(p) not in ("all-packages.nix", "aliases.nix", "by-name-overlay.nix") \
            and p not in overlay_files and "by-name" not in p:
        overlay_files.append(p)
for p in overlay_files:
    t = read(p)
    if t is not None:
        sources.append((p, attr_lines(t, 6)))

aliases_text = read("pkgs/top-level/aliases.nix") or ""
aliases = attr_lines(aliases_text, 4)
alias_lines = aliases_text.split("\n")

def alias_entry(n):
    """The text of an alias's definition (up to its `;`)."""
    i = aliases[n] - 1
    block = alias_lines[i].strip()
    while ";" not in block and i + 1 < len(alias_lines):
        i += 1
        block += " " + alias_lines[i].strip()
    return block

def find_top(n):
    shard = n[:2].lower()
    p = f"pkgs/by-name/{shard}/{n}/package.nix"
    if exists(p):
        return ("ok", p)
    for label, names in sources:
        if n in names:
            return ("ok", f"{label}:{names[n]}")
    if n in aliases:
        entry = alias_entry(n)
        kind = "removed" if re.search(r"\bthrow\b", entry) else "alias"
        return (kind, f"pkgs/top-level/aliases.nix:{aliases[n]}: {entry[:100]}")
    return ("missing", "")

NESTED = {
    "testers": ["pkgs/build-support/testers/default.nix"],
    "dockerTools": ["pkgs/build-support/docker/default.nix"],
    "rustPlatform": ["pkgs/development/compilers/rust/make-rust-platform.nix"],
    "python3Packages": ["pkgs/top-level/python-packages.nix"],
}

def find_member(setname, member):
    if setname == "python3Packages" and exists(f"pkgs/development/python-modules/{member}"):
        return ("ok", f"pkgs/development/python-modules/{member}/")
    for p in NESTED[setname]:
        t = read(p)
        if t is None:
            continue
        names = attr_lines(t, 6)
        if member in names:
            return ("ok", f"{p}:{names[member]}")
    return ("missing", " or ".join(NESTED[setname]))

counts = defaultdict(int)
failed = []
for t in top:
    where = sorted({f for p, fs in uses.items() if p[0] == t for f in fs})
    status, loc = find_top(t)
    counts[status] += 1
    tag = {"ok": "ok", "alias": "ALIAS", "removed": "REMOVED", "missing": "MISSING"}[status]
    print(f"  {tag:8} {t:28} {loc or 'not found'}")
    if status in ("removed", "missing"):
        failed.append(f"{t} (used in {', '.join(where)})")
    # members of the nested sets checked
    members = sorted({p[1] for p in uses if p[0] == t and len(p) > 1})
    if t == "python3":
        members = sorted({p[2] for p in uses if p[0] == t and len(p) > 2 and p[1] == "pkgs"})
        setname = "python3Packages"
    else:
        setname = t
    if setname in NESTED:
        for m in members:
            st, ml = find_member(setname, m)
            counts["member " + st] += 1
            print(f"  {'ok' if st == 'ok' else 'MISSING':8}   {t + '.' + m:30} {ml if st == 'ok' else 'not in ' + ml}")
            if st != "ok":
                failed.append(f"{t}.{m}")

for f, t in unchecked:
    print(f"  not read: {f}: {t}")
print(f"{len(top)} names: {counts['ok']} found, {counts['alias']} aliases, "
      f"{counts['removed']} removed, {counts['missing']} missing; "
      f"{counts['member ok']} nested members found, {counts['member missing']} missing")
if failed:
    print("not in this nixpkgs: " + "; ".join(failed))
    sys.exit(1)
PY

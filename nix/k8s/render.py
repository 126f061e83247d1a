#!/usr/bin/env python3
"""Writes nix/k8s/render.nix's evaluation (JSON on stdin) as YAML files.

    render.py OUT_DIR < render.json

For every environment: OUT_DIR/<rootPath>/ is replaced by exactly the files
nixidy's activation script would write there (`<app>/<Kind>-<name>.yaml`,
`apps/Application-<app>.yaml`), each starting with the evaluation's
`manifestHeader` comment (saying it is generated, and by what), and
OUT_DIR/deploy/k8s/helm/<env>/ gets one file per Helm release that was not
rendered (chart pin and values).

nixidy writes each file with `yq -P` from `builtins.toJSON` (keys sorted,
block style, sequences indented, two spaces). The emitter below follows the
same conventions (go-yaml v3's quoting: plain where the YAML reads back as
the same string, double quotes where a plain scalar would read as a number,
bool or null, single quotes where an indicator forbids plain; literal blocks
for multi-line strings), so a real `nix run .#gen-manifests` should differ,
if at all, in formatting details only, never in content.
"""

import json
import os
import re
import shutil
import sys

# What a plain scalar would resolve to something other than a string (go-yaml
# v3's resolve: YAML 1.2 core schema, underscores in numbers, timestamps).
_NULL = {"", "~", "null", "Null", "NULL"}
_BOOL = {"true", "True", "TRUE", "false", "False", "FALSE"}
_SPECIAL_FLOAT = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN", ".NAN"}
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_INT = re.compile(r"^[-+]?(0b[01]+|0o?[0-7]+|0x[0-9a-fA-F]+|[0-9]+)$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([Tt ].*)?$")


def _resolves_to_non_string(s):
    if s in _NULL or s in _BOOL or s in _SPECIAL_FLOAT or s == "<<":
        return True
    plain = s.replace("_", "")
    return bool(_INT.match(plain) or _FLOAT.match(plain) or _TIMESTAMP.match(s))


def _printable(ch):
    o = ord(ch)
    return ch == "\n" or 0x20 <= o <= 0x7E or o == 0x85 or (0xA0 <= o <= 0xD7FF) or (0xE000 <= o <= 0xFFFD and o != 0xFEFF) or 0x10000 <= o <= 0x10FFFF


def _analyze(s):
    """libyaml's yaml_emitter_analyze_scalar, for the block context."""
    plain = single = block = True
    if not s:
        return False, False, False
    if s.startswith("---") or s.startswith("..."):
        plain = False
    space_before = True  # the start counts as preceded by whitespace
    prev_space = prev_break = False
    leading_space = s[0] == " "
    leading_break = s[0] == "\n"
    trailing_space = s[-1] == " "
    trailing_break = s[-1] == "\n"
    space_break = break_space = special = False
    for i, ch in enumerate(s):
        nxt = s[i + 1] if i + 1 < len(s) else None
        followed_by_ws = nxt is None or nxt in " \n"
        if i == 0:
            if ch in "#,[]{}&*!|>'\"%@`":
                plain = False
            if ch in "?:" and followed_by_ws:
                plain = False
            if ch == "-" and followed_by_ws:
                plain = False
        else:
            if ch == ":" and followed_by_ws:
                plain = False
            if ch == "#" and space_before:
                plain = False
        if not _printable(ch):
            special = True
        if ch == " ":
            if prev_break:
                break_space = True
            prev_space, prev_break = True, False
        elif ch == "\n":
            if prev_space:
                space_break = True
            prev_space, prev_break = False, True
        else:
            prev_space = prev_break = False
        space_before = ch in " \n"
    if leading_space or leading_break or trailing_space or trailing_break:
        plain = False
    if trailing_space:
        block = False
    if break_space:
        plain = single = False
    if space_break or special:
        plain = single = block = False
    if "\n" in s:
        plain = False
    return plain, single, block


def _double_quoted(s):
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif not _printable(ch):
            o = ord(ch)
            out.append("\\x%02X" % o if o <= 0xFF else ("\\u%04X" % o if o <= 0xFFFF else "\\U%08X" % o))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _string(s, indent):
    """The scalar as it follows `key: ` or `- ` (may span lines)."""
    plain, single, block = _analyze(s)
    if "\n" in s:
        if not block:
            return _double_quoted(s)
        # strip (-), clip (one final line break) or keep (several)
        chomp = "-" if not s.endswith("\n") else ("+" if s.endswith("\n\n") or s == "\n" else "")
        lines = (s if chomp == "-" else s[:-1]).split("\n")
        hint = "2" if s[0] in " \n" else ""
        pad = " " * (indent + 2)
        return "|" + hint + chomp + "".join("\n" + (pad + line if line else "") for line in lines)
    if plain and not _resolves_to_non_string(s):
        return s
    if not plain and single and s:
        return "'" + s.replace("'", "''") + "'"
    return _double_quoted(s)


def _scalar(v, indent):
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v) if v != int(v) else str(int(v))
    return _string(v, indent)


def _key(k):
    plain, single, _ = _analyze(k)
    if plain and not _resolves_to_non_string(k):
        return k
    if single and k and not plain:
        return "'" + k.replace("'", "''") + "'"
    return _double_quoted(k)


def _emit(v, indent, out):
    """Appends the lines of mapping or sequence `v` at column `indent`."""
    pad = " " * indent
    if isinstance(v, dict):
        for k in sorted(v):
            val = v[k]
            if isinstance(val, dict) and val:
                out.append(f"{pad}{_key(k)}:")
                _emit(val, indent + 2, out)
            elif isinstance(val, list) and val:
                out.append(f"{pad}{_key(k)}:")
                _emit(val, indent + 2, out)
            else:
                out.append(f"{pad}{_key(k)}: {_inline(val, indent)}")
    else:
        for item in v:
            if (isinstance(item, (dict, list))) and item:
                sub = []
                _emit(item, indent + 2, sub)
                sub[0] = pad + "- " + sub[0][indent + 2 :]
                out.extend(sub)
            else:
                out.append(f"{pad}- {_inline(item, indent)}")


def _inline(v, indent):
    if isinstance(v, dict):
        return "{}"
    if isinstance(v, list):
        return "[]"
    return _scalar(v, indent)


def to_yaml(obj):
    if isinstance(obj, (dict, list)) and obj:
        lines = []
        _emit(obj, 0, lines)
        return "\n".join(lines) + "\n"
    return _inline(obj, 0) + "\n"


def write_env(out_dir, env, result):
    root = os.path.normpath(os.path.join(out_dir, result["rootPath"]))
    if os.path.exists(root):
        shutil.rmtree(root)
    for path, content in sorted(result["files"].items()):
        target = os.path.join(root, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        docs = content if isinstance(content, list) else [content]
        with open(target, "w") as f:
            f.write(result.get("manifestHeader", ""))
            f.write("---\n".join(to_yaml(d) for d in docs))
    helm_dir = os.path.join(out_dir, "deploy", "k8s", "helm", env)
    if os.path.exists(helm_dir):
        shutil.rmtree(helm_dir)
    if result["helm"]:
        os.makedirs(helm_dir)
    for release, spec in sorted(result["helm"].items()):
        with open(os.path.join(helm_dir, f"{release}.yaml"), "w") as f:
            f.write(
                "# Generated by `bash nix/k8s/render.sh` from nix/k8s; do not edit.\n"
                f"# The Helm release `{release}` of application `{spec['app']}` ({env}), as\n"
                "# nix/k8s hands it to nixidy. Not rendered in this repository (Helm needs a\n"
                "# build): `nix run .#gen-manifests` templates the chart with these values\n"
                f"# into deploy/k8s/manifests/{env}/{spec['app']}/.\n"
            )
            f.write(to_yaml({"release": release, **spec}))
    return root, len(result["files"]), len(result["helm"])


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: render.py OUT_DIR < render.json")
    out_dir = sys.argv[1]
    envs = json.load(sys.stdin)
    for env, result in sorted(envs.items()):
        root, files, releases = write_env(out_dir, env, result)
        print(f"  {env}: {files} files in {os.path.relpath(root, out_dir)}, {releases} Helm releases not rendered")


if __name__ == "__main__":
    main()

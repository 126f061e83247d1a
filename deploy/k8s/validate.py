#!/usr/bin/env python3
"""Validates the committed Kubernetes manifests offline (deploy/k8s/validate.sh
runs it in a virtualenv with kubernetes-validate).

    validate.py [--self-test] [--kubernetes-version V ...] [--manifests DIR]

Schemas, unknown fields refused everywhere:
  - core kinds: kubernetes-validate's strict schemas for each target version
    (1.33, the version the environments are typed for, and 1.37);
  - Traefik (traefik.io) objects: the CRDs in ../shared/schemas/traefik/crds-v3.yml,
    with additionalProperties: false added wherever a schema lists its
    properties and does not preserve unknown fields;
  - Argo CD Applications: their source path must exist in the repository (or
    be an application whose Helm release is listed in deploy/k8s/helm/<env>/).
Policy:
  - no Secret carries data, and no ConfigMap or container env holds a value
    under a secret-looking name or a URL with a password;
  - every container has resource requests and limits and a non-root,
    no-escalation, all-capabilities-dropped security context with a seccomp
    profile (a pod template may exempt itself from the non-root rule only with a
    `policy.platform/run-as-root: <reason>` annotation); the platform's own
    containers also have a read-only root filesystem; every long-running
    container has liveness and readiness probes;
  - every Service with a selector has a NetworkPolicy selecting its pods and
    admitting something, and every namespace with workloads a default deny.

--self-test first breaks copies of the manifests in ways that must fail
(a misspelled field in a Deployment, a Middleware and an IngressRoute, a
Secret value, a missing probe, ...) and fails unless each one is caught.
"""

import argparse
import copy
import functools
import json
import os
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CRDS = os.path.join(REPO, "..", "shared", "schemas", "traefik", "crds-v3.yml")
# nixidy's typed resources are Kubernetes 1.33's (nix/k8s/options.nix); the
# newest version kubernetes-validate knows catches removals since.
DEFAULT_VERSIONS = ["1.33.0", "1.37.0"]

WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
RUN_TO_COMPLETION = {"Job", "CronJob"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "IngressClass",
    "PriorityClass",
    "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration",
    "APIService",
}
# kubernetes-validate reads and parses its (large) schema files at every call.
kubernetes_validate.utils.schema_contents = functools.lru_cache(maxsize=None)(kubernetes_validate.utils.schema_contents)
# libyaml's parser when PyYAML has it (ten times faster than the pure-Python one).
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
EXEMPT_ROOT = "policy.platform/run-as-root"
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|SECRET|TOKEN|PRIVATE_KEY|SIGNING_KEY|API_KEY|CREDENTIALS)$", re.I)
URL_WITH_PASSWORD = re.compile(r"^[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@", re.I)


# ---- schemas -------------------------------------------------------------------------------


def _closed(schema):
    """A copy of an OpenAPI v3 schema that refuses properties it does not list."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _closed(v) for k, v in schema.items()}
    if (
        "properties" in schema
        and "additionalProperties" not in schema
        and not schema.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


@functools.lru_cache(maxsize=None)
def crd_schemas(path=CRDS):
    """(apiVersion, kind) -> a validator for the object, from the CRD definitions."""
    with open(path) as f:
        docs = [d for d in yaml.load_all(f, Loader=Loader) if d]
    out = {}
    for crd in docs:
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = _closed(version["schema"]["openAPIV3Schema"])
            # metadata is `type: object` in CRDs; hold it to what these objects use.
            schema["properties"]["metadata"] = {
                "type": "object",
                "required": ["name", "namespace"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                    "namespace": {"type": "string"},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            }
            schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
            out[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = jsonschema.Draft7Validator(schema)
    return out


def schema_errors(doc, version, crds):
    api, kind = doc.get("apiVersion", ""), doc.get("kind", "")
    group = api.split("/")[0] if "/" in api else ""
    if group == "traefik.io" or group.endswith(".traefik.io"):
        validator = crds.get((api, kind))
        if validator is None:
            return [f"no Traefik CRD defines {api} {kind}"]
        return [
            f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
        ]
    if group == "argoproj.io":
        return []  # nixidy's typed Argo CD options already refuse unknown fields; see application_errors
    return list(_core_errors(json.dumps(doc, sort_keys=True), version))


@functools.lru_cache(maxsize=None)
def _core_errors(doc_json, version):
    """kubernetes-validate's verdict, memoized (the self-test validates the same objects often)."""
    doc = json.loads(doc_json)
    try:
        kubernetes_validate.validate(doc, version, strict=True)
    except kubernetes_validate.SchemaNotFoundError:
        return (f"Kubernetes {version} has no {doc.get('apiVersion')} {doc.get('kind')}",)
    except kubernetes_validate.ValidationError as e:
        path = ".".join(str(p) for p in e.path) or "<root>"
        return (f"{path}: {e.message}",)
    return ()


# ---- policy --------------------------------------------------------------------------------


def pod_template(doc):
    kind = doc["kind"]
    if kind == "Pod":
        return doc
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]
    return doc["spec"]["template"]


def container_errors(doc):
    errors = []
    kind = doc["kind"]
    template = pod_template(doc)
    annotations = (template.get("metadata") or {}).get("annotations") or {}
    labels = (doc.get("metadata") or {}).get("labels") or {}
    ours = labels.get("app.kubernetes.io/part-of") == "platform"
    spec = template.get("spec") or {}
    pod_sc = spec.get("securityContext") or {}
    root_exempt = bool(str(annotations.get(EXEMPT_ROOT, "")).strip())
    groups = [("container", c, True) for c in spec.get("containers") or []]
    groups += [("initContainer", c, False) for c in spec.get("initContainers") or []]
    for what, c, main in groups:
        name = f"{what} {c.get('name')}"
        res = c.get("resources") or {}
        for bound in ("requests", "limits"):
            missing = [r for r in ("cpu", "memory") if r not in (res.get(bound) or {})]
            if missing:
                errors.append(f"{name}: no {bound} for {', '.join(missing)}")
        if main and kind not in RUN_TO_COMPLETION:
            for probe in ("livenessProbe", "readinessProbe"):
                if not c.get(probe):
                    errors.append(f"{name}: no {probe}")
        sc = c.get("securityContext") or {}

        def eff(key):
            return sc[key] if key in sc else pod_sc.get(key)

        if not root_exempt:
            if eff("runAsNonRoot") is not True:
                errors.append(f"{name}: runAsNonRoot is not true")
            if eff("runAsUser") == 0:
                errors.append(f"{name}: runs as user 0")
        if sc.get("privileged"):
            errors.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{name}: allowPrivilegeEscalation is not false")
        if "ALL" not in ((sc.get("capabilities") or {}).get("drop") or []):
            errors.append(f"{name}: capabilities do not drop ALL")
        if (eff("seccompProfile") or {}).get("type") not in ("RuntimeDefault", "Localhost"):
            errors.append(f"{name}: no RuntimeDefault (or Localhost) seccomp profile")
        if ours and sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{name}: root filesystem is writable")
        for env in c.get("env") or []:
            if "value" in env and env["value"] and (
                SECRET_NAME.search(env["name"]) or URL_WITH_PASSWORD.match(str(env["value"]))
            ):
                errors.append(f"{name}: env {env['name']} holds a literal secret; use valueFrom.secretKeyRef")
    return errors


def secret_errors(doc):
    kind = doc["kind"]
    if kind == "Secret":
        if any(doc.get(k) for k in ("data", "stringData")):
            return ["a Secret with values is committed; create it in the cluster instead (deploy/k8s/README.md)"]
        return []
    errors = []
    if kind == "ConfigMap":
        for key, value in (doc.get("data") or {}).items():
            if value and (SECRET_NAME.search(key) or URL_WITH_PASSWORD.match(str(value))):
                errors.append(f"data.{key} looks like a secret value; reference a Secret instead")
    return errors


def _selects(match_labels, labels):
    return bool(match_labels) and all(labels.get(k) == v for k, v in match_labels.items())


def network_errors(docs):
    """Every Service's pods are selected by a policy that admits something;
    every namespace with workloads has a default deny."""
    errors = []
    policies = [d for _, d in docs if d["kind"] == "NetworkPolicy"]
    for path, d in docs:
        if d["kind"] != "Service":
            continue
        selector = (d.get("spec") or {}).get("selector")
        if not selector:
            continue
        ns = d["metadata"].get("namespace")
        covered = any(
            p["metadata"].get("namespace") == ns
            and _selects((p["spec"].get("podSelector") or {}).get("matchLabels"), selector)
            and p["spec"].get("ingress")
            for p in policies
        )
        if not covered:
            errors.append((path, f"Service {ns}/{d['metadata']['name']}: no NetworkPolicy selects its pods"))
    workload_ns = {d["metadata"].get("namespace") for _, d in docs if d["kind"] in WORKLOADS}
    for ns in sorted(n for n in workload_ns if n):
        deny = any(
            p["metadata"].get("namespace") == ns
            and p["spec"].get("podSelector") in ({}, {"matchLabels": {}})
            and "Ingress" in (p["spec"].get("policyTypes") or [])
            and not p["spec"].get("ingress")
            for p in policies
        )
        if not deny:
            errors.append(("-", f"namespace {ns}: no default-deny ingress NetworkPolicy"))
    return errors


def application_errors(doc, env, manifests_root, helm_apps):
    source = (doc.get("spec") or {}).get("source") or {}
    path = source.get("path", "")
    if not source.get("repoURL") or not path:
        return ["spec.source needs repoURL and path"]
    rel = os.path.normpath(path)
    expected_prefix = os.path.join("deploy", "k8s", "manifests", env)
    if not rel.startswith(expected_prefix + os.sep):
        return [f"spec.source.path {path} is outside {expected_prefix}/"]
    app_dir = os.path.join(manifests_root, env, os.path.relpath(rel, expected_prefix))
    app = os.path.basename(rel)
    if not os.path.isdir(app_dir) and app not in helm_apps:
        return [f"spec.source.path {path}: no such directory, and no Helm release for {app}"]
    return []


# ---- driver --------------------------------------------------------------------------------


def load(manifests_root):
    """[(env, path, doc)] for every YAML document under manifests_root/<env>/."""
    out = []
    for env in sorted(os.listdir(manifests_root)):
        env_dir = os.path.join(manifests_root, env)
        if not os.path.isdir(env_dir):
            continue
        for dirpath, _, files in sorted(os.walk(env_dir)):
            for f in sorted(files):
                path = os.path.join(dirpath, f)
                if not f.endswith(".yaml"):
                    out.append((env, path, None))
                    continue
                with open(path) as fh:
                    for doc in yaml.load_all(fh, Loader=Loader):
                        if doc is not None:
                            out.append((env, path, doc))
    return out


def helm_apps_of(helm_root, env):
    apps = set()
    env_dir = os.path.join(helm_root, env)
    if os.path.isdir(env_dir):
        for f in os.listdir(env_dir):
            with open(os.path.join(env_dir, f)) as fh:
                apps.add((yaml.load(fh, Loader=Loader) or {}).get("app"))
    return apps


def validate(manifests_root, helm_root, versions, crds_path=CRDS):
    """All problems found, as (path, message); empty when everything holds."""
    crds = crd_schemas(crds_path)
    problems = []
    docs = load(manifests_root)
    if not docs:
        return [(manifests_root, "no manifests found")]
    by_env = {}
    helm_apps = {env: helm_apps_of(helm_root, env) for env, _, _ in docs}
    for env, path, doc in docs:
        rel = os.path.relpath(path, REPO) if path.startswith(REPO) else path
        if doc is None:
            problems.append((rel, "not a .yaml file: nixidy writes only <Kind>-<name>.yaml"))
            continue
        if not isinstance(doc, dict) or "kind" not in doc or "metadata" not in doc:
            problems.append((rel, "not a Kubernetes object"))
            continue
        by_env.setdefault(env, []).append((rel, doc))
        kind = doc["kind"]
        for e in sorted({e for version in versions for e in schema_errors(doc, version, crds)}):
            problems.append((rel, f"{kind}: {e}"))
        if kind not in CLUSTER_SCOPED and not doc["metadata"].get("namespace"):
            problems.append((rel, f"{kind} {doc['metadata'].get('name')}: no metadata.namespace"))
        expected = f"{kind}-{str(doc['metadata'].get('name', '')).replace('.', '-')}.yaml"
        if os.path.basename(path) != expected:
            problems.append((rel, f"nixidy would write this {kind} to {expected}"))
        for e in secret_errors(doc):
            problems.append((rel, f"{kind}: {e}"))
        if kind in WORKLOADS:
            try:
                for e in container_errors(doc):
                    problems.append((rel, f"{kind} {doc['metadata'].get('name')}: {e}"))
            except (KeyError, TypeError) as e:
                problems.append((rel, f"{kind}: no pod template ({e})"))
        if kind == "Application":
            for e in application_errors(doc, env, manifests_root, helm_apps[env]):
                problems.append((rel, f"Application {doc['metadata'].get('name')}: {e}"))
    for env, docs_of_env in by_env.items():
        seen = {}
        for rel, d in docs_of_env:
            key = (d["kind"], d["metadata"].get("namespace"), d["metadata"].get("name"))
            if key in seen:
                problems.append((rel, f"{key} also defined in {seen[key]}"))
            seen[key] = rel
        problems.extend(network_errors(docs_of_env))
    return problems


# ---- self-test -----------------------------------------------------------------------------


def _container(doc):
    return pod_template(doc)["spec"]["containers"][0]


# (description, mutation of {path: [docs]} in place, text the failure must contain)
BREAKAGES = [
    ("a misspelled field in a Deployment", lambda d: _put(d, "Deployment", lambda o: o["spec"].__setitem__("replica", 2)), "replica"),
    ("a misspelled field in a container", lambda d: _put(d, "Deployment", lambda o: _container(o).__setitem__("imagePullPolcy", "Always")), "imagePullPolcy"),
    ("a misspelled field in a Middleware", lambda d: _put(d, "Middleware", lambda o: o["spec"][next(iter(o["spec"]))].__setitem__("adress", "x")), "adress"),
    ("an unknown field in an IngressRoute route", lambda d: _put(d, "IngressRoute", lambda o: o["spec"]["routes"][0].__setitem__("prio", 1)), "prio"),
    ("a wrong type in an IngressRoute", lambda d: _put(d, "IngressRoute", lambda o: o["spec"]["routes"][0]["services"][0].__setitem__("port", [1])), "port"),
    ("a Secret with a value", lambda d: d.setdefault("platform/Secret-leak.yaml", []).append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "leak", "namespace": "platform"}, "stringData": {"password": "hunter2"}}), "Secret with values"),
    ("a password in a ConfigMap", lambda d: _put(d, "ConfigMap", lambda o: o.setdefault("data", {}).__setitem__("DATABASE_URL", "postgres://u:hunter2@db/x")), "secret value"),
    ("a missing readiness probe", lambda d: _put(d, "Deployment", lambda o: _container(o).pop("readinessProbe")), "readinessProbe"),
    ("missing limits", lambda d: _put(d, "Deployment", lambda o: _container(o)["resources"].pop("limits")), "no limits"),
    ("a root container", lambda d: _put(d, "Deployment", lambda o: _container(o)["securityContext"].__setitem__("runAsNonRoot", False)), "runAsNonRoot"),
    ("privilege escalation", lambda d: _put(d, "StatefulSet", lambda o: _container(o)["securityContext"].__setitem__("allowPrivilegeEscalation", True)), "allowPrivilegeEscalation"),
    ("a Service without a NetworkPolicy", lambda d: _drop(d, "NetworkPolicy", "greeter"), "no NetworkPolicy selects"),
    ("an Application pointing nowhere", lambda d: _put(d, "Application", lambda o: o["spec"]["source"].__setitem__("path", o["spec"]["source"]["path"] + "-gone")), "no such directory"),
    ("a core kind that does not exist", lambda d: _put(d, "ServiceAccount", lambda o: o.__setitem__("kind", "ServiceAcount")), "no v1 ServiceAcount"),
]


def _put(docs_by_path, kind, mutate):
    for docs in docs_by_path.values():
        for doc in docs:
            if doc["kind"] == kind:
                mutate(doc)
                return
    raise SystemExit(f"self-test: no {kind} to break")


def _drop(docs_by_path, kind, name):
    for path, docs in docs_by_path.items():
        for doc in docs:
            if doc["kind"] == kind and doc["metadata"]["name"] == name:
                docs.remove(doc)
                return
    raise SystemExit(f"self-test: no {kind} {name} to drop")


def self_test(manifests_root, helm_root, versions, env="dev"):
    import tempfile

    originals = {}
    for e, path, doc in load(manifests_root):
        if e == env and doc is not None:
            originals.setdefault(os.path.relpath(path, os.path.join(manifests_root, env)), []).append(doc)
    failures = 0
    for description, mutate, expected in [("nothing (the unbroken copy)", lambda d: None, None)] + BREAKAGES:
        docs = copy.deepcopy(originals)
        mutate(docs)
        with tempfile.TemporaryDirectory() as tmp:
            root = os.path.join(tmp, "manifests")
            for rel, ds in docs.items():
                target = os.path.join(root, env, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "w") as f:
                    yaml.dump_all(ds, f, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper))
            problems = validate(root, helm_root, versions)
        messages = [m for _, m in problems]
        if expected is None:
            ok = not problems
        else:
            ok = any(expected in m for m in messages)
        print(f"  {'ok' if ok else 'FAILED'}: {description} -> " + (
            "passes" if not problems else f"{len(problems)} problem(s), e.g. {messages[0]}"
        ))
        failures += not ok
    return failures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--self-test", action="store_true")
    parser.add_argument("--kubernetes-version", action="append", dest="versions")
    parser.add_argument("--manifests", default=os.path.join(REPO, "deploy", "k8s", "manifests"))
    parser.add_argument("--helm", default=os.path.join(REPO, "deploy", "k8s", "helm"))
    args = parser.parse_args()
    versions = args.versions or DEFAULT_VERSIONS

    if not os.path.exists(CRDS):
        sys.exit(f"validate.py: {CRDS} not found (../shared beside the repository)")
    if args.self_test:
        print(f"==> self-test: broken copies of the dev manifests must fail")
        failed = self_test(args.manifests, args.helm, versions[:1])
        if failed:
            sys.exit(f"validate.py: {failed} self-test case(s) went unnoticed")

    problems = validate(args.manifests, args.helm, versions)
    count = sum(1 for _, _, doc in load(args.manifests) if doc is not None)
    for path, message in problems:
        print(f"{path}: {message}")
    if problems:
        sys.exit(f"validate.py: {len(problems)} problem(s) in {count} manifests")
    print(f"validate.py: {count} manifests valid for Kubernetes {', '.join(versions)}, the Traefik CRDs and the policy")


if __name__ == "__main__":
    main()

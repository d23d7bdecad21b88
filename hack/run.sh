#!/usr/bin/env bash
# THE run command of the project:
#   ./hack/run.sh [platform serve ARGS...]
# Installs the package into .venv (no dev extras), initialises the data dir
# (PLATFORM_DATA_DIR, default ./.platform) on first run - that run prints the admin
# credentials - and serves on PLATFORM_LISTEN (default 127.0.0.1:8080).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

hack/bootstrap.sh ""
.venv/bin/platform init --if-needed
exec .venv/bin/platform serve "$@"

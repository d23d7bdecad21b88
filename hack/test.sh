#!/usr/bin/env bash
# THE test command of the project, and what CI runs (.ci/run):
#   ./hack/test.sh [PYTEST ARGS...]
# Sets up .venv (dev extras), makes sure PostgreSQL and Redis are up, then runs lint,
# format check, type check and the tests (notebooks included), stopping at the first failure
# with that step's exit code. Extra arguments go to pytest, e.g. ./hack/test.sh -k issues -x
# (PLATFORM_TEST_WORKERS=N sets the number of parallel test processes; 0 runs them serially).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

step() {
  local name="$1" rc=0
  shift
  printf '\n==> %s\n    $ %s\n' "$name" "$*"
  "$@" || rc=$?
  if ((rc != 0)); then
    printf '\n==> FAILED: %s (exit %d)\n' "$name" "$rc" >&2
    exit "$rc"
  fi
}

# system packages first: installing the package builds the JupyterLab extension (Node >= 20.19)
step "system packages: git, git-lfs, chromium; Node check" hack/system-deps.sh
step "bootstrap .venv (dev extras)" hack/bootstrap.sh dev
step "services: PostgreSQL and Redis" hack/services.sh

step "lint: ruff check" .venv/bin/ruff check .
step "format: ruff format --check" .venv/bin/ruff format --check .
step "types: mypy" .venv/bin/mypy

paths=(tests)
if [[ -d notebooks ]]; then
  paths+=(notebooks)
fi
export PLATFORM_REQUIRE_SERVICES=1
# Tests run in parallel (pytest-xdist): every test has its own database, data dir, Redis prefix,
# bucket and ports, so they are isolated; --dist loadfile keeps a module's tests (and a
# notebook's cells, which share one kernel) on one worker, in order. Many tests wait on
# subprocesses (git, servers, Chromium, pip), so there is one worker more than cores.
# PLATFORM_TEST_WORKERS=0 runs them serially.
workers="${PLATFORM_TEST_WORKERS:-$(($(nproc) + 1))}"
xdist=()
if ((workers > 0)); then
  # a crashed worker (a test past its timeout is ended with its process) is not replaced: with
  # loadfile, xdist hands the crashing test to each replacement in turn, and the run never ends
  xdist=(-n "$workers" --dist loadfile --max-worker-restart=0)
fi
step "tests: pytest ${paths[*]}" .venv/bin/pytest "${xdist[@]}" --nbval-lax "${paths[@]}" "$@"

printf '\n==> all checks passed\n'

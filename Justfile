# Developer verbs. `just` ships in the dev extra (rust-just): run `.venv/bin/just` or put
# .venv/bin on PATH. The two commands that matter work without just: ./hack/run.sh and
# ./hack/test.sh (the latter is exactly what CI runs).

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

venv := ".venv/bin"

# Licences accepted by `just deny` (case-insensitive substrings, as pip-licenses prints them).
allowed_licenses := "MIT;BSD;Apache;ISC;PSF;Python Software Foundation;MPL-2.0;MPL 2.0;Mozilla Public License 2.0;Unlicense;0BSD;Zlib;CC0"

# Reviewed exceptions to the allow-list: psycopg is LGPL-3.0, used unmodified as a library.
license_exceptions := "platform-sdk psycopg psycopg-binary"

# List the recipes
default:
    @{{ quote(just_executable()) }} --justfile {{ quote(justfile()) }} --list

# Run the platform (bootstrap, init on first run, serve); args go to `platform serve`
run *ARGS:
    hack/run.sh "$@"

# Re-run the unit tests whenever a file changes (Ctrl-C to stop)
watch:
    #!/usr/bin/env bash
    set -euo pipefail
    just_cmd={{ quote(just_executable()) }}
    paths=()
    for dir in platform_sdk tests migrations; do
      if [[ -d "$dir" ]]; then paths+=("$dir"); fi
    done
    if [[ -x {{ venv }}/watchfiles ]]; then
      exec {{ venv }}/watchfiles --filter python --target-type command \
        "$(printf '%q' "$just_cmd") test-unit" "${paths[@]}"
    fi
    echo "watch: watchfiles not installed; polling for changes every second"
    list_files() {
      if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git ls-files -z --cached --others --exclude-standard
      else
        find "${paths[@]}" -type f -print0
      fi
    }
    # Names and mtimes of every file; a file deleted mid-scan is not an error.
    fingerprint() {
      list_files | { xargs -0 stat -c '%n %Y' 2>/dev/null || true; } | cksum
    }
    last=""
    while true; do
      now="$(fingerprint)"
      if [[ "$now" != "$last" ]]; then
        last="$now"
        "$just_cmd" test-unit || true
        echo "watch: waiting for changes..."
      fi
      sleep 1
    done

# Format the code and apply ruff's safe fixes
fmt:
    {{ venv }}/ruff format .
    {{ venv }}/ruff check --fix .

# pre-commit fetches its hook repos from GitHub, which is not reachable everywhere (and CI
# does not use it), so `lint` runs it only when asked: PRE_COMMIT=1 just lint.

# Lint: ruff check, ruff format --check; with PRE_COMMIT=1 also every pre-commit hook
lint:
    {{ venv }}/ruff check .
    {{ venv }}/ruff format --check .
    if [[ "${PRE_COMMIT:-0}" == 1 ]] && git rev-parse --git-dir >/dev/null 2>&1; then \
      {{ venv }}/pre-commit run --all-files; \
    else \
      echo "lint: pre-commit skipped (set PRE_COMMIT=1 to run it)"; \
    fi

# Dependency licence allow-list and vulnerability audit of the installed env (needs PyPI)
deny:
    {{ venv }}/pip-licenses --partial-match --allow-only={{ quote(allowed_licenses) }} \
      --ignore-packages {{ license_exceptions }} --format=plain --order=license
    {{ venv }}/pip-audit --skip-editable

# Lint and type-check (ruff, then mypy with the config in pyproject.toml)
check: lint
    {{ venv }}/mypy

# Run THE test suite as CI does: bootstrap, services, lint, mypy, pytest (args go to pytest)
test *ARGS:
    hack/test.sh "$@"

# Run the unit tests only: no PostgreSQL, Redis or S3, no notebooks (args go to pytest)
test-unit *ARGS:
    {{ venv }}/pytest tests -m "not postgres and not redis and not s3" "$@"

# Create a new database migration: just db-add "add labels"
db-add NAME:
    {{ venv }}/platform db new {{ quote(NAME) }}

# Apply every pending database migration
db-migrate:
    {{ venv }}/platform db upgrade

# Revert database migrations (default: the last one)
db-revert REV="-1":
    {{ venv }}/platform db revert -- {{ quote(REV) }}

# Check that the models and the migrations agree
db-check:
    {{ venv }}/platform db check

# Build the wheel into dist/
build:
    {{ venv }}/python -m pip wheel --no-deps -w dist .

# Run exactly what CI runs
ci:
    bash .ci/run

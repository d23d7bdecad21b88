# Developer verbs. `just` ships in the dev extra (rust-just): run `.venv/bin/just` or put
# .venv/bin on PATH. The two commands that matter work without just: ./hack/run.sh and
# ./hack/test.sh (the latter is exactly what CI runs).

set shell := ["bash", "-euo", "pipefail", "-c"]
set positional-arguments

venv := ".venv/bin"

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

# The allow-list and the reviewed waivers are in hack/deny.py: MIT, Apache-2.0, BSD-2/3-Clause,
# ISC, MPL-2.0, PSF, Unicode. pip-audit needs the vulnerability service (network).

# Dependency policy: licence allow-list over the installed tree, then pip-audit; names offenders
deny:
    {{ venv }}/python hack/deny.py
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

# Mutation-test one critical module with its tests (list: just mutate; map: hack/mutation.toml)
mutate *ARGS:
    {{ venv }}/python hack/mutate.py "$@"

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

# Run locally what CI runs: the suite (.ci/run), the dependency policy, the image if Docker is up
ci:
    bash .ci/run
    {{ quote(just_executable()) }} --justfile {{ quote(justfile()) }} deny
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
      {{ quote(just_executable()) }} --justfile {{ quote(justfile()) }} docker ci; \
    else \
      echo "ci: no Docker engine here: image build skipped (GitHub CI builds it)"; \
    fi

# --- containers and the kind dev cluster: these need Docker (and kind, helm); CI runs none ---

# Create the kind cluster with PostgreSQL, Valkey, MinIO, an OTel Collector (hack/kind-up.sh)
cluster-up:
    hack/kind-up.sh

# Delete the kind cluster and its kubeconfig (hack/kind-down.sh)
cluster-down:
    hack/kind-down.sh

# Build the platform image platform:TAG from docker/Dockerfile (BuildKit)
docker TAG="dev":
    docker build -f docker/Dockerfile -t platform:{{ quote(TAG) }} .

# Build, `kind load` and roll out platform:TAG with deploy/dev (on http://127.0.0.1:8080)
deploy-local TAG="dev": (docker TAG)
    #!/usr/bin/env bash
    set -euo pipefail
    tag={{ quote(TAG) }}
    cluster="${KIND_CLUSTER_NAME:-platform}"
    export KUBECONFIG="$PWD/.kube/kind-$cluster.yaml"
    PATH="$PATH:$PWD/{{ venv }}"
    [[ -f "$KUBECONFIG" ]] || { echo "deploy-local: no $KUBECONFIG: run 'just cluster-up' first" >&2; exit 1; }
    kind load docker-image "platform:$tag" --name "$cluster"
    # deploy/dev with this tag, and the image's id in the pod template: a rebuilt image under
    # the same tag then still rolls the Deployment. (.kube/ is git-ignored by kind-up.sh.)
    image_id="$(docker image inspect --format '{{{{.Id}}' "platform:$tag")"
    overlay=.kube/deploy-local
    mkdir -p "$overlay"
    cat >"$overlay/kustomization.yaml" <<EOF
    # Written by 'just deploy-local': deploy/dev with image platform:$tag.
    apiVersion: kustomize.config.k8s.io/v1beta1
    kind: Kustomization
    resources:
      - ../../deploy/dev
    images:
      - name: platform
        newTag: "$tag"
    patches:
      - target:
          kind: Deployment
          name: platform
        patch: |-
          - op: add
            path: /spec/template/metadata/annotations
            value:
              platform.dev/image-id: "${image_id#sha256:}"
    EOF
    kubectl apply -k "$overlay"
    kubectl -n platform rollout status deployment/platform --timeout=300s
    echo "deploy-local: platform:$tag is up at http://127.0.0.1:8080 (first admin: kubectl -n platform logs deployment/platform -c init)"

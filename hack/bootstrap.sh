#!/usr/bin/env bash
# Create or refresh the project's virtualenv in .venv; idempotent and fast when nothing changed.
#
#   hack/bootstrap.sh          # pip install -e '.[dev]'  (the default extras)
#   hack/bootstrap.sh dev      # same
#   hack/bootstrap.sh app      # pip install -e '.[app]'  (server, dashboards, JupyterLab: hack/run.sh)
#   hack/bootstrap.sh ''       # pip install -e .         (just the package: API, git, OTLP, CLI)
#   hack/bootstrap.sh test,types
#
# The install is skipped when .venv/.platform-stamp records the sha256 of pyproject.toml and
# extras that cover the requested ones, so a re-run takes about a second. Set PYTHON to pick
# the interpreter that creates .venv (default: the newest python3.1x >= 3.11 on PATH).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

EXTRAS="${1-dev}"
EXTRAS="${EXTRAS// /}"
VENV=.venv
STAMP="$VENV/.platform-stamp"
MIN_MINOR=11

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf 'bootstrap: %s\n' "$*"; }
die() {
  printf 'bootstrap: error: %s\n' "$*" >&2
  exit 1
}

# Prints "3.11" for an interpreter, nothing if it cannot run.
py_version() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true
}

version_ok() {
  local major="${1%%.*}" minor="${1#*.}"
  [[ -n "$1" && "$major" -eq 3 && "$minor" -ge "$MIN_MINOR" ]]
}

find_python() {
  local candidate version
  if [[ -n "${PYTHON:-}" ]]; then
    version="$(py_version "$PYTHON")"
    version_ok "$version" || die "PYTHON=$PYTHON is Python ${version:-unusable}; need 3.$MIN_MINOR or newer"
    printf '%s\n' "$PYTHON"
    return
  fi
  for candidate in python3.14 python3.13 python3.12 python3.11 python3; do
    command -v "$candidate" >/dev/null 2>&1 || continue
    version="$(py_version "$candidate")"
    if version_ok "$version"; then
      printf '%s\n' "$candidate"
      return
    fi
  done
  die "no Python 3.$MIN_MINOR or newer found on PATH (python3 is $(py_version python3 || true)); install one or set PYTHON=/path/to/python3.x"
}

if [[ ! -x "$VENV/bin/python" ]]; then
  PY="$(find_python)"
  log "creating $VENV with $PY (Python $(py_version "$PY"))"
  "$PY" -m venv "$VENV" || die "'$PY -m venv $VENV' failed (on Debian: apt-get install python3-venv)"
fi

VENV_VERSION="$(py_version "$VENV/bin/python")"
version_ok "$VENV_VERSION" ||
  die "$VENV uses Python ${VENV_VERSION:-unusable}; need 3.$MIN_MINOR or newer: remove $VENV and re-run"

PYPROJECT_SHA="$("$VENV/bin/python" -c \
  'import hashlib, sys; print(hashlib.sha256(b"".join(open(f, "rb").read() for f in sys.argv[1:])).hexdigest())' \
  pyproject.toml hack/constraints.txt)"

# The requested extras with the ones they pull in (dev -> test,lint,...), from pyproject.toml.
EXTRAS_CLOSURE="$("$VENV/bin/python" - "$EXTRAS" <<'PY'
import re, sys, tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
name = re.sub(r"[-_.]+", "-", project["name"]).lower()
table = project.get("optional-dependencies", {})
todo = [e for e in sys.argv[1].split(",") if e]
seen = set()
while todo:
    extra = todo.pop()
    if extra in seen:
        continue
    seen.add(extra)
    for req in table.get(extra, []):
        m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*\[([^\]]*)\]", req)
        if m and re.sub(r"[-_.]+", "-", m.group(1)).lower() == name:
            todo += [e.strip() for e in m.group(2).split(",") if e.strip()]
print(",".join(sorted(seen)))
PY
)"

# Stamp format: line 1 = sha256 of pyproject.toml, line 2 = extras installed (with the ones
# they pull in). Skip when the hash matches and every requested extra is installed, so
# `hack/run.sh` (no extras) does not undo a dev install, while new extras get installed.
stamp_covers() {
  [[ -f "$STAMP" ]] || return 1
  local stamp_sha stamp_extras wanted
  {
    IFS= read -r stamp_sha || true
    IFS= read -r stamp_extras || true
  } <"$STAMP"
  [[ "$stamp_sha" == "$PYPROJECT_SHA" ]] || return 1
  for wanted in ${EXTRAS_CLOSURE//,/ }; do
    [[ ",$stamp_extras," == *",$wanted,"* ]] || return 1
  done
}

if stamp_covers; then
  log "$VENV is up to date (pyproject.toml unchanged, extras '${EXTRAS:-none}' installed)"
  exit 0
fi

# Installing builds the JupyterLab extension from extension/ unless it is built already, and
# that needs Node.js >= 20.19 (rspack's minimum): say so now, not deep inside pip's output.
if [[ ! -f platform_sdk/labextension/static/style.js ]]; then
  node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a==20&&b>=19)?0:1)' 2>/dev/null ||
    die "Node.js >= 20.19 is needed to build the JupyterLab extension (found: $(node --version 2>/dev/null || echo none)); install Node 20 LTS or newer"
fi

if [[ -n "$EXTRAS" ]]; then
  TARGET=".[$EXTRAS]"
else
  TARGET="."
fi

log "upgrading pip (pip 23 backtracks for many minutes on this dependency set)"
"$VENV/bin/python" -m pip install -q -U pip

log "installing: pip install -e '$TARGET' (first run takes a few minutes)"
rm -f "$STAMP"
"$VENV/bin/python" -m pip install -c hack/constraints.txt -e "$TARGET"

printf '%s\n%s\n' "$PYPROJECT_SHA" "$EXTRAS_CLOSURE" >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"
log "done: $VENV ready (extras '${EXTRAS:-none}')"

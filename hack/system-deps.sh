#!/usr/bin/env bash
# System packages the test suite drives for real (the Python ones come from pyproject.toml):
# git-lfs, for the Git LFS client tests. Installed with apt-get when missing and we are root;
# otherwise a message says what to install.
set -euo pipefail

missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
git lfs version >/dev/null 2>&1 || missing+=(git-lfs)

if ((${#missing[@]} == 0)); then
  echo "system-deps: git and git-lfs present"
  exit 0
fi
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  echo "system-deps: please install: ${missing[*]}" >&2
  exit 1
fi

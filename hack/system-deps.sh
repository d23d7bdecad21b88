#!/usr/bin/env bash
# System packages the test suite drives for real (the Python ones come from pyproject.toml):
# git-lfs, for the Git LFS client tests; chromium, for the dashboards' browser tests (Playwright
# drives Debian's /usr/bin/chromium and never downloads a browser); bubblewrap, the sandbox of
# the local pipeline runtime (bwrap; the server needs it too, unless PLATFORM_LOCAL_SANDBOX=none). Installed with apt-get when
# missing and we are root; otherwise a message says what to install. Node.js >= 20.19 is
# checked, not installed (see below).
set -euo pipefail

missing=()
command -v git >/dev/null 2>&1 || missing+=(git)
git lfs version >/dev/null 2>&1 || missing+=(git-lfs)
# the browser tests launch exactly /usr/bin/chromium (Debian's package), so that is what is checked:
# any other chromium on PATH would pass here and leave those tests without a browser
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)

# Node.js >= 20.19 builds the JupyterLab extension (rspack's minimum) when the package is
# installed (`pip install -e .` runs `jlpm install && jlpm build:prod` in extension/). Debian 12
# ships Node 18, so it is not installed from apt here: install Node 20 LTS (e.g. NodeSource).
node_ok() {
  command -v node >/dev/null 2>&1 &&
    node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a==20&&b>=19)?0:1)'
}
if ! node_ok; then
  echo "system-deps: Node.js >= 20.19 is needed to build the JupyterLab extension" \
    "(found: $(node --version 2>/dev/null || echo none)); install Node 20 LTS" >&2
  exit 1
fi

if ((${#missing[@]} == 0)); then
  echo "system-deps: git, git-lfs, chromium and bubblewrap present"
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

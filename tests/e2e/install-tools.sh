#!/usr/bin/env bash
# Installs the outside auditors the browser tests run, from npm, pinned:
#   axe-core   (injected into the page: WCAG rules, 0 violations expected)
#   lighthouse (performance, accessibility, best practices, SEO of the page)
# into a folder outside the repository (default ~/.cache/dispute-guide-e2e, or
# $DISPUTE_GUIDE_E2E_TOOLS). Idempotent: when the pinned versions are there it does nothing.
# tests/e2e/browser.py looks in the same folder.
set -euo pipefail

AXE_VERSION=4.14.1
LIGHTHOUSE_VERSION=12.8.2   # the last line that runs on Node 18/20 (13.x needs Node 22.19)

dir="${DISPUTE_GUIDE_E2E_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/dispute-guide-e2e}"

if ! command -v npm >/dev/null; then
  if command -v apt-get >/dev/null && [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
             --no-install-recommends nodejs npm; }
  else
    echo "install-tools: npm not found; install Node.js 18+ (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
fi

have() {  # have PACKAGE VERSION
  local manifest="$dir/node_modules/$1/package.json"
  [[ -f $manifest ]] && node -e 'process.exit(require(process.argv[1]).version === process.argv[2] ? 0 : 1)' "$manifest" "$2"
}

if have axe-core "$AXE_VERSION" && have lighthouse "$LIGHTHOUSE_VERSION"; then
  echo "install-tools: axe-core $AXE_VERSION and lighthouse $LIGHTHOUSE_VERSION already in $dir"
  exit 0
fi

mkdir -p "$dir"
cd "$dir"
[[ -f package.json ]] || echo '{"name": "dispute-guide-e2e-tools", "private": true}' > package.json
npm install --no-audit --no-fund --loglevel=error --save-exact \
  "axe-core@$AXE_VERSION" "lighthouse@$LIGHTHOUSE_VERSION"
echo "install-tools: axe-core $AXE_VERSION and lighthouse $LIGHTHOUSE_VERSION in $dir"

#!/usr/bin/env bash
# Installs what the browser tests need: Debian's chromium and its WebDriver
# (chromium-driver), no downloaded browser builds; then the auditors from npm
# (install-tools.sh: axe-core and Lighthouse, pinned). Idempotent: what is already
# installed is left alone.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"

packages=(chromium chromium-driver)

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if [[ ${#missing[@]} -eq 0 ]] && command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
  echo "install-browser: chromium and chromium-driver already installed"
  exec bash "$here/install-tools.sh"
fi

if ! command -v apt-get >/dev/null; then
  echo "install-browser: apt-get not found; install chromium and chromium-driver by hand" >&2
  exit 1
fi
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=(sudo); else
    echo "install-browser: run as root (or with sudo) to install ${missing[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
# Update the package lists only when apt does not know the packages yet.
if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
  "${SUDO[@]}" apt-get update -qq
fi
if ! "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
  # A stale package list points at versions the mirror no longer has: refresh once.
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-browser: installed ${missing[*]}"
exec bash "$here/install-tools.sh"

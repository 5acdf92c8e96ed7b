#!/usr/bin/env bash
# Installs what the tests need beyond Python packages: each part lives in scripts/install.d/.
set -euo pipefail
cd "$(dirname "$0")/.."
export ION_TOOLS="${ION_TOOLS:-$PWD/.tools}"
mkdir -p "$ION_TOOLS/bin"
for part in scripts/install.d/*.sh; do
  [ -e "$part" ] || continue
  echo "== ${part##*/}"
  bash "$part"
done

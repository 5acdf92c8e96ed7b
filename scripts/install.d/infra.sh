#!/usr/bin/env bash
# checkov, for the infra/ tests, in its own virtualenv: its pins clash with Ion's own requirements.
set -euo pipefail
CHECKOV_VERSION="3.3.30"
ION_TOOLS="${ION_TOOLS:-$PWD/.tools}"
VENV="$ION_TOOLS/checkov"
if [ -x "$VENV/bin/checkov" ] && [ "$("$VENV/bin/checkov" --version 2>/dev/null)" = "$CHECKOV_VERSION" ]; then
  echo "checkov $CHECKOV_VERSION already installed in $VENV"
  exit 0
fi
PYTHON="${PYTHON:-python3}"
"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install -q --disable-pip-version-check "checkov==$CHECKOV_VERSION"
echo "checkov $("$VENV/bin/checkov" --version) installed in $VENV"

#!/usr/bin/env bash
# Runs the module helper libraries' own test suites, each in its own runner: pytest for sdk/python,
# `go test` for sdk/go, node's test runner for sdk/typescript. Each starts real development sidecars
# with the `ion` command: ION_BIN, else `ion` on PATH, else .venv/bin/ion.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
if [ -z "${ION_BIN:-}" ] && ! command -v ion >/dev/null && [ -x "$root/.venv/bin/ion" ]; then
  export ION_BIN="$root/.venv/bin/ion"
fi
PYTHON="${PYTHON:-$root/.venv/bin/python}"
[ -x "$PYTHON" ] || PYTHON=python3

echo "== sdk/python (pytest)"
(cd sdk/python && "$PYTHON" -m pytest -q -p no:cacheprovider tests)

echo "== sdk/go (go test)"
(cd sdk/go && go vet ./... && go test -count=1 ./...)

echo "== sdk/typescript (tsc + node --test)"
(
  cd sdk/typescript
  # npm ci only when the lock file changed since the last install: it wipes node_modules each time.
  if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
  npm run --silent build
  node --test dist/test/*.test.js
)

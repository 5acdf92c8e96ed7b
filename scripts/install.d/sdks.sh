#!/usr/bin/env bash
# The module helper libraries' build dependencies: npm dev dependencies (TypeScript compiler, Node
# types) from the committed lock files, and the polyglot example built once so its e2e test runs offline.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v go >/dev/null || { echo "sdks.sh: Go is required for sdk/go and the polyglot example" >&2; exit 1; }
command -v npm >/dev/null || { echo "sdks.sh: npm is required for sdk/typescript" >&2; exit 1; }
bash examples/polyglot/build.sh  # npm ci in sdk/typescript and the summariser, tsc, go build
echo "module helper libraries: TypeScript $(sdk/typescript/node_modules/.bin/tsc --version), $(go version)"

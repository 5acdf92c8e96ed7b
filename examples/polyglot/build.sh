#!/usr/bin/env bash
# Builds what the polyglot pipeline runs: the Go transformer binary and the compiled TypeScript
# summariser (with the TypeScript helper library it links to). The Python splitter needs no build.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
sdk_ts="$here/../../sdk/typescript"

# npm ci only when the lock file changed since the last install: it wipes node_modules each time.
npm_install() {
  local dir="$1"
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

npm_install "$sdk_ts"
(cd "$sdk_ts" && npm run --silent build)
npm_install "$here/summariser"
(cd "$here/summariser" && npm run --silent build)
(cd "$here/transformer" && go build -o bin/transformer .)

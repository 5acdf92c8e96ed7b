#!/usr/bin/env bash
# Installs the emulators the tests run against: Azurite (Blob Storage), FerretDB v1 (MongoDB API on
# SQLite) and cosmium (Cosmos DB NoSQL API), pinned. Skips what is already installed at the pinned version.
set -euo pipefail

AZURITE_VERSION=3.35.0
FERRETDB_VERSION=v1.24.2
COSMIUM_VERSION=v0.1.20

: "${ION_TOOLS:?ION_TOOLS must name the tools directory}"
mkdir -p "$ION_TOOLS/bin"
STAMPS="$ION_TOOLS/stamps"
mkdir -p "$STAMPS"

fail() { echo "emulators.sh: $*" >&2; exit 1; }
installed() { [ -x "$1" ] && [ "$(cat "$STAMPS/$2" 2>/dev/null || true)" = "$3" ]; }

# Copies a Go module's source out of the module cache into a writable temporary directory.
module_source() {
  local module=$1 version=$2 dir tmp
  dir=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] && [ -d "$dir" ] || fail "go mod download $module@$version failed"
  tmp=$(mktemp -d)
  cp -r "$dir"/. "$tmp"
  chmod -R u+w "$tmp"
  echo "$tmp"
}

# --- Azurite ---------------------------------------------------------------
command -v npm >/dev/null || fail "npm is required to install Azurite"
if installed "$ION_TOOLS/node_modules/.bin/azurite-blob" azurite "$AZURITE_VERSION"; then
  echo "azurite $AZURITE_VERSION present"
else
  echo "installing azurite $AZURITE_VERSION"
  npm install --prefix "$ION_TOOLS" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION"
  [ -x "$ION_TOOLS/node_modules/.bin/azurite-blob" ] || fail "azurite-blob missing after npm install"
  echo "$AZURITE_VERSION" > "$STAMPS/azurite"
fi

command -v go >/dev/null || fail "go is required to build FerretDB and cosmium"
export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# --- FerretDB --------------------------------------------------------------
# Built from the module source rather than with `go install`: a binary built by `go install` lacks
# build/version/version.txt (generated from git in FerretDB's own build) and panics at start-up.
if installed "$ION_TOOLS/bin/ferretdb" ferretdb "$FERRETDB_VERSION"; then
  echo "ferretdb $FERRETDB_VERSION present"
else
  echo "building ferretdb $FERRETDB_VERSION (about a minute and a half)"
  src=$(module_source github.com/FerretDB/FerretDB "$FERRETDB_VERSION")
  echo "$FERRETDB_VERSION" > "$src/build/version/version.txt"
  (cd "$src" && go build -o "$ION_TOOLS/bin/ferretdb" ./cmd/ferretdb) || fail "building ferretdb failed"
  rm -rf "$src"
  # Output captured first: `cmd | grep -q` under pipefail fails when grep stops reading early.
  out=$("$ION_TOOLS/bin/ferretdb" --version 2>&1 || true)
  [[ "$out" == *"$FERRETDB_VERSION"* ]] || fail "ferretdb does not run: $out"
  echo "$FERRETDB_VERSION" > "$STAMPS/ferretdb"
fi

# --- cosmium ---------------------------------------------------------------
# The module proxy serves this tag but not the module's version list, so `go install ...@version`
# fails looking up deprecations; the source is fetched with `go mod download` and built in place.
# Two small patches: listen on -Host only (upstream binds every interface), and advertise an http://
# endpoint under -DisableTls (upstream always advertises https://, which the SDKs then try to use).
if installed "$ION_TOOLS/bin/cosmium" cosmium "$COSMIUM_VERSION+local-http"; then
  echo "cosmium $COSMIUM_VERSION present"
else
  echo "building cosmium $COSMIUM_VERSION"
  src=$(module_source github.com/pikami/cosmium "$COSMIUM_VERSION")
  router="$src/api/router.go"
  config="$src/api/config/config.go"
  grep -q 'fmt.Sprintf(":%d", s.config.Port)' "$router" || fail "cosmium: listen address line not found"
  sed -i 's|fmt.Sprintf(":%d", s.config.Port)|fmt.Sprintf("%s:%d", s.config.Host, s.config.Port)|' "$router"
  grep -q 'c.DatabaseEndpoint = fmt.Sprintf("https://%s:%d/", c.Host, c.Port)' "$config" \
    || fail "cosmium: endpoint line not found"
  sed -i '/c.DatabaseEndpoint = fmt.Sprintf("https:\/\/%s:%d\/", c.Host, c.Port)/a\
	if c.DisableTls {\
		c.DatabaseEndpoint = fmt.Sprintf("http://%s:%d/", c.Host, c.Port)\
	}' "$config"
  (cd "$src" && go build -o "$ION_TOOLS/bin/cosmium" ./cmd/server) || fail "building cosmium failed"
  rm -rf "$src"
  out=$("$ION_TOOLS/bin/cosmium" -h 2>&1 || true)  # -h exits 2 after printing the flags
  [[ "$out" == *DisableTls* ]] || fail "cosmium does not run: $out"
  echo "$COSMIUM_VERSION+local-http" > "$STAMPS/cosmium"
fi

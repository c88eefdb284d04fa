#!/usr/bin/env bash
# Builds FerretDB (a MongoDB wire-protocol server; the tests run it on its
# SQLite backend, so it needs no other server) for the MongoDB message store's
# tests, from the Go module proxy, into ~/.cache/libchat. Idempotent: quick and
# silent when the binary is already there.
#
#   ~/.cache/libchat/bin/ferretdb-$FERRETDB_VERSION   the server
#   ~/.cache/libchat/go/                               GOPATH, GOCACHE, GOMODCACHE
#
# Not a plain `go install ...@version`: FerretDB embeds build/version/version.txt,
# which its release process writes and the module zip lacks (the binary then
# panics at start), so the module is downloaded, copied and built with that
# file written.
set -euo pipefail

version=${FERRETDB_VERSION:-1.24.2}
cache=${LIBCHAT_CACHE:-$HOME/.cache/libchat}
bin=$cache/bin/ferretdb-$version
module=github.com/FerretDB/FerretDB

die() { echo "deps-server-ferretdb.sh: $*" >&2; exit 1; }

if [ -x "$bin" ]; then
  exit 0
fi

go=$(command -v go || true)
[ -n "$go" ] || [ ! -x /usr/local/go/bin/go ] || go=/usr/local/go/bin/go
[ -n "$go" ] || die "go not found (Go 1.22 or newer, e.g. in /usr/local/go, is needed to build FerretDB)"

echo "building FerretDB $version with $("$go" version) into $bin (once)"
mkdir -p "$cache/bin" "$cache/go"
export GOPATH=$cache/go GOCACHE=$cache/go/build-cache GOMODCACHE=$cache/go/pkg/mod
export GOFLAGS="-buildvcs=false -mod=mod" CGO_ENABLED=0 GOTOOLCHAIN=local
work=$(mktemp -d "$cache/bin/.ferretdb-XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

src=$(cd "$work" && "$go" mod download -json "$module@v$version" |
  sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')
[ -n "$src" ] && [ -d "$src" ] || die "go mod download of $module@v$version failed"
cp -r "$src" "$work/src"
chmod -R u+w "$work/src"
echo "v$version" >"$work/src/build/version/version.txt"
(cd "$work/src" && "$go" build -trimpath -o "$work/ferretdb" ./cmd/ferretdb) ||
  die "go build of FerretDB $version failed"
"$work/ferretdb" --version >/dev/null || die "the FerretDB binary built does not run"
mv -f "$work/ferretdb" "$bin"
echo "built $bin"

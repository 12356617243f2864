#!/usr/bin/env bash
# Build the FerretDB 1.24.2 binary from the Go module proxy into $FERRETDB_BIN.
# The module zip lacks build/version/version.txt, which the build embeds, so the
# source is copied out of the module cache and the file is written first.
# A binary that already reports the wanted version is kept.
set -euo pipefail

version=v1.24.2
bin=${FERRETDB_BIN:-/var/cache/rideshare/ferretdb}

if [[ -x "$bin" ]] && "$bin" --version 2>/dev/null | grep -q "$version"; then
  echo "ferretdb $version already built at $bin"
  exit 0
fi

echo "building ferretdb $version into $bin"
dir=$(go mod download -json "github.com/FerretDB/FerretDB@$version" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
src=$(mktemp -d)
trap 'chmod -R u+w "$src"; rm -rf "$src"' EXIT
cp -r "$dir/." "$src"
chmod -R u+w "$src"
echo "$version" > "$src/build/version/version.txt"
mkdir -p "$(dirname "$bin")"
(cd "$src" && CGO_ENABLED=0 go build -o "$bin" ./cmd/ferretdb)
"$bin" --version

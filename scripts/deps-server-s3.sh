#!/usr/bin/env bash
# scripts/deps-server-s3.sh - the S3 server the S3 blob store is tested against.
#
# S3Proxy (org.gaul:s3proxy, Apache-2.0) from Maven Central: one jar with its
# dependencies, run by Java 17 (tests/fixtures/s3.sh). It verifies AWS
# Signature V4 (and V2) on every request. MinIO, the server the issue named, is
# AGPL-3.0, which this project does not use.
#
# Cached at ${CHAT_S3PROXY_CACHE:-~/.cache/libchat/s3proxy}/s3proxy-VERSION.jar
# (checked against a pinned SHA-256); a second run does nothing. Prints the
# jar's path on its last line. Fails loudly when Java, Maven or the download
# is missing.
set -euo pipefail

version=2.6.0
sha256=12e5e88d805cfed07f7d88b4a44a0d8ecb9f9d3cebeb544bb34fbc4ded1049d8
cache=${CHAT_S3PROXY_CACHE:-$HOME/.cache/libchat/s3proxy}
jar=$cache/s3proxy-$version.jar

die() { echo "deps-server-s3.sh: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh"
# Java runs the server; curl (the command) and keytool serve the test fixture.
command -v java >/dev/null && command -v mvn >/dev/null && command -v curl >/dev/null ||
  apt_install_missing openjdk-17-jre-headless maven curl

if [ -f "$jar" ] && echo "$sha256  $jar" | sha256sum -c --status; then
  echo "s3proxy $version: cached"
  echo "$jar"
  exit 0
fi

command -v java >/dev/null || die "java not found (Debian's openjdk-17-jre-headless)"
command -v mvn >/dev/null || die "mvn not found (Debian's maven)"

echo "s3proxy $version: fetching org.gaul:s3proxy:$version (jar-with-dependencies) from Maven Central"
mkdir -p "$cache"
repo=$cache/m2
mvn -q -B -Dstyle.color=never -Dmaven.repo.local="$repo" dependency:get \
  -Dartifact="org.gaul:s3proxy:$version:jar:jar-with-dependencies" -Dtransitive=false ||
  die "maven could not fetch org.gaul:s3proxy:$version"
src=$repo/org/gaul/s3proxy/$version/s3proxy-$version-jar-with-dependencies.jar
[ -f "$src" ] || die "maven reported success but $src is missing"
echo "$sha256  $src" | sha256sum -c --status ||
  die "$src does not have the expected SHA-256 $sha256"
tmp=$(mktemp "$cache/.s3proxy-XXXXXX.jar")
cp "$src" "$tmp"
chmod 644 "$tmp"
mv -f "$tmp" "$jar"
# The local Maven repository only served the download.
rm -rf "$repo"
echo "s3proxy $version: installed $jar"
echo "$jar"

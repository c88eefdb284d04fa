#!/usr/bin/env bash
# Fetches Apache Kafka's broker (kafka_2.13, KRaft mode) and its runtime
# dependencies from Maven Central into ~/.cache/libchat/kafka-<version>/jars,
# for tests/fixtures/kafka.sh. Maven's local repository is kept next to it, so
# a second run is quick and offline; with the jars present it does nothing.
#   KAFKA_VERSION  (default 3.9.1; must match tests/fixtures/kafka/pom.xml's default)
set -euo pipefail

version=${KAFKA_VERSION:-3.9.1}
here=$(cd "$(dirname "$0")" && pwd)
pom=$here/../tests/fixtures/kafka/pom.xml
cache=${LIBCHAT_CACHE:-$HOME/.cache/libchat}/kafka-$version
stamp=$cache/jars/.libchat-kafka.done

die() { echo "deps-server-kafka: $*" >&2; exit 1; }

if [ -f "$stamp" ] && ls "$cache/jars"/kafka_2.13-"$version".jar >/dev/null 2>&1; then
  exit 0
fi
command -v java >/dev/null || die "java not found (Debian's openjdk-17-jre-headless: scripts/deps.sh)"
command -v mvn >/dev/null || die "mvn not found (Debian's maven: scripts/deps.sh)"
[ -f "$pom" ] || die "missing $pom"

echo "deps-server-kafka: fetching Apache Kafka $version (kafka_2.13) from Maven Central into $cache"
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.jars-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mvn -q -B -Dstyle.color=never -f "$pom" -Dmaven.repo.local="$cache/m2" -Dkafka.version="$version" \
  dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" ||
  die "mvn dependency:copy-dependencies failed"
[ -f "$tmp/kafka_2.13-$version.jar" ] || die "kafka_2.13-$version.jar was not fetched"
touch "$tmp/.libchat-kafka.done"
# Another run may have finished meanwhile: keep whichever complete set is there.
if ! mv -T "$tmp" "$cache/jars" 2>/dev/null; then
  if [ ! -f "$stamp" ]; then
    rm -rf "$cache/jars"
    mv -T "$tmp" "$cache/jars"
  fi
fi
echo "deps-server-kafka: $(ls "$cache/jars" | wc -l) jars in $cache/jars"

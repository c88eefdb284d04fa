#!/usr/bin/env bash
# Installs, from Debian's packages, whatever libchat's build and tests need and
# this machine lacks. Idempotent: with everything present it changes nothing.
set -euo pipefail

packages=(
  build-essential cmake pkg-config
  libsqlite3-dev libjansson-dev libargon2-dev libnng-dev libprotobuf-c-dev protobuf-c-compiler
  libmbedtls-dev check libsubunit-dev openssl haproxy redis-server etcd-server
  etcd-client # etcdctl: the etcd cluster test asks the members which one leads
  systemd # systemd-analyze checks deploy/systemd
  # heavy backends (CHAT_WITH_* options, on by default)
  libpq-dev libmongoc-dev libbson-dev libhiredis-dev librdkafka-dev
  libcurl4-openssl-dev
  # their real servers for the tests: PostgreSQL 15; Kafka runs on Java 17,
  # fetched by Maven; kcat reads topics from outside
  postgresql postgresql-contrib openjdk-17-jre-headless maven kcat
)

here=$(dirname "$0")
. "$here/lib.sh"
apt_install_missing "${packages[@]}"

# The end-to-end tests' packages, cached under ~/.cache/libchat: Python (a venv
# with pytest, websocket-client, slack_sdk), node (@slack/web-api) and the web
# client's browser tests.
"$here/deps-python.sh"
"$here/deps-python-sdk.sh"
"$here/deps-node.sh"
# The web client's browser tests: Debian's chromium and playwright-core.
"$here/deps-web.sh"

# Servers built or fetched from a registry (Kafka's jars from Maven Central,
# Go builds from the Go module proxy), each cached under ~/.cache/libchat by
# its own scripts/deps-server-<name>.sh.
for s in "$here"/deps-server-*.sh; do
  if [ -e "$s" ]; then "$s"; fi
done

#!/usr/bin/env bash
# Installs what is missing, builds, and starts chatd on the embedded backends:
# every service and the gateway in one process, data in ./chat-data.
# Extra arguments go to chatd (try --help), e.g. --listen http://127.0.0.1:9000
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
cmake -S "$here" -B "$here/build/plain" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build/plain" -j"$(nproc)" --target chatd chat_cli
exec "$here/build/plain/servers/chatd" --data "${CHAT_DATA_DIR:-$here/chat-data}" "$@"

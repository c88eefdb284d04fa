#!/usr/bin/env bash
# Builds libchat and runs examples/embed.c: sign up, create a channel, post,
# read the history back, all on the embedded backends in ./embed-data.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
cmake -S "$here" -B "$here/build/plain" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$here/build/plain" -j"$(nproc)" --target embed
exec "$here/build/plain/examples/embed" "${1:-$here/embed-data}"

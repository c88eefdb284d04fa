#!/usr/bin/env bash
# Installs the Node packages the SDK tests (tests/sdk/node) use, with `npm ci`,
# into a cache directory outside the checkout:
#   ${CHAT_SDK_NODE_CACHE:-~/.cache/libchat/sdk-node}/<key>/node_modules
# Idempotent and quick when already done; prints nothing unless it installs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
npm_ci_cached "$here/tests/sdk/node" "${CHAT_SDK_NODE_CACHE:-$HOME/.cache/libchat/sdk-node}" \
  @slack/web-api "the SDK tests"

#!/usr/bin/env bash
# Installs what the web client's end-to-end test (tests/web) needs: Debian's
# chromium and a colour emoji font (so reactions show in screenshots), and
# playwright-core with `npm ci` into a cache directory outside the checkout:
#   ${CHAT_WEB_NODE_CACHE:-~/.cache/libchat/web-node}/<key>/node_modules
# Idempotent and quick when already done; prints nothing unless it installs.
# playwright-core downloads no browser of its own; the test drives Debian's.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/scripts/lib.sh"
apt_install_missing chromium fonts-noto-color-emoji
npm_ci_cached "$here/tests/web" "${CHAT_WEB_NODE_CACHE:-$HOME/.cache/libchat/web-node}" \
  playwright-core "the web test"

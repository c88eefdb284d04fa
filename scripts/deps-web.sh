#!/usr/bin/env bash
# Installs what the web client's end-to-end test (tests/web) needs:
#   - Debian's chromium (/usr/bin/chromium) and fonts-noto-color-emoji, if missing;
#   - playwright-core with `npm ci` into a cache directory outside the checkout:
#       ${CHAT_WEB_NODE_CACHE:-~/.cache/libchat/web-node}/<key>/node_modules
#     where <key> is the first 16 hex digits of the SHA-256 of package.json
#     followed by package-lock.json ("current" there links to the newest).
# Idempotent and quick when already done: prints nothing unless it installs.
# playwright-core downloads no browser of its own; the test drives Debian's.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/tests/web
cache=${CHAT_WEB_NODE_CACHE:-$HOME/.cache/libchat/web-node}

# chromium, and a colour emoji font so that reactions show in screenshots.
missing=()
for p in chromium fonts-noto-color-emoji; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "deps-web.sh: $tool is not installed" >&2; exit 1; }
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "deps-web.sh: node $(node --version) is too old; the web test needs >= 20" >&2
  exit 1
fi

key=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
dest=$cache/$key
stamp=$dest/.libchat-npm-ci.done
if [ -f "$stamp" ] && [ -d "$dest/node_modules/playwright-core" ]; then
  ln -sfn "$key" "$cache/current"
  exit 0
fi

echo "installing the web test's node packages into $dest"
mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.tmp-$key-XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
cp "$src/package.json" "$src/package-lock.json" "$tmp/"
(cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
touch "$tmp/.libchat-npm-ci.done"
# Another run may have finished the same key meanwhile: keep whichever is there.
if ! mv -T "$tmp" "$dest" 2>/dev/null; then
  [ -f "$stamp" ] || { rm -rf "$dest"; mv -T "$tmp" "$dest"; }
fi
trap - EXIT
rm -rf "$tmp"
ln -sfn "$key" "$cache/current"

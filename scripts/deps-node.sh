#!/usr/bin/env bash
# Installs the Node packages the SDK tests (tests/sdk/node) use, with `npm ci`,
# into a cache directory outside the checkout:
#   ${CHAT_SDK_NODE_CACHE:-~/.cache/libchat/sdk-node}/<sha256 of package-lock.json>/node_modules
# ("current" there is a symlink to the newest one). Idempotent and quick when
# already done: a directory whose install finished holds a stamp and is left
# alone. Prints nothing on success unless it had to install.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
src=$here/tests/sdk/node
cache=${CHAT_SDK_NODE_CACHE:-$HOME/.cache/libchat/sdk-node}

for tool in node npm; do
  command -v "$tool" >/dev/null || { echo "deps-node.sh: $tool is not installed" >&2; exit 1; }
done
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 20 ]; then
  echo "deps-node.sh: node $(node --version) is too old; @slack/web-api needs >= 20" >&2
  exit 1
fi

key=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
dest=$cache/$key
stamp=$dest/.libchat-npm-ci.done
if [ -f "$stamp" ] && [ -d "$dest/node_modules/@slack/web-api" ]; then
  ln -sfn "$key" "$cache/current"
  exit 0
fi

echo "installing the SDK tests' node packages into $dest"
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

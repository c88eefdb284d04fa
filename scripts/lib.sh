# Shell helpers shared by the deps scripts (sourced, not run).

# apt_install_missing PKG...: installs, from Debian, the packages not yet installed.
apt_install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "installing: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# npm_ci_cached SRC CACHE PACKAGE WHAT: `npm ci` of SRC's package.json and
# package-lock.json into CACHE/<key>/node_modules, key = the first 16 hex digits
# of their SHA-256 (tests point NODE_PATH there); CACHE/current links to the
# newest. Quick and silent when PACKAGE is already installed for this key.
npm_ci_cached() {
  local src=$1 cache=$2 package=$3 what=$4 tool
  for tool in node npm; do
    command -v "$tool" >/dev/null || { echo "$what: $tool is not installed" >&2; return 1; }
  done
  if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
    echo "$what: node $(node --version) is too old; 20 or newer is needed" >&2
    return 1
  fi
  local key dest stamp tmp
  key=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
  dest=$cache/$key
  stamp=$dest/.libchat-npm-ci.done
  if [ -f "$stamp" ] && [ -d "$dest/node_modules/$package" ]; then
    ln -sfn "$key" "$cache/current"
    return 0
  fi
  echo "installing node packages for $what into $dest"
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.tmp-$key-XXXXXX")
  chmod 755 "$tmp"
  cp "$src/package.json" "$src/package-lock.json" "$tmp/"
  if ! (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >/dev/null); then
    rm -rf "$tmp"
    return 1
  fi
  touch "$tmp/.libchat-npm-ci.done"
  # Another run may have finished the same key meanwhile: keep whichever is there.
  if ! mv -T "$tmp" "$dest" 2>/dev/null; then
    [ -f "$stamp" ] || { rm -rf "$dest"; mv -T "$tmp" "$dest"; }
  fi
  rm -rf "$tmp"
  ln -sfn "$key" "$cache/current"
}

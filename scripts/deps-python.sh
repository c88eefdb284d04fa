#!/usr/bin/env bash
# Makes the Python environment the end-to-end tests (tests/e2e) run in: a venv
# at ~/.cache/libchat/venv (or $CHAT_E2E_VENV) made with Debian's
# /usr/bin/python3, holding the packages pinned in tests/e2e/requirements.txt.
# Idempotent and quick when done: the venv keeps a hash of the requirements
# (and of the Python) it was made from, and is left alone while they match.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
req=$here/tests/e2e/requirements.txt
venv=${CHAT_E2E_VENV:-$HOME/.cache/libchat/venv}
python=/usr/bin/python3
stamp=$venv/.libchat-requirements.sha256

. "$here/scripts/lib.sh"
apt_install_missing python3 python3-venv

want=$( (cat "$req"; "$python" --version 2>&1) | sha256sum | cut -d' ' -f1)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] &&
   "$venv/bin/python" -c 'import pytest, websocket' 2>/dev/null; then
  exit 0
fi

echo "making the e2e test venv at $venv"
if [ -e "$venv" ]; then
  # only ever remove what is a venv (or an empty leftover)
  if [ -f "$venv/pyvenv.cfg" ] || [ -z "$(ls -A "$venv")" ]; then
    rm -rf "$venv"
  else
    echo "$venv exists and is not a venv: not touching it" >&2
    exit 1
  fi
fi
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req"
echo "$want" > "$stamp"

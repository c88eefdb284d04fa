#!/usr/bin/env bash
# Adds the SDK tests' Python packages (tests/sdk/python/requirements.txt:
# Slack's slack_sdk) to the end-to-end test venv that scripts/deps-python.sh
# makes (~/.cache/libchat/venv, or $CHAT_E2E_VENV), making that venv first if
# it is missing. Idempotent and quick when already done: the venv remembers a
# hash of the requirements installed; a venv rebuilt by deps-python.sh loses
# that stamp and gets the packages again on the next run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
req=$here/tests/sdk/python/requirements.txt
venv=${CHAT_E2E_VENV:-$HOME/.cache/libchat/venv}
stamp=$venv/.libchat-sdk-requirements.sha256

if [ ! -x "$venv/bin/python" ] && [ -x "$here/scripts/deps-python.sh" ]; then
  "$here/scripts/deps-python.sh"
fi
if [ ! -x "$venv/bin/python" ]; then
  echo "deps-python-sdk.sh: no venv at $venv (run scripts/deps-python.sh)" >&2
  exit 1
fi

want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] &&
   "$venv/bin/python" -c 'import slack_sdk' 2>/dev/null; then
  exit 0
fi

echo "installing the SDK tests' Python packages into $venv"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --no-input -r "$req"
echo "$want" > "$stamp"

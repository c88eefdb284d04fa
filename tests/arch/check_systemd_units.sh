#!/usr/bin/env bash
# check_systemd_units.sh SRC BINDIR: deploy/systemd's units pass
# `systemd-analyze verify` with no complaint at all (an unknown key or a
# misspelt section is only a warning there, so any output fails), with their
# /usr/local/bin programs pointed at BINDIR's build. The self-check plants a
# misspelt key and expects it to be reported.
set -euo pipefail
src=$1 bindir=$2
command -v systemd-analyze >/dev/null || { echo "systemd-analyze not found (scripts/deps.sh installs systemd)"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

verify() { # DIR: the output of verify on DIR's units
  (cd "$1" && systemd-analyze verify ./*.service 2>&1) || true
}

mkdir "$tmp/units" "$tmp/bad"
for f in "$src"/deploy/systemd/*.service; do
  sed "s#/usr/local/bin/#$bindir/#g" "$f" > "$tmp/units/$(basename "$f")"
done
# A template is verified through an instance of it.
mv "$tmp/units/chat@.service" "$tmp/units/chat@auth.service"
out=$(verify "$tmp/units")
if [ -n "$out" ]; then
  echo "systemd-analyze verify complained:"; echo "$out"; exit 1
fi
echo "ok: $(ls "$tmp/units" | tr '\n' ' ')"

cp "$tmp/units/chat-gateway.service" "$tmp/bad/"
sed -i 's/^Restart=/Restat=/' "$tmp/bad/chat-gateway.service"
out=$(verify "$tmp/bad")
case $out in
  *"Unknown key"*) echo "self-check: a misspelt key is reported" ;;
  *) echo "self-check failed: a misspelt key went unnoticed: $out"; exit 1 ;;
esac

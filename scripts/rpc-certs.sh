#!/usr/bin/env bash
# scripts/rpc-certs.sh - mints the certificates of a deployment's RPC plane
# (mutual TLS on tls+tcp:// addresses), with Debian's openssl.
#
#   rpc-certs.sh DIR NAME...
#       Makes the deployment's CA in DIR (ca.crt, ca.key) unless it is there,
#       then for each NAME a key and a certificate the CA signed, NAME.key and
#       NAME.crt, good for both ends of a connection (serverAuth, clientAuth).
#       Each process is then configured with
#           rpc.tls_ca   = DIR/ca.crt
#           rpc.tls_cert = DIR/NAME.crt
#           rpc.tls_key  = DIR/NAME.key
#       and listens on tls+tcp://host:port. Keys are EC P-256, readable by
#       their owner only; certificates last 825 days (CA: 10 years). Keep
#       ca.key away from the servers: it can admit anyone to the cluster.
#
#   Example: scripts/rpc-certs.sh /etc/libchat/rpc gateway auth user channel message presence
set -euo pipefail

die() { echo "rpc-certs.sh: $*" >&2; exit 1; }
[ $# -ge 2 ] || die "usage: rpc-certs.sh DIR NAME..."
command -v openssl >/dev/null || die "openssl not found (Debian's openssl package)"
dir=$1
shift
mkdir -p "$dir"
umask 077

if [ ! -s "$dir/ca.key" ] || [ ! -s "$dir/ca.crt" ]; then
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/ca.key"
  openssl req -x509 -new -key "$dir/ca.key" -sha256 -days 3650 -subj "/CN=libchat RPC CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -out "$dir/ca.crt" 2>/dev/null
  chmod 644 "$dir/ca.crt"
fi

for name in "$@"; do
  case "$name" in
    *[!A-Za-z0-9._-]*|'') die "bad name \"$name\" (letters, digits, . _ - only)" ;;
  esac
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/$name.key"
  ext=$(mktemp)
  printf '%s\n' "basicConstraints=critical,CA:FALSE" \
    "keyUsage=critical,digitalSignature,keyAgreement" \
    "extendedKeyUsage=serverAuth,clientAuth" >"$ext"
  openssl req -new -key "$dir/$name.key" -subj "/CN=$name" 2>/dev/null |
    openssl x509 -req -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -sha256 \
      -days 825 -extfile "$ext" -out "$dir/$name.crt" 2>/dev/null
  rm -f "$ext"
  chmod 644 "$dir/$name.crt"
done
echo "$dir"

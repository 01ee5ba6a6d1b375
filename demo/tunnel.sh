#!/bin/sh
# The main job, end to end on localhost: a fresh certificate, s6-tlsserver
# serving a small prog, and s6-tlsclient sending it two lines through TLS.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
PATH=${S6TLS_BIN:-$top/target/release}:$PATH
tmp=$(mktemp -d)
srv=
cleanup() {
  [ -n "$srv" ] && kill "$srv" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A self-signed certificate for localhost. CA:FALSE because a CA
# certificate may not serve as a server's own (rustls enforces it).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
  -keyout "$tmp/key.pem" -out "$tmp/cert.pem" -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
  -addext basicConstraints=critical,CA:FALSE 2>/dev/null

# Port 0: the kernel picks a free one, and -1 prints it when ready. -H: no
# DNS lookups, so nothing leaves the machine.
mkfifo "$tmp/ready"
KEYFILE=$tmp/key.pem CERTFILE=$tmp/cert.pem \
  s6-tlsserver -1 -H 127.0.0.1 0 \
  sh -c 'echo "server: $SSL_PROTOCOL $SSL_CIPHER, client $TCPREMOTEIP:$TCPREMOTEPORT"; exec tr a-z A-Z' \
  > "$tmp/ready" &
srv=$!
read -r port < "$tmp/ready"
echo "s6-tlsserver is listening on 127.0.0.1:$port"

printf 'hello through TLS\nthe server upper-cases what it reads\n' |
  CAFILE=$tmp/cert.pem s6-tlsclient -k localhost 127.0.0.1 "$port" s6-ioconnect

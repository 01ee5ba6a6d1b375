#!/bin/sh
# A tiny HTTP/1.0 responder for the TLS server tests: reads the request
# head, answers one page naming the client and the TLS session, closes.
while IFS= read -r line; do
  line=$(printf '%s' "$line" | tr -d '\r')
  [ -z "$line" ] && break
done
body="hello $TCPREMOTEIP over $SSL_PROTOCOL"
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' "$((${#body} + 1))" "$body"

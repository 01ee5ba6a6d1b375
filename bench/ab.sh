#!/usr/bin/env bash
# A/B of two or more builds on bulk throughput, in rounds that alternate
# the builds, so that a noisy machine's drift falls on every build alike:
# MiB/s and busy CPU-seconds per GiB (from /proc/stat: the whole machine,
# so keep it otherwise idle) of a s6-tlsclient -> s6-tlsserver transfer
# each way, medians per build and direction. Loopback only, bounded,
# every transfer's byte count checked.
#
# Usage: bench/ab.sh ROUNDS MIB BINDIR BINDIR...
#   e.g. bench/ab.sh 4 1024 /tmp/old/release target/release
# Needs: openssl (for the test PKI), python3.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bench/ab.sh ROUNDS MIB BINDIR BINDIR..." >&2; exit 100; }
rounds=$1 mib=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/s6tls-ab.XXXXXX)
server=
cleanup() {
  [ -n "$server" ] && kill -9 -- "-$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
python3 -c "import sys; sys.path.insert(0, '$here'); import pki; pki.make('$tmp')"

busy() { # busy and idle ticks of the whole machine (steal and iowait left out)
  read -r _ u n s i w q sq st _ </proc/stat
  echo $((u + n + s + q + sq)) $((i + w))
}

# one BINDIR up|down: prints "MiB/s cpu-s/GiB"
one() {
  local bin dir=$2 port sprog cprog
  bin=$(cd "$1" && pwd)
  port=$((20000 + RANDOM % 20000))
  if [ "$dir" = up ]; then
    sprog="dd bs=1M count=$mib iflag=fullblock of=/dev/null 2>$tmp/count"
    cprog="dd if=/dev/zero bs=1M count=$mib 2>/dev/null >&7; exec 7>&-"
  else
    sprog="dd if=/dev/zero bs=1M count=$mib 2>/dev/null"
    cprog="dd bs=1M count=$mib iflag=fullblock of=/dev/null <&6 2>$tmp/count"
  fi
  rm -f "$tmp/count"
  PATH=$bin:/usr/bin:/bin KEYFILE=$tmp/server.key CERTFILE=$tmp/server.pem \
    setsid s6-tlsserver -H 127.0.0.1 $port sh -c "$sprog" 2>/dev/null &
  server=$!
  for _ in $(seq 100); do ss -ltn | grep -q ":$port " && break; sleep 0.05; done
  local t0 t1 b0 b1
  b0=$(busy); t0=$(date +%s.%N)
  PATH=$bin:/usr/bin:/bin CAFILE=$tmp/ca.pem timeout 300 \
    s6-tlsclient -H -k localhost 127.0.0.1 $port sh -c "$cprog"
  # The server's count is written when its app ends.
  for _ in $(seq 600); do [ -s "$tmp/count" ] && grep -q copied "$tmp/count" && break; sleep 0.005; done
  t1=$(date +%s.%N); b1=$(busy)
  kill -9 -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=
  grep -q "^$((mib * 1048576)) bytes" "$tmp/count" ||
    { echo "ab: $bin $dir: wrong byte count: $(tail -1 "$tmp/count")" >&2; exit 1; }
  python3 -c "
import sys
mib, t0, t1 = $mib, $t0, $t1
b0, b1 = '$b0'.split(), '$b1'.split()
ticks = int(b1[0]) - int(b0[0])
print('%.0f %.2f' % (mib / (t1 - t0), ticks / 100 / (mib / 1024)))"
}

for r in $(seq "$rounds"); do
  for bin in "$@"; do
    for dir in up down; do
      echo "$bin $dir $(one "$bin" "$dir")" | tee -a "$tmp/log" >&2
    done
  done
done
python3 - "$tmp/log" <<'PY'
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    b, d, rate, cpu = line.split()
    runs[(b, d)].append((float(rate), float(cpu)))
for (b, d), v in runs.items():
    print(f"{b} {d}: median {statistics.median(r for r, _ in v):.0f} MiB/s, "
          f"{statistics.median(c for _, c in v):.2f} CPU-s/GiB, runs {[int(r) for r, _ in v]}")
PY

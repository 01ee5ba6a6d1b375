#!/usr/bin/env bash
# A/B of builds of ours on bulk alone: bench/compare.py's transfers (the
# byte count checked), the builds alternating round by round, medians of
# MiB/s and of the machine's busy CPU-seconds per GiB (keep it otherwise
# idle). Loopback only, bounded, cleans up.
#
# With --refs, stunnel and socat take their turns in every round, and
# each build's per-round ratio to them is printed (the first BINDIR's
# s6-tcpclient carries stunnel's client hop).
#
# With --ceiling, the first BINDIR's chain with the cipher taken out
# (examples/null_engine as both engines, bench/compare.py's no-cipher)
# takes its turn too: what the tunnel's shape allows on this machine.
#
# Usage: bench/ab.sh [--refs] [--ceiling] ROUNDS MIB BINDIR BINDIR...
#   e.g. bench/ab.sh 4 1024 /tmp/old/release target/release
#        bench/ab.sh --refs --ceiling 5 1024 target/release
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
opts=()
while :; do
  case ${1:-} in
    --refs) opts+=(--refs); shift ;;
    --ceiling)
      cargo build --release -q --example null_engine --manifest-path "$root/Cargo.toml"
      opts+=(--null-engine "$root/target/release/examples/null_engine")
      shift ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] || { echo "usage: bench/ab.sh [--refs] [--ceiling] ROUNDS MIB BINDIR BINDIR..." >&2; exit 100; }
rounds=$1 mib=$2
shift 2
subjects=()
# A subject's name also names its count files: no slashes in it.
for dir in "$@"; do subjects+=("${dir//\//_}=$(cd "$dir" && pwd)"); done
exec python3 "$root/bench/compare.py" "${opts[@]}" --ab "$rounds" --mib "$mib" "${subjects[@]}"

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
# Usage: bench/ab.sh [--refs] ROUNDS MIB BINDIR BINDIR...
#   e.g. bench/ab.sh 4 1024 /tmp/old/release target/release
#        bench/ab.sh --refs 5 1024 target/release
set -euo pipefail
refs=()
if [ "${1:-}" = --refs ]; then refs=(--refs); shift; fi
[ $# -ge 3 ] || { echo "usage: bench/ab.sh [--refs] ROUNDS MIB BINDIR BINDIR..." >&2; exit 100; }
rounds=$1 mib=$2
shift 2
subjects=()
# A subject's name also names its count files: no slashes in it.
for dir in "$@"; do subjects+=("${dir//\//_}=$(cd "$dir" && pwd)"); done
exec python3 "$(dirname "$0")/compare.py" "${refs[@]}" --ab "$rounds" --mib "$mib" "${subjects[@]}"

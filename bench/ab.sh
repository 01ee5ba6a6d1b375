#!/usr/bin/env bash
# A/B of builds of ours on bulk alone: bench/compare.py's transfers (the
# byte count checked), the builds alternating round by round, medians of
# MiB/s and of the machine's busy CPU-seconds per GiB (keep it otherwise
# idle). Loopback only, bounded, cleans up.
#
# Usage: bench/ab.sh ROUNDS MIB BINDIR BINDIR...
#   e.g. bench/ab.sh 4 1024 /tmp/old/release target/release
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: bench/ab.sh ROUNDS MIB BINDIR BINDIR..." >&2; exit 100; }
rounds=$1 mib=$2
shift 2
subjects=()
# A subject's name also names its count files: no slashes in it.
for dir in "$@"; do subjects+=("${dir//\//_}=$(cd "$dir" && pwd)"); done
exec python3 "$(dirname "$0")/compare.py" --ab "$rounds" --mib "$mib" "${subjects[@]}"

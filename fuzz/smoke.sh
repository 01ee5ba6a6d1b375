#!/usr/bin/env bash
# A smoke run of every fuzz target: a few seconds each (FUZZ_SMOKE_SECS,
# default 5), starting from its committed corpus under fuzz/corpus/, so
# that every input a long run kept (and every past crash) is replayed.
# Fails on the first target that crashes, hangs or runs out of memory.
# New inputs go to a temporary directory: the committed corpora stay as
# they are. The long runs are `cargo +nightly fuzz run <target>
# fuzz/corpus/<target> -- -max_total_time=600` (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${FUZZ_SMOKE_SECS:-5}
command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked

# A debug build with the address sanitizer: it compiles in about half the
# time of the release build, and a few seconds need no speed.
cargo +nightly fuzz build --dev
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for t in $(cargo +nightly fuzz list); do
  mkdir -p "$scratch/$t" "fuzz/corpus/$t"
  echo "fuzz smoke: $t (${secs}s)"
  if ! cargo +nightly fuzz run --dev "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
      -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048 -timeout=10 \
      -print_final_stats=1 >"$scratch/$t.log" 2>&1; then
    tail -n 60 "$scratch/$t.log"
    echo "fuzz smoke: $t FAILED (the input is under fuzz/artifacts/$t/)" >&2
    exit 1
  fi
  grep -E '^#[0-9]+.*DONE' "$scratch/$t.log" || true
done

#!/usr/bin/env bash
# Our tunnels side by side with stunnel, socat and plain TCP, in one run:
# bulk MiB/s each way (medians of rounds that alternate the subjects, and
# each build's per-round ratio to stunnel and socat), connections/s
# (sequential and concurrent, p50/p99), engine peak RSS, server memory per
# idle connection, binary sizes. And the ceiling: the glibc rustls chain
# with the cipher taken out (examples/null_engine as both engines, bulk
# only), what the tunnel's shape itself allows on this machine.
# Builds: glibc rustls (target/release), glibc BoringSSL
# (target/boring/release), static musl rustls with the firmware profile:
# the multicall binary with its symlinks, and one binary per program; and,
# with a nightly toolchain that can, the same two of `cargo +nightly
# build-tiny`. Loopback only, bounded, cleans up.
#
# Usage: bench/run.sh [--mib N] [--rounds N] [--conns N] [--concurrency N] [--idle N] [--subjects a,b]
# Needs: openssl, stunnel4, socat, musl-tools and the musl Rust target
#   (apt-get install stunnel4 socat musl-tools; rustup target add x86_64-unknown-linux-musl)
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -q --bins --example conn_bench --example spawn_bench --example null_engine
cargo build --release -q --no-default-features --features boring --target-dir target/boring
cargo build --profile firmware -q --target x86_64-unknown-linux-musl --bins
musl=$PWD/target/x86_64-unknown-linux-musl/firmware
# The multicall binary alone in a directory with its symlinks, as firmware
# ships it (siblings are found next to the executable).
multicall_dir() {
  rm -rf "$1/multicall" && mkdir "$1/multicall"
  cp "$1/s6-networking" "$1/multicall/"
  "$1/multicall/s6-networking" --install "$1/multicall" >/dev/null
}
multicall_dir "$musl"
# The smallest build (README, "Smallest binaries"), when the nightly
# toolchain can make it.
tiny=()
if rustup component list --toolchain nightly --installed 2>/dev/null | grep -q '^rust-src' &&
  rustup target list --toolchain nightly --installed 2>/dev/null | grep -qx x86_64-unknown-linux-musl; then
  cargo +nightly build-tiny -q
  t=$PWD/target/tiny/x86_64-unknown-linux-musl/firmware
  multicall_dir "$t"
  tiny=(musl-tiny-multicall="$t/multicall" musl-tiny-each="$t")
else
  echo "bench: no nightly toolchain with rust-src and the musl target: no build-tiny columns" >&2
fi

exec python3 bench/compare.py --conn-bench "$PWD/target/release/examples/conn_bench" \
  --spawn-bench "$PWD/target/release/examples/spawn_bench" \
  --null-engine "$PWD/target/release/examples/null_engine" "$@" \
  glibc-rustls="$PWD/target/release" \
  glibc-boring="$PWD/target/boring/release" \
  musl-multicall="$musl/multicall" \
  musl-each="$musl" "${tiny[@]}"

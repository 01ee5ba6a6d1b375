//! The benchmark's timer for a whole client chain (bench/compare.py):
//! runs `argv` `count` times one after the other, each with "ping\n" on
//! its stdin followed by EOF, and checks that exactly "ping\n" came back
//! on its stdout and that it exited 0. Prints one JSON line: runs/s over
//! the whole run and p50/p99 of one run in ms.
//!
//! It starts each run with std's spawn (vfork-style on Linux), so that
//! what is timed is the chain, not the harness: a Python subprocess.Popen
//! forked the whole interpreter each time and took about a quarter of
//! every run here.
//!
//! Usage: spawn_bench COUNT PROG [ARG...]

#[path = "support/report.rs"]
mod report;

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((count, argv)) = args.split_first().filter(|(_, argv)| !argv.is_empty()) else {
        eprintln!("usage: spawn_bench COUNT PROG [ARG...]");
        std::process::exit(100);
    };
    let count: usize = count.parse().expect("COUNT");
    let start = Instant::now();
    let times: Vec<Duration> = (0..count).map(|_| one(argv)).collect();
    let total = start.elapsed();
    report::print(times, total);
}

/// One run; any failure ends the whole run with a message and exit 1.
fn one(argv: &[String]) -> Duration {
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("spawn_bench: {what}: {e}");
        std::process::exit(1)
    };
    let t = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| fail(&argv[0], &e));
    // Five bytes fit in any pipe, so writing them all before reading
    // cannot deadlock; dropping stdin is the EOF.
    let mut stdin = child.stdin.take().expect("piped stdin");
    stdin
        .write_all(b"ping\n")
        .unwrap_or_else(|e| fail("write", &e));
    drop(stdin);
    let mut got = Vec::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_end(&mut got)
        .unwrap_or_else(|e| fail("read", &e));
    let status = child.wait().unwrap_or_else(|e| fail("wait", &e));
    if got != b"ping\n" {
        fail("echo", &format!("{got:?}"));
    }
    if !status.success() {
        fail(&argv[0], &status);
    }
    t.elapsed()
}

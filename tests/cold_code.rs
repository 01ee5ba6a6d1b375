//! `build.rs` links std's backtrace printer apart from the code that runs
//! (`src/cold_text.ld`), so that the kernel's fault-around does not map it
//! into every engine. What lands there must be that printer alone: a
//! function that runs, linked among it, pulls its pages back in. This
//! reads the layout of a debug engine with binutils' `readelf` and `nm`;
//! the resident set itself is measured by `bench/` (README, Performance).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

/// Paths that only the backtrace printer's code has (its crates, std's
/// module around them, and LLVM's libunwind under them).
const PRINTER: &[&str] = &[
    "gimli::",
    "addr2line::",
    "rustc_demangle::",
    "miniz_oxide::",
    "backtrace_rs::",
    "libunwind",
    "_Unwind_",
    "unw_",
];

/// The debug `s6-tlsd-io` that cargo built beside this test: linked by
/// `build.rs` like every program, and with its symbols.
fn engine() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join("s6-tlsd-io")
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Start and size of the `.text.cold` section.
fn cold_range(engine: &str) -> (u64, u64) {
    let sections = run("readelf", &["-SW", engine]);
    let line = sections
        .lines()
        .find(|l| l.contains(" .text.cold "))
        .unwrap_or_else(|| panic!("no .text.cold in {engine}:\n{sections}"));
    // [Nr] Name Type Address Off Size ...
    let fields: Vec<&str> = line
        .split(']')
        .nth(1)
        .expect("a section line")
        .split_whitespace()
        .collect();
    let hex = |s: &str| u64::from_str_radix(s, 16).expect("hex");
    (hex(fields[2]), hex(fields[4]))
}

#[test]
fn only_the_backtrace_printer_is_linked_cold() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let engine = engine();
    let engine = engine.to_str().expect("utf-8 path");
    let (start, size) = cold_range(engine);
    let symbols = run("nm", &["--defined-only", "--demangle", engine]);
    // Every name of each function in .text.cold: std is built with
    // identical functions merged, so one body can carry a name of the
    // printer's and a name of code that runs (`Vec<u8>`'s empty drop),
    // and the linker only ever saw the first.
    let mut cold: BTreeMap<u64, Vec<&str>> = BTreeMap::new();
    for line in symbols.lines() {
        let mut f = line.splitn(3, ' ');
        let (Some(addr), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        if matches!(kind, "t" | "T") && (start..start + size).contains(&addr) {
            cold.entry(addr).or_default().push(name);
        }
    }
    // The printer is about 170 KiB in a debug build: it was found.
    assert!(size > 64 * 1024, ".text.cold is {size} bytes");
    assert!(cold.len() > 50, "{} functions in .text.cold", cold.len());
    let strays: Vec<&Vec<&str>> = cold
        .values()
        .filter(|names| !names.iter().any(|n| PRINTER.iter().any(|p| n.contains(p))))
        .collect();
    assert!(
        strays.is_empty(),
        "functions in .text.cold that are not the backtrace printer's: {strays:#?}"
    );
}

//! `build.rs` links std's backtrace printer apart from the code that runs
//! (`src/cold_text.ld`), so that the kernel's fault-around does not map it
//! into every engine. What lands there must be that printer alone: a
//! function that runs, linked among it, pulls its pages back in. In the
//! multicall binary, the other programs' code is linked apart from the
//! engines' the same way, and none of the engines' may land there. This
//! reads the layout of debug binaries with binutils' `readelf` and `nm`;
//! the resident set itself is measured by `bench/` (README, Performance).

mod common;

use std::collections::BTreeMap;
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

/// A debug program that cargo built beside this test (`s6-tlsd-io`, the
/// multicall `s6-networking`): linked by `build.rs` like every program,
/// and with its symbols. Not `common::bin`, which may name the smallest
/// build (`S6TLS_BIN_DIR`): it has no backtrace printer and no symbols.
fn program(name: &str) -> String {
    let exe = std::env::current_exe().expect("current_exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    dir.join(name).to_str().expect("utf-8 path").to_string()
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(out.status.success(), "{tool} {args:?}: {out:?}");
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Start and size of a section.
fn section_range(binary: &str, section: &str) -> (u64, u64) {
    let sections = run("readelf", &["-SW", binary]);
    let line = sections
        .lines()
        .find(|l| l.contains(&format!(" {section} ")))
        .unwrap_or_else(|| panic!("no {section} in {binary}:\n{sections}"));
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

/// Every name of each function in `start..start + size`, by address:
/// std is built with identical functions merged, so one body can carry a
/// name of the printer's and a name of code that runs (`Vec<u8>`'s empty
/// drop), and the linker only ever saw the first.
fn functions_in(binary: &str, (start, size): (u64, u64)) -> BTreeMap<u64, Vec<String>> {
    let symbols = run("nm", &["--defined-only", "--demangle", binary]);
    let mut found: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    for line in symbols.lines() {
        let mut f = line.splitn(3, ' ');
        let (Some(addr), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        if matches!(kind, "t" | "T") && (start..start + size).contains(&addr) {
            found.entry(addr).or_default().push(name.to_string());
        }
    }
    found
}

#[test]
fn only_the_backtrace_printer_is_linked_cold() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let engine = program("s6-tlsd-io");
    let (start, size) = section_range(&engine, ".text.cold");
    let cold = functions_in(&engine, (start, size));
    // The printer is about 170 KiB in a debug build: it was found.
    assert!(size > 64 * 1024, ".text.cold is {size} bytes");
    assert!(cold.len() > 50, "{} functions in .text.cold", cold.len());
    let strays: Vec<&Vec<String>> = cold
        .values()
        .filter(|names| !names.iter().any(|n| PRINTER.iter().any(|p| n.contains(p))))
        .collect();
    assert!(
        strays.is_empty(),
        "functions in .text.cold that are not the backtrace printer's: {strays:#?}"
    );
}

#[test]
fn the_multicall_binary_links_the_other_programs_apart_from_the_engines() {
    if !cfg!(target_os = "linux") {
        return;
    }
    let multicall = program("s6-networking");
    let others = functions_in(&multicall, section_range(&multicall, ".text.others"));
    let names: Vec<&String> = others.values().flatten().collect();
    // Each program's own code and each module no engine uses is there.
    for wanted in [
        "s6_tls::programs::tcpserverd::",
        "s6_tls::programs::tlsd::",
        "s6_tls::programs::tlsserver::",
        "s6_tls::programs::tcpserver_access::",
        "s6_tls::programs::proxy_server::",
        "s6_tls::accessrules::",
        "s6_tls::tls_wrapper::",
    ] {
        assert!(
            names.iter().any(|n| n.starts_with(wanted)),
            "no {wanted} in .text.others"
        );
    }
    let engines = [
        "s6_tls::programs::tlsc_io::",
        "s6_tls::programs::tlsd_io::",
        "s6_tls::io_loop::",
        "s6_tls::engine::",
        "s6_tls::backend::",
        "rustls::",
        "ring::",
    ];
    let strays: Vec<&&String> = names
        .iter()
        .filter(|n| engines.iter().any(|e| n.contains(e)))
        .collect();
    assert!(
        strays.is_empty(),
        "the engines' code in .text.others: {strays:#?}"
    );
}

/// Whichever of the sections linked apart is empty (a per-program engine
/// has no other programs, the smallest build no backtrace printer), the
/// ELF headers and the read-only data before `.text` stay out of the
/// executable segment. Checked on the programs under test, which for
/// the smallest build are its own (`S6TLS_BIN_DIR`).
#[test]
fn the_headers_stay_out_of_the_executable_segment() {
    if !cfg!(target_os = "linux") {
        return;
    }
    for name in ["s6-networking", "s6-tlsd", "s6-tlsd-io", "s6-tlsc-io"] {
        let path = common::bin(name);
        let path = path.to_str().expect("utf-8 path");
        let headers = run("readelf", &["-lW", path]);
        let first = headers
            .lines()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>)
            .find(|f| f.first() == Some(&"LOAD") && f.get(1) == Some(&"0x000000"))
            .unwrap_or_else(|| panic!("no LOAD at offset 0 in {path}:\n{headers}"));
        // LOAD Offset VirtAddr PhysAddr FileSiz MemSiz Flg... Align
        let flags = &first[6..first.len() - 1];
        assert!(
            !flags.iter().any(|f| f.contains('E')),
            "{path}: the segment of the ELF headers is executable: {first:?}"
        );
    }
}

//! How the programs are linked, for a smaller resident set and a faster
//! start: each connection runs two engine processes, and execs three
//! programs on the server side alone (README, Performance).
//!
//! - On Linux, `src/cold_text.ld` gathers the code that only prints panic
//!   backtraces away from the code that runs, and, in the multicall
//!   binary, the other programs' code away from the engines'.
//! - On musl, relative relocations are packed (DT_RELR): a static-pie
//!   engine otherwise reads 37 KiB of relocation records at every start.
//!   The loader in Rust's bundled musl (1.2.5 since Rust 1.93) applies
//!   them; older ones do not, so older compilers get none.
//! - On glibc, the unwinder is linked in from libgcc_eh.a rather than
//!   loaded from libgcc_s.so.1 at every exec: std asks for `-lgcc_s`, and
//!   a `libgcc_s.a` in OUT_DIR that names libgcc_eh answers it first.
//!   Loading it cost each exec about 0.15 ms here (its constructor alone
//!   runs CPUID twelve times, and a CPUID traps in a VM).
//!
//! `S6TLS_PLAIN_LINK=1` turns all of these off, for a linker or a sysroot
//! that cannot take them.

use std::env;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=src/cold_text.ld");
    println!("cargo:rerun-if-env-changed=S6TLS_PLAIN_LINK");
    if env::var_os("S6TLS_PLAIN_LINK").is_some_and(|v| v != "0")
        || env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux")
    {
        return;
    }
    let dir = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-link-arg=-Wl,-T,{dir}/src/cold_text.ld");
    let target_env = env::var("CARGO_CFG_TARGET_ENV");
    if target_env.as_deref() == Ok("musl") && rustc_minor() >= Some(93) {
        println!("cargo:rustc-link-arg=-Wl,-z,pack-relative-relocs");
    }
    if target_env.as_deref() == Ok("gnu") {
        let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
        std::fs::write(format!("{out}/libgcc_s.a"), "INPUT(-lgcc_eh)\n")
            .expect("writing into OUT_DIR");
        println!("cargo:rustc-link-search=native={out}");
    }
}

/// The minor version of the compiler building us (1.x).
fn rustc_minor() -> Option<u32> {
    let rustc = env::var_os("RUSTC")?;
    let out = Command::new(rustc).arg("--version").output().ok()?;
    let version = String::from_utf8(out.stdout).ok()?;
    version
        .split_whitespace()
        .nth(1)?
        .split('.')
        .nth(1)?
        .parse()
        .ok()
}

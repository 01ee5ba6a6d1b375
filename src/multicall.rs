//! The multicall binary, busybox-style: one executable holding every
//! program, run by a symlink named after the program, or as
//! `s6-networking <program> args...`. `s6-networking --install DIR`
//! creates the symlinks.

use crate::fatal::{self, Fatal, Result, code};
use crate::programs::ALL;
use crate::spawn::{self, Invocation};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

const USAGE: &str =
    "s6-networking program [ args... ] | s6-networking --install dir | s6-networking --list";

fn find(name: &std::ffi::OsStr) -> Option<fn() -> !> {
    ALL.iter()
        .find(|(n, _)| std::ffi::OsStr::new(n) == name)
        .map(|(_, f)| *f)
}

/// Dispatches on argv\[0\]'s basename, else on argv\[1\].
pub fn main() -> ! {
    let argv: Vec<OsString> = std::env::args_os().collect();
    let base = argv
        .first()
        .map(Path::new)
        .and_then(Path::file_name)
        .map(OsString::from)
        .unwrap_or_default();
    if let Some(run) = find(&base) {
        spawn::set_invocation(Invocation::MulticallByName);
        run()
    }
    fatal::run_main("s6-networking", || {
        let first = argv.get(1).ok_or_else(|| Fatal::usage(USAGE))?;
        if let Some(run) = find(first) {
            spawn::set_invocation(Invocation::MulticallSubcommand);
            run()
        }
        match first.to_str() {
            Some("--list") => {
                let names: Vec<&str> = ALL.iter().map(|(n, _)| *n).collect();
                println!("{}", names.join("\n"));
                Ok(code::OK)
            }
            Some("--install") => match argv.get(2) {
                Some(dir) if argv.len() == 3 => install(Path::new(dir)),
                _ => Err(Fatal::usage(USAGE)),
            },
            _ => Err(Fatal::usage_because(
                USAGE,
                format!("unknown program: {}", first.to_string_lossy()),
            )),
        }
    })
}

/// Creates `dir/<program>` → this executable for every program, replacing
/// symlinks already there but never a regular file.
fn install(dir: &Path) -> Result<i32> {
    let exe: PathBuf = std::env::current_exe()
        .and_then(|p| p.canonicalize())
        .map_err(|e| Fatal::sys("find this executable", e))?;
    for (name, _) in ALL {
        let link = dir.join(name);
        if let Ok(meta) = std::fs::symlink_metadata(&link) {
            if !meta.file_type().is_symlink() {
                return Err(Fatal::new(
                    code::SYS,
                    format!("{} exists and is not a symlink", link.display()),
                ));
            }
            std::fs::remove_file(&link)
                .map_err(|e| Fatal::sys(&format!("remove {}", link.display()), e))?;
        }
        std::os::unix::fs::symlink(&exe, &link)
            .map_err(|e| Fatal::sys(&format!("create {}", link.display()), e))?;
    }
    Ok(code::OK)
}

//! s6-accessrules-cdb-from-fs: compiles a rules directory into a cdb file
//! that s6-tcpserver-access -x reads. The file is written beside its final
//! name, synced, then renamed over it, so a running server never sees a
//! half-written rules file.

use crate::accessrules::{self, MAX_PART, Rule};
use crate::cdb;
use crate::fatal::{self, Fatal, Result, code};
use crate::options;
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

const USAGE: &str = "s6-accessrules-cdb-from-fs cdbfile dir";

pub fn main() -> ! {
    fatal::run_main("s6-accessrules-cdb-from-fs", || run(crate::spawn::args()))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, &[], USAGE)?;
    let [cdbfile, dir, ..] = &parsed.rest[..] else {
        return Err(Fatal::usage(USAGE));
    };
    let (cdbfile, dir) = (PathBuf::from(cdbfile), PathBuf::from(dir));
    let (rules, skipped) = accessrules::read_tree(&dir)
        .map_err(|e| Fatal::new(code::SYS, format!("unable to {e}")))?;
    for key in skipped {
        fatal::warn(format!("ignoring {key}: it holds neither allow nor deny"));
    }
    let mut w = cdb::Writer::new();
    for (key, rule) in &rules {
        if let Rule::Allow(a) = rule
            && a.exec.as_ref().is_some_and(|x| x.len() == MAX_PART)
        {
            fatal::warn(format!("possibly truncated file {key}/exec"));
        }
        let data = accessrules::encode_rule(rule)
            .map_err(|e| Fatal::new(code::USAGE, format!("{}/{key}: {e}", dir.display())))?;
        w.add(key.as_bytes(), &data)
            .map_err(|e| Fatal::new(code::SYS, format!("unable to add {key}: {e}")))?;
    }
    let bytes = w
        .finish()
        .map_err(|e| Fatal::new(code::SYS, format!("unable to finish cdb: {e}")))?;
    write_atomically(&cdbfile, &bytes)?;
    Ok(0)
}

/// Writes `bytes` to a new file beside `target`, syncs it, renames it to
/// `target`; the temporary file is removed on failure.
fn write_atomically(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let tmp = accessrules::temp_beside(target, "s6-accessrules-cdb-from-fs", attempt);
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => break (tmp, f),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 100 => {
                attempt += 1
            }
            Err(e) => return Err(Fatal::sys(&format!("create {}", tmp.display()), e)),
        }
    };
    let result = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| Fatal::sys(&format!("write {}", tmp.display()), e))
        .and_then(|()| {
            std::fs::rename(&tmp, target).map_err(|e| {
                Fatal::sys(
                    &format!("rename {} to {}", tmp.display(), target.display()),
                    e,
                )
            })
        });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

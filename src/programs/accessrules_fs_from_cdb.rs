//! s6-accessrules-fs-from-cdb: turns a compiled rules file back into a
//! rules directory. `dir` must not exist; the tree is built in a
//! temporary directory beside it and renamed into place, so `dir` appears
//! complete or not at all.

use crate::accessrules::{self, Rules};
use crate::fatal::{self, Fatal, Result, code};
use crate::options;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

const USAGE: &str = "s6-accessrules-fs-from-cdb dir cdbfile";

pub fn main() -> ! {
    fatal::run_main("s6-accessrules-fs-from-cdb", || run(crate::spawn::args()))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, &[], USAGE)?;
    let [dir, cdbfile, ..] = &parsed.rest[..] else {
        return Err(Fatal::usage(USAGE));
    };
    let (dir, cdbfile) = (PathBuf::from(dir), PathBuf::from(cdbfile));
    let Rules::Cdb(db) =
        Rules::open_cdb(&cdbfile).map_err(|e| Fatal::new(code::SYS, format!("unable to {e}")))?
    else {
        return Err(Fatal::new(code::SYS, "unable to read the rules file"));
    };
    let records = db.records().map_err(|e| {
        Fatal::new(
            code::SYS,
            format!("unable to read {}: {e}", cdbfile.display()),
        )
    })?;
    let invalid = |why: String| {
        Fatal::new(
            code::SYS,
            format!(
                "unable to handle cdb record: {} does not contain valid accessrules data: {why}",
                cdbfile.display()
            ),
        )
    };
    let mut rules = Vec::new();
    for (key, data) in records {
        if !accessrules::key_is_safe(key) {
            return Err(invalid(format!(
                "bad key {:?}",
                String::from_utf8_lossy(key)
            )));
        }
        let rule = accessrules::decode_rule(data)
            .map_err(|e| invalid(format!("key {}: {e}", String::from_utf8_lossy(key))))?;
        rules.push((key, rule));
    }

    // Claim `dir` first, as upstream's mkdir does, then fill a temporary
    // twin and rename it over the (still empty) claimed directory.
    make_dir(&dir).map_err(|e| Fatal::sys(&format!("mkdir {}", dir.display()), e))?;
    let tmp = accessrules::temp_beside(&dir, "s6-accessrules-fs-from-cdb", 0);
    let result = fill(&tmp, &rules).and_then(|()| {
        std::fs::rename(&tmp, &dir)
            .map_err(|e| Fatal::sys(&format!("rename {} to {}", tmp.display(), dir.display()), e))
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        let _ = std::fs::remove_dir(&dir);
    }
    result.map(|()| 0)
}

/// Directories as upstream makes them: rwxr-sr-x.
fn make_dir(p: &Path) -> std::io::Result<()> {
    std::fs::DirBuilder::new().mode(0o755).create(p)?;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o2755))
}

fn make_dirs(base: &Path, key: &[u8]) -> std::io::Result<PathBuf> {
    let mut p = base.to_path_buf();
    for part in key.split(|&b| b == b'/') {
        p.push(OsStr::from_bytes(part));
        match make_dir(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && p.is_dir() => {}
            Err(e) => return Err(e),
        }
    }
    Ok(p)
}

fn fill(tmp: &Path, rules: &[(&[u8], Option<accessrules::Rule>)]) -> Result<()> {
    make_dir(tmp).map_err(|e| Fatal::sys(&format!("mkdir {}", tmp.display()), e))?;
    for (key, rule) in rules {
        let shown = String::from_utf8_lossy(key);
        let kdir = make_dirs(tmp, key).map_err(|e| Fatal::sys(&format!("mkdir {shown}"), e))?;
        accessrules::write_rule_dir(&kdir, rule.as_ref())
            .map_err(|e| Fatal::sys(&format!("write rule {shown}"), e))?;
    }
    Ok(())
}

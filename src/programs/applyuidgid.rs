//! s6-applyuidgid: drops privileges (supplementary groups, then gid,
//! then uid), then execs prog.

use crate::chain::parse_gidlist;
use crate::fatal::{self, Fatal, Result, code};
use crate::options::{self, Opt};
use crate::spawn::{self, EnvEdits};
use crate::sys;
use std::ffi::OsString;

const USAGE: &str = "s6-applyuidgid [ -z ] [ -u uid ] [ -g gid ] [ -G gidlist ] [ -U ] prog...";

const TABLE: &[Opt] = &[
    Opt::flag("z unexport"),
    Opt::flag("U envuidgid"),
    Opt::value("u uid"),
    Opt::value("g gid"),
    Opt::value("G gidlist"),
];

pub fn main() -> ! {
    fatal::run_main("s6-applyuidgid", || run(spawn::args()))
}

fn env_number(name: &str) -> Result<u32> {
    let v = std::env::var(name).map_err(|_| Fatal::new(code::USAGE, format!("{name} not set")))?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fatal::new(code::USAGE, format!("invalid {name}: {v}")));
    }
    v.parse()
        .map_err(|_| Fatal::new(code::USAGE, format!("invalid {name}: {v}")))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, TABLE, USAGE)?;
    let mut unexport = false;
    let (mut uid, mut gid, mut groups): (u32, u32, Option<Vec<u32>>) = (0, 0, None);
    for f in &parsed.found {
        match f.key {
            "z" => unexport = true,
            "u" => uid = f.number(USAGE)?,
            "g" => gid = f.number(USAGE)?,
            "G" => {
                let t = f.text(USAGE)?;
                groups = Some(parse_gidlist(&t).ok_or_else(|| {
                    Fatal::usage_because(USAGE, format!("invalid group list: {t}"))
                })?);
            }
            "U" => {
                uid = env_number("UID")?;
                gid = env_number("GID")?;
                let list = std::env::var("GIDLIST")
                    .map_err(|_| Fatal::new(code::USAGE, "GIDLIST not set"))?;
                groups =
                    Some(parse_gidlist(&list).ok_or_else(|| {
                        Fatal::new(code::USAGE, format!("invalid GIDLIST: {list}"))
                    })?);
            }
            _ => {}
        }
    }
    if parsed.rest.is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    // As upstream, 0 means "leave as it is".
    let uid = (uid != 0).then_some(uid);
    let gid = (gid != 0).then_some(gid);
    // The primary group leads the supplementary list, as skalibs does.
    let groups = groups.map(|mut list| {
        let first = gid.unwrap_or_else(|| rustix::process::getegid().as_raw());
        if list.first() != Some(&first) {
            list.insert(0, first);
        }
        list
    });
    sys::drop_privileges(uid, gid, groups.as_deref())
        .map_err(|e| Fatal::sys("drop privileges", e))?;
    let mut env = EnvEdits::default();
    if unexport {
        for k in ["UID", "GID", "GIDLIST"] {
            env.unset(k);
        }
    }
    Err(spawn::exec(&parsed.rest, &env))
}

//! s6-tlsc: runs prog over a TLS client connection on fds 6/7.

use crate::fatal::{self, Fatal, Result, code};
use crate::options::{self, Opt};
use crate::tls_options::{KEEP, Side, TlsOptions, table};
use crate::tls_wrapper::interpose_engine;

const USAGE: &str = "s6-tlsc [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K timeout ] [ -k servername ] [ -6 rfd ] [ -7 wfd ] [ --no-verify-cert ] [ -- ] prog...";

pub fn main() -> ! {
    fatal::run_main("s6-tlsc", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let own = [KEEP, &[Opt::value("6 read-fd"), Opt::value("7 write-fd")]].concat();
    let parsed = options::parse(&args, &table(Side::Client, &own), USAGE)?;
    let mut o = TlsOptions::new(Side::Client);
    let mut keep = false;
    let mut fds = [6, 7];
    for f in &parsed.found {
        if o.apply(f, USAGE)? {
            continue;
        }
        match f.key {
            "Z" => keep = true,
            "z" => keep = false,
            "6" | "7" => {
                let fd: i32 = f.number(USAGE)?;
                if fd < 3 {
                    return Err(Fatal::new(
                        code::USAGE,
                        format!("-{} must be 3 or more", f.key),
                    ));
                }
                fds[usize::from(f.key == "7")] = fd;
            }
            _ => {}
        }
    }
    if fds[0] == fds[1] {
        return Err(Fatal::new(
            code::USAGE,
            "read-fd and write-fd must be different",
        ));
    }
    if parsed.rest.is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    interpose_engine(Side::Client, &o, keep, fds, fds, &parsed.rest)
}

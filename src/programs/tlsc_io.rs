//! s6-tlsc-io: the client TLS engine. Cleartext on stdin/stdout, ciphertext
//! on `fdr`/`fdw`.

use crate::engine;
use crate::fatal::{self, Fatal, Result};
use crate::io_loop::FdPorts;
use crate::options::{self, Opt};
use crate::sys;
use crate::tls_options::{Side, TlsOptions, table};

const USAGE: &str = "s6-tlsc-io [ -v verbosity ] [ -d notif ] [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -K timeout ] [ -k servername ] [ --no-verify-cert ] [ -- ] fdr fdw";

pub fn main() -> ! {
    fatal::run_main("s6-tlsc-io", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let parsed = options::parse(
        &args,
        &table(Side::Client, &[Opt::value("d notification-fd")]),
        USAGE,
    )?;
    let mut o = TlsOptions::new(Side::Client);
    let mut notif = None;
    for f in &parsed.found {
        if !o.apply(f, USAGE)? && f.key == "d" {
            notif = Some(f.number(USAGE)?);
        }
    }
    let [fdr, fdw] = engine_fds(&parsed.rest, USAGE)?;
    sys::ignore_sigpipe();
    let session = engine::client_session(&o)?;
    let ports = FdPorts::new(0, 1, fdr, fdw).map_err(|e| Fatal::sys("set fds non-blocking", e))?;
    engine::run(session, ports, &o, notif)
}

/// The two network fds of an engine's command line, checked open.
pub(crate) fn engine_fds(rest: &[std::ffi::OsString], usage: &str) -> Result<[i32; 2]> {
    if rest.len() < 2 {
        return Err(Fatal::usage(usage));
    }
    let fds = [
        engine::fd_arg(&rest[0], usage)?,
        engine::fd_arg(&rest[1], usage)?,
    ];
    for fd in fds {
        if !sys::is_open(fd) {
            return Err(Fatal::sys(&format!("use fd {fd}"), "Bad file descriptor"));
        }
    }
    Ok(fds)
}

//! s6-tlsd-io: the server TLS engine. Ciphertext on stdin/stdout, cleartext
//! on `fdr`/`fdw`.

use crate::engine;
use crate::fatal::{self, Fatal, Result};
use crate::io_loop::FdPorts;
use crate::options::{self, Opt};
use crate::programs::tlsc_io::engine_fds;
use crate::sys;
use crate::tls_options::{Side, TlsOptions, table};

const USAGE: &str = "s6-tlsd-io [ -v verbosity ] [ -d notif ] [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -K timeout ] [ -k snilevel ] [ -- ] fdr fdw";

pub fn main() -> ! {
    fatal::run_main("s6-tlsd-io", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let parsed = options::parse(
        &args,
        &table(Side::Server, &[Opt::value("d notification-fd")]),
        USAGE,
    )?;
    let mut o = TlsOptions::new(Side::Server);
    let mut notif = None;
    for f in &parsed.found {
        if !o.apply(f, USAGE)? && f.key == "d" {
            notif = Some(f.number(USAGE)?);
        }
    }
    let [fdr, fdw] = engine_fds(&parsed.rest, USAGE)?;
    sys::ignore_sigpipe();
    let session = engine::server_session(&o)?;
    let ports = FdPorts::new(fdr, fdw, 0, 1).map_err(|e| Fatal::sys("set fds non-blocking", e))?;
    engine::run(session, ports, &o, notif)
}

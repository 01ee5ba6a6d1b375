//! s6-tlsd: runs prog over a TLS server connection on stdin/stdout.

use crate::fatal::{self, Fatal, Result};
use crate::options;
use crate::tls_options::{KEEP, Side, TlsOptions, table};
use crate::tls_wrapper::interpose_engine;

const USAGE: &str = "s6-tlsd [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K timeout ] [ -k snilevel ] [ -- ] prog...";

pub fn main() -> ! {
    fatal::run_main("s6-tlsd", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let parsed = options::parse(&args, &table(Side::Server, KEEP), USAGE)?;
    let mut o = TlsOptions::new(Side::Server);
    let mut keep = false;
    for f in &parsed.found {
        if !o.apply(f, USAGE)? {
            keep = f.key == "Z";
        }
    }
    if parsed.rest.is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    interpose_engine(Side::Server, &o, keep, [0, 1], [0, 1], &parsed.rest)
}

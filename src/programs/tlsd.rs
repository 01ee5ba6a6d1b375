//! s6-tlsd: runs prog over a TLS server connection on stdin/stdout.

use crate::fatal::{self, Result};
use crate::tls_options::{Side, parse_wrapper};
use crate::tls_wrapper::interpose_engine;

const USAGE: &str = "s6-tlsd [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K timeout ] [ -k snilevel ] [ -- ] prog...";

pub fn main() -> ! {
    fatal::run_main("s6-tlsd", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let w = parse_wrapper(Side::Server, &args, USAGE)?;
    interpose_engine(Side::Server, &w.tls, w.keep, w.net, w.net, &w.prog)
}

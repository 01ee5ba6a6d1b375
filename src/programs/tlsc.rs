//! s6-tlsc: runs prog over a TLS client connection on fds 6/7.

use crate::fatal::{self, Result};
use crate::tls_options::{Side, parse_wrapper};
use crate::tls_wrapper::interpose_engine;

const USAGE: &str = "s6-tlsc [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K timeout ] [ -k servername ] [ -6 rfd ] [ -7 wfd ] [ --no-verify-cert ] [ -- ] prog...";

pub fn main() -> ! {
    fatal::run_main("s6-tlsc", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let w = parse_wrapper(Side::Client, &args, USAGE)?;
    interpose_engine(Side::Client, &w.tls, w.keep, w.net, w.net, &w.prog)
}

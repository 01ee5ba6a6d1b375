//! s6-ucspitlsd: opportunistic TLS, server side (UCSPI-TLS over stdin/stdout).

use crate::fatal::{self, Result};
use crate::tls_options::{Side, parse_wrapper};
use crate::ucspi_tls;

const USAGE: &str = "s6-ucspitlsd [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K timeout ] [ -k snilevel ] [ -- ] prog...";

pub fn main() -> ! {
    fatal::run_main("s6-ucspitlsd", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let w = parse_wrapper(Side::Server, &args, USAGE)?;
    ucspi_tls::run(Side::Server, &w)
}

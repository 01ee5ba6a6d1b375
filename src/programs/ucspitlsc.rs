//! s6-ucspitlsc: opportunistic TLS, client side (UCSPI-TLS over fds 6/7).

use crate::fatal::{self, Result};
use crate::tls_options::{Side, parse_wrapper};
use crate::ucspi_tls;

const USAGE: &str = "s6-ucspitlsc [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -v verbosity ] [ -K timeout ] [ -k servername ] [ -6 rfd ] [ -7 wfd ] [ --no-verify-cert ] [ -- ] prog...";

pub fn main() -> ! {
    fatal::run_main("s6-ucspitlsc", || run(crate::spawn::args()))
}

fn run(args: Vec<std::ffi::OsString>) -> Result<i32> {
    let w = parse_wrapper(Side::Client, &args, USAGE)?;
    ucspi_tls::run(Side::Client, &w)
}

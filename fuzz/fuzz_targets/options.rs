//! The option grammar on arbitrary command lines, with the TLS options
//! folded in as every TLS program does: errors are usage errors, never
//! panics, and what is not an option is handed on untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s6_tls::options::parse;
use s6_tls::tls_options::{KEEP, Side, TlsOptions, table};
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fuzz_target!(|data: &[u8]| {
    let args: Vec<OsString> = data.split(|&b| b == 0).map(|a| OsString::from_vec(a.to_vec())).collect();
    for side in [Side::Client, Side::Server] {
        let Ok(p) = parse(&args, &table(side, KEEP), "usage") else { continue };
        assert!(args.ends_with(&p.rest));
        let mut o = TlsOptions::new(side);
        for f in &p.found {
            if let Err(e) = o.apply(f, "usage") {
                assert_eq!(e.code, 100);
            }
        }
        let _ = o.engine_args();
    }
});

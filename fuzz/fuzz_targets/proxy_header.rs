//! The PROXY header parser proxy-server runs on what the network sends:
//! fed the way proxy-server reads (only as many bytes as it asks for), it
//! must never panic, never ask for zero bytes, and never claim a header
//! longer than what it was given.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s6_tls::proxy_header::{Progress, Versions, parse};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let versions = match mode % 3 {
        0 => Versions::BOTH,
        1 => Versions { v1: true, v2: false },
        _ => Versions { v1: false, v2: true },
    };
    let mut have = 0;
    loop {
        match parse(&bytes[..have], versions) {
            Ok(Progress::NeedMore(n)) => {
                assert!(n > 0);
                if have + n > bytes.len() {
                    return;
                }
                have += n;
            }
            Ok(Progress::Done(h)) => {
                assert_eq!(h.len, have, "the header is exactly what was read");
                return;
            }
            Err(e) => {
                assert!(matches!(e.exit_code(), 1 | 2));
                return;
            }
        }
    }
});

//! The notification block parser that s6-tlsc/s6-tlsd and the UCSPI-TLS
//! programs run on what an engine wrote.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s6_tls::notify_block::decode;

fuzz_target!(|data: &[u8]| {
    if let Ok(vars) = decode(data) {
        for (k, v) in vars {
            assert!(!k.is_empty() && !k.contains('\0'));
            assert!(v.is_none_or(|v| !v.contains('\0')));
        }
    }
});

//! Loading what CERTFILE, KEYFILE, CAFILE and CADIR point at: PEM or DER
//! certificates and keys, and the subject line printed from a certificate.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s6_tls::{cert_subject, creds};

fuzz_target!(|data: &[u8]| {
    for cert in creds::parse_certs(data) {
        let _ = cert_subject::subject_oneline(&cert);
    }
    let _ = creds::parse_key(data);
    if let Some(s) = cert_subject::subject_oneline(data) {
        assert!(!s.contains('\0') && !s.contains('\n'));
    }
});

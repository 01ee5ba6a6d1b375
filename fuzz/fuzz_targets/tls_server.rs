//! Raw network bytes into the real rustls backend's server side, as
//! s6-tlsd would see them from a client: ClientHello parsing, SNI
//! certificate selection, client authentication, alerts. See
//! `common/tls_driver.rs` for the driving and the invariants.
//!
//! Server and client are two targets rather than one with a selector: the
//! two state machines share nothing in their input, so separate corpora
//! (and coverage figures) keep each 10-minute run on one of them.
#![no_main]

// Each side uses half of the shared driver.
#[allow(dead_code)]
#[path = "../common/tls_driver.rs"]
mod tls_driver;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [settings, chunking, stream @ ..] = data else {
        return;
    };
    let mut s = tls_driver::server(*settings);
    let out = tls_driver::drive(&mut s, *chunking, stream);
    // A server speaks only when spoken to: before the first whole record
    // it has nothing to say (not even an alert), unless told to close.
    if stream.len() < 5 && !out.failed && chunking & 8 == 0 {
        assert!(out.sent.is_empty(), "a server spoke first");
    }
    // Whatever it sent is whole TLS records.
    tls_driver::record_types(&out.sent);
});

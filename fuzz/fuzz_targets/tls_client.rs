//! Raw network bytes into the real rustls backend's client side, as
//! s6-tlsc would see them from a server: ServerHello and the TLS 1.2
//! plaintext flight (certificate chain verification against the trust
//! anchors, name checks with and without -k), HelloRetryRequest, alerts.
//! See `common/tls_driver.rs` for the driving and the invariants; server
//! and client are separate targets, as `tls_server.rs` explains.
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
    let mut s = tls_driver::client(*settings);
    let out = tls_driver::drive(&mut s, *chunking, stream);
    // Whatever it sent is whole TLS records, and it spoke first: its
    // ClientHello is a handshake record (type 22) holding a ClientHello
    // (handshake type 1).
    tls_driver::record_types(&out.sent);
    assert!(
        matches!(out.sent[..], [22, 3, _, _, _, 1, ..]),
        "the client's first record is not a ClientHello"
    );
});

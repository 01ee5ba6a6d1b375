//! Shared by the `tls_server` and `tls_client` targets: one real rustls
//! session (the engine's backend, through the `TlsSession` trait) fed the
//! fuzzer's bytes as what the network sent, driven the way `io_loop` drives
//! it: drain ciphertext and cleartext, offer the next chunk, repeat.
//!
//! Input: a settings byte (which certificates, SNI, client auth...), a
//! chunking byte (how the stream is cut into reads, whether to queue a
//! close_notify at the end), then the stream itself.
//!
//! Invariants checked on every step:
//! - nothing panics, every failure is a `TlsError` with a message;
//! - no spin: a session that says it has ciphertext yields some, one that
//!   says it wants ciphertext takes some (or fails), and a session that
//!   wants none is either closed by the peer or failed;
//! - termination: at most one step per input byte plus a constant;
//! - no handshake completes and no cleartext comes out, since the fuzzer
//!   holds neither our private keys nor the ephemeral ones (every session
//!   is new, so there is no resumption either): whatever it sends, the
//!   session stays in its handshake, refuses application data, and reads
//!   nothing as cleartext;
//! - after a failure, the queued alert drains in bounded steps, and a
//!   failed session fed more says nothing more and yields no cleartext.

use rustls_pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use s6_tls::backend::{
    Backend, Cleartext, ClientAuth, ClientSettings, Identity, ServerSettings, TlsBackend,
    TlsSession,
};

const CA: &[u8] = include_bytes!("../testdata/ca.der");
const SERVER_CERT: &[u8] = include_bytes!("../testdata/server.der");
const SERVER_KEY: &[u8] = include_bytes!("../testdata/server.key.der");
const CLIENT_CERT: &[u8] = include_bytes!("../testdata/client.der");
const CLIENT_KEY: &[u8] = include_bytes!("../testdata/client.key.der");

fn identity(cert: &[u8], key: &[u8]) -> Identity {
    Identity {
        chain: vec![CertificateDer::from(cert.to_vec())],
        key: PrivatePkcs8KeyDer::from(key.to_vec()).into(),
    }
}

fn server_identity() -> Identity {
    identity(SERVER_CERT, SERVER_KEY)
}

fn roots() -> Vec<CertificateDer<'static>> {
    vec![CertificateDer::from(CA.to_vec())]
}

/// A server session as s6-tlsd builds one; `settings` picks the SNI level,
/// named identities and client authentication.
pub fn server(settings: u8) -> <Backend as TlsBackend>::Session {
    let sni_level = u32::from(settings & 3) % 3;
    let sni_identities = if settings & 4 != 0 {
        vec![
            ("localhost".to_string(), server_identity()),
            ("*.example.com".to_string(), server_identity()),
        ]
    } else {
        Vec::new()
    };
    let client_auth = match (settings >> 3) % 3 {
        0 => ClientAuth::None,
        1 => ClientAuth::Optional,
        _ => ClientAuth::Required,
    };
    // -k 2 serves only named identities: no default one.
    let default_identity = (sni_level < 2 || settings & 0x20 != 0).then(server_identity);
    Backend::server(ServerSettings {
        default_identity,
        sni_identities,
        sni_level,
        client_auth,
        roots: roots(),
    })
    .expect("the fixed test identity is valid")
}

/// A client session as s6-tlsc builds one; `settings` picks the name sent
/// and checked, verification and a client certificate.
pub fn client(settings: u8) -> <Backend as TlsBackend>::Session {
    let server_name = match settings & 3 {
        0 => None,
        1 => Some("localhost".to_string()),
        2 => Some("a.example.com".to_string()),
        _ => Some("127.0.0.1".to_string()),
    };
    Backend::client(ClientSettings {
        roots: roots(),
        server_name,
        verify: settings & 4 == 0,
        identity: (settings & 8 != 0).then(|| identity(CLIENT_CERT, CLIENT_KEY)),
    })
    .expect("the fixed test settings are valid")
}

const CHUNKS: [usize; 8] = [usize::MAX, 1, 2, 5, 13, 64, 300, 4096];

/// Checks that `sent` is whole TLS records and nothing else: a content
/// type one may send (change_cipher_spec, alert, handshake, application
/// data), a legacy version 3.x, a length within TLSCiphertext's 2^14 +
/// 256, and no record cut (the session was drained). Returns the records'
/// content types.
pub fn record_types(mut sent: &[u8]) -> Vec<u8> {
    let mut types = Vec::new();
    while !sent.is_empty() {
        let [ty, major, _, hi, lo, rest @ ..] = sent else {
            panic!("a cut record header: {sent:?}");
        };
        assert!((20..=23).contains(ty), "record type {ty}");
        assert_eq!(*major, 3, "record version");
        let len = usize::from(u16::from_be_bytes([*hi, *lo]));
        assert!(len <= 16384 + 256, "record of {len} bytes");
        assert!(rest.len() >= len, "a cut record");
        types.push(*ty);
        sent = &rest[len..];
    }
    types
}

/// Everything the session sent, for the targets' own checks.
pub struct Outcome {
    pub sent: Vec<u8>,
    pub failed: bool,
}

/// Drains waiting ciphertext; every call that is allowed to must make
/// progress.
fn drain_ciphertext<S: TlsSession>(s: &mut S, sent: &mut Vec<u8>) {
    let mut buf = [0u8; 16 * 1024 + 512];
    let mut rounds = 0;
    while s.has_ciphertext() {
        let n = s.take_ciphertext(&mut buf);
        assert!(
            n > 0,
            "has_ciphertext but took nothing: the loop would spin"
        );
        assert!(n <= buf.len());
        sent.extend_from_slice(&buf[..n]);
        rounds += 1;
        assert!(rounds < 1000, "ciphertext never runs dry");
    }
}

pub fn drive<S: TlsSession>(s: &mut S, chunking: u8, stream: &[u8]) -> Outcome {
    let chunk = CHUNKS[usize::from(chunking & 7)];
    let mut sent = Vec::new();
    let mut clear = [0u8; 16 * 1024];
    let mut pos = 0;
    let mut steps = 0;
    let mut closed = false;
    let failure = loop {
        steps += 1;
        assert!(steps <= stream.len() + 10, "no progress through the stream");
        drain_ciphertext(s, &mut sent);
        match s.take_cleartext(&mut clear) {
            Ok(Cleartext::Data(n)) => panic!("{n} bytes of cleartext without a handshake"),
            Ok(Cleartext::Empty) => {}
            Ok(Cleartext::Closed) => closed = true,
            Err(e) => break Some(e),
        }
        // The handshake cannot complete without our keys or the peer's
        // ephemeral ones.
        assert!(s.is_handshaking(), "handshake completed with a fuzzer");
        assert!(
            !s.accepts_cleartext(),
            "application data before the handshake"
        );
        let _ = s.handshake_info();
        if pos == stream.len() {
            break None;
        }
        if !s.wants_ciphertext() {
            // Drained on both sides and still refusing ciphertext: only a
            // peer's close_notify may do that, anything else is a stall.
            assert!(closed, "wants no ciphertext, yet neither closed nor failed");
            // What follows a close_notify is dropped, as the engine does.
            break None;
        }
        let end = pos + chunk.min(stream.len() - pos);
        match s.feed_ciphertext(&stream[pos..end]) {
            Ok(n) => {
                assert!(n <= end - pos, "took more than offered");
                // It wanted ciphertext and was offered some: taking none
                // would make the loop poll the network forever.
                assert!(
                    n > 0 || !s.wants_ciphertext(),
                    "wants ciphertext, took none"
                );
                pos += n;
            }
            Err(e) => break Some(e),
        }
    };
    let failed = failure.is_some();
    if let Some(e) = failure {
        assert!(!e.0.is_empty(), "a TLS error says what went wrong");
        // The last gasp: the alert drains. The engine stops at the first
        // error; fed more anyway, the session (rustls swallows input after
        // a fatal error) must neither answer, nor hand out cleartext, nor
        // finish its handshake.
        drain_ciphertext(s, &mut sent);
        let last_gasp = sent.len();
        if pos < stream.len() {
            let _ = s.feed_ciphertext(&stream[pos..]);
        }
        drain_ciphertext(s, &mut sent);
        assert_eq!(sent.len(), last_gasp, "a failed session spoke again");
        assert!(
            !matches!(s.take_cleartext(&mut clear), Ok(Cleartext::Data(_))),
            "cleartext from a failed session"
        );
        assert!(s.is_handshaking() && !s.accepts_cleartext());
    }
    if chunking & 8 != 0 {
        s.send_close_notify();
        assert!(!s.accepts_cleartext());
        drain_ciphertext(s, &mut sent);
    }
    Outcome { sent, failed }
}

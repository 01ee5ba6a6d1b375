//! The `TlsSession` contract, checked on whichever backend is built: a
//! client and a server session pumped into each other in memory, the way
//! the loop drives them (honouring `wants_ciphertext`/`accepts_cleartext`).

use super::*;
use crate::io_loop::{CIPHER_BUF, CLEAR_BUF};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use rustls_pki_types::PrivatePkcs8KeyDer;

type S = <Backend as TlsBackend>::Session;

struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    key: Vec<u8>,
}

fn pki() -> Pki {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    // Distinct names: OpenSSL-style verifiers take a certificate whose
    // subject is its issuer's for a self-signed one.
    ca.distinguished_name.push(DnType::CommonName, "test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, &ca_key);
    let key = KeyPair::generate().unwrap();
    let mut leaf = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    leaf.distinguished_name
        .push(DnType::CommonName, "localhost");
    let leaf = leaf.signed_by(&key, &issuer).unwrap();
    Pki {
        ca: ca_cert.der().clone(),
        leaf: leaf.der().clone(),
        key: key.serialize_der(),
    }
}

fn pair(p: &Pki) -> (S, S) {
    let client = Backend::client(ClientSettings {
        roots: vec![p.ca.clone()],
        server_name: Some("localhost".into()),
        verify: true,
        identity: None,
    })
    .unwrap();
    let server = Backend::server(ServerSettings {
        default_identity: Some(Identity {
            chain: vec![p.leaf.clone()],
            key: PrivatePkcs8KeyDer::from(p.key.clone()).into(),
        }),
        sni_identities: Vec::new(),
        sni_level: 0,
        client_auth: ClientAuth::None,
        roots: Vec::new(),
    })
    .unwrap();
    (client, server)
}

/// Ciphertext taken from one session and not yet fed to the other: the
/// loop's network buffer, one per direction.
#[derive(Default)]
struct Link {
    pending: Vec<u8>,
}

impl Link {
    fn shuttle(&mut self, from: &mut S, to: &mut S) -> usize {
        let mut moved = 0;
        loop {
            if self.pending.is_empty() && from.has_ciphertext() {
                let mut buf = vec![0; CIPHER_BUF];
                let n = from.take_ciphertext(&mut buf);
                self.pending.extend_from_slice(&buf[..n]);
            }
            if self.pending.is_empty() || !to.wants_ciphertext() {
                return moved;
            }
            let n = to.feed_ciphertext(&self.pending).unwrap();
            if n == 0 {
                return moved;
            }
            self.pending.drain(..n);
            moved += n;
        }
    }
}

/// Moves ciphertext both ways until nothing moves.
fn pump(c: &mut S, s: &mut S, up: &mut Link, down: &mut Link) {
    while up.shuttle(c, s) + down.shuttle(s, c) > 0 {}
}

fn take_all(s: &mut S) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut buf = vec![0; 16 * 1024];
    loop {
        match s.take_cleartext(&mut buf).unwrap() {
            Cleartext::Data(n) => out.extend_from_slice(&buf[..n]),
            Cleartext::Empty => return (out, false),
            Cleartext::Closed => return (out, true),
        }
    }
}

fn handshake() -> (Pki, S, S, Link, Link) {
    let p = pki();
    let (mut c, mut s) = pair(&p);
    let (mut up, mut down) = (Link::default(), Link::default());
    assert!(c.has_ciphertext(), "a new client has its hello queued");
    pump(&mut c, &mut s, &mut up, &mut down);
    assert!(!c.is_handshaking() && !s.is_handshaking());
    (p, c, s, up, down)
}

#[test]
fn two_ends_of_ours_agree_on_the_fastest_aead() {
    let (_, c, s, _, _) = handshake();
    #[cfg(target_arch = "x86_64")]
    let aes = std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("pclmulqdq");
    #[cfg(not(target_arch = "x86_64"))]
    let aes = c.handshake_info().cipher.contains("AES");
    let fastest = if aes {
        "TLS_AES_128_GCM_SHA256"
    } else {
        "TLS_CHACHA20_POLY1305_SHA256"
    };
    assert_eq!(c.handshake_info().cipher, fastest);
    assert_eq!(s.handshake_info().cipher, fastest);
}

#[test]
fn both_ends_describe_the_same_session() {
    let (p, c, s, _, _) = handshake();
    let (ci, si) = (c.handshake_info(), s.handshake_info());
    assert_eq!(ci.protocol, "TLSv1.3");
    assert_eq!(si.protocol, "TLSv1.3");
    assert!(ci.cipher.starts_with("TLS_"), "{}", ci.cipher);
    assert_eq!(ci.cipher, si.cipher);
    assert_eq!(ci.server_name.as_deref(), Some("localhost"));
    assert_eq!(si.server_name.as_deref(), Some("localhost"));
    assert_eq!(ci.peer_cert.as_deref(), Some(p.leaf.as_ref()));
    assert_eq!(si.peer_cert, None);
}

#[test]
fn a_reader_that_does_not_read_stops_the_writer_within_bounds() {
    let (_, mut c, mut s, mut up, mut down) = handshake();
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut sent = 0;
    // The server takes no cleartext: the client must soon refuse more.
    loop {
        let before = sent;
        while sent < data.len() && c.accepts_cleartext() {
            let n = c.put_cleartext(&data[sent..]).unwrap();
            if n == 0 {
                break;
            }
            sent += n;
        }
        pump(&mut c, &mut s, &mut up, &mut down);
        if sent == before {
            break;
        }
    }
    // In flight: a loop buffer's worth in the reader, one in the link (the
    // loop's network buffer), one in the writer, on both backends.
    let bound = 2 * CLEAR_BUF + CIPHER_BUF;
    assert!(sent <= bound, "{sent} bytes accepted by a stalled pipe");
    // Draining the reader lets everything through, byte-exact.
    let mut got = Vec::new();
    while got.len() < data.len() {
        let (more, closed) = take_all(&mut s);
        assert!(!closed);
        got.extend(more);
        while sent < data.len() && c.accepts_cleartext() {
            let n = c.put_cleartext(&data[sent..]).unwrap();
            if n == 0 {
                break;
            }
            sent += n;
        }
        pump(&mut c, &mut s, &mut up, &mut down);
    }
    assert!(got == data, "{} bytes, not the ones sent", got.len());
}

#[test]
fn close_notify_ends_one_direction_only() {
    let (_, mut c, mut s, mut up, mut down) = handshake();
    assert_eq!(c.put_cleartext(b"request").unwrap(), 7);
    c.send_close_notify();
    assert!(!c.accepts_cleartext());
    assert!(c.has_ciphertext());
    pump(&mut c, &mut s, &mut up, &mut down);
    assert_eq!(take_all(&mut s), (b"request".to_vec(), true));
    assert!(!s.wants_ciphertext());
    // The server still answers, and the client still reads.
    assert!(s.accepts_cleartext());
    assert_eq!(s.put_cleartext(b"reply").unwrap(), 5);
    s.send_close_notify();
    pump(&mut c, &mut s, &mut up, &mut down);
    assert_eq!(take_all(&mut c), (b"reply".to_vec(), true));
}

#[test]
fn the_wrong_name_fails_the_handshake_with_an_alert() {
    let p = pki();
    let mut c = Backend::client(ClientSettings {
        roots: vec![p.ca.clone()],
        server_name: Some("other.test".into()),
        verify: true,
        identity: None,
    })
    .unwrap();
    let (_, mut s) = pair(&p);
    let mut buf = vec![0; 16 * 1024 + 512];
    let mut err = None;
    for _ in 0..10 {
        let n = c.take_ciphertext(&mut buf);
        if n > 0 {
            s.feed_ciphertext(&buf[..n]).unwrap();
        }
        let n = s.take_ciphertext(&mut buf);
        if n > 0
            && let Err(e) = c.feed_ciphertext(&buf[..n])
        {
            err = Some(e);
            break;
        }
    }
    let err = err.expect("the handshake must fail");
    assert!(err.0.contains("not valid for name"), "{err}");
    // The client queued an alert for the server.
    assert!(c.has_ciphertext());
}

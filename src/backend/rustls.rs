//! The rustls backend (ring crypto provider).
//!
//! ring rather than aws-lc-rs: it builds with a plain C compiler and for
//! static musl, and it does not spend tens of milliseconds seeding an RNG
//! in every new process, which a process-per-connection design would pay on
//! every connection.

use super::{
    Cleartext, ClientAuth, ClientSettings, HandshakeInfo, Identity, ServerSettings, TlsBackend,
    TlsError, TlsSession,
};
use crate::cipher_names;
use crate::fatal::{Fatal, code};
use crate::record_framing::RecordFraming;
use crate::sni;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io::{Read, Write};
use std::sync::Arc;

/// What rustls may hold each way: as much as the loop moves in one read or
/// write (its `CLEAR_BUF`), so that a full buffer goes in at once.
const BUFFER_LIMIT: usize = 64 * 1024;

pub struct Rustls;

pub struct Session {
    conn: rustls::Connection,
    server_name: Option<String>,
    sent_close_notify: bool,
    /// The records of the ciphertext handed to rustls so far.
    framing: RecordFraming,
}

/// ring's suites, TLS 1.3 first, each version's fastest AEAD first: what
/// the client offers first is what a server honouring its order picks.
fn provider() -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    let aes = aes_in_hardware();
    p.cipher_suites
        .sort_by_key(|cs| (cs.tls13().is_none(), aead_rank(cs.suite(), aes)));
    Arc::new(p)
}

/// AES-128-GCM, then AES-256-GCM (four more rounds), then
/// ChaCha20-Poly1305, where the CPU has AES instructions; ChaCha20 first
/// where it does not (as BoringSSL orders them).
fn aead_rank(suite: rustls::CipherSuite, aes_in_hardware: bool) -> u8 {
    use rustls::CipherSuite as C;
    let rank = match suite {
        C::TLS13_AES_128_GCM_SHA256
        | C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        C::TLS13_AES_256_GCM_SHA384
        | C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
        | C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => 1,
        _ => 2,
    };
    if aes_in_hardware {
        rank
    } else {
        (rank + 1) % 3
    }
}

fn aes_in_hardware() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("aes")
        && std::arch::is_x86_feature_detected!("pclmulqdq");
    #[cfg(target_arch = "aarch64")]
    return std::arch::is_aarch64_feature_detected!("aes")
        && std::arch::is_aarch64_feature_detected!("pmull");
    #[allow(unreachable_code)]
    false
}

fn root_store(roots: &[CertificateDer<'static>]) -> Result<Arc<RootCertStore>, Fatal> {
    let mut store = RootCertStore::empty();
    let (good, _bad) = store.add_parsable_certificates(roots.iter().cloned());
    if good == 0 {
        return Err(Fatal::new(code::TLS_CONFIG, "no usable trust anchor found"));
    }
    Ok(Arc::new(store))
}

fn certified_key(id: Identity, provider: &CryptoProvider) -> Result<Arc<CertifiedKey>, Fatal> {
    CertifiedKey::from_der(id.chain, id.key, provider)
        .map(Arc::new)
        .map_err(|e| {
            Fatal::new(
                code::TLS_CONFIG,
                format!("unable to use the private key: {e}"),
            )
        })
}

/// Verifies the chain always and the name only when we have one: without
/// `-k` there is nothing to match against, as upstream; `--no-verify-cert`
/// checks nothing but the handshake signatures.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_name: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            // webpki checks the name last, so this error means the chain is good.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_name => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Chooses the server certificate from SNI (see `crate::sni`).
#[derive(Debug)]
struct SniResolver {
    default: Option<Arc<CertifiedKey>>,
    named: Vec<(String, Arc<CertifiedKey>)>,
    level: u32,
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if self.level > 0 {
            let names = self.named.iter().map(|(n, _)| n.as_str());
            if let Some(i) = sni::select(hello.server_name(), names) {
                return Some(self.named[i].1.clone());
            }
            if self.level >= 2 {
                return None;
            }
        }
        self.default.clone()
    }
}

fn setup_error(e: rustls::Error) -> Fatal {
    Fatal::new(
        code::TLS_SETUP,
        format!("unable to set up the TLS engine: {e}"),
    )
}

impl TlsBackend for Rustls {
    type Session = Session;

    fn client(s: ClientSettings) -> Result<Session, Fatal> {
        let provider = provider();
        let inner = if s.verify {
            let roots = root_store(&s.roots)?;
            let v = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| {
                    Fatal::new(
                        code::TLS_CONFIG,
                        format!("unable to use the trust anchors: {e}"),
                    )
                })?;
            Some(v)
        } else {
            None
        };
        let verifier = Verifier {
            inner,
            check_name: s.server_name.is_some(),
            provider: provider.clone(),
        };
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(rustls::ALL_VERSIONS)
            .map_err(setup_error)?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier));
        let mut config = match s.identity {
            Some(id) => {
                let ck = certified_key(id, &provider)?;
                builder
                    .with_client_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(ck)))
            }
            None => builder.with_no_client_auth(),
        };
        config.enable_sni = s.server_name.is_some();
        // Without a name, rustls still wants one: an address that the
        // verifier above never holds against the certificate.
        let name = match &s.server_name {
            Some(n) => ServerName::try_from(n.clone())
                .map_err(|_| Fatal::new(code::USAGE, format!("invalid server name: {n}")))?,
            None => ServerName::IpAddress(std::net::Ipv4Addr::UNSPECIFIED.into()),
        };
        let mut conn =
            rustls::ClientConnection::new(Arc::new(config), name).map_err(setup_error)?;
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        Ok(Session {
            conn: conn.into(),
            server_name: s.server_name,
            sent_close_notify: false,
            framing: RecordFraming::default(),
        })
    }

    fn server(s: ServerSettings) -> Result<Session, Fatal> {
        let provider = provider();
        let default = s
            .default_identity
            .map(|id| certified_key(id, &provider))
            .transpose()?;
        let mut named = Vec::with_capacity(s.sni_identities.len());
        for (name, id) in s.sni_identities {
            named.push((name, certified_key(id, &provider)?));
        }
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(setup_error)?;
        let builder = match s.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            mode => {
                let roots = root_store(&s.roots)?;
                let b = WebPkiClientVerifier::builder_with_provider(roots, provider.clone());
                let b = if mode == ClientAuth::Optional {
                    b.allow_unauthenticated()
                } else {
                    b
                };
                let v = b.build().map_err(|e| {
                    Fatal::new(
                        code::TLS_CONFIG,
                        format!("unable to use the trust anchors: {e}"),
                    )
                })?;
                builder.with_client_cert_verifier(v)
            }
        };
        let config = builder.with_cert_resolver(Arc::new(SniResolver {
            default,
            named,
            level: s.sni_level,
        }));
        let mut conn = rustls::ServerConnection::new(Arc::new(config)).map_err(setup_error)?;
        conn.set_buffer_limit(Some(BUFFER_LIMIT));
        Ok(Session {
            conn: conn.into(),
            server_name: None,
            sent_close_notify: false,
            framing: RecordFraming::default(),
        })
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        let d = ring::digest::digest(&ring::digest::SHA256, data);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }
}

fn tls_error(e: rustls::Error) -> TlsError {
    TlsError(e.to_string())
}

impl TlsSession for Session {
    /// Hands rustls the ciphertext up to the end of each record header
    /// and each record, and has it process what it holds there: it checks
    /// a header as soon as it is whole (a peer that is not speaking TLS is
    /// caught at once), and never holds a partial record when it processes
    /// one, which it would then shift to the front of its buffer in place
    /// (a degenerate memmove that musl runs byte by byte). One byte of the
    /// next record goes in with each record, so that its buffer is never
    /// left empty, which would make it shrink the buffer and grow it back.
    fn feed_ciphertext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        let mut taken = 0;
        // Not bounded by `wants_read()`, which turns false as soon as one
        // record's plaintext is unread: rustls refuses more itself once it
        // holds more plaintext than its limit.
        while taken < data.len() {
            let rest = &data[taken..];
            let mut n = self.framing.to_boundary(rest);
            if self.framing.in_body() && n < rest.len() {
                n += 1;
            }
            let mut offer = &rest[..n];
            match self.conn.read_tls(&mut offer) {
                // After close_notify rustls reads nothing more: what follows
                // is ignored, as a peer may not send after it anyway.
                Ok(0) => return Ok(data.len()),
                Ok(k) => {
                    taken += k;
                    if self.framing.advance(&rest[..k]) > 0 {
                        self.conn.process_new_packets().map_err(tls_error)?;
                    }
                }
                // Its buffers are full: let it make room, else back-pressure.
                Err(_) => {
                    self.conn.process_new_packets().map_err(tls_error)?;
                    break;
                }
            }
        }
        Ok(taken)
    }

    fn wants_ciphertext(&self) -> bool {
        self.conn.wants_read()
    }

    fn has_ciphertext(&self) -> bool {
        self.conn.wants_write()
    }

    fn take_ciphertext(&mut self, buf: &mut [u8]) -> usize {
        let mut out = &mut buf[..];
        while !out.is_empty() && self.conn.wants_write() {
            match self.conn.write_tls(&mut out) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let left = out.len();
        buf.len() - left
    }

    fn accepts_cleartext(&self) -> bool {
        !self.conn.is_handshaking() && !self.sent_close_notify
    }

    fn put_cleartext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        self.conn
            .writer()
            .write(data)
            .map_err(|e| TlsError(e.to_string()))
    }

    fn take_cleartext(&mut self, buf: &mut [u8]) -> Result<Cleartext, TlsError> {
        match self.conn.reader().read(buf) {
            Ok(0) if !buf.is_empty() => Ok(Cleartext::Closed),
            Ok(n) => Ok(Cleartext::Data(n)),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => Ok(Cleartext::Empty),
            Err(e) => Err(TlsError(e.to_string())),
        }
    }

    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn send_close_notify(&mut self) {
        self.conn.send_close_notify();
        self.sent_close_notify = true;
    }

    fn handshake_info(&self) -> HandshakeInfo {
        let protocol = self
            .conn
            .protocol_version()
            .map(|v| cipher_names::protocol_name(u16::from(v)))
            .unwrap_or_default();
        let cipher = self
            .conn
            .negotiated_cipher_suite()
            .map(|cs| {
                let id = u16::from(cs.suite());
                cipher_names::openssl_name(id)
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("{:?}", cs.suite()))
            })
            .unwrap_or_default();
        let server_name = match &self.conn {
            rustls::Connection::Server(s) => s.server_name().map(str::to_string),
            rustls::Connection::Client(_) => self.server_name.clone(),
        };
        let peer_cert = self
            .conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec());
        HandshakeInfo {
            protocol,
            cipher,
            server_name,
            peer_cert,
        }
    }
}

#[cfg(test)]
mod suite_order {
    use super::*;

    #[test]
    fn tls13_first_then_the_fastest_aead_of_each_version() {
        for (aes, first13, first12) in [
            (
                true,
                rustls::CipherSuite::TLS13_AES_128_GCM_SHA256,
                rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            ),
            (
                false,
                rustls::CipherSuite::TLS13_CHACHA20_POLY1305_SHA256,
                rustls::CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            ),
        ] {
            let mut suites = rustls::crypto::ring::default_provider().cipher_suites;
            suites.sort_by_key(|cs| (cs.tls13().is_none(), aead_rank(cs.suite(), aes)));
            assert_eq!(suites[0].suite(), first13);
            assert_eq!(suites.iter().filter(|cs| cs.tls13().is_some()).count(), 3);
            assert_eq!(suites[3].suite(), first12);
        }
    }
}

//! The BoringSSL backend (the `boring` crate, BoringSSL built from the
//! sources it vendors).
//!
//! # How a BoringSSL `SSL` becomes a sans-I/O session
//!
//! The `SSL` talks to a [`Wire`]: a `Read + Write` object that is nothing
//! but two byte queues, installed with the crate's safe `SslStream` (which
//! wraps it in a custom BIO). Reading from the wire takes the ciphertext
//! the loop fed; when that is empty the read "would block", which BoringSSL
//! reports as `SSL_ERROR_WANT_READ`. Writing to the wire appends to the
//! outgoing queue, which the loop drains with `take_ciphertext`. That gives
//! the memory-BIO design without a line of `unsafe` here.
//!
//! # Bounds and back-pressure
//!
//! BoringSSL pulls from its BIO exactly the bytes of the record it is
//! reading, and `SSL_read` hands out the plaintext of one record at a time,
//! so BoringSSL itself holds at most one record. The session therefore
//! decrypts lazily, in `take_cleartext`, straight into the loop's buffer,
//! and `wants_ciphertext` is true only once every byte fed so far has been
//! pulled into BoringSSL: when the application is slow, ciphertext stops
//! being read from the network. This also keeps a close_notify from being
//! left unread behind application data while the loop judges an EOF (the
//! loop reads no EOF while the session still holds unread records).
//! The handshake, which produces no cleartext, is driven eagerly in
//! `feed_ciphertext`. Outgoing ciphertext is bounded by accepting at most
//! [`SEND_LIMIT`] bytes of cleartext at a time, and none while that much
//! ciphertext is still waiting.

use super::{
    Cleartext, ClientAuth, ClientSettings, HandshakeInfo, Identity, ServerSettings, TlsBackend,
    TlsError, TlsSession,
};
use crate::cipher_names;
use crate::fatal::{Fatal, code};
use crate::sni;
use ::boring::error::ErrorStack;
use ::boring::pkey::PKey;
use ::boring::ssl::{
    ErrorCode, NameType, SniError, Ssl, SslAlert, SslContextBuilder, SslMethod, SslOptions, SslRef,
    SslStream, SslVerifyMode, SslVersion,
};
use ::boring::stack::Stack;
use ::boring::x509::store::{X509Store, X509StoreBuilder};
use ::boring::x509::verify::X509CheckFlags;
use ::boring::x509::{X509, X509Name, X509VerifyError};
use rustls_pki_types::CertificateDer;
use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::sync::Arc;

/// As much as the loop moves in one read or write (its 64 KiB buffers):
/// at most this much ciphertext fed and not yet pulled in by BoringSSL,
/// and at most this much cleartext turned into records not yet taken.
const RECV_LIMIT: usize = 64 * 1024 + 2048;
const SEND_LIMIT: usize = 64 * 1024;

/// The TLS 1.2 suites the server accepts: forward-secret AEAD ones, the
/// same set as rustls's (TLS 1.3 suites are not configurable, and the same
/// three on both). The client keeps BoringSSL's wider default, to reach
/// legacy servers.
const SERVER_TLS12_SUITES: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:\
    ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:\
    ECDHE-RSA-CHACHA20-POLY1305";

/// From BoringSSL's ssl.h (not exported by the `boring` crate).
const SSL_AD_REASON_OFFSET: i32 = 1000;

pub struct Boring;

/// The byte queues BoringSSL reads ciphertext from and writes it to.
#[derive(Default)]
struct Wire {
    incoming: VecDeque<u8>,
    outgoing: VecDeque<u8>,
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.incoming.is_empty() {
            // Not EOF: the loop judges EOF itself, from the socket.
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.incoming.read(buf)
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Bounded by what `put_cleartext` accepts; handshake messages and
        // alerts are small.
        self.outgoing.extend(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

pub struct Session {
    stream: SslStream<Wire>,
    /// Which end we are: BoringSSL only knows once the handshake started.
    server: bool,
    /// The name the client asked for (client side only).
    server_name: Option<String>,
    sent_close_notify: bool,
    /// The peer's close_notify has been read.
    closed: bool,
    /// A fatal error was returned: the session moves nothing more.
    failed: bool,
}

fn config_error(what: &str, e: impl std::fmt::Display) -> Fatal {
    Fatal::new(code::TLS_CONFIG, format!("unable to use {what}: {e}"))
}

fn setup_error(e: ErrorStack) -> Fatal {
    Fatal::new(
        code::TLS_SETUP,
        format!("unable to set up the TLS engine: {}", reasons(&e)),
    )
}

/// BoringSSL's reason strings (`CERTIFICATE_VERIFY_FAILED`, ...), which
/// are what its users know, without the file and line noise.
fn reasons(e: &ErrorStack) -> String {
    let v: Vec<&str> = e.errors().iter().filter_map(|e| e.reason()).collect();
    if v.is_empty() {
        "unknown error".to_string()
    } else {
        v.join(": ")
    }
}

/// Trust anchors: the store that verifies, and their subjects (DER), which
/// a server lists in its certificate request as rustls does.
struct Trust {
    store: X509Store,
    names: Vec<Vec<u8>>,
}

fn trust(roots: &[CertificateDer<'static>]) -> Result<Trust, Fatal> {
    let mut store = X509StoreBuilder::new().map_err(setup_error)?;
    let mut names = Vec::new();
    for der in roots {
        // As with rustls, an anchor that does not parse is skipped.
        let Ok(cert) = X509::from_der(der) else {
            continue;
        };
        let name = cert.subject_name().to_der();
        if store.add_cert(cert).is_ok() {
            names.extend(name.ok());
        }
    }
    if names.is_empty() {
        return Err(Fatal::new(code::TLS_CONFIG, "no usable trust anchor found"));
    }
    Ok(Trust {
        store: store.build(),
        names,
    })
}

/// An identity whose private key bytes are zeroed when it is dropped, on
/// every way out of building a context: BoringSSL keeps its own copy (and
/// cleanses it when freed), ours must not linger in freed heap memory.
struct WipedOnDrop(Identity);

impl Drop for WipedOnDrop {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0.key);
    }
}

/// Installs a certificate chain and its key, checking that they match.
fn use_identity(b: &mut SslContextBuilder, id: &Identity) -> Result<(), Fatal> {
    let mut chain = id.chain.iter();
    let leaf = chain
        .next()
        .ok_or_else(|| Fatal::new(code::TLS_CONFIG, "empty certificate chain"))?;
    let leaf = X509::from_der(leaf).map_err(|e| config_error("the certificate", reasons(&e)))?;
    b.set_certificate(&leaf)
        .map_err(|e| config_error("the certificate", reasons(&e)))?;
    for der in chain {
        let c = X509::from_der(der).map_err(|e| config_error("the certificate", reasons(&e)))?;
        b.add_extra_chain_cert(c)
            .map_err(|e| config_error("the certificate", reasons(&e)))?;
    }
    let key = PKey::private_key_from_der(id.key.secret_der())
        .map_err(|e| config_error("the private key", reasons(&e)))?;
    b.set_private_key(&key)
        .map_err(|e| config_error("the private key", reasons(&e)))?;
    b.check_private_key()
        .map_err(|e| config_error("the private key", reasons(&e)))
}

fn context_builder() -> Result<SslContextBuilder, Fatal> {
    SslContextBuilder::new(SslMethod::tls()).map_err(setup_error)
}

/// One server context: every one gets the same verification settings, as
/// switching context on SNI switches the trust store too.
fn server_context(
    id: Option<&Identity>,
    auth: ClientAuth,
    trust: Option<&Trust>,
) -> Result<SslContextBuilder, Fatal> {
    let mut b = context_builder()?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(setup_error)?;
    b.set_strict_cipher_list(SERVER_TLS12_SUITES)
        .map_err(setup_error)?;
    // One process per connection: a ticket could never be used.
    b.set_options(SslOptions::NO_TICKET);
    if let Some(id) = id {
        use_identity(&mut b, id)?;
    }
    if let Some(t) = trust {
        b.set_cert_store_ref(&t.store);
        let mut list = Stack::new().map_err(setup_error)?;
        for der in &t.names {
            if let Ok(n) = X509Name::from_der(der) {
                list.push(n).map_err(setup_error)?;
            }
        }
        b.set_client_ca_list(list);
    }
    b.set_verify(match auth {
        ClientAuth::None => SslVerifyMode::NONE,
        ClientAuth::Optional => SslVerifyMode::PEER,
        ClientAuth::Required => SslVerifyMode::PEER | SslVerifyMode::FAIL_IF_NO_PEER_CERT,
    });
    Ok(b)
}

fn new_session(ssl: Ssl, server: bool, server_name: Option<String>) -> Result<Session, Fatal> {
    let stream = SslStream::new(ssl, Wire::default()).map_err(setup_error)?;
    let mut session = Session {
        stream,
        server,
        server_name,
        sent_close_notify: false,
        closed: false,
        failed: false,
    };
    // Sets the role; a client also queues its ClientHello, as a fresh
    // rustls client does.
    session.drive().map_err(|e| {
        Fatal::new(
            code::TLS_SETUP,
            format!("unable to set up the TLS engine: {e}"),
        )
    })?;
    Ok(session)
}

impl TlsBackend for Boring {
    type Session = Session;

    fn client(mut s: ClientSettings) -> Result<Session, Fatal> {
        let identity = s.identity.take().map(WipedOnDrop);
        let mut b = context_builder()?;
        // Liberal, as upstream's client: whatever BoringSSL still speaks.
        b.set_min_proto_version(Some(SslVersion::TLS1))
            .map_err(setup_error)?;
        if s.verify {
            b.set_cert_store_ref(&trust(&s.roots)?.store);
            b.set_verify(SslVerifyMode::PEER);
        } else {
            // Only the handshake signatures are checked.
            b.set_verify(SslVerifyMode::NONE);
        }
        if let Some(id) = &identity {
            use_identity(&mut b, &id.0)?;
        }
        let ctx = b.build();
        let mut ssl = Ssl::new(&ctx).map_err(setup_error)?;
        if let Some(name) = &s.server_name {
            // The chain is always verified; the name only when we have one.
            let param = ssl.param_mut();
            param.set_hostflags(X509CheckFlags::NO_PARTIAL_WILDCARDS);
            if let Ok(ip) = name.parse::<std::net::IpAddr>() {
                // No SNI for an address (RFC 6066), as rustls.
                param.set_ip(ip).map_err(setup_error)?;
            } else {
                param
                    .set_host(name)
                    .map_err(|_| Fatal::new(code::USAGE, format!("invalid server name: {name}")))?;
                ssl.set_hostname(name)
                    .map_err(|_| Fatal::new(code::USAGE, format!("invalid server name: {name}")))?;
            }
        }
        new_session(ssl, false, s.server_name)
    }

    fn server(mut s: ServerSettings) -> Result<Session, Fatal> {
        let default_identity = s.default_identity.take().map(WipedOnDrop);
        let sni_identities: Vec<(String, WipedOnDrop)> = std::mem::take(&mut s.sni_identities)
            .into_iter()
            .map(|(name, id)| (name, WipedOnDrop(id)))
            .collect();
        let trust = match s.client_auth {
            ClientAuth::None => None,
            _ => Some(trust(&s.roots)?),
        };
        let mut named = Vec::with_capacity(sni_identities.len());
        for (name, id) in &sni_identities {
            let ctx = server_context(Some(&id.0), s.client_auth, trust.as_ref())?.build();
            named.push((name.clone(), ctx));
        }
        let mut b = server_context(
            default_identity.as_ref().map(|id| &id.0),
            s.client_auth,
            trust.as_ref(),
        )?;
        if s.sni_level > 0 {
            let named = Arc::new(named);
            let level = s.sni_level;
            b.set_servername_callback(move |ssl: &mut SslRef, alert: &mut SslAlert| {
                let requested = ssl.servername(NameType::HOST_NAME).map(str::to_string);
                let names = named.iter().map(|(n, _)| n.as_str());
                if let Some(i) = sni::select(requested.as_deref(), names) {
                    return ssl.set_ssl_context(&named[i].1).map_err(|_| {
                        *alert = SslAlert::INTERNAL_ERROR;
                        SniError::ALERT_FATAL
                    });
                }
                if level >= 2 {
                    // The alert rustls sends when it has no certificate.
                    *alert = SslAlert::ACCESS_DENIED;
                    return Err(SniError::ALERT_FATAL);
                }
                Ok(())
            });
        }
        let ctx = b.build();
        let ssl = Ssl::new(&ctx).map_err(setup_error)?;
        new_session(ssl, true, None)
    }

    fn sha256(data: &[u8]) -> [u8; 32] {
        ::boring::sha::sha256(data)
    }
}

impl Session {
    /// Runs the handshake as far as the ciphertext fed allows.
    fn drive(&mut self) -> Result<(), TlsError> {
        if self.failed || self.stream.ssl().is_init_finished() {
            return Ok(());
        }
        let r = if self.server {
            self.stream.accept()
        } else {
            self.stream.connect()
        };
        match r {
            Ok(()) => Ok(()),
            Err(e) if e.code() == ErrorCode::WANT_READ => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Marks the session dead and says why, in rustls's words where the
    /// two libraries mean the same thing, so that messages read the same
    /// on both backends.
    fn fail(&mut self, e: ::boring::ssl::Error) -> TlsError {
        self.failed = true;
        let ssl = self.stream.ssl();
        let Some(stack) = e.ssl_error().filter(|s| !s.errors().is_empty()) else {
            return TlsError(e.to_string());
        };
        let reason = stack.errors().iter().find_map(|e| e.reason());
        if reason == Some("CERTIFICATE_VERIFY_FAILED")
            && let Err(v) = ssl.verify_result()
        {
            return TlsError(format!(
                "invalid peer certificate: {}",
                verify_error(v, self.server_name.as_deref())
            ));
        }
        if reason == Some("PEER_DID_NOT_RETURN_A_CERTIFICATE") {
            return TlsError("peer sent no certificates".into());
        }
        // A received alert is reported as the reason `SSLV3_ALERT_...` or
        // `TLSV1_ALERT_...`, numbered SSL_AD_REASON_OFFSET + its code.
        let alert = stack
            .errors()
            .iter()
            .filter(|e| {
                e.reason()
                    .is_some_and(|r| r.starts_with("SSLV3_ALERT_") || r.starts_with("TLSV1_ALERT_"))
            })
            .find_map(|e| u8::try_from(e.reason_code() - SSL_AD_REASON_OFFSET).ok())
            .and_then(alert_name);
        match alert {
            Some(name) => TlsError(format!("received fatal alert: {name}")),
            None => TlsError(reasons(stack)),
        }
    }
}

/// A certificate verification failure, as rustls words it.
fn verify_error(v: X509VerifyError, name: Option<&str>) -> String {
    match v {
        X509VerifyError::UNABLE_TO_GET_ISSUER_CERT
        | X509VerifyError::UNABLE_TO_GET_ISSUER_CERT_LOCALLY
        | X509VerifyError::DEPTH_ZERO_SELF_SIGNED_CERT
        | X509VerifyError::SELF_SIGNED_CERT_IN_CHAIN
        | X509VerifyError::UNABLE_TO_VERIFY_LEAF_SIGNATURE => "UnknownIssuer".into(),
        X509VerifyError::CERT_HAS_EXPIRED => "certificate expired".into(),
        X509VerifyError::CERT_NOT_YET_VALID => "certificate not valid yet".into(),
        X509VerifyError::CERT_REVOKED => "certificate revoked".into(),
        X509VerifyError::CERT_SIGNATURE_FAILURE => "BadSignature".into(),
        X509VerifyError::HOSTNAME_MISMATCH | X509VerifyError::IP_ADDRESS_MISMATCH => {
            format!("certificate not valid for name {:?}", name.unwrap_or(""))
        }
        other => other.error_string().into(),
    }
}

/// The name rustls gives a TLS alert (its `AlertDescription`).
fn alert_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0 => "CloseNotify",
        10 => "UnexpectedMessage",
        20 => "BadRecordMac",
        21 => "DecryptionFailed",
        22 => "RecordOverflow",
        30 => "DecompressionFailure",
        40 => "HandshakeFailure",
        41 => "NoCertificate",
        42 => "BadCertificate",
        43 => "UnsupportedCertificate",
        44 => "CertificateRevoked",
        45 => "CertificateExpired",
        46 => "CertificateUnknown",
        47 => "IllegalParameter",
        48 => "UnknownCA",
        49 => "AccessDenied",
        50 => "DecodeError",
        51 => "DecryptError",
        60 => "ExportRestriction",
        70 => "ProtocolVersion",
        71 => "InsufficientSecurity",
        80 => "InternalError",
        86 => "InappropriateFallback",
        90 => "UserCanceled",
        100 => "NoRenegotiation",
        109 => "MissingExtension",
        110 => "UnsupportedExtension",
        111 => "CertificateUnobtainable",
        112 => "UnrecognisedName",
        113 => "BadCertificateStatusResponse",
        114 => "BadCertificateHashValue",
        115 => "UnknownPSKIdentity",
        116 => "CertificateRequired",
        120 => "NoApplicationProtocol",
        121 => "EncryptedClientHelloRequired",
        _ => return None,
    })
}

impl TlsSession for Session {
    fn feed_ciphertext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        if self.closed {
            // Nothing may follow close_notify: ignore it, as rustls does.
            return Ok(data.len());
        }
        let wire = self.stream.get_mut();
        let n = data
            .len()
            .min(RECV_LIMIT.saturating_sub(wire.incoming.len()));
        wire.incoming.extend(&data[..n]);
        self.drive()?;
        Ok(n)
    }

    fn wants_ciphertext(&self) -> bool {
        !self.failed && !self.closed && self.stream.get_ref().incoming.is_empty()
    }

    fn has_ciphertext(&self) -> bool {
        !self.stream.get_ref().outgoing.is_empty()
    }

    fn take_ciphertext(&mut self, buf: &mut [u8]) -> usize {
        // A ring buffer reads one contiguous half at a time.
        let out = &mut self.stream.get_mut().outgoing;
        let mut n = 0;
        while n < buf.len() && !out.is_empty() {
            n += out.read(&mut buf[n..]).unwrap_or(0);
        }
        n
    }

    fn accepts_cleartext(&self) -> bool {
        !self.failed
            && !self.sent_close_notify
            && self.stream.ssl().is_init_finished()
            && self.stream.get_ref().outgoing.len() < SEND_LIMIT
    }

    fn put_cleartext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        if !self.accepts_cleartext() {
            return Ok(0);
        }
        let room = SEND_LIMIT - self.stream.get_ref().outgoing.len();
        let n = data.len().min(room);
        if n == 0 {
            return Ok(0);
        }
        // The wire takes everything, so SSL_write never stops half-way.
        self.stream.ssl_write(&data[..n]).map_err(|e| self.fail(e))
    }

    fn take_cleartext(&mut self, buf: &mut [u8]) -> Result<Cleartext, TlsError> {
        if self.closed {
            return Ok(Cleartext::Closed);
        }
        if self.failed || buf.is_empty() || !self.stream.ssl().is_init_finished() {
            return Ok(Cleartext::Empty);
        }
        loop {
            let before = self.stream.get_ref().incoming.len();
            match self.stream.ssl_read(buf) {
                Ok(n) => return Ok(Cleartext::Data(n)),
                Err(e) if e.code() == ErrorCode::ZERO_RETURN => {
                    self.closed = true;
                    return Ok(Cleartext::Closed);
                }
                Err(e) if e.code() == ErrorCode::WANT_READ => {
                    // Only an empty wire should stop it; retry while it
                    // still makes progress, so no fed record is left unread.
                    let after = self.stream.get_ref().incoming.len();
                    if after == 0 || after == before {
                        return Ok(Cleartext::Empty);
                    }
                }
                Err(e) => return Err(self.fail(e)),
            }
        }
    }

    fn is_handshaking(&self) -> bool {
        !self.stream.ssl().is_init_finished()
    }

    fn send_close_notify(&mut self) {
        self.sent_close_notify = true;
        if !self.failed && self.stream.ssl().is_init_finished() {
            // Its only failure would be a dead session, which has nothing
            // more to say anyway.
            let _ = self.stream.shutdown();
        }
    }

    fn handshake_info(&self) -> HandshakeInfo {
        let ssl = self.stream.ssl();
        let protocol = ssl
            .version2()
            .map(|v| {
                let wire = match v {
                    SslVersion::SSL3 => 0x0300,
                    SslVersion::TLS1 => 0x0301,
                    SslVersion::TLS1_1 => 0x0302,
                    SslVersion::TLS1_2 => 0x0303,
                    SslVersion::TLS1_3 => 0x0304,
                    _ => return v.to_string(),
                };
                cipher_names::protocol_name(wire)
            })
            .unwrap_or_default();
        let cipher = ssl
            .current_cipher()
            .map(|c| {
                cipher_names::openssl_name(c.protocol_id())
                    .unwrap_or(c.name())
                    .to_string()
            })
            .unwrap_or_default();
        let server_name = if self.server {
            ssl.servername(NameType::HOST_NAME).map(str::to_string)
        } else {
            self.server_name.clone()
        };
        let peer_cert = ssl.peer_certificate().and_then(|c| c.to_der().ok());
        HandshakeInfo {
            protocol,
            cipher,
            server_name,
            peer_cert,
        }
    }
}

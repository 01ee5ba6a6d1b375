//! The TLS library seen from the engine: a sans-I/O session that the
//! `io_loop` feeds with bytes and drains of bytes.
//!
//! The trait is buffer-oriented so that any library fits behind it:
//! rustls's `read_tls`/`write_tls`/`reader`/`writer`, BoringSSL over memory
//! BIOs, or a scripted mock for fuzzing. No type of a TLS library crosses
//! it; certificates and keys travel as DER (`rustls-pki-types` is a plain
//! types crate with no TLS code, shared by every backend).

use crate::fatal::Fatal;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[cfg(feature = "rustls")]
pub mod rustls;

#[cfg(feature = "boring")]
pub mod boring;

// BoringSSL wins when both are enabled, so that `--features boring` alone
// selects it without `--no-default-features`.
#[cfg(feature = "boring")]
pub use self::boring::Boring as Backend;
#[cfg(all(feature = "rustls", not(feature = "boring")))]
pub use self::rustls::Rustls as Backend;

#[cfg(not(any(feature = "rustls", feature = "boring")))]
compile_error!("enable a TLS backend: feature `rustls` (the default) or `boring`");

/// A fatal TLS error: the session is dead, and whatever ciphertext is still
/// queued (an alert) should be flushed before the engine exits 98.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// What came out of the session on the cleartext side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cleartext {
    /// This many bytes were written to the caller's buffer.
    Data(usize),
    /// Nothing decrypted is waiting.
    Empty,
    /// The peer sent close_notify and everything before it has been taken.
    Closed,
}

/// One TLS connection, driven entirely by the caller.
pub trait TlsSession {
    /// Gives the session ciphertext read from the network, processing the
    /// records it completes. Returns how many bytes it took: fewer than
    /// offered (maybe 0) when its buffers are full, which is back-pressure,
    /// not an error; offer the rest after draining the cleartext side.
    fn feed_ciphertext(&mut self, data: &[u8]) -> Result<usize, TlsError>;

    /// Whether the session can use more ciphertext now.
    fn wants_ciphertext(&self) -> bool;

    /// Whether records are waiting to be sent to the network.
    fn has_ciphertext(&self) -> bool;

    /// Moves waiting records into `buf`, returning how many bytes.
    fn take_ciphertext(&mut self, buf: &mut [u8]) -> usize;

    /// Whether application data can be sent now: the handshake is over, no
    /// close_notify was sent, and the send buffer has room.
    fn accepts_cleartext(&self) -> bool;

    /// Encrypts application data; returns how much was taken (fewer bytes
    /// than offered when the send buffer is full).
    fn put_cleartext(&mut self, data: &[u8]) -> Result<usize, TlsError>;

    /// Takes decrypted application data.
    fn take_cleartext(&mut self, buf: &mut [u8]) -> Result<Cleartext, TlsError>;

    fn is_handshaking(&self) -> bool;

    /// Queues a close_notify alert (then [`has_ciphertext`] is true).
    fn send_close_notify(&mut self);

    /// What was negotiated; meaningful once the handshake is over.
    fn handshake_info(&self) -> HandshakeInfo;
}

/// The parameters of an established session, as the notification block
/// reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HandshakeInfo {
    /// `TLSv1.2`, `TLSv1.3`, ...
    pub protocol: String,
    /// The OpenSSL-style name (see `cipher_names`).
    pub cipher: String,
    /// The server name: the one the client asked for, on both sides.
    pub server_name: Option<String>,
    /// The peer's end-entity certificate, DER.
    pub peer_cert: Option<Vec<u8>>,
}

/// A certificate chain (end entity first) and its private key.
#[derive(Debug)]
pub struct Identity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// What the client side is configured with.
#[derive(Debug)]
pub struct ClientSettings {
    pub roots: Vec<CertificateDer<'static>>,
    /// Sent as SNI and checked against the certificate; `None`: neither.
    pub server_name: Option<String>,
    pub verify: bool,
    pub identity: Option<Identity>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    None,
    Optional,
    Required,
}

/// What the server side is configured with.
#[derive(Debug)]
pub struct ServerSettings {
    /// From KEYFILE/CERTFILE; absent with `-k 2`.
    pub default_identity: Option<Identity>,
    /// From KEYFILE:name/CERTFILE:name, used with `-k 1` and up.
    pub sni_identities: Vec<(String, Identity)>,
    pub sni_level: u32,
    pub client_auth: ClientAuth,
    /// Trust anchors for client certificates.
    pub roots: Vec<CertificateDer<'static>>,
}

/// A TLS library: builds sessions from settings. Errors carry the engine's
/// exit code (96 for a bad trust anchor, key or certificate, 97 for the rest).
pub trait TlsBackend {
    type Session: TlsSession;
    fn client(settings: ClientSettings) -> Result<Self::Session, Fatal>;
    fn server(settings: ServerSettings) -> Result<Self::Session, Fatal>;
    fn sha256(data: &[u8]) -> [u8; 32];
}

#[cfg(test)]
mod tests;

//! The handshake notification block: `KEY=value\0` strings and one more
//! `\0`, written by an engine on its `-d` fd and read by `s6-tlsc`,
//! `s6-tlsd` and the UCSPI-TLS programs to set prog's environment.

use crate::backend::HandshakeInfo;
use crate::cert_subject;

/// The variables the block may carry; those absent from a block are
/// removed from prog's environment.
pub const VARIABLES: [&str; 5] = [
    "SSL_PROTOCOL",
    "SSL_CIPHER",
    "SSL_TLS_SNI_SERVERNAME",
    "SSL_PEER_CERT_HASH",
    "SSL_PEER_CERT_SUBJECT",
];

/// The block for a finished handshake; `sha256` hashes the peer certificate.
pub fn encode(info: &HandshakeInfo, sha256: fn(&[u8]) -> [u8; 32]) -> Vec<u8> {
    let mut vars = vec![
        ("SSL_PROTOCOL", info.protocol.clone()),
        ("SSL_CIPHER", info.cipher.clone()),
    ];
    // An IP address is never sent as SNI (RFC 6066), so it is no server
    // name to report, even when the client checked the certificate for it.
    if let Some(name) = info
        .server_name
        .as_ref()
        .filter(|n| n.parse::<std::net::IpAddr>().is_err())
    {
        vars.push(("SSL_TLS_SNI_SERVERNAME", name.clone()));
    }
    if let Some(cert) = &info.peer_cert {
        vars.push(("SSL_PEER_CERT_HASH", cert_subject::hash_text(&sha256(cert))));
        if let Some(subject) = cert_subject::subject_oneline(cert) {
            vars.push(("SSL_PEER_CERT_SUBJECT", subject));
        }
    }
    let mut out = Vec::new();
    for (k, v) in vars {
        out.extend_from_slice(k.as_bytes());
        out.push(b'=');
        // A NUL would end the string early: values never hold one.
        out.extend(v.bytes().filter(|&b| b != 0));
        out.push(0);
    }
    out.push(0);
    out
}

/// Why a block could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BlockError {
    /// Nothing at all: the handshake did not complete.
    Empty,
    /// Bytes that are not a well-formed block.
    Malformed,
}

/// Parses a whole block (everything read until EOF) into its variables. A
/// bare `KEY` (upstream's way of saying "unset") yields `(KEY, None)`.
pub fn decode(block: &[u8]) -> Result<Vec<(String, Option<String>)>, BlockError> {
    if block.is_empty() {
        return Err(BlockError::Empty);
    }
    let body = block
        .strip_suffix(&[0, 0])
        .or_else(|| (block == [0]).then_some(&[][..]));
    let body = body.ok_or(BlockError::Malformed)?;
    let mut vars = Vec::new();
    if body.is_empty() {
        return Ok(vars);
    }
    for s in body.split(|&b| b == 0) {
        let s = std::str::from_utf8(s).map_err(|_| BlockError::Malformed)?;
        let (k, v) = match s.split_once('=') {
            Some((k, v)) => (k, Some(v.to_string())),
            None => (s, None),
        };
        if k.is_empty() {
            return Err(BlockError::Malformed);
        }
        vars.push((k.to_string(), v));
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_hash(_: &[u8]) -> [u8; 32] {
        [0xab; 32]
    }

    #[test]
    fn round_trip() {
        let info = HandshakeInfo {
            protocol: "TLSv1.3".into(),
            cipher: "TLS_AES_128_GCM_SHA256".into(),
            server_name: Some("example.org".into()),
            peer_cert: None,
        };
        let block = encode(&info, fake_hash);
        assert_eq!(
            block,
            b"SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER=TLS_AES_128_GCM_SHA256\0SSL_TLS_SNI_SERVERNAME=example.org\0\0"
        );
        let vars = decode(&block).unwrap();
        assert_eq!(vars.len(), 3);
        assert_eq!(
            vars[2],
            ("SSL_TLS_SNI_SERVERNAME".into(), Some("example.org".into()))
        );
    }

    #[test]
    fn an_ip_address_is_no_server_name() {
        let info = HandshakeInfo {
            server_name: Some("127.0.0.1".into()),
            ..Default::default()
        };
        let vars = decode(&encode(&info, fake_hash)).unwrap();
        assert!(vars.iter().all(|(k, _)| k != "SSL_TLS_SNI_SERVERNAME"));
    }

    #[test]
    fn a_peer_certificate_adds_its_hash() {
        let info = HandshakeInfo {
            peer_cert: Some(vec![1, 2, 3]),
            ..Default::default()
        };
        let vars = decode(&encode(&info, fake_hash)).unwrap();
        assert!(vars.contains(&(
            "SSL_PEER_CERT_HASH".into(),
            Some(format!("SHA256:{}", "ab".repeat(32)))
        )));
    }

    #[test]
    fn malformed_blocks() {
        assert_eq!(decode(b""), Err(BlockError::Empty));
        assert_eq!(decode(b"\0"), Ok(vec![]));
        assert_eq!(decode(b"A=1\0"), Err(BlockError::Malformed));
        assert_eq!(decode(b"A1\0\0"), Ok(vec![("A1".into(), None)]));
        assert_eq!(decode(b"=1\0\0"), Err(BlockError::Malformed));
        assert_eq!(decode(b"A=\xff\0\0"), Err(BlockError::Malformed));
        assert_eq!(
            decode(b"A=1\0B=x=y\0\0"),
            Ok(vec![
                ("A".into(), Some("1".into())),
                ("B".into(), Some("x=y".into()))
            ])
        );
    }
}

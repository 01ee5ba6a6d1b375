//! Loading trust anchors, certificates and private keys from the files the
//! environment names, in PEM or DER, for every backend alike.

use crate::fatal::{Fatal, code};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use zeroize::Zeroizing;

fn read(path: &Path, what: &str) -> Result<Zeroizing<Vec<u8>>, Fatal> {
    std::fs::read(path).map(Zeroizing::new).map_err(|e| {
        Fatal::new(
            code::TLS_CONFIG,
            format!("unable to read {what} {}: {e}", path.display()),
        )
    })
}

fn is_pem(bytes: &[u8]) -> bool {
    bytes.windows(11).any(|w| w == b"-----BEGIN ")
}

/// Every certificate in `bytes`: all the PEM blocks, or one DER certificate.
/// Nothing that does not look like a certificate is returned.
pub fn parse_certs(bytes: &[u8]) -> Vec<CertificateDer<'static>> {
    if is_pem(bytes) {
        CertificateDer::pem_slice_iter(bytes)
            .filter_map(|c| c.ok())
            .collect()
    } else if looks_like_der_sequence(bytes) {
        vec![CertificateDer::from(bytes.to_vec())]
    } else {
        Vec::new()
    }
}

/// A DER SEQUENCE whose length covers exactly the input.
fn looks_like_der_sequence(b: &[u8]) -> bool {
    if b.len() < 2 || b[0] != 0x30 {
        return false;
    }
    let (len, hdr) = match b[1] {
        n if n < 0x80 => (n as usize, 2),
        0x81 if b.len() > 2 => (b[2] as usize, 3),
        0x82 if b.len() > 3 => (((b[2] as usize) << 8) | b[3] as usize, 4),
        0x83 if b.len() > 4 => (
            ((b[2] as usize) << 16) | ((b[3] as usize) << 8) | b[4] as usize,
            5,
        ),
        _ => return false,
    };
    hdr + len == b.len()
}

/// A certificate chain, end entity first (CERTFILE).
pub fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, Fatal> {
    let bytes = read(path, "certificate file")?;
    let chain = parse_certs(&bytes);
    if chain.is_empty() {
        return Err(Fatal::new(
            code::TLS_CONFIG,
            format!("no certificate found in {}", path.display()),
        ));
    }
    Ok(chain)
}

/// The private key in `bytes`: PKCS#8, PKCS#1 or SEC1, PEM or DER.
pub fn parse_key(bytes: &[u8]) -> Option<PrivateKeyDer<'static>> {
    if is_pem(bytes) {
        parse_pem_key(bytes)
    } else {
        PrivateKeyDer::try_from(bytes.to_vec()).ok()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The first `PRIVATE KEY` (PKCS#8), `RSA PRIVATE KEY` (PKCS#1) or `EC
/// PRIVATE KEY` (SEC1) section of a PEM file; other sections (`EC
/// PARAMETERS`, certificates) are skipped. Decoded here rather than by
/// rustls-pki-types, whose PEM reader frees its copy of the base64 text
/// without zeroing it: every buffer here holding key bytes is zeroed, and
/// the one returned becomes the key.
fn parse_pem_key(bytes: &[u8]) -> Option<PrivateKeyDer<'static>> {
    let mut rest = bytes;
    while let Some(start) = find(rest, b"-----BEGIN ") {
        let after = &rest[start + 11..];
        let label_len = find(after, b"-----")?;
        let label = &after[..label_len];
        let body = &after[label_len + 5..];
        let end_marker = [b"-----END ", label, b"-----"].concat();
        let body_len = find(body, &end_marker)?;
        rest = &body[body_len + end_marker.len()..];
        let make: fn(Vec<u8>) -> PrivateKeyDer<'static> = match label {
            b"PRIVATE KEY" => |v| PrivateKeyDer::Pkcs8(v.into()),
            b"RSA PRIVATE KEY" => |v| PrivateKeyDer::Pkcs1(v.into()),
            b"EC PRIVATE KEY" => |v| PrivateKeyDer::Sec1(v.into()),
            _ => continue,
        };
        let mut der = base64_decode(&body[..body_len])?;
        return Some(make(std::mem::take(&mut *der)));
    }
    None
}

/// Standard base64 with padding, whitespace ignored; `None` on any other
/// byte or on data after the padding. The output never reallocates, so
/// no copy of it is left behind.
fn base64_decode(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() / 4 * 3 + 3));
    let (mut acc, mut bits, mut padded) = (0u32, 0u32, false);
    for &c in text {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padded = true;
                continue;
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        if padded {
            return None;
        }
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// A private key (KEYFILE).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, Fatal> {
    let bytes = read(path, "private key file")?;
    parse_key(&bytes).ok_or_else(|| {
        Fatal::new(
            code::TLS_CONFIG,
            format!("no private key found in {}", path.display()),
        )
    })
}

/// Trust anchors from CADIR (every regular file holding certificates; the
/// rest is skipped) or CAFILE (a bundle). At least one must be found.
pub fn load_trust_anchors(
    cadir: Option<&Path>,
    cafile: Option<&Path>,
) -> Result<Vec<CertificateDer<'static>>, Fatal> {
    let (anchors, shown) = if let Some(dir) = cadir {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            Fatal::new(
                code::TLS_CONFIG,
                format!(
                    "unable to read trust anchor directory {}: {e}",
                    dir.display()
                ),
            )
        })?;
        let mut anchors = Vec::new();
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            // Follow symlinks (c_rehash makes them), skip what is not a file.
            if !p.is_file() {
                continue;
            }
            if let Ok(bytes) = std::fs::read(&p) {
                anchors.extend(parse_certs(&bytes));
            }
        }
        (anchors, dir)
    } else if let Some(file) = cafile {
        let bytes = read(file, "trust anchor file")?;
        (parse_certs(&bytes), file)
    } else {
        return Err(Fatal::new(code::USAGE, "CADIR or CAFILE not set"));
    };
    if anchors.is_empty() {
        return Err(Fatal::new(
            code::TLS_CONFIG,
            format!("no trust anchor found in {}", shown.display()),
        ));
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_sequence_detection() {
        assert!(looks_like_der_sequence(&[0x30, 0x01, 0x00]));
        assert!(!looks_like_der_sequence(&[0x30, 0x05, 0x00]));
        assert!(!looks_like_der_sequence(b"garbage"));
        assert!(!looks_like_der_sequence(&[]));
        let mut long = vec![0x30, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0u8, 256));
        assert!(looks_like_der_sequence(&long));
    }

    #[test]
    fn base64_as_pem_writes_it() {
        let d = |t: &[u8]| base64_decode(t).map(|v| v.to_vec());
        assert_eq!(d(b""), Some(vec![]));
        assert_eq!(d(b"TWFu"), Some(b"Man".to_vec()));
        assert_eq!(d(b"TWE=\r\n"), Some(b"Ma".to_vec()));
        assert_eq!(d(b"TQ=="), Some(b"M".to_vec()));
        assert_eq!(d(b"TW\nFu\n"), Some(b"Man".to_vec()));
        assert_eq!(d(b"TQ==TQ=="), None);
        assert_eq!(d(b"T!Fu"), None);
    }

    #[test]
    fn pem_keys_of_each_kind_and_other_sections() {
        let pem = |label: &str, body: &str| {
            format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
        };
        let k = parse_key(pem("PRIVATE KEY", "AQID").as_bytes()).unwrap();
        assert!(matches!(&k, PrivateKeyDer::Pkcs8(_)));
        assert_eq!(k.secret_der(), [1, 2, 3]);
        let k = parse_key(pem("RSA PRIVATE KEY", "AQID").as_bytes()).unwrap();
        assert!(matches!(k, PrivateKeyDer::Pkcs1(_)));
        let two = pem("EC PARAMETERS", "BggqhkjOPQMBBw==") + &pem("EC PRIVATE KEY", "BAU=");
        let k = parse_key(two.as_bytes()).unwrap();
        assert!(matches!(&k, PrivateKeyDer::Sec1(_)));
        assert_eq!(k.secret_der(), [4, 5]);
        assert!(parse_key(pem("CERTIFICATE", "AQID").as_bytes()).is_none());
        assert!(parse_key(b"-----BEGIN PRIVATE KEY-----\nAQID\n").is_none());
        assert!(parse_key(pem("PRIVATE KEY", "A?ID").as_bytes()).is_none());
    }

    #[test]
    fn garbage_holds_no_certificate() {
        assert!(parse_certs(b"not a certificate at all").is_empty());
        assert!(
            parse_certs(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
                .is_empty()
        );
    }
}

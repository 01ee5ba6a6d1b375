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
        PrivateKeyDer::from_pem_slice(bytes).ok()
    } else {
        PrivateKeyDer::try_from(bytes.to_vec()).ok()
    }
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
    fn garbage_holds_no_certificate() {
        assert!(parse_certs(b"not a certificate at all").is_empty());
        assert!(
            parse_certs(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
                .is_empty()
        );
    }
}

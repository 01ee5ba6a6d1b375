//! The subject of a DER certificate as one line, `C=FR, O=Org, CN=name`:
//! upstream's BearSSL backend's form (attributes joined by `, `, with
//! `, = + < > # \\` escaped by a backslash), extended to every attribute
//! in certificate order. A small, bounds-checked DER walk, so every backend
//! prints the same thing.

struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    /// The next TLV: (tag, contents).
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let b = self.rest;
        let tag = *b.first()?;
        let first = *b.get(1)? as usize;
        let (len, hdr) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            if n == 0 || n > 4 {
                return None;
            }
            let mut len = 0usize;
            for i in 0..n {
                len = (len << 8) | *b.get(2 + i)? as usize;
            }
            (len, 2 + n)
        };
        let end = hdr.checked_add(len)?;
        let body = b.get(hdr..end)?;
        self.rest = &b[end..];
        Some((tag, body))
    }
}

fn oid_name(oid: &[u8]) -> Option<&'static str> {
    Some(match oid {
        [0x55, 0x04, 0x03] => "CN",
        [0x55, 0x04, 0x06] => "C",
        [0x55, 0x04, 0x07] => "L",
        [0x55, 0x04, 0x08] => "ST",
        [0x55, 0x04, 0x09] => "street",
        [0x55, 0x04, 0x0a] => "O",
        [0x55, 0x04, 0x0b] => "OU",
        [0x55, 0x04, 0x0c] => "title",
        [0x55, 0x04, 0x04] => "SN",
        [0x55, 0x04, 0x05] => "serialNumber",
        [0x55, 0x04, 0x2a] => "GN",
        [0x55, 0x04, 0x2b] => "initials",
        [0x55, 0x04, 0x11] => "postalCode",
        [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01] => "emailAddress",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19] => "DC",
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01] => "UID",
        _ => return None,
    })
}

fn dotted_oid(oid: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut v: u64 = 0;
    for &b in oid {
        v = (v << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let (a, b) = if v < 80 {
                    (v / 40, v % 40)
                } else {
                    (2, v - 80)
                };
                parts.push(a.to_string());
                parts.push(b.to_string());
            } else {
                parts.push(v.to_string());
            }
            v = 0;
        }
    }
    parts.join(".")
}

fn value_text(tag: u8, body: &[u8]) -> String {
    let text = match tag {
        // BMPString: UCS-2 big endian.
        0x1e => {
            let units: Vec<u16> = body
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16_lossy(&units)
        }
        // UniversalString: UCS-4 big endian.
        0x1c => body
            .chunks_exact(4)
            .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])).unwrap_or('?'))
            .collect(),
        _ => String::from_utf8_lossy(body).into_owned(),
    };
    // One line, one NUL-terminated variable: no control characters.
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// The subject DN of `cert`, or `None` if it is not a certificate we can walk.
pub fn subject_oneline(cert: &[u8]) -> Option<String> {
    let (_, certificate) = Der { rest: cert }.next()?;
    let (_, tbs) = Der { rest: certificate }.next()?;
    let mut tbs = Der { rest: tbs };
    let (mut tag, _) = tbs.clone_next()?;
    if tag == 0xa0 {
        tbs.next()?; // version
    }
    tbs.next()?; // serial
    tbs.next()?; // signature algorithm
    tbs.next()?; // issuer
    tbs.next()?; // validity
    let (t, subject) = tbs.next()?;
    tag = t;
    if tag != 0x30 {
        return None;
    }
    let mut out = String::new();
    let mut rdns = Der { rest: subject };
    while !rdns.rest.is_empty() {
        let (_, set) = rdns.next()?;
        let mut atvs = Der { rest: set };
        while !atvs.rest.is_empty() {
            let (_, atv) = atvs.next()?;
            let mut parts = Der { rest: atv };
            let (_, oid) = parts.next()?;
            let (vtag, value) = parts.next()?;
            if !out.is_empty() {
                out.push_str(", ");
            }
            match oid_name(oid) {
                Some(n) => out.push_str(n),
                None => out.push_str(&dotted_oid(oid)),
            }
            out.push('=');
            for c in value_text(vtag, value).chars() {
                if matches!(c, ',' | '=' | '+' | '<' | '>' | '#' | '\\') {
                    out.push('\\');
                }
                out.push(c);
            }
        }
    }
    Some(out)
}

impl<'a> Der<'a> {
    fn clone_next(&self) -> Option<(u8, &'a [u8])> {
        Der { rest: self.rest }.next()
    }
}

/// `SHA256:` and the lowercase hex digest, as SSL_PEER_CERT_HASH.
pub fn hash_text(digest: &[u8; 32]) -> String {
    let mut s = String::from("SHA256:");
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none_not_a_panic() {
        assert_eq!(subject_oneline(b""), None);
        assert_eq!(subject_oneline(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(subject_oneline(&[0x30, 0x03, 0x30, 0x01]), None);
        for n in 0..64u8 {
            let v: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let _ = subject_oneline(&v);
        }
    }

    #[test]
    fn oids_print_dotted() {
        assert_eq!(
            dotted_oid(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d]),
            "1.2.840.113549"
        );
    }
}

//! The PROXY protocol header (HAProxy's `proxy-protocol.txt`, versions 1
//! and 2), parsed by a pure function over the bytes received so far.
//!
//! [`parse`] never asks for a byte past the end of the header: it answers
//! "need at least `n` more bytes" with an `n` that the header is sure to
//! still hold, so a caller that reads exactly that many leaves everything
//! after the header (a TLS ClientHello, say) unread in the socket. A v1
//! line is read one byte at a time once its first 15 bytes (the shortest
//! valid line, `PROXY UNKNOWN\r\n`) are in; a v2 header is read as its 16
//! fixed bytes, then exactly the length they announce.
//!
//! Errors come in two kinds, after upstream's exit codes: invalid syntax
//! (exit 1) and a valid but unsupported protocol (UDP, exit 2).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// The v2 signature.
pub const V2_SIGNATURE: &[u8; 12] = b"\r\n\r\n\0\r\nQUIT\n";
const V1_PREFIX: &[u8] = b"PROXY ";
/// `PROXY UNKNOWN\r\n`: no valid v1 line is shorter.
const V1_MIN: usize = 15;
/// The longest v1 line, CRLF included.
pub const V1_MAX: usize = 107;
const V2_FIXED: usize = 16;

/// Which versions the caller accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Versions {
    pub v1: bool,
    pub v2: bool,
}

impl Versions {
    pub const BOTH: Versions = Versions { v1: true, v2: true };
}

/// Where the parse stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Progress {
    /// At least this many more bytes are needed, all of them part of the
    /// header.
    NeedMore(usize),
    /// A whole header: its length in bytes, and what it says.
    Done(Header),
}

#[derive(Debug, PartialEq, Eq, Clone)]
pub struct Header {
    /// How many bytes the header took; what follows is the payload.
    pub len: usize,
    /// 1 or 2.
    pub version: u8,
    pub addresses: Addresses,
    /// What v2 TLVs said about the original connection.
    pub extensions: Extensions,
    /// A v2 LOCAL command whose family byte was not zero (worth a warning:
    /// senders should not do that, and the family is ignored).
    pub local_with_family: Option<u8>,
}

#[derive(Debug, PartialEq, Eq, Clone)]
pub enum Addresses {
    /// v1 `UNKNOWN`, v2 `LOCAL` or an unspecified family or protocol: the
    /// real connection's endpoints stand.
    Keep,
    /// The original TCP connection, over IPv4 or IPv6.
    Tcp {
        remote: SocketAddr,
        local: SocketAddr,
    },
    /// A v2 AF_UNIX stream connection: the two socket paths (up to the
    /// first NUL).
    Unix { remote: Vec<u8>, local: Vec<u8> },
}

/// The v2 TLVs upstream turns into variables; every other type is skipped.
#[derive(Debug, Default, PartialEq, Eq, Clone)]
pub struct Extensions {
    /// PP2_TYPE_AUTHORITY: the host name the client asked for (SNI).
    pub authority: Option<Vec<u8>>,
    /// PP2_SUBTYPE_SSL_VERSION, inside PP2_TYPE_SSL.
    pub ssl_version: Option<Vec<u8>>,
    /// PP2_SUBTYPE_SSL_CN.
    pub ssl_cn: Option<Vec<u8>>,
    /// PP2_SUBTYPE_SSL_CIPHER.
    pub ssl_cipher: Option<Vec<u8>>,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Error {
    /// The bytes are not a valid PROXY header (exit 1).
    Invalid(&'static str),
    /// A valid header for a protocol we do not serve (exit 2).
    Unsupported(&'static str),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Invalid(_) => 1,
            Error::Unsupported(_) => 2,
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Invalid(m) | Error::Unsupported(m) => f.write_str(m),
        }
    }
}

/// Parses the start of `buf` as a PROXY header. Bytes after the header
/// are ignored (and never asked for).
pub fn parse(buf: &[u8], versions: Versions) -> Result<Progress, Error> {
    let v1 = versions.v1 && buf.first().is_none_or(|&b| b == V1_PREFIX[0]);
    let v2 = versions.v2 && buf.first().is_none_or(|&b| b == V2_SIGNATURE[0]);
    match (v1, v2) {
        (true, true) => Ok(Progress::NeedMore(V1_MIN.min(V2_FIXED))),
        (true, false) => parse_v1(buf),
        (false, true) => parse_v2(buf),
        (false, false) => Err(Error::Invalid("invalid PROXY header signature")),
    }
}

fn need(have: usize, want: usize) -> Progress {
    Progress::NeedMore(want - have)
}

/// Does `buf` agree with `expected` as far as both go?
fn agrees(buf: &[u8], expected: &[u8]) -> bool {
    let n = buf.len().min(expected.len());
    buf[..n] == expected[..n]
}

// ---------------------------------------------------------------- v1

fn parse_v1(buf: &[u8]) -> Result<Progress, Error> {
    if !agrees(buf, V1_PREFIX) {
        return Err(Error::Invalid("invalid PROXY header signature"));
    }
    // Reject a wrong protocol word as soon as it shows, without waiting
    // for the end of the line.
    if buf.len() > V1_PREFIX.len() {
        let rest = &buf[V1_PREFIX.len()..];
        if ![&b"TCP4 "[..], b"TCP6 ", b"UNKNOWN"]
            .iter()
            .any(|w| agrees(rest, w))
        {
            return Err(Error::Invalid("invalid protocol in PROXY line"));
        }
    }
    let window = &buf[..buf.len().min(V1_MAX)];
    match window.iter().position(|&b| b == b'\n') {
        Some(i) => v1_line(&buf[..=i]).map(Progress::Done),
        None if window.len() >= V1_MAX => Err(Error::Invalid("PROXY line too long")),
        None if buf.len() < V1_MIN => Ok(need(buf.len(), V1_MIN)),
        None => Ok(Progress::NeedMore(1)),
    }
}

/// A whole v1 line, `\n` included.
fn v1_line(line: &[u8]) -> Result<Header, Error> {
    let bad = Error::Invalid("invalid PROXY line");
    let body = line
        .strip_suffix(b"\r\n")
        .and_then(|l| l.strip_prefix(V1_PREFIX))
        .ok_or(bad)?;
    let header = |addresses| Header {
        len: line.len(),
        version: 1,
        addresses,
        extensions: Extensions::default(),
        local_with_family: None,
    };
    // UNKNOWN, alone or followed by anything: keep the real endpoints.
    if body == b"UNKNOWN" || body.starts_with(b"UNKNOWN ") {
        return Ok(header(Addresses::Keep));
    }
    let text = std::str::from_utf8(body).map_err(|_| bad)?;
    let fields: Vec<&str> = text.split(' ').collect();
    let [proto, src, dst, sport, dport] = fields[..] else {
        return Err(bad);
    };
    let ip = |s: &str, what: &'static str| -> Result<IpAddr, Error> {
        match proto {
            "TCP4" => s.parse::<Ipv4Addr>().map(IpAddr::V4),
            _ => s.parse::<Ipv6Addr>().map(IpAddr::V6),
        }
        .map_err(|_| Error::Invalid(what))
    };
    if proto != "TCP4" && proto != "TCP6" {
        return Err(Error::Invalid("invalid protocol in PROXY line"));
    }
    let remote = ip(src, "invalid remote ip in PROXY line")?;
    let local = ip(dst, "invalid local ip in PROXY line")?;
    let remote_port = port(sport).ok_or(Error::Invalid("invalid remote port in PROXY line"))?;
    let local_port = port(dport).ok_or(Error::Invalid("invalid local port in PROXY line"))?;
    Ok(header(Addresses::Tcp {
        remote: SocketAddr::new(remote, remote_port),
        local: SocketAddr::new(local, local_port),
    }))
}

/// A decimal port, 1 to 5 digits, at most 65535.
fn port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

// ---------------------------------------------------------------- v2

const CMD_LOCAL: u8 = 0;
const CMD_PROXY: u8 = 1;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 1;
const AF_INET6: u8 = 2;
const AF_UNIX: u8 = 3;
const PROTO_UNSPEC: u8 = 0;
const PROTO_STREAM: u8 = 1;
const PROTO_DGRAM: u8 = 2;

/// The size of the address block for each family.
fn address_len(family: u8) -> usize {
    match family {
        AF_INET => 12,
        AF_INET6 => 36,
        _ => 216,
    }
}

fn parse_v2(buf: &[u8]) -> Result<Progress, Error> {
    if !agrees(buf, V2_SIGNATURE) {
        return Err(Error::Invalid("invalid PROXY header signature"));
    }
    if buf.len() < V2_FIXED {
        return Ok(need(buf.len(), V2_FIXED));
    }
    let (version, command) = (buf[12] >> 4, buf[12] & 0xf);
    let (family, proto) = (buf[13] >> 4, buf[13] & 0xf);
    let len = usize::from(u16::from_be_bytes([buf[14], buf[15]]));
    if version != 2 {
        return Err(Error::Invalid("invalid PROXY version"));
    }
    // Everything that can be judged from the fixed part is judged before
    // asking for the rest.
    let carries_addresses = match command {
        // LOCAL: the proxy's own connection (a health check); the family
        // is to be ignored and the block skipped.
        CMD_LOCAL => false,
        CMD_PROXY => {
            if family > AF_UNIX {
                return Err(Error::Invalid("invalid address family"));
            }
            if family == AF_UNSPEC || proto == PROTO_UNSPEC {
                false
            } else if proto > PROTO_DGRAM {
                return Err(Error::Invalid("invalid transport protocol"));
            } else if proto == PROTO_DGRAM {
                return Err(Error::Unsupported(
                    "unsupported transport protocol: datagram",
                ));
            } else if len < address_len(family) {
                return Err(Error::Invalid("invalid address length"));
            } else {
                true
            }
        }
        _ => return Err(Error::Invalid("invalid PROXY command")),
    };
    let total = V2_FIXED + len;
    if buf.len() < total {
        return Ok(need(buf.len(), total));
    }
    let block = &buf[V2_FIXED..total];
    let mut header = Header {
        len: total,
        version: 2,
        addresses: Addresses::Keep,
        extensions: Extensions::default(),
        local_with_family: (command == CMD_LOCAL && family != AF_UNSPEC).then_some(family),
    };
    if carries_addresses {
        debug_assert_eq!(proto, PROTO_STREAM);
        let (addrs, tlvs) = block.split_at(address_len(family));
        header.addresses = v2_addresses(family, addrs);
        tlv_list(tlvs, false, &mut header.extensions)?;
    }
    Ok(Progress::Done(header))
}

fn v2_addresses(family: u8, a: &[u8]) -> Addresses {
    let be16 = |i: usize| u16::from_be_bytes([a[i], a[i + 1]]);
    let v4 = |i: usize| IpAddr::V4(Ipv4Addr::new(a[i], a[i + 1], a[i + 2], a[i + 3]));
    let v6 = |i: usize| {
        let mut o = [0u8; 16];
        o.copy_from_slice(&a[i..i + 16]);
        IpAddr::V6(Ipv6Addr::from(o))
    };
    match family {
        AF_INET => Addresses::Tcp {
            remote: SocketAddr::new(v4(0), be16(8)),
            local: SocketAddr::new(v4(4), be16(10)),
        },
        AF_INET6 => Addresses::Tcp {
            remote: SocketAddr::new(v6(0), be16(32)),
            local: SocketAddr::new(v6(16), be16(34)),
        },
        _ => Addresses::Unix {
            remote: until_nul(&a[..108]),
            local: until_nul(&a[108..216]),
        },
    }
}

fn until_nul(b: &[u8]) -> Vec<u8> {
    b.split(|&c| c == 0).next().unwrap_or_default().to_vec()
}

const PP2_TYPE_AUTHORITY: u8 = 0x02;
const PP2_TYPE_SSL: u8 = 0x20;
const PP2_SUBTYPE_SSL_VERSION: u8 = 0x21;
const PP2_SUBTYPE_SSL_CN: u8 = 0x22;
const PP2_SUBTYPE_SSL_CIPHER: u8 = 0x23;
const PP2_CLIENT_SSL: u8 = 0x01;

/// Walks a list of TLVs (`sub`: the ones inside PP2_TYPE_SSL), keeping the
/// ones upstream uses and skipping the rest, with every length checked.
fn tlv_list(mut s: &[u8], sub: bool, ext: &mut Extensions) -> Result<(), Error> {
    let bad_encoding = if sub {
        "invalid TLV encoding in sub-extension"
    } else {
        "invalid TLV encoding in extension"
    };
    while !s.is_empty() {
        if s.len() < 3 {
            return Err(Error::Invalid(bad_encoding));
        }
        let kind = s[0];
        let n = usize::from(u16::from_be_bytes([s[1], s[2]]));
        let value = s.get(3..3 + n).ok_or(Error::Invalid(bad_encoding))?;
        s = &s[3 + n..];
        let slot = match (kind, sub) {
            (PP2_TYPE_AUTHORITY, false) => &mut ext.authority,
            (PP2_TYPE_SSL, false) => {
                // client (1 byte), verify (4 bytes), then sub-TLVs that
                // only count when the client used TLS.
                if n < 5 {
                    return Err(Error::Invalid("invalid sub-TLV encoding in SSL extension"));
                }
                if value[0] & PP2_CLIENT_SSL != 0 {
                    tlv_list(&value[5..], true, ext)?;
                }
                continue;
            }
            (PP2_TYPE_AUTHORITY | PP2_TYPE_SSL, true) => {
                return Err(Error::Invalid("invalid sub-extension type"));
            }
            (PP2_SUBTYPE_SSL_VERSION, true) => &mut ext.ssl_version,
            (PP2_SUBTYPE_SSL_CN, true) => &mut ext.ssl_cn,
            (PP2_SUBTYPE_SSL_CIPHER, true) => &mut ext.ssl_cipher,
            (PP2_SUBTYPE_SSL_VERSION | PP2_SUBTYPE_SSL_CN | PP2_SUBTYPE_SSL_CIPHER, false) => {
                return Err(Error::Invalid("invalid main extension type"));
            }
            _ => continue,
        };
        *slot = Some(until_nul(value));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` to the parser the way a reader would: only as many
    /// bytes as it asks for, and checks it never asks past `bytes`' header.
    fn drive(bytes: &[u8], versions: Versions) -> Result<Header, Error> {
        let mut have = 0;
        loop {
            match parse(&bytes[..have], versions)? {
                Progress::NeedMore(n) => {
                    assert!(n > 0);
                    assert!(
                        have + n <= bytes.len(),
                        "asked for {n} more bytes after {have}, only {} exist",
                        bytes.len()
                    );
                    have += n;
                }
                Progress::Done(h) => {
                    assert_eq!(h.len, have, "the parser read past the header");
                    return Ok(h);
                }
            }
        }
    }

    /// The same, one byte at a time (a header split over many segments).
    fn drive_bytewise(bytes: &[u8], versions: Versions) -> Result<Header, Error> {
        for have in 0..=bytes.len() {
            match parse(&bytes[..have], versions)? {
                Progress::NeedMore(n) => assert!(n > 0),
                Progress::Done(h) => return Ok(h),
            }
        }
        panic!("no header in {} bytes", bytes.len());
    }

    fn both(bytes: &[u8]) -> Result<Header, Error> {
        let a = drive(bytes, Versions::BOTH);
        let b = drive_bytewise(bytes, Versions::BOTH);
        assert_eq!(a, b);
        a
    }

    fn tcp(h: &Header) -> (String, String) {
        match &h.addresses {
            Addresses::Tcp { remote, local } => (remote.to_string(), local.to_string()),
            other => panic!("not TCP: {other:?}"),
        }
    }

    fn v2(cmd: u8, fam_proto: u8, block: &[u8]) -> Vec<u8> {
        let mut v = V2_SIGNATURE.to_vec();
        v.push(0x20 | cmd);
        v.push(fam_proto);
        v.extend_from_slice(&(block.len() as u16).to_be_bytes());
        v.extend_from_slice(block);
        v
    }

    fn v4_block() -> Vec<u8> {
        let mut b = vec![192, 0, 2, 1, 198, 51, 100, 7];
        b.extend_from_slice(&51234u16.to_be_bytes());
        b.extend_from_slice(&443u16.to_be_bytes());
        b
    }

    fn tlv(kind: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![kind];
        v.extend_from_slice(&(value.len() as u16).to_be_bytes());
        v.extend_from_slice(value);
        v
    }

    #[test]
    fn v1_tcp4() {
        let line = b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n";
        let h = both(line).unwrap();
        assert_eq!(h.len, line.len());
        assert_eq!(h.version, 1);
        assert_eq!(
            tcp(&h),
            ("192.0.2.1:51234".into(), "198.51.100.7:443".into())
        );
    }

    #[test]
    fn v1_tcp6() {
        let line = b"PROXY TCP6 2001:db8::1 ::1 65535 0\r\n";
        let h = both(line).unwrap();
        assert_eq!(tcp(&h), ("[2001:db8::1]:65535".into(), "[::1]:0".into()));
    }

    #[test]
    fn v1_longest_address_line_is_accepted() {
        // The worst case of the protocol's text: 104 bytes.
        let a = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
        let line = format!("PROXY TCP6 {a} {a} 65535 65535\r\n");
        assert_eq!(line.len(), 104);
        assert_eq!(both(line.as_bytes()).unwrap().len, 104);
    }

    #[test]
    fn v1_unknown() {
        for line in [
            &b"PROXY UNKNOWN\r\n"[..],
            b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n",
            b"PROXY UNKNOWN whatever\r\n",
        ] {
            let h = both(line).unwrap();
            assert_eq!(h.addresses, Addresses::Keep);
            assert_eq!(h.len, line.len());
        }
    }

    #[test]
    fn v1_payload_after_the_line_is_not_touched() {
        let mut bytes = b"PROXY TCP4 10.0.0.1 10.0.0.2 1 2\r\n".to_vec();
        let n = bytes.len();
        bytes.extend_from_slice(b"\x16\x03\x01\x02\x00GET / HTTP/1.0\r\n\r\n");
        match parse(&bytes, Versions::BOTH).unwrap() {
            Progress::Done(h) => assert_eq!(h.len, n),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn v1_first_read_is_15_bytes_then_one_at_a_time() {
        assert_eq!(parse(b"", Versions::BOTH), Ok(Progress::NeedMore(15)));
        let v1 = Versions {
            v1: true,
            v2: false,
        };
        assert_eq!(parse(b"", v1), Ok(Progress::NeedMore(15)));
        assert_eq!(parse(b"PROX", v1), Ok(Progress::NeedMore(11)));
        assert_eq!(parse(b"PROXY TCP4 1.2.", v1), Ok(Progress::NeedMore(1)));
    }

    #[test]
    fn v1_malformed() {
        let invalid = |line: &[u8], why: &str| {
            let e = drive_bytewise(line, Versions::BOTH).unwrap_err();
            assert!(matches!(e, Error::Invalid(_)));
            assert_eq!(e.exit_code(), 1, "{:?}", String::from_utf8_lossy(line));
            assert!(
                e.to_string().contains(why),
                "{e} for {:?}",
                String::from_utf8_lossy(line)
            );
        };
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "invalid PROXY line");
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", "port");
        invalid(b"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "invalid PROXY line");
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "invalid PROXY line");
        invalid(
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
            "invalid PROXY line",
        );
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "invalid PROXY line");
        invalid(b"PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "remote ip");
        invalid(b"PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "local ip");
        invalid(b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "remote ip");
        invalid(b"PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "remote ip");
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "remote port");
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 -2\r\n", "local port");
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 +2\r\n", "local port");
        invalid(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 000002\r\n", "local port");
        invalid(b"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "invalid protocol");
        invalid(b"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "invalid protocol");
        invalid(b"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "invalid protocol");
        invalid(b"PROXY UNKNOWNX\r\n", "invalid PROXY line");
        invalid(b"PROXY \xff\r\n", "invalid protocol");
        invalid(
            b"PROXY TCP4 1.2.3.4 5.6.7.\xff 1 2\r\n",
            "invalid PROXY line",
        );
        invalid(b"PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", "signature");
        invalid(b"proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "signature");
        invalid(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "signature");
        invalid(
            b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03abcdefgh",
            "signature",
        );
    }

    #[test]
    fn v1_garbage_is_rejected_early() {
        // The protocol word is checked as soon as it is wrong, long before
        // a line end or the length limit.
        assert_eq!(
            parse(b"PROXY X", Versions::BOTH),
            Err(Error::Invalid("invalid protocol in PROXY line"))
        );
        assert_eq!(
            parse(b"X", Versions::BOTH),
            Err(Error::Invalid("invalid PROXY header signature"))
        );
    }

    #[test]
    fn v1_too_long() {
        let mut line = b"PROXY UNKNOWN ".to_vec();
        line.resize(V1_MAX, b'a');
        let e = drive(&[line.clone(), b"\r\n".to_vec()].concat(), Versions::BOTH).unwrap_err();
        assert_eq!(e, Error::Invalid("PROXY line too long"));
        // A line end just inside the limit is fine.
        line.truncate(V1_MAX - 2);
        line.extend_from_slice(b"\r\n");
        assert_eq!(both(&line).unwrap().len, V1_MAX);
    }

    #[test]
    fn v2_tcp4() {
        let bytes = v2(CMD_PROXY, 0x11, &v4_block());
        let h = both(&bytes).unwrap();
        assert_eq!(h.len, 28);
        assert_eq!(h.version, 2);
        assert_eq!(
            tcp(&h),
            ("192.0.2.1:51234".into(), "198.51.100.7:443".into())
        );
        assert_eq!(h.extensions, Extensions::default());
    }

    #[test]
    fn v2_tcp6() {
        let mut block = Vec::new();
        block.extend_from_slice(&"2001:db8::5".parse::<Ipv6Addr>().unwrap().octets());
        block.extend_from_slice(&"::ffff:10.1.2.3".parse::<Ipv6Addr>().unwrap().octets());
        block.extend_from_slice(&[0xff, 0xfe, 0, 80]);
        let h = both(&v2(CMD_PROXY, 0x21, &block)).unwrap();
        assert_eq!(
            tcp(&h),
            ("[2001:db8::5]:65534".into(), "[::ffff:10.1.2.3]:80".into())
        );
    }

    #[test]
    fn v2_unix() {
        let mut block = vec![0u8; 216];
        block[..9].copy_from_slice(b"/run/peer");
        block[108..108 + 4].copy_from_slice(b"/srv");
        let h = both(&v2(CMD_PROXY, 0x31, &block)).unwrap();
        assert_eq!(
            h.addresses,
            Addresses::Unix {
                remote: b"/run/peer".to_vec(),
                local: b"/srv".to_vec()
            }
        );
        // A path filling all 108 bytes has no NUL: it is taken whole.
        let block = vec![b'a'; 216];
        match both(&v2(CMD_PROXY, 0x31, &block)).unwrap().addresses {
            Addresses::Unix { remote, local } => {
                assert_eq!(remote.len(), 108);
                assert_eq!(local.len(), 108);
            }
            a => panic!("{a:?}"),
        }
    }

    #[test]
    fn v2_local_and_unspec_keep_the_connection() {
        // LOCAL, no block (HAProxy's health checks).
        let h = both(&v2(CMD_LOCAL, 0x00, &[])).unwrap();
        assert_eq!((h.len, &h.addresses), (16, &Addresses::Keep));
        assert_eq!(h.local_with_family, None);
        // LOCAL with a family and a block: both ignored, the block skipped.
        let h = both(&v2(CMD_LOCAL, 0x11, &v4_block())).unwrap();
        assert_eq!((h.len, &h.addresses), (28, &Addresses::Keep));
        assert_eq!(h.local_with_family, Some(1));
        // LOCAL with a nonsense family: still ignored.
        assert_eq!(both(&v2(CMD_LOCAL, 0xf7, &[1, 2, 3])).unwrap().len, 19);
        // PROXY with UNSPEC family or protocol: skipped, however long.
        let h = both(&v2(CMD_PROXY, 0x00, &[9; 300])).unwrap();
        assert_eq!((h.len, &h.addresses), (316, &Addresses::Keep));
        assert_eq!(
            both(&v2(CMD_PROXY, 0x10, &[9; 3])).unwrap().addresses,
            Addresses::Keep
        );
        assert_eq!(
            both(&v2(CMD_PROXY, 0x0f, &[])).unwrap().addresses,
            Addresses::Keep
        );
    }

    #[test]
    fn v2_reads_exactly_the_announced_length() {
        let bytes = v2(CMD_PROXY, 0x11, &v4_block());
        assert_eq!(
            parse(&bytes[..0], Versions::BOTH),
            Ok(Progress::NeedMore(15))
        );
        assert_eq!(
            parse(&bytes[..15], Versions::BOTH),
            Ok(Progress::NeedMore(1))
        );
        assert_eq!(
            parse(&bytes[..16], Versions::BOTH),
            Ok(Progress::NeedMore(12))
        );
        assert_eq!(
            parse(&bytes[..20], Versions::BOTH),
            Ok(Progress::NeedMore(8))
        );
        let v2only = Versions {
            v1: false,
            v2: true,
        };
        assert_eq!(parse(&bytes[..0], v2only), Ok(Progress::NeedMore(16)));
        assert_eq!(parse(&bytes[..5], v2only), Ok(Progress::NeedMore(11)));
        // And ignores what follows.
        let mut more = bytes.clone();
        more.extend_from_slice(b"\x16\x03\x01 and the rest");
        match parse(&more, Versions::BOTH).unwrap() {
            Progress::Done(h) => assert_eq!(h.len, bytes.len()),
            p => panic!("{p:?}"),
        }
    }

    #[test]
    fn v2_tlvs() {
        let mut block = v4_block();
        block.extend(tlv(0x04, b"")); // NOOP
        block.extend(tlv(PP2_TYPE_AUTHORITY, b"www.example.test"));
        block.extend(tlv(0x03, &[1, 2, 3, 4])); // CRC32C, not checked
        let mut ssl = vec![PP2_CLIENT_SSL, 0, 0, 0, 0];
        ssl.extend(tlv(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3"));
        ssl.extend(tlv(PP2_SUBTYPE_SSL_CN, b"client\0junk"));
        ssl.extend(tlv(0x25, b"ignored key alg"));
        ssl.extend(tlv(PP2_SUBTYPE_SSL_CIPHER, b"TLS_AES_128_GCM_SHA256"));
        block.extend(tlv(PP2_TYPE_SSL, &ssl));
        block.extend(tlv(0xe0, &[0xff; 40])); // custom
        let h = both(&v2(CMD_PROXY, 0x11, &block)).unwrap();
        assert_eq!(
            h.extensions,
            Extensions {
                authority: Some(b"www.example.test".to_vec()),
                ssl_version: Some(b"TLSv1.3".to_vec()),
                ssl_cn: Some(b"client".to_vec()),
                ssl_cipher: Some(b"TLS_AES_128_GCM_SHA256".to_vec()),
            }
        );
        // Without the client-used-TLS bit, the SSL sub-TLVs are skipped.
        let mut block = v4_block();
        let mut ssl = vec![0, 0, 0, 0, 0];
        ssl.extend(tlv(PP2_SUBTYPE_SSL_VERSION, b"TLSv1.3"));
        block.extend(tlv(PP2_TYPE_SSL, &ssl));
        assert_eq!(
            both(&v2(CMD_PROXY, 0x11, &block)).unwrap().extensions,
            Extensions::default()
        );
    }

    #[test]
    fn v2_bad_tlvs() {
        let with = |tlvs: &[u8]| {
            let mut block = v4_block();
            block.extend_from_slice(tlvs);
            both(&v2(CMD_PROXY, 0x11, &block)).unwrap_err()
        };
        let enc = Error::Invalid("invalid TLV encoding in extension");
        assert_eq!(with(&[0x04]), enc);
        assert_eq!(with(&[0x04, 0]), enc);
        assert_eq!(with(&[0x04, 0, 1]), enc);
        assert_eq!(with(&[0x04, 0xff, 0xff, 1, 2]), enc);
        assert_eq!(
            with(&tlv(PP2_TYPE_SSL, &[1, 0, 0, 0])),
            Error::Invalid("invalid sub-TLV encoding in SSL extension")
        );
        assert_eq!(
            with(&tlv(PP2_TYPE_SSL, &[1, 0, 0, 0, 0, 0x21, 0, 9])),
            Error::Invalid("invalid TLV encoding in sub-extension")
        );
        let nested = [vec![1, 0, 0, 0, 0], tlv(PP2_TYPE_SSL, &[1, 0, 0, 0, 0])].concat();
        assert_eq!(
            with(&tlv(PP2_TYPE_SSL, &nested)),
            Error::Invalid("invalid sub-extension type")
        );
        assert_eq!(
            with(&tlv(PP2_SUBTYPE_SSL_CN, b"x")),
            Error::Invalid("invalid main extension type")
        );
    }

    #[test]
    fn v2_malformed() {
        let err = |bytes: &[u8]| drive_bytewise(bytes, Versions::BOTH).unwrap_err();
        let mut bad_sig = v2(CMD_PROXY, 0x11, &v4_block());
        bad_sig[7] = b'X';
        assert_eq!(
            err(&bad_sig),
            Error::Invalid("invalid PROXY header signature")
        );
        let mut bad_version = v2(CMD_PROXY, 0x11, &v4_block());
        bad_version[12] = 0x11;
        assert_eq!(err(&bad_version), Error::Invalid("invalid PROXY version"));
        bad_version[12] = 0x31;
        assert_eq!(err(&bad_version), Error::Invalid("invalid PROXY version"));
        assert_eq!(
            err(&v2(2, 0x11, &v4_block())),
            Error::Invalid("invalid PROXY command")
        );
        assert_eq!(
            err(&v2(0xf, 0x11, &v4_block())),
            Error::Invalid("invalid PROXY command")
        );
        for fam in [4u8, 9, 15] {
            let e = err(&v2(CMD_PROXY, fam << 4 | 1, &[0; 216]));
            assert_eq!(e, Error::Invalid("invalid address family"));
            assert_eq!(e.exit_code(), 1);
        }
        assert_eq!(
            err(&v2(CMD_PROXY, 0x13, &v4_block())),
            Error::Invalid("invalid transport protocol")
        );
        for fam_proto in [0x12, 0x22, 0x32] {
            let e = err(&v2(CMD_PROXY, fam_proto, &[0; 216]));
            assert_eq!(
                e,
                Error::Unsupported("unsupported transport protocol: datagram")
            );
            assert_eq!(e.exit_code(), 2);
        }
        assert_eq!(
            err(&v2(CMD_PROXY, 0x11, &v4_block()[..11])),
            Error::Invalid("invalid address length")
        );
        assert_eq!(
            err(&v2(CMD_PROXY, 0x21, &[0; 35])),
            Error::Invalid("invalid address length")
        );
        assert_eq!(
            err(&v2(CMD_PROXY, 0x31, &[0; 215])),
            Error::Invalid("invalid address length")
        );
    }

    #[test]
    fn v2_errors_come_before_the_block_is_read() {
        // A bad fixed part is reported on its 16 bytes alone, so a bogus
        // length never makes the reader wait for 64 KiB.
        let mut fixed = v2(CMD_PROXY, 0x12, &[]);
        fixed[14..16].copy_from_slice(&[0xff, 0xff]);
        assert!(matches!(
            parse(&fixed, Versions::BOTH),
            Err(Error::Unsupported(_))
        ));
    }

    #[test]
    fn versions_can_be_restricted() {
        let v1only = Versions {
            v1: true,
            v2: false,
        };
        let v2only = Versions {
            v1: false,
            v2: true,
        };
        let line = b"PROXY UNKNOWN\r\n";
        let bin = v2(CMD_LOCAL, 0, &[]);
        assert!(drive(line, v1only).is_ok());
        assert!(drive(&bin, v2only).is_ok());
        assert_eq!(
            parse(line, v2only),
            Err(Error::Invalid("invalid PROXY header signature"))
        );
        assert_eq!(
            parse(&bin, v1only),
            Err(Error::Invalid("invalid PROXY header signature"))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic_nor_overread() {
        // A small deterministic fuzz: every prefix of many pseudo-random
        // inputs, some starting with a valid signature.
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..3000 {
            let len = (next() % 300) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let prefix: &[u8] = match i % 3 {
                0 => b"\r\n\r\n\0\r\nQUIT\n\x21",
                1 => b"PROXY TCP4 ",
                _ => b"",
            };
            bytes.splice(0..0, prefix.iter().copied());
            // Fed as proxy-server reads: a header is exactly what was read.
            let mut have = 0;
            while let Ok(Progress::NeedMore(n)) = parse(&bytes[..have], Versions::BOTH) {
                have += n;
                if have > bytes.len() {
                    break;
                }
            }
            if have <= bytes.len()
                && let Ok(Progress::Done(h)) = parse(&bytes[..have], Versions::BOTH)
            {
                assert_eq!(h.len, have);
            }
            for have in 0..=bytes.len() {
                match parse(&bytes[..have], Versions::BOTH) {
                    Ok(Progress::NeedMore(n)) => assert!(n > 0),
                    Ok(Progress::Done(h)) => {
                        assert!(h.len <= have);
                        break;
                    }
                    Err(_) => break,
                }
            }
        }
    }
}

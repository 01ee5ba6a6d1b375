//! Access rules and the cdb they are compiled into, as s6-tcpserver-access
//! uses them. One target with a selector byte rather than two: the
//! production path is one pipeline (client address -> keys -> cdb lookup ->
//! rule decoding), and each mode feeds the next one's inputs.
//!
//! - mode 0, keys from an address (4 or 16 bytes): 33 (IPv4) or 129 (IPv6)
//!   keys from /32 (/128) down to /0, each naming exactly the address
//!   masked to its prefix, in skalibs' text (which parses back to it), safe
//!   as a path under a rules directory; a mapped IPv6 address gives its
//!   IPv4 keys.
//! - mode 1, keys from a host name (the rest, as lossy UTF-8): suffixes of
//!   the name, shortest last, then `reversedns/@`; every key is one path
//!   component under `reversedns/` (a PTR record may hold anything).
//! - mode 2, arbitrary bytes as a rules cdb (after a 16-byte client
//!   address): opening, the rules lookup for that address and the walk
//!   over every record never panic and terminate; a rule found is the
//!   first key that has a record, and its data re-encodes to itself.
//! - mode 3, records built from the input: what our writer writes, the
//!   reader reads back, in order, each key giving its first record's data,
//!   absent keys giving none; and the rule in each record decodes and
//!   re-encodes consistently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s6_tls::accessrules::{
    Rule, Rules, decode_rule, encode_rule, fmt_ip6, ip_keys, key_is_safe, reversedns_keys,
};
use s6_tls::cdb;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 4 {
        0 => address_keys(rest),
        1 => name_keys(rest),
        2 => cdb_bytes(rest),
        _ => cdb_round_trip(rest),
    }
});

fn address(bytes: &[u8]) -> Option<IpAddr> {
    if let Ok(b) = <[u8; 16]>::try_from(bytes.get(..16)?) {
        return Some(IpAddr::V6(Ipv6Addr::from(b)));
    }
    None
}

fn address_keys(rest: &[u8]) {
    let ip = match rest.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(rest).unwrap())),
        16.. => address(rest).unwrap(),
        _ => return,
    };
    let keys = ip_keys(ip);
    let v4 = match ip {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(a) => a.to_ipv4_mapped(),
    };
    match v4 {
        Some(a) => {
            assert_eq!(keys.len(), 33);
            for (i, k) in keys.iter().enumerate() {
                let len = 32 - i as u32;
                let (text, l) = split_key(k, "ip4/");
                assert_eq!(l, len, "{k}");
                let parsed: Ipv4Addr = text.parse().unwrap_or_else(|_| panic!("{k}"));
                let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
                assert_eq!(u32::from(parsed), u32::from(a) & mask, "{k}");
                assert_eq!(parsed.to_string(), text, "{k}");
            }
        }
        None => {
            let IpAddr::V6(a) = ip else { unreachable!() };
            assert_eq!(keys.len(), 129);
            for (i, k) in keys.iter().enumerate() {
                let len = 128 - i as u32;
                let (text, l) = split_key(k, "ip6/");
                assert_eq!(l, len, "{k}");
                let parsed: Ipv6Addr = text.parse().unwrap_or_else(|_| panic!("{k}"));
                let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
                assert_eq!(u128::from(parsed), u128::from(a) & mask, "{k}");
                assert_eq!(fmt_ip6(&parsed), text, "{k}");
                check_ip6_text(text, &parsed);
            }
        }
    }
    for k in &keys {
        assert!(key_is_safe(k.as_bytes()), "{k}");
    }
}

/// `ip4/TEXT_LEN` -> (TEXT, LEN).
fn split_key<'a>(k: &'a str, class: &str) -> (&'a str, u32) {
    let body = k.strip_prefix(class).unwrap_or_else(|| panic!("{k}"));
    let (text, len) = body.rsplit_once('_').unwrap_or_else(|| panic!("{k}"));
    (text, len.parse().unwrap_or_else(|_| panic!("{k}")))
}

/// skalibs' form, checked against the standard library's RFC 5952 one
/// where they agree (the standard library writes some addresses with a
/// dotted-quad tail, skalibs never does).
fn check_ip6_text(text: &str, ip: &Ipv6Addr) {
    assert!(!text.contains('.'));
    assert!(
        text.bytes()
            .all(|b| b == b':' || b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    );
    assert!(text.matches("::").count() <= 1, "{text}");
    assert!(!text.contains(":::"), "{text}");
    let std = ip.to_string();
    if !std.contains('.') {
        assert_eq!(text, std);
    }
}

fn name_keys(rest: &[u8]) {
    let name = String::from_utf8_lossy(rest);
    let keys = reversedns_keys(&name);
    assert_eq!(keys.last().map(String::as_str), Some("reversedns/@"));
    for k in &keys {
        // One component under reversedns/: a path naming this rule only.
        assert!(key_is_safe(k.as_bytes()), "{k:?} from {name:?}");
        assert!(k.starts_with("reversedns/"));
        assert_eq!(k.matches('/').count(), 1, "{k:?} from {name:?}");
    }
    // Each key is a suffix of the name (or the @ fallback), shortest last.
    let name = name.strip_suffix('.').unwrap_or(&name);
    let mut last_len = usize::MAX;
    for k in &keys[..keys.len() - 1] {
        let suffix = &k["reversedns/".len()..];
        assert!(
            name.ends_with(suffix),
            "{suffix:?} is not a suffix of {name:?}"
        );
        assert!(suffix.len() < last_len);
        last_len = suffix.len();
    }
}

fn cdb_bytes(rest: &[u8]) {
    let Some(ip) = address(rest) else {
        return;
    };
    let file = rest[16..].to_vec();
    let Ok(reader) = cdb::Reader::new(file.clone()) else {
        return;
    };
    if let Ok(records) = reader.records() {
        let mut total = 0;
        for (k, d) in records {
            total += 8 + k.len() + d.len();
            let _ = reader.get(k);
            let _ = decode_rule(d);
        }
        assert!(total <= file.len());
    }
    let rules = Rules::Cdb(reader);
    let keys = ip_keys(ip);
    let Ok(found) = rules.first(&keys) else {
        return;
    };
    let Some((key, rule)) = found else {
        return;
    };
    let reader = cdb::Reader::new(&file[..]).expect("opened once already");
    let at = keys
        .iter()
        .position(|k| *k == key)
        .expect("a key we asked for");
    for k in &keys[..at] {
        // Earlier keys had no usable rule: no record, or one that is
        // neither allow nor deny.
        match reader.get(k.as_bytes()).expect("looked up once already") {
            None => {}
            Some(d) => assert_eq!(decode_rule(d), Ok(None), "{k} skipped"),
        }
    }
    let data = reader
        .get(key.as_bytes())
        .unwrap()
        .expect("the rule's record");
    assert_eq!(decode_rule(data), Ok(Some(rule.clone())));
    let again = encode_rule(&rule).expect("a decoded rule fits");
    match rule {
        Rule::Deny => assert_eq!(again, b"D"),
        Rule::Allow(_) => assert_eq!(again, data, "allow data re-encodes to itself"),
    }
}

fn cdb_round_trip(rest: &[u8]) {
    // Records: [klen][dlen][key][data], lengths one byte each; a 0xff
    // length byte is followed by a 16-bit big-endian length, for records
    // longer than a short header.
    let mut records: Vec<(&[u8], &[u8])> = Vec::new();
    let mut r = rest;
    let len = |r: &mut &[u8]| -> Option<usize> {
        let (&b, tail) = r.split_first()?;
        *r = tail;
        if b != 0xff {
            return Some(usize::from(b));
        }
        let (hi_lo, tail) = r.split_at_checked(2)?;
        *r = tail;
        Some(usize::from(u16::from_be_bytes([hi_lo[0], hi_lo[1]])))
    };
    while let (Some(kl), Some(dl)) = (len(&mut r), len(&mut r)) {
        let Some((k, tail)) = r.split_at_checked(kl) else {
            break;
        };
        let Some((d, tail)) = tail.split_at_checked(dl) else {
            break;
        };
        records.push((k, d));
        r = tail;
    }
    let mut w = cdb::Writer::new();
    for (k, d) in &records {
        w.add(k, d).expect("far from 4 GiB");
    }
    let bytes = w.finish().expect("far from 4 GiB");
    let reader = cdb::Reader::new(&bytes[..]).expect("our writer's output opens");
    assert_eq!(
        reader.records().expect("our writer's records read"),
        records
    );
    let mut first = HashMap::new();
    for (k, d) in &records {
        first.entry(*k).or_insert(*d);
    }
    for (i, (k, d)) in records.iter().enumerate() {
        assert_eq!(reader.get(k).unwrap(), Some(first[k]), "record {i}");
        // A key that is not there is not found.
        let mut absent = k.to_vec();
        absent.push(0xa5);
        if !first.contains_key(&absent[..]) {
            assert_eq!(reader.get(&absent).unwrap(), None);
        }
        // Rules: decoding never panics, and what decodes re-encodes to
        // data that decodes the same.
        if let Ok(Some(rule)) = decode_rule(d) {
            let again = encode_rule(&rule).expect("a decoded rule fits");
            assert_eq!(decode_rule(&again), Ok(Some(rule)));
        }
    }
    // Cut anywhere, the file is refused: the tables come last and the
    // last non-empty one ends the file (with no record, the header does).
    if let Some(&cut) = rest.first() {
        let cut = usize::from(cut) * bytes.len() / 256;
        assert!(
            cdb::Reader::new(&bytes[..cut]).is_err(),
            "cut at {cut} of {}",
            bytes.len()
        );
    }
}

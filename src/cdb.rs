//! D. J. Bernstein's constant database (cdb), read and written in memory.
//!
//! The format, all integers 32-bit little-endian:
//!
//! - a 2048-byte header: 256 pairs `(pos, len)`, one per hash table;
//! - the records, from offset 2048: `klen dlen key data`;
//! - the 256 hash tables, table `i` at `pos` with `len` slots of 8 bytes
//!   `(hash, recpos)`; a slot whose `recpos` is 0 is empty.
//!
//! A key's hash is `h = 5381; h = ((h << 5) + h) ^ byte` (wrapping). It is
//! looked up in table `h & 255`, starting at slot `(h >> 8) % len` and going
//! round until an empty slot. The writer keeps each table twice as large as
//! its number of entries, as cdbmake does, so every table has empty slots.
//!
//! Every offset read from a file is checked against the file's length, so
//! a truncated or corrupt database gives [`Corrupt`], never a panic.

use std::fmt;

const HEADER: usize = 2048;

/// The database is damaged: an offset or a length points outside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Corrupt(pub &'static str);

impl fmt::Display for Corrupt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid cdb: {}", self.0)
    }
}

impl std::error::Error for Corrupt {}

/// The cdb hash of `key`.
pub fn hash(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        (h.wrapping_shl(5).wrapping_add(h)) ^ u32::from(c)
    })
}

fn u32_at(bytes: &[u8], pos: usize, what: &'static str) -> Result<u32, Corrupt> {
    let end = pos.checked_add(4).ok_or(Corrupt(what))?;
    let b = bytes.get(pos..end).ok_or(Corrupt(what))?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn slice<'a>(
    bytes: &'a [u8],
    pos: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], Corrupt> {
    let end = pos.checked_add(len).ok_or(Corrupt(what))?;
    bytes.get(pos..end).ok_or(Corrupt(what))
}

/// A database held in memory.
/// A record: its key and its data.
pub type Record<'a> = (&'a [u8], &'a [u8]);

pub struct Reader<B: AsRef<[u8]>> {
    bytes: B,
}

impl<B: AsRef<[u8]>> Reader<B> {
    /// Checks the header, and that every hash table lies inside the file:
    /// writers put the tables last, so a file cut anywhere fails here.
    /// Records are checked as they are read.
    pub fn new(bytes: B) -> Result<Self, Corrupt> {
        let b = bytes.as_ref();
        if b.len() < HEADER {
            return Err(Corrupt("file shorter than the 2048-byte header"));
        }
        let eod = u32_at(b, 0, "header")? as usize;
        if eod < HEADER || eod > b.len() {
            return Err(Corrupt("end of records out of bounds"));
        }
        for t in 0..256 {
            let pos = u32_at(b, t * 8, "header")? as usize;
            let len = u32_at(b, t * 8 + 4, "header")? as usize;
            if len == 0 {
                continue;
            }
            let size = len.checked_mul(8).ok_or(Corrupt("hash table too large"))?;
            if pos < HEADER {
                return Err(Corrupt("hash table inside the header"));
            }
            slice(b, pos, size, "hash table out of bounds")?;
        }
        Ok(Reader { bytes })
    }

    /// One record: its key and data, and where the next record starts.
    fn record(&self, pos: usize) -> Result<(&[u8], &[u8], usize), Corrupt> {
        let b = self.bytes.as_ref();
        let klen = u32_at(b, pos, "record header out of bounds")? as usize;
        let dlen = u32_at(b, pos + 4, "record header out of bounds")? as usize;
        let key = slice(b, pos + 8, klen, "record key out of bounds")?;
        let data = slice(b, pos + 8 + klen, dlen, "record data out of bounds")?;
        Ok((key, data, pos + 8 + klen + dlen))
    }

    /// The data of the first record whose key is `key`.
    pub fn get(&self, key: &[u8]) -> Result<Option<&[u8]>, Corrupt> {
        let b = self.bytes.as_ref();
        let h = hash(key);
        let slot = (h & 255) as usize * 8;
        let tpos = u32_at(b, slot, "header")? as usize;
        let tlen = u32_at(b, slot + 4, "header")? as usize;
        if tlen == 0 {
            return Ok(None);
        }
        let tbytes = tlen.checked_mul(8).ok_or(Corrupt("hash table too large"))?;
        slice(b, tpos, tbytes, "hash table out of bounds")?;
        let start = (h >> 8) as usize % tlen;
        for i in 0..tlen {
            let s = tpos + ((start + i) % tlen) * 8;
            let sh = u32_at(b, s, "hash table out of bounds")?;
            let rpos = u32_at(b, s + 4, "hash table out of bounds")? as usize;
            if rpos == 0 {
                return Ok(None);
            }
            if sh != h {
                continue;
            }
            if rpos < HEADER {
                return Err(Corrupt("record inside the header"));
            }
            let (k, d, _) = self.record(rpos)?;
            if k == key {
                return Ok(Some(d));
            }
        }
        Ok(None)
    }

    /// Every record, in file order.
    pub fn records(&self) -> Result<Vec<Record<'_>>, Corrupt> {
        let b = self.bytes.as_ref();
        // The records end where the first hash table begins.
        let eod = u32_at(b, 0, "header")? as usize;
        if eod < HEADER || eod > b.len() {
            return Err(Corrupt("end of records out of bounds"));
        }
        let mut out = Vec::new();
        let mut pos = HEADER;
        while pos < eod {
            let (k, d, next) = self.record(pos)?;
            if next > eod {
                return Err(Corrupt("record runs into the hash tables"));
            }
            out.push((k, d));
            pos = next;
        }
        Ok(out)
    }
}

/// Builds a database in memory, as cdbmake does.
#[derive(Default)]
pub struct Writer {
    records: Vec<u8>,
    /// (hash, position of the record) for every record added.
    entries: Vec<(u32, u32)>,
}

/// The database would pass the 4 GiB that 32-bit offsets can address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooBig;

impl fmt::Display for TooBig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cdb too big (over 4 GiB)")
    }
}

impl std::error::Error for TooBig {}

fn to_u32(n: usize) -> Result<u32, TooBig> {
    u32::try_from(n).map_err(|_| TooBig)
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn add(&mut self, key: &[u8], data: &[u8]) -> Result<(), TooBig> {
        let pos = to_u32(HEADER + self.records.len())?;
        to_u32(HEADER + self.records.len() + 8 + key.len() + data.len())?;
        self.records
            .extend_from_slice(&to_u32(key.len())?.to_le_bytes());
        self.records
            .extend_from_slice(&to_u32(data.len())?.to_le_bytes());
        self.records.extend_from_slice(key);
        self.records.extend_from_slice(data);
        self.entries.push((hash(key), pos));
        Ok(())
    }

    /// The complete database.
    pub fn finish(self) -> Result<Vec<u8>, TooBig> {
        let mut by_table: Vec<Vec<(u32, u32)>> = vec![Vec::new(); 256];
        for &(h, pos) in &self.entries {
            by_table[(h & 255) as usize].push((h, pos));
        }
        let mut header = Vec::with_capacity(HEADER);
        let mut tables = Vec::new();
        let mut tpos = HEADER + self.records.len();
        for entries in &by_table {
            let len = entries.len() * 2;
            header.extend_from_slice(&to_u32(tpos)?.to_le_bytes());
            header.extend_from_slice(&to_u32(len)?.to_le_bytes());
            let mut slots = vec![(0u32, 0u32); len];
            for &(h, pos) in entries {
                let mut i = (h >> 8) as usize % len;
                while slots[i].1 != 0 {
                    i = (i + 1) % len;
                }
                slots[i] = (h, pos);
            }
            for (h, pos) in slots {
                tables.extend_from_slice(&h.to_le_bytes());
                tables.extend_from_slice(&pos.to_le_bytes());
            }
            tpos += len * 8;
        }
        to_u32(tpos)?;
        let mut out = header;
        out.extend_from_slice(&self.records);
        out.extend_from_slice(&tables);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
        let mut w = Writer::new();
        for (k, d) in pairs {
            w.add(k, d).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn hash_matches_djb() {
        assert_eq!(hash(b""), 5381);
        // ((5381 << 5) + 5381) ^ 'a' = 177573 ^ 97
        assert_eq!(hash(b"a"), 177604);
        assert_eq!(hash(b"ip4/0.0.0.0_0"), {
            let mut h: u32 = 5381;
            for &c in b"ip4/0.0.0.0_0" {
                h = (h << 5).wrapping_add(h) ^ u32::from(c);
            }
            h
        });
    }

    #[test]
    fn round_trip_many_keys() {
        let keys: Vec<Vec<u8>> = (0..1000).map(|i| format!("key{i}").into_bytes()).collect();
        let mut w = Writer::new();
        for (i, k) in keys.iter().enumerate() {
            w.add(k, format!("value{i}").as_bytes()).unwrap();
        }
        let bytes = w.finish().unwrap();
        let r = Reader::new(&bytes[..]).unwrap();
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(r.get(k).unwrap(), Some(format!("value{i}").as_bytes()));
        }
        assert_eq!(r.get(b"absent").unwrap(), None);
        assert_eq!(r.records().unwrap().len(), 1000);
        assert_eq!(r.records().unwrap()[7], (&b"key7"[..], &b"value7"[..]));
    }

    #[test]
    fn empty_database_is_header_only() {
        let bytes = build(&[]);
        assert_eq!(bytes.len(), 2048);
        let r = Reader::new(&bytes[..]).unwrap();
        assert_eq!(r.get(b"x").unwrap(), None);
        assert!(r.records().unwrap().is_empty());
    }

    /// The layout written by hand from the format description, not by our
    /// writer: one record "k" -> "v" and its one-slot-in-two table.
    #[test]
    fn reads_a_hand_built_file() {
        let h = hash(b"k");
        let t = (h & 255) as usize;
        let rec_end = 2048 + 8 + 1 + 1;
        let mut f = vec![0u8; 2048];
        for i in 0..256 {
            let len = if i == t { 2u32 } else { 0 };
            let tpos = if i <= t { rec_end } else { rec_end + 16 } as u32;
            f[i * 8..i * 8 + 4].copy_from_slice(&tpos.to_le_bytes());
            f[i * 8 + 4..i * 8 + 8].copy_from_slice(&len.to_le_bytes());
        }
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(&1u32.to_le_bytes());
        f.extend_from_slice(b"kv");
        let mut slots = [[0u8; 8]; 2];
        let s = (h >> 8) as usize % 2;
        slots[s][..4].copy_from_slice(&h.to_le_bytes());
        slots[s][4..].copy_from_slice(&2048u32.to_le_bytes());
        f.extend_from_slice(&slots[0]);
        f.extend_from_slice(&slots[1]);
        assert_eq!(f, build(&[(b"k", b"v")]), "our writer lays it out the same");
        let r = Reader::new(&f[..]).unwrap();
        assert_eq!(r.get(b"k").unwrap(), Some(&b"v"[..]));
        assert_eq!(r.records().unwrap(), vec![(&b"k"[..], &b"v"[..])]);
    }

    #[test]
    fn truncation_anywhere_is_an_error_not_a_panic() {
        let bytes = build(&[(b"alpha", b"one"), (b"beta", b"two"), (b"gamma", b"3")]);
        for cut in 0..bytes.len() {
            assert!(Reader::new(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(Reader::new(&bytes[..]).is_ok());
    }

    /// Fails at open or at the lookup, without panicking.
    fn fails(bytes: &[u8], key: &[u8]) -> bool {
        Reader::new(bytes)
            .and_then(|r| r.get(key).map(|_| ()))
            .is_err()
    }

    #[test]
    fn corrupt_offsets_are_errors() {
        let good = build(&[(b"key", b"data")]);
        let t = (hash(b"key") & 255) as usize;
        // A table position past the end.
        let mut bad = good.clone();
        bad[t * 8..t * 8 + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(fails(&bad, b"key"));
        // A huge table length.
        let mut bad = good.clone();
        bad[t * 8 + 4..t * 8 + 8].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(fails(&bad, b"key"));
        // A record whose data length runs past the end.
        let mut bad = good.clone();
        bad[2052..2056].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(Reader::new(&bad[..]).unwrap().get(b"key").is_err());
        assert!(Reader::new(&bad[..]).unwrap().records().is_err());
        // An end-of-records pointer inside the header.
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&10u32.to_le_bytes());
        assert!(Reader::new(&bad[..]).is_err());
        // A slot pointing into the header.
        let mut bad = good.clone();
        let tpos = u32::from_le_bytes(good[t * 8..t * 8 + 4].try_into().unwrap()) as usize;
        for s in 0..2 {
            let p = tpos + s * 8 + 4;
            if bad[p..p + 4] != [0, 0, 0, 0] {
                bad[p..p + 4].copy_from_slice(&8u32.to_le_bytes());
            }
        }
        assert!(Reader::new(&bad[..]).unwrap().get(b"key").is_err());
        // Random garbage never panics.
        let mut x: u32 = 12345;
        for _ in 0..200 {
            let mut g = vec![0u8; 2048 + 64];
            for b in g.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            if let Ok(r) = Reader::new(&g[..]) {
                let _ = r.get(b"key");
                let _ = r.records();
            }
        }
    }
}

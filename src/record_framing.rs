//! Where the TLS records begin and end in a stream of ciphertext, from
//! their 5-byte headers alone, whatever the backend.
//!
//! The loop uses it to tell a clean EOF from one in the middle of a record;
//! the rustls backend uses it to hand rustls whole records, so that rustls
//! never shifts a partial record to the front of its buffer (on musl that
//! copy, source equal to destination, takes memmove's byte-by-byte path).

const HEADER: usize = 5;

#[derive(Debug, Default, Clone)]
pub struct RecordFraming {
    header: [u8; HEADER],
    header_len: usize,
    body_left: usize,
}

impl RecordFraming {
    /// Follows the stream through `data`; returns how many boundaries it
    /// crossed: ends of a header, ends of a record.
    pub fn advance(&mut self, mut data: &[u8]) -> usize {
        let mut crossed = 0;
        while !data.is_empty() {
            if self.body_left > 0 {
                let n = self.body_left.min(data.len());
                self.body_left -= n;
                data = &data[n..];
                if self.body_left == 0 {
                    crossed += 1;
                }
                continue;
            }
            let n = (HEADER - self.header_len).min(data.len());
            self.header[self.header_len..self.header_len + n].copy_from_slice(&data[..n]);
            self.header_len += n;
            data = &data[n..];
            if self.header_len == HEADER {
                self.body_left = u16::from_be_bytes([self.header[3], self.header[4]]) as usize;
                self.header_len = 0;
                crossed += 1;
            }
        }
        crossed
    }

    /// Whether the stream stops inside a record.
    pub fn mid_record(&self) -> bool {
        self.header_len > 0 || self.body_left > 0
    }

    /// Whether the stream stops inside a record's body.
    pub fn in_body(&self) -> bool {
        self.body_left > 0
    }

    /// How many of the first bytes of `data` reach the next boundary (the
    /// end of the header or of the record under way): `data.len()` when
    /// they do not reach it.
    pub fn to_boundary(&self, data: &[u8]) -> usize {
        let left = if self.body_left > 0 {
            self.body_left
        } else {
            HEADER - self.header_len
        };
        left.min(data.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(len: usize) -> Vec<u8> {
        let mut r = vec![23, 3, 3, (len >> 8) as u8, len as u8];
        r.resize(HEADER + len, 0xaa);
        r
    }

    #[test]
    fn counts_boundaries_across_any_split() {
        let stream: Vec<u8> = [record(3), record(0), record(300), record(16401)].concat();
        for cut in 0..stream.len().min(400) {
            let mut f = RecordFraming::default();
            let n = f.advance(&stream[..cut]) + f.advance(&stream[cut..]);
            // A header end and a record end each, but one for the empty record.
            assert_eq!(n, 7, "cut at {cut}");
            assert!(!f.mid_record());
        }
    }

    #[test]
    fn to_boundary_stops_at_header_and_record_ends() {
        let stream: Vec<u8> = [record(10), record(20)].concat();
        let mut f = RecordFraming::default();
        assert_eq!(f.to_boundary(&stream), 5);
        assert_eq!(f.to_boundary(&stream[..3]), 3);
        assert_eq!(f.advance(&stream[..3]), 0);
        assert_eq!(f.to_boundary(&stream[3..]), 2);
        assert_eq!(f.advance(&stream[3..8]), 1);
        assert!(f.in_body());
        assert_eq!(f.to_boundary(&stream[8..]), 7);
        assert_eq!(f.advance(&stream[8..16]), 1);
        assert!(f.mid_record() && !f.in_body());
        assert_eq!(f.to_boundary(&stream[16..]), 4);
    }
}

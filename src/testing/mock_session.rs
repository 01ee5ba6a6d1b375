//! A stand-in TLS session with TLS record framing and no cryptography.
//!
//! The handshake is one record of type 22 carrying `HS` each way; data
//! travels in type 23 records, in clear; close_notify is an alert record
//! (type 21, `[1, 0]`). Buffers are bounded like a real backend's, so the
//! loop meets back-pressure.

use crate::backend::{Cleartext, HandshakeInfo, TlsError, TlsSession};
use std::collections::VecDeque;

pub const HANDSHAKE: u8 = 22;
pub const DATA: u8 = 23;
pub const ALERT: u8 = 21;
/// Largest record payload the mock writes.
pub const MAX_PAYLOAD: usize = 300;
const PLAIN_LIMIT: usize = 1024;
const CIPHER_LIMIT: usize = 1024;

/// Frames `payload` as one record.
pub fn record(kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut r = vec![kind, 3, 3];
    r.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    r.extend_from_slice(payload);
    r
}

/// What a peer sends: its handshake, `data` in records of at most `chunk`
/// bytes, and a close_notify if asked.
pub fn peer_stream(data: &[u8], chunk: usize, close_notify: bool) -> Vec<u8> {
    let mut s = record(HANDSHAKE, b"HS");
    for c in data.chunks(chunk.clamp(1, MAX_PAYLOAD)) {
        s.extend(record(DATA, c));
    }
    if close_notify {
        s.extend(record(ALERT, &[1, 0]));
    }
    s
}

/// Splits a stream of records; returns (records, leftover bytes).
pub fn parse_records(mut s: &[u8]) -> (Vec<(u8, Vec<u8>)>, usize) {
    let mut out = Vec::new();
    while s.len() >= 5 {
        let len = u16::from_be_bytes([s[3], s[4]]) as usize;
        if s.len() < 5 + len {
            break;
        }
        out.push((s[0], s[5..5 + len].to_vec()));
        s = &s[5 + len..];
    }
    (out, s.len())
}

#[derive(Default)]
pub struct MockSession {
    handshake_done: bool,
    /// The record being received.
    partial: Vec<u8>,
    plain_in: VecDeque<u8>,
    peer_closed: bool,
    cipher_out: VecDeque<u8>,
    sent_close: bool,
}

impl MockSession {
    pub fn new() -> Self {
        let mut s = MockSession::default();
        s.cipher_out.extend(record(HANDSHAKE, b"HS"));
        s
    }

    fn complete_record(&self) -> Option<(u8, usize)> {
        if self.partial.len() < 5 {
            return None;
        }
        let len = u16::from_be_bytes([self.partial[3], self.partial[4]]) as usize;
        (self.partial.len() == 5 + len).then_some((self.partial[0], len))
    }

    fn wanted_bytes(&self) -> usize {
        if self.partial.len() < 5 {
            5 - self.partial.len()
        } else {
            let len = u16::from_be_bytes([self.partial[3], self.partial[4]]) as usize;
            5 + len - self.partial.len()
        }
    }
}

impl TlsSession for MockSession {
    fn feed_ciphertext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        let mut taken = 0;
        while taken < data.len() && self.wants_ciphertext() {
            let n = self.wanted_bytes().min(data.len() - taken);
            self.partial.extend_from_slice(&data[taken..taken + n]);
            taken += n;
            if self.partial.len() == 5 {
                let len = u16::from_be_bytes([self.partial[3], self.partial[4]]) as usize;
                if len > MAX_PAYLOAD {
                    return Err(TlsError("record too long".into()));
                }
            }
            let Some((kind, len)) = self.complete_record() else {
                continue;
            };
            let payload: Vec<u8> = self.partial.drain(..).skip(5).collect();
            match (kind, self.handshake_done) {
                (HANDSHAKE, false) if payload == b"HS" => self.handshake_done = true,
                (DATA, true) => self.plain_in.extend(payload),
                (ALERT, true) if payload == [1, 0] => self.peer_closed = true,
                _ => {
                    return Err(TlsError(format!(
                        "unexpected record type {kind} of {len} bytes"
                    )));
                }
            }
        }
        Ok(taken)
    }

    fn wants_ciphertext(&self) -> bool {
        !self.peer_closed && self.plain_in.len() + MAX_PAYLOAD <= PLAIN_LIMIT
    }

    fn has_ciphertext(&self) -> bool {
        !self.cipher_out.is_empty()
    }

    fn take_ciphertext(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.cipher_out.len());
        for (d, s) in buf.iter_mut().zip(self.cipher_out.drain(..n)) {
            *d = s;
        }
        n
    }

    fn accepts_cleartext(&self) -> bool {
        self.handshake_done && !self.sent_close
    }

    fn put_cleartext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        if !self.accepts_cleartext() {
            return Err(TlsError("cleartext refused".into()));
        }
        let room = CIPHER_LIMIT.saturating_sub(self.cipher_out.len());
        if room <= 5 {
            return Ok(0);
        }
        let n = data.len().min(room - 5).min(MAX_PAYLOAD);
        self.cipher_out.extend(record(DATA, &data[..n]));
        Ok(n)
    }

    fn take_cleartext(&mut self, buf: &mut [u8]) -> Result<Cleartext, TlsError> {
        if self.plain_in.is_empty() {
            return Ok(if self.peer_closed {
                Cleartext::Closed
            } else {
                Cleartext::Empty
            });
        }
        let n = buf.len().min(self.plain_in.len());
        for (d, s) in buf.iter_mut().zip(self.plain_in.drain(..n)) {
            *d = s;
        }
        Ok(Cleartext::Data(n))
    }

    fn is_handshaking(&self) -> bool {
        !self.handshake_done
    }

    fn send_close_notify(&mut self) {
        if !self.sent_close {
            self.sent_close = true;
            self.cipher_out.extend(record(ALERT, &[1, 0]));
        }
    }

    fn handshake_info(&self) -> HandshakeInfo {
        HandshakeInfo {
            protocol: "MOCKv1".into(),
            cipher: "NULL".into(),
            ..Default::default()
        }
    }
}

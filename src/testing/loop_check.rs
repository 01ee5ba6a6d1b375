//! One scripted run of the engine loop with every invariant checked: what
//! came out on each side is what went in on the other (a prefix of it when
//! the run ended early), the exit code is the one the specification names,
//! and the number of polls is bounded by the work done.

use super::mock_session::{self, ALERT, DATA, MockSession, parse_records};
use super::scripted_ports::ScriptedPorts;
use crate::backend::TlsSession;
use crate::fatal::code;
use crate::io_loop::{self, Settings};

/// How the peer's stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerEnd {
    CloseNotify,
    PlainEof,
    /// EOF inside a record.
    Truncated,
    /// EOF before the handshake completes.
    DuringHandshake,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub up: Vec<u8>,
    pub down: Vec<u8>,
    pub chunk: usize,
    pub end: PeerEnd,
    pub send_close_notify: bool,
    pub enforce_close_notify: bool,
    /// The app stops reading after this many bytes.
    pub app_reader_limit: Option<usize>,
    pub script: Vec<u8>,
}

impl Case {
    /// Builds a case from arbitrary bytes (the fuzzer's input).
    pub fn from_bytes(b: &[u8]) -> Option<Case> {
        if b.len() < 6 {
            return None;
        }
        let flags = b[0];
        let up_len = u16::from_le_bytes([b[1], b[2]]) as usize % 4096;
        let down_len = u16::from_le_bytes([b[3], b[4]]) as usize % 4096;
        let chunk = 1 + b[5] as usize;
        let end = match flags & 3 {
            0 => PeerEnd::CloseNotify,
            1 => PeerEnd::PlainEof,
            2 => PeerEnd::Truncated,
            _ => PeerEnd::DuringHandshake,
        };
        let app_reader_limit = (flags & 0x10 != 0).then_some(down_len / 2);
        Some(Case {
            up: (0..up_len).map(|i| (i * 7 + 3) as u8).collect(),
            down: (0..down_len).map(|i| (i * 13 + 5) as u8).collect(),
            chunk,
            end,
            send_close_notify: flags & 4 != 0,
            enforce_close_notify: flags & 8 != 0,
            app_reader_limit,
            script: b[6..].to_vec(),
        })
    }
}

/// Runs `case`; panics with a description on any broken invariant.
pub fn check(case: &Case) {
    let mut net =
        mock_session::peer_stream(&case.down, case.chunk, case.end == PeerEnd::CloseNotify);
    match case.end {
        PeerEnd::Truncated => {
            // Cut inside the last data record, or inside the handshake.
            net.truncate(
                net.len()
                    .saturating_sub(1 + case.chunk.min(case.down.len()).min(3)),
            );
        }
        PeerEnd::DuringHandshake => net.truncate(4),
        _ => {}
    }
    let mut ports = ScriptedPorts::new(case.script.clone(), case.up.clone(), net.clone());
    ports.app_reader_limit = case.app_reader_limit;
    let mut session = MockSession::new();
    let settings = Settings {
        send_close_notify: case.send_close_notify,
        enforce_close_notify: case.enforce_close_notify,
        handshake_timeout: None,
    };
    let mut handshakes = 0;
    let result = io_loop::run(&mut session, &mut ports, &settings, &mut |_| {
        handshakes += 1;
        Ok(())
    });

    // Never more than one notification, and only after a handshake.
    assert!(handshakes <= 1);
    // What reached the app is always a prefix of what the peer sent.
    assert!(
        case.down.starts_with(&ports.app_sink),
        "app received bytes the peer did not send"
    );
    // What reached the network is our handshake then records of a prefix
    // of the app's data, and nothing after a close_notify.
    let (records, _) = parse_records(&ports.net_sink);
    let mut sent = Vec::new();
    let mut closed = false;
    for (i, (kind, payload)) in records.iter().enumerate() {
        assert!(!closed, "record after close_notify");
        match *kind {
            k if i == 0 => assert_eq!(k, mock_session::HANDSHAKE),
            DATA => sent.extend_from_slice(payload),
            ALERT => closed = true,
            k => panic!("unexpected record type {k}"),
        }
    }
    assert!(
        case.up.starts_with(&sent),
        "network received bytes the app did not send"
    );
    // Polls are bounded by the work: every poll follows a blocked call.
    let bound = 16 + 4 * (case.script.len() + case.up.len() + net.len());
    assert!(
        ports.polls <= bound,
        "{} polls for bounded work: spinning",
        ports.polls
    );

    let expect_error = match case.end {
        PeerEnd::DuringHandshake | PeerEnd::Truncated => true,
        PeerEnd::PlainEof => case.enforce_close_notify,
        PeerEnd::CloseNotify => false,
    };
    // The app stopping to read ends the down direction early: the loop
    // stops reading the network, so it never judges the peer's ending.
    let app_gone = case.app_reader_limit.is_some_and(|l| l < case.down.len());
    match result {
        Ok(()) => {
            assert!(
                !expect_error || app_gone,
                "clean end where an error was due: {case:?}"
            );
            assert_eq!(handshakes, 1);
            assert_eq!(sent, case.up, "app data lost on the way to the network");
            assert_eq!(closed, case.send_close_notify, "close_notify sent iff -S");
            assert!(
                ports.closed[1] && ports.closed[3],
                "both write sides closed at the end"
            );
            if !app_gone {
                assert_eq!(
                    ports.app_sink, case.down,
                    "peer data lost on the way to the app"
                );
            }
        }
        Err(f) => {
            assert!(expect_error, "unexpected error {f:?} for {case:?}");
            assert_eq!(f.code, code::TLS_RUN, "{f:?}");
        }
    }
    let _ = session.is_handshaking();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        }
    }

    #[test]
    fn thousands_of_scripted_runs_keep_every_invariant() {
        for seed in 0..3000u64 {
            let mut r = rng(seed);
            let len = (r() % 200) as usize;
            let bytes: Vec<u8> = (0..6 + len).map(|_| r() as u8).collect();
            if let Some(case) = Case::from_bytes(&bytes) {
                check(&case);
            }
        }
    }

    #[test]
    fn every_peer_ending_with_and_without_enforcement() {
        for end in [
            PeerEnd::CloseNotify,
            PeerEnd::PlainEof,
            PeerEnd::Truncated,
            PeerEnd::DuringHandshake,
        ] {
            for (s, j) in [(false, false), (true, false), (false, true), (true, true)] {
                check(&Case {
                    up: (0..5000).map(|i| i as u8).collect(),
                    down: (0..7000).map(|i| (i / 3) as u8).collect(),
                    chunk: 200,
                    end,
                    send_close_notify: s,
                    enforce_close_notify: j,
                    app_reader_limit: None,
                    script: vec![50, 10, 200, 0, 100, 30, 170, 5],
                });
            }
        }
    }

    #[test]
    fn zero_bytes_both_ways() {
        check(&Case {
            up: vec![],
            down: vec![],
            chunk: 1,
            end: PeerEnd::PlainEof,
            send_close_notify: false,
            enforce_close_notify: false,
            app_reader_limit: None,
            script: vec![],
        });
    }

    /// A busy app's records leave in a few large writes, which a pacing
    /// TCP needs (`io_loop::NET_OUT_BUF`), and in order.
    #[test]
    fn the_records_of_several_app_reads_leave_in_one_write() {
        let up: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
        let net = mock_session::peer_stream(&[], 1, true);
        let mut ports = ScriptedPorts::new(vec![], up.clone(), net);
        let mut session = MockSession::new();
        io_loop::run(&mut session, &mut ports, &Settings::default(), &mut |_| {
            Ok(())
        })
        .unwrap();
        let (records, _) = parse_records(&ports.net_sink);
        let sent: Vec<u8> = records
            .iter()
            .filter(|(k, _)| *k == DATA)
            .flat_map(|(_, p)| p.clone())
            .collect();
        assert_eq!(sent, up);
        // The handshake, then the data in gathers of at least three reads.
        let data_writes = &ports.net_writes[1..];
        assert!(data_writes.len() <= 6, "{:?}", ports.net_writes);
        let (last, full) = data_writes.split_last().unwrap();
        assert!(
            full.iter().all(|&n| n >= 3 * io_loop::CLEAR_BUF),
            "{data_writes:?}"
        );
        assert!(*last > 0);
    }

    /// A backend that holds little decrypted at a time (the mock 1 KiB,
    /// rustls 16 KiB) still has a whole read of ciphertext reach the app
    /// in one or two writes rather than one per record or two: every
    /// write to a pipe wakes its reader.
    #[test]
    fn the_records_of_one_network_read_reach_the_app_together() {
        let down: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 253) as u8).collect();
        let net = mock_session::peer_stream(&down, mock_session::MAX_PAYLOAD, true);
        let reads = net.len().div_ceil(io_loop::CIPHER_BUF);
        let mut ports = ScriptedPorts::new(vec![], vec![], net);
        let mut session = MockSession::new();
        io_loop::run(&mut session, &mut ports, &Settings::default(), &mut |_| {
            Ok(())
        })
        .unwrap();
        assert_eq!(ports.app_sink, down);
        let writes = &ports.app_writes;
        assert!(
            writes.len() <= 2 * reads + 1,
            "{reads} reads, writes {writes:?}"
        );
        let full = writes.iter().filter(|&&n| n == io_loop::CLEAR_BUF).count();
        assert!(full + 1 >= reads, "{reads} reads, writes {writes:?}");
    }
}

//! A relay between our two engines that damages the server's stream after
//! the handshake: a flipped byte or a cut in the middle of a record must
//! end the client engine with 98 and one clean line, never a panic, and
//! never pass damaged bytes to the app.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

/// Copies `from` to `to`; `damage` may change the stream: it gets the
/// offset of each chunk and the chunk, and returns false to cut there.
fn relay(
    mut from: TcpStream,
    mut to: TcpStream,
    mut damage: impl FnMut(usize, &mut Vec<u8>) -> bool + Send + 'static,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut off = 0;
        let mut buf = vec![0u8; 4096];
        loop {
            let n = match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut chunk = buf[..n].to_vec();
            let go_on = damage(off, &mut chunk);
            off += n;
            if to.write_all(&chunk).is_err() || !go_on {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    })
}

/// The server app sends `n` bytes; the relay damages server-to-client
/// traffic. Returns the client engine's code, stderr and what its app got.
fn download_through(
    n: usize,
    client_opts: &[&str],
    damage: impl FnMut(usize, &mut Vec<u8>) -> bool + Send + 'static,
) -> (i32, String, Vec<u8>) {
    let pki = Pki::new();
    let (c, r1) = tcp_pair();
    let (r2, s) = tcp_pair();
    let _up = relay(r1.try_clone().unwrap(), r2.try_clone().unwrap(), |_, _| {
        true
    });
    let _down = relay(r2, r1, damage);
    let mut srv = Engine::server(&pki, s, &[], &[]);
    let mut copts = vec!["-k", "localhost"];
    copts.extend_from_slice(client_opts);
    let mut cli = Engine::client(&pki, c, &copts, &[]);
    let got = cli.receive();
    let _ = srv.send(data(n, 60));
    drop(cli.input.take());
    let got = join(got, LIMIT);
    let (code, err) = cli.finish();
    assert!(!err.contains("panicked"), "{err}");
    (code, err, got)
}

#[test]
fn a_flipped_byte_is_a_tls_error() {
    let want = data(200_000, 60);
    // Well past the handshake (a few KB at most).
    let (code, err, got) = download_through(want.len(), &[], |off, chunk| {
        let at = 100_000;
        if off <= at && at < off + chunk.len() {
            chunk[at - off] ^= 0x20;
        }
        true
    });
    assert_eq!(code, 98, "{err}");
    assert_clean_failure(&err, "s6-tlsc-io", "TLS error");
    // Whatever reached the app is a prefix of what was sent: no damaged byte.
    assert!(got.len() < want.len());
    assert_same(&got, &want[..got.len()], "delivered prefix");
}

#[test]
fn a_cut_in_the_middle_of_a_record_is_fatal_even_without_j() {
    let want = data(200_000, 60);
    // Follow the record framing, and cut 10 bytes into the first record
    // that starts after 100 000 bytes.
    let mut seen = Vec::new();
    let mut next = 0usize;
    let mut cut: Option<usize> = None;
    let (code, err, got) = download_through(want.len(), &["-j"], move |off, chunk| {
        seen.extend_from_slice(chunk);
        while cut.is_none() && next + 5 <= seen.len() {
            if next > 100_000 {
                cut = Some(next + 10);
            } else {
                next += 5 + usize::from(u16::from_be_bytes([seen[next + 3], seen[next + 4]]));
            }
        }
        match cut {
            Some(at) if off + chunk.len() > at => {
                chunk.truncate(at - off);
                false
            }
            _ => true,
        }
    });
    assert_eq!(code, 98, "{err}");
    assert_clean_failure(&err, "s6-tlsc-io", "in the middle of a record");
    assert!(got.len() < want.len());
    assert_same(&got, &want[..got.len()], "delivered prefix");
}

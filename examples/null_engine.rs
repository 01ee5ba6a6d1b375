//! The benchmark's ceiling: our engine with the cipher taken out.
//!
//! Installed under the names `s6-tlsc-io` and `s6-tlsd-io` in a directory
//! of copies of the real programs (bench/compare.py does this; copies,
//! because a program finds its siblings next to its resolved executable),
//! it runs in the real chain: `s6-tlsclient` → `s6-tlsc` → this, and the same on
//! the server side, with the same fds, the same `io_loop` and its buffers.
//! Its session frames the data in records of up to 16 KiB, as TLS does,
//! and copies it in and out where rustls does (one copy into the session
//! and one out, each way), but encrypts nothing and has no handshake. What
//! the tunnel moves with it is what the tunnel's shape allows on the
//! machine: the four processes, the pipes, the sockets and the loop,
//! with no cryptography at all. Never for real use: nothing is protected.
//! (Not `s6_tls::testing`'s mock session, which moves bytes one at a time
//! through buffers of 1 KiB to put the loop under back-pressure.)
//!
//! With `NULL_ENGINE=relay` in its environment it goes further: after
//! an empty notification block it only relays, each direction read into
//! one buffer and written from it, no records and no copies (app data
//! gathered over up to three 64 KiB reads per network write, as the
//! loop does). That is the least any engine must do in this chain. (Not
//! `s6-ioconnect`, whose 16 KiB buffers, upstream's, would measure those.)
//!
//! Usage, as the engines: `s6-tlsc-io [ -d notif ] [ options ] -- fdr fdw`,
//! `s6-tlsd-io [ -d notif ] [ options ] -- fdr fdw`; other options are
//! accepted and ignored.

use s6_tls::backend::{Backend, Cleartext, HandshakeInfo, TlsBackend, TlsError, TlsSession};
use s6_tls::fatal::{self, Fatal};
use s6_tls::io_loop::FdPorts;
use s6_tls::tls_options::{Side, TlsOptions};
use s6_tls::{engine, notify_block, sys};
use std::ffi::OsString;
use std::os::fd::RawFd;

const DATA: u8 = 23;
const ALERT: u8 = 21;
const HEADER: usize = 5;
const MAX_PAYLOAD: usize = 16 * 1024;
/// What the session holds each way, as the rustls backend's limit.
const LIMIT: usize = 64 * 1024;

/// Bytes `start..` of `data` still to be taken.
#[derive(Default)]
struct Queue {
    data: Vec<u8>,
    start: usize,
}

impl Queue {
    fn pending(&self) -> &[u8] {
        &self.data[self.start..]
    }
    fn len(&self) -> usize {
        self.data.len() - self.start
    }
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.data.len() {
            self.data.clear();
            self.start = 0;
        }
    }
    fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.data.len() + bytes.len() > self.data.capacity() {
            self.data.drain(..self.start);
            self.start = 0;
        }
        self.data.extend_from_slice(bytes);
    }
}

#[derive(Default)]
struct NullSession {
    /// Records from the peer, as read.
    rx: Queue,
    /// What is left of the payload of the record being read out.
    body_left: usize,
    peer_closed: bool,
    /// Records to the peer.
    tx: Queue,
    sent_close: bool,
}

impl TlsSession for NullSession {
    fn feed_ciphertext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        if self.peer_closed {
            return Ok(data.len());
        }
        let n = data.len().min(LIMIT.saturating_sub(self.rx.len()));
        self.rx.push(&data[..n]);
        Ok(n)
    }

    fn wants_ciphertext(&self) -> bool {
        !self.peer_closed && self.rx.len() < LIMIT
    }

    fn has_ciphertext(&self) -> bool {
        self.tx.len() > 0
    }

    fn take_ciphertext(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.tx.len());
        buf[..n].copy_from_slice(&self.tx.pending()[..n]);
        self.tx.consume(n);
        n
    }

    fn accepts_cleartext(&self) -> bool {
        !self.sent_close
    }

    fn put_cleartext(&mut self, data: &[u8]) -> Result<usize, TlsError> {
        let room = LIMIT.saturating_sub(self.tx.len());
        if room <= HEADER {
            return Ok(0);
        }
        let n = data.len().min(MAX_PAYLOAD).min(room - HEADER);
        let len = (n as u16).to_be_bytes();
        self.tx.push(&[DATA, 3, 3, len[0], len[1]]);
        self.tx.push(&data[..n]);
        Ok(n)
    }

    fn take_cleartext(&mut self, buf: &mut [u8]) -> Result<Cleartext, TlsError> {
        let mut n = 0;
        while n < buf.len() && !self.peer_closed {
            if self.body_left == 0 {
                let p = self.rx.pending();
                if p.len() < HEADER {
                    break;
                }
                let len = usize::from(u16::from_be_bytes([p[3], p[4]]));
                match (p[0], len) {
                    (DATA, 1..=MAX_PAYLOAD) => self.body_left = len,
                    (ALERT, 2) if p.len() >= HEADER + 2 => {
                        self.peer_closed = true;
                        self.rx.consume(HEADER + 2);
                        break;
                    }
                    (ALERT, 2) => break,
                    (kind, len) => {
                        return Err(TlsError(format!(
                            "unexpected record: type {kind}, {len} bytes"
                        )));
                    }
                }
                self.rx.consume(HEADER);
            }
            let k = self.body_left.min(self.rx.len()).min(buf.len() - n);
            if k == 0 {
                break;
            }
            buf[n..n + k].copy_from_slice(&self.rx.pending()[..k]);
            self.rx.consume(k);
            self.body_left -= k;
            n += k;
        }
        Ok(match n {
            0 if self.peer_closed => Cleartext::Closed,
            0 => Cleartext::Empty,
            n => Cleartext::Data(n),
        })
    }

    fn is_handshaking(&self) -> bool {
        false
    }

    fn send_close_notify(&mut self) {
        if !self.sent_close {
            self.sent_close = true;
            self.tx.push(&[ALERT, 3, 3, 0, 2, 1, 0]);
        }
    }

    fn handshake_info(&self) -> HandshakeInfo {
        HandshakeInfo {
            protocol: "none".into(),
            cipher: "none".into(),
            ..HandshakeInfo::default()
        }
    }
}

fn main() {
    let args: Vec<OsString> = std::env::args_os().collect();
    let name = std::path::Path::new(&args[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let side = if name == "s6-tlsd-io" {
        Side::Server
    } else {
        Side::Client
    };
    fatal::run_main("null_engine", || {
        let usage = "null_engine [ -d notif ] [ options ] -- fdr fdw";
        let mut notif = None;
        if let Some(i) = args.iter().position(|a| a == "-d") {
            notif = Some(engine::fd_arg(
                args.get(i + 1).ok_or_else(|| Fatal::usage(usage))?,
                usage,
            )?);
        }
        if args.len() < 3 {
            return Err(Fatal::usage(usage));
        }
        let fdr = engine::fd_arg(&args[args.len() - 2], usage)?;
        let fdw = engine::fd_arg(&args[args.len() - 1], usage)?;
        sys::ignore_sigpipe();
        if std::env::var_os("NULL_ENGINE").is_some_and(|v| v == "relay") {
            let (app, net) = match side {
                Side::Client => ([0, 1], [fdr, fdw]),
                Side::Server => ([fdr, fdw], [0, 1]),
            };
            if let Some(fd) = notif {
                let info = NullSession::default().handshake_info();
                let block = notify_block::encode(&info, <Backend as TlsBackend>::sha256);
                let _ = rustix::io::write(sys::fd(fd), &block);
                sys::close(fd);
            }
            return relay(app, net).map(|()| 0);
        }
        let ports = match side {
            Side::Client => FdPorts::new(0, 1, fdr, fdw),
            Side::Server => FdPorts::new(fdr, fdw, 0, 1),
        }
        .map_err(|e| Fatal::sys("set fds non-blocking", e))?;
        engine::run(NullSession::default(), ports, &TlsOptions::new(side), notif)
    })
}

/// One direction of the relay: `src` read into `buf`, written to `dst`.
struct Flow {
    src: RawFd,
    dst: RawFd,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    done: bool,
}

const READ: usize = 64 * 1024;

impl Flow {
    fn new(src: RawFd, dst: RawFd, size: usize) -> Flow {
        Flow {
            src,
            dst,
            buf: vec![0; size],
            start: 0,
            end: 0,
            eof: false,
            done: false,
        }
    }

    /// Moves what can move without waiting; true if anything did.
    fn step(&mut self) -> Result<bool, Fatal> {
        use rustix::io::Errno;
        let mut moved = false;
        if self.start == self.end && !self.eof {
            self.start = 0;
            self.end = 0;
            while self.end + READ <= self.buf.len() {
                match rustix::io::read(sys::fd(self.src), &mut self.buf[self.end..self.end + READ])
                {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(n) => {
                        self.end += n;
                        moved = true;
                    }
                    Err(Errno::AGAIN | Errno::INTR) => break,
                    Err(e) => return Err(Fatal::sys("read", e)),
                }
            }
        }
        while self.start < self.end {
            match rustix::io::write(sys::fd(self.dst), &self.buf[self.start..self.end]) {
                Ok(n) => {
                    self.start += n;
                    moved = true;
                }
                Err(Errno::AGAIN | Errno::INTR) => break,
                Err(e) => return Err(Fatal::sys("write", e)),
            }
        }
        if self.eof && self.start == self.end && !self.done {
            self.done = true;
            let _ = rustix::net::shutdown(sys::fd(self.dst), rustix::net::Shutdown::Write);
            sys::close(self.dst);
            moved = true;
        }
        Ok(moved)
    }

    fn poll_fd(&self) -> Option<rustix::event::PollFd<'static>> {
        use rustix::event::{PollFd, PollFlags};
        if self.done {
            None
        } else if self.start < self.end {
            Some(PollFd::from_borrowed_fd(sys::fd(self.dst), PollFlags::OUT))
        } else {
            Some(PollFd::from_borrowed_fd(sys::fd(self.src), PollFlags::IN))
        }
    }
}

/// Relays app to net and net to app until both ends are done.
fn relay(app: [RawFd; 2], net: [RawFd; 2]) -> Result<(), Fatal> {
    for fd in app.into_iter().chain(net) {
        sys::set_nonblocking(fd).map_err(|e| Fatal::sys("set fds non-blocking", e))?;
    }
    let mut flows = [
        Flow::new(app[0], net[1], 3 * READ),
        Flow::new(net[0], app[1], READ),
    ];
    loop {
        let mut moved = true;
        while moved {
            moved = false;
            for f in &mut flows {
                moved |= f.step()?;
            }
        }
        let mut set: Vec<_> = flows.iter().filter_map(Flow::poll_fd).collect();
        if set.is_empty() {
            return Ok(());
        }
        rustix::event::poll(&mut set, None).map_err(|e| Fatal::sys("poll", e))?;
    }
}

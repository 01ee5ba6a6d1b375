//! The engine's loop: moves ciphertext and cleartext between four fds and a
//! [`TlsSession`], iopause style.
//!
//! Each iteration first moves everything that can move without waiting —
//! decrypted data to the app, records to the network, app data into the
//! session, network data into the session, end-of-stream transitions —
//! and only then calls `poll(2)` once, asking each fd only for what the TLS
//! state allows now. Writes are tried as soon as there is something to
//! write (they nearly always succeed, which saves a poll); reads are tried
//! only after poll said the fd is readable, and repeated until they would
//! block. Buffers are fixed: one per direction and side.
//!
//! Each direction ends on its own. App EOF: flush, then close_notify (-S)
//! and/or `shutdown(SHUT_WR)`; the other direction goes on. Peer EOF: what
//! is decrypted goes to the app, then the app sees EOF; a truncation (no
//! close_notify under -J, or a cut inside a record) is reported with exit 98
//! only after that, so no intact byte is lost. An app that stops reading
//! (EPIPE) gets nothing more, but the network is still drained so that the
//! final close does not reset the connection under the app's own data. A
//! peer that resets the connection ends the sending direction; what it sent
//! before is still delivered, then the engine exits 111.
//!
//! The fds are reached through [`Ports`], so the loop can be driven by real
//! fds or by a scripted fake.

use crate::backend::{Cleartext, HandshakeInfo, TlsSession};
use crate::fatal::{Fatal, code};
use crate::record_framing::RecordFraming;
use crate::sys::PAGE;
use rustix::event::PollFd;
use std::io;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

/// The four ends the loop moves bytes between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Port {
    /// Cleartext from the app.
    AppIn = 0,
    /// Cleartext to the app.
    AppOut = 1,
    /// Ciphertext from the peer.
    NetIn = 2,
    /// Ciphertext to the peer.
    NetOut = 3,
}

const PORTS: [Port; 4] = [Port::AppIn, Port::AppOut, Port::NetIn, Port::NetOut];

/// Non-blocking I/O on the four ports. Reads and writes return
/// `ErrorKind::WouldBlock` when they would block.
pub trait Ports {
    fn read(&mut self, port: Port, buf: &mut [u8]) -> io::Result<usize>;
    fn write(&mut self, port: Port, buf: &[u8]) -> io::Result<usize>;
    /// Ends a port for good. For `NetOut` this is `shutdown(SHUT_WR)` then
    /// close, so the peer sees EOF while we keep reading.
    fn close(&mut self, port: Port);
    /// Waits until one of the ports marked in `want` is ready (readable for
    /// the in-ports, writable for the out-ports, or in error or hung up)
    /// or until `timeout`. Returns the ready ports. `AppOut` may be
    /// reported when not in `want`: it is then in error (its reader gone).
    fn poll(&mut self, want: [bool; 4], timeout: Option<Duration>) -> io::Result<[bool; 4]>;
}

/// What the options ask of the loop.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `-S`: end with close_notify rather than a TCP half-close alone.
    pub send_close_notify: bool,
    /// `-J`: a peer EOF without close_notify is fatal.
    pub enforce_close_notify: bool,
    /// `-K`: the handshake must be over by then.
    pub handshake_timeout: Option<Duration>,
}

/// The buffer size per direction and side: a default pipe's capacity, so
/// that one read or write moves all a pipe holds and the app is woken once
/// per 64 KiB rather than per record. Four times upstream's 16 KiB: the
/// syscalls and wake-ups per byte, which bound a tunnel's throughput more
/// than the crypto does, fall with it (README, Performance). The buffers
/// are paged in only as data flows.
pub(crate) const CLEAR_BUF: usize = 64 * 1024;

/// Room for the records of a full [`CLEAR_BUF`] with their overhead, so
/// that the work of one record is never split over two polls.
pub(crate) const CIPHER_BUF: usize = CLEAR_BUF + 2048;

/// The records to the network gather here over up to three reads from the
/// app (each read's records fit in `CIPHER_BUF`, which `fill_from_app`
/// checks before it reads), so that a busy tunnel writes about 192 KiB per
/// `write(2)`. A TCP write costs far more than its bytes under a pacing
/// congestion control (BBR, common on servers): plain loopback TCP here
/// moves 0.97 GB/s in 64 KiB writes, 2.6 GB/s in 256 KiB writes, while
/// under CUBIC both run at 4.9 GB/s (README, Performance). Through the
/// tunnel three reads go as fast as four did, and two lost 8% on musl;
/// each read more is 64 KiB more resident in the sending engine.
/// Gathering never delays a write: the records go out as soon as the app
/// has nothing more to read.
pub(crate) const NET_OUT_BUF: usize = 3 * CIPHER_BUF;

/// The app's data goes into the session a record at a time, each record
/// taken out at once: the session then holds one record, not a whole read.
const RECORD: usize = 16 * 1024;

/// How long an engine whose app stopped reading keeps draining the network
/// after the app's own data is out, waiting for the peer to close, before
/// it closes anyway (Apache's "lingering close").
const LINGER: Duration = Duration::from_secs(2);

/// A fixed buffer holding the bytes `start..end` still to be passed on.
struct Pending {
    /// The buffer is `data[base..base + size]`, which starts half a page
    /// into a page (see [`Pending::new`]).
    data: Box<[u8]>,
    base: usize,
    size: usize,
    start: usize,
    end: usize,
}

impl Pending {
    /// The buffer starts 2 KiB into a page whatever the allocator gives:
    /// the backends copy records between it and their own blocks, which
    /// glibc builds page-align (`aligned_alloc`), and glibc's `memcpy` is
    /// about 20 times slower on AMD CPUs when the destination is 1 to 31
    /// bytes past the source modulo 4 KiB. Half a page apart, record
    /// headers and whole records never bring the two that close. The extra
    /// page is zeroed by `calloc`, so it is never touched.
    fn new(size: usize) -> Self {
        let data = vec![0; size + PAGE].into_boxed_slice();
        let base = (PAGE / 2 + PAGE - data.as_ptr() as usize % PAGE) % PAGE;
        Pending {
            data,
            base,
            size,
            start: 0,
            end: 0,
        }
    }
    fn is_empty(&self) -> bool {
        self.start == self.end
    }
    fn bytes(&self) -> &[u8] {
        &self.data[self.base + self.start..self.base + self.end]
    }
    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
    /// The whole buffer, to be refilled; only when empty.
    fn space(&mut self) -> &mut [u8] {
        debug_assert!(self.is_empty());
        &mut self.data[self.base..self.base + self.size]
    }
    fn filled(&mut self, n: usize) {
        self.start = 0;
        self.end = n;
    }
    /// The free space after what is pending, to gather more into.
    fn room(&mut self) -> &mut [u8] {
        &mut self.data[self.base + self.end..self.base + self.size]
    }
    fn extended(&mut self, n: usize) {
        self.end += n;
    }
}

/// Where one direction stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Open,
    /// The source ended; what is pending still has to go out.
    Draining,
    Done,
}

struct Loop<'a, S: TlsSession, P: Ports> {
    session: &'a mut S,
    ports: &'a mut P,
    settings: &'a Settings,
    app_in: Pending,
    app_out: Pending,
    net_in: Pending,
    net_out: Pending,
    /// Ports poll said are readable, or writes not known to block.
    readable: [bool; 4],
    writable: [bool; 4],
    /// App → network.
    up: Flow,
    /// Network → app.
    down: Flow,
    net_eof: bool,
    close_notify_queued: bool,
    handshake_seen: bool,
    /// Tells a clean EOF from one inside a record.
    records: RecordFraming,
    /// The app closed its reading end: decrypted data is dropped.
    discarding: bool,
    /// When to stop draining the network for a gone app.
    linger_until: Option<Instant>,
    /// An error that ends the engine once the data that can still be
    /// delivered is delivered: a truncated stream, a reset connection.
    deferred: Option<Fatal>,
}

fn would_block(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// The peer's end of the connection is gone (reset, or closed under us).
fn peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset
    )
}

fn tls_fatal(during_handshake: bool, reason: impl std::fmt::Display) -> Fatal {
    if during_handshake {
        Fatal::new(
            code::TLS_RUN,
            format!("the TLS engine closed the connection during the handshake: {reason}"),
        )
    } else {
        Fatal::new(code::TLS_RUN, format!("TLS error: {reason}"))
    }
}

/// Runs the engine until nothing more can move. `on_handshake` is called
/// once, when the handshake completes (it writes the notification block).
pub fn run<S: TlsSession, P: Ports>(
    session: &mut S,
    ports: &mut P,
    settings: &Settings,
    on_handshake: &mut dyn FnMut(&HandshakeInfo) -> Result<(), Fatal>,
) -> Result<(), Fatal> {
    let deadline = settings.handshake_timeout.map(|t| Instant::now() + t);
    let mut lp = Loop {
        session,
        ports,
        settings,
        app_in: Pending::new(CLEAR_BUF),
        app_out: Pending::new(CLEAR_BUF),
        net_in: Pending::new(CIPHER_BUF),
        net_out: Pending::new(NET_OUT_BUF),
        readable: [false; 4],
        writable: [true; 4],
        up: Flow::Open,
        down: Flow::Open,
        net_eof: false,
        close_notify_queued: false,
        handshake_seen: false,
        records: RecordFraming::default(),
        deferred: None,
        discarding: false,
        linger_until: None,
    };
    let result = lp.run(deadline, on_handshake);
    if result.is_err() {
        lp.last_gasp();
    }
    result
}

impl<S: TlsSession, P: Ports> Loop<'_, S, P> {
    fn run(
        &mut self,
        deadline: Option<Instant>,
        on_handshake: &mut dyn FnMut(&HandshakeInfo) -> Result<(), Fatal>,
    ) -> Result<(), Fatal> {
        loop {
            while self.step()? {}
            if !self.handshake_seen && !self.session.is_handshaking() {
                self.handshake_seen = true;
                on_handshake(&self.session.handshake_info())?;
                continue;
            }
            if self.up == Flow::Done && self.down == Flow::Done {
                return match self.deferred.take() {
                    Some(f) => Err(f),
                    None => Ok(()),
                };
            }
            let mut linger = None;
            if self.discarding && self.up == Flow::Done && self.down != Flow::Done {
                let now = Instant::now();
                let until = *self.linger_until.get_or_insert(now + LINGER);
                if now >= until {
                    self.down = Flow::Done;
                    self.ports.close(Port::NetIn);
                    continue;
                }
                linger = Some(until - now);
            }
            let want = self.interest();
            if want == [false; 4] {
                // Nothing can move and nothing can be waited for: only a
                // backend breaking its contract gets here. Never spin.
                return Err(Fatal::new(code::TLS_SETUP, "the TLS engine is stuck"));
            }
            let timeout = match deadline {
                Some(d) if self.session.is_handshaking() => {
                    let now = Instant::now();
                    if now >= d {
                        return Err(Fatal::new(code::TLS_RUN, "handshake timed out"));
                    }
                    Some(d - now)
                }
                _ => linger,
            };
            let ready = match self.ports.poll(want, timeout) {
                Ok(r) => r,
                Err(e) if would_block(&e) => continue,
                Err(e) => return Err(Fatal::sys("poll", e)),
            };
            let app_out = Port::AppOut as usize;
            if ready[app_out] && !want[app_out] && !self.discarding && self.down != Flow::Done {
                // Nothing was to be written, so this is an error: the
                // app's reading end is gone (it died, or closed it). Were
                // this left until the next write, an app killed while its
                // peer is idle would leave its engine behind forever.
                self.app_gone();
            }
            for p in PORTS {
                if ready[p as usize] {
                    match p {
                        Port::AppIn | Port::NetIn => self.readable[p as usize] = true,
                        Port::AppOut | Port::NetOut => self.writable[p as usize] = true,
                    }
                }
            }
        }
    }

    /// What to ask poll for, from the TLS state and the buffers.
    fn interest(&self) -> [bool; 4] {
        let mut want = [false; 4];
        want[Port::AppIn as usize] = self.up == Flow::Open
            && self.app_in.is_empty()
            && self.session.accepts_cleartext()
            && !self.readable[Port::AppIn as usize];
        want[Port::AppOut as usize] = self.down != Flow::Done && !self.app_out.is_empty();
        want[Port::NetIn as usize] = self.down == Flow::Open
            && !self.net_eof
            && self.net_in.is_empty()
            && self.session.wants_ciphertext()
            && !self.readable[Port::NetIn as usize];
        want[Port::NetOut as usize] = self.up != Flow::Done && !self.net_out.is_empty();
        want
    }

    /// One pass of every move that needs no waiting; true if anything moved.
    fn step(&mut self) -> Result<bool, Fatal> {
        let mut moved = self.flush_to_app()?;
        moved |= self.flush_to_net()?;
        moved |= self.fill_from_app()?;
        moved |= self.fill_from_net()?;
        moved |= self.ends()?;
        Ok(moved)
    }

    /// Decrypted data to the app.
    fn flush_to_app(&mut self) -> Result<bool, Fatal> {
        let mut moved = false;
        while self.down != Flow::Done {
            if self.app_out.is_empty() {
                moved |= self.gather_cleartext()?;
                if self.app_out.is_empty() {
                    if self.down != Flow::Draining {
                        return Ok(moved);
                    }
                    // Everything decrypted is out: the app sees EOF.
                    self.down = Flow::Done;
                    self.ports.close(Port::AppOut);
                    self.ports.close(Port::NetIn);
                    if let Some(f) = self.deferred.take() {
                        return Err(f);
                    }
                    return Ok(true);
                }
            }
            if !self.writable[Port::AppOut as usize] {
                return Ok(moved);
            }
            match self.ports.write(Port::AppOut, self.app_out.bytes()) {
                Ok(n) => {
                    self.app_out.consume(n);
                    moved = true;
                }
                Err(e) if would_block(&e) => {
                    self.writable[Port::AppOut as usize] = false;
                    return Ok(moved);
                }
                Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                    // The app will read no more; the other direction goes
                    // on until the app closes it.
                    self.app_gone();
                    return Ok(true);
                }
                Err(e) => return Err(Fatal::sys("write to the application", e)),
            }
        }
        Ok(moved)
    }

    /// Fills the empty `app_out` with what the session has decrypted, as
    /// much as fits, so that the app gets it in one write. A backend may
    /// hand out one record per call, or hold only a record or two
    /// decrypted (rustls stops taking ciphertext past 16 KiB of plaintext):
    /// the ciphertext already read goes in as room appears, else a 64 KiB
    /// read would reach the app in two or more writes, each waking it. A
    /// close_notify ends the filling and starts the drain: what came
    /// before it still goes out first.
    fn gather_cleartext(&mut self) -> Result<bool, Fatal> {
        let mut moved = false;
        while !self.app_out.room().is_empty() {
            match self.session.take_cleartext(self.app_out.room()) {
                Ok(Cleartext::Data(n)) if n > 0 => {
                    moved = true;
                    if !self.discarding {
                        self.app_out.extended(n);
                    }
                }
                Ok(Cleartext::Closed) if self.down == Flow::Open => {
                    self.down = Flow::Draining;
                    return Ok(true);
                }
                Ok(_) => {
                    if self.feed_read_ciphertext()? == 0 {
                        break;
                    }
                    moved = true;
                }
                Err(e) => return Err(tls_fatal(self.session.is_handshaking(), e)),
            }
        }
        Ok(moved)
    }

    /// The app will read no more. The network-to-app direction goes on
    /// reading and drops what it decrypts: a socket closed with unread
    /// data is reset, and the reset would destroy what the app is still
    /// sending. Once the app's side is done too, the drain is bounded by
    /// [`LINGER`].
    fn app_gone(&mut self) {
        self.discarding = true;
        self.app_out.consume(self.app_out.bytes().len());
        self.ports.close(Port::AppOut);
    }

    /// Records to the network.
    fn flush_to_net(&mut self) -> Result<bool, Fatal> {
        let mut moved = false;
        while self.up != Flow::Done {
            if self.net_out.is_empty() {
                if !self.session.has_ciphertext() || self.gather_ciphertext() == 0 {
                    return Ok(moved);
                }
                moved = true;
            }
            if !self.writable[Port::NetOut as usize] {
                return Ok(moved);
            }
            match self.ports.write(Port::NetOut, self.net_out.bytes()) {
                Ok(n) => {
                    self.net_out.consume(n);
                    moved = true;
                }
                Err(e) if would_block(&e) => {
                    self.writable[Port::NetOut as usize] = false;
                    return Ok(moved);
                }
                Err(e) if peer_gone(&e) => {
                    // The peer will read nothing more, but what it sent
                    // before going may still be waiting in our socket: the
                    // app gets it, then the engine fails.
                    self.deferred
                        .get_or_insert_with(|| Fatal::sys("write to the network", &e));
                    self.up = Flow::Done;
                    self.ports.close(Port::NetOut);
                    self.ports.close(Port::AppIn);
                    return Ok(true);
                }
                Err(e) => return Err(Fatal::sys("write to the network", e)),
            }
        }
        Ok(moved)
    }

    /// Appends the session's records to `net_out`, as many as fit behind
    /// what is already there; returns how many bytes.
    fn gather_ciphertext(&mut self) -> usize {
        let n = self.session.take_ciphertext(self.net_out.room());
        self.net_out.extended(n);
        n
    }

    /// App data into the session.
    fn fill_from_app(&mut self) -> Result<bool, Fatal> {
        let mut moved = false;
        while self.up == Flow::Open && self.session.accepts_cleartext() {
            if self.app_in.is_empty() {
                // Another read only while its records are sure to fit.
                if !self.readable[Port::AppIn as usize] || self.net_out.room().len() < CIPHER_BUF {
                    return Ok(moved);
                }
                match self.ports.read(Port::AppIn, self.app_in.space()) {
                    Ok(0) => {
                        self.readable[Port::AppIn as usize] = false;
                        self.up = Flow::Draining;
                        self.ports.close(Port::AppIn);
                        return Ok(true);
                    }
                    Ok(n) => {
                        self.app_in.filled(n);
                        moved = true;
                    }
                    Err(e) if would_block(&e) => {
                        self.readable[Port::AppIn as usize] = false;
                        return Ok(moved);
                    }
                    Err(e) => return Err(Fatal::sys("read from the application", e)),
                }
            }
            let pending = self.app_in.bytes();
            let n = self
                .session
                .put_cleartext(&pending[..pending.len().min(RECORD)])
                .map_err(|e| tls_fatal(false, e))?;
            if n == 0 {
                return Ok(moved);
            }
            self.app_in.consume(n);
            self.gather_ciphertext();
            moved = true;
        }
        Ok(moved)
    }

    /// Network data into the session.
    fn fill_from_net(&mut self) -> Result<bool, Fatal> {
        let mut moved = false;
        while self.down == Flow::Open && self.session.wants_ciphertext() {
            if self.net_in.is_empty() {
                if self.net_eof || !self.readable[Port::NetIn as usize] {
                    return Ok(moved);
                }
                match self.ports.read(Port::NetIn, self.net_in.space()) {
                    Ok(0) => {
                        self.readable[Port::NetIn as usize] = false;
                        self.net_eof = true;
                        return Ok(true);
                    }
                    Ok(n) => {
                        self.net_in.filled(n);
                        self.records.advance(self.net_in.bytes());
                        moved = true;
                    }
                    Err(e) if would_block(&e) => {
                        self.readable[Port::NetIn as usize] = false;
                        return Ok(moved);
                    }
                    Err(e) if peer_gone(&e) => {
                        // Deliver what was decrypted before the reset first.
                        self.deferred
                            .get_or_insert_with(|| Fatal::sys("read from the network", &e));
                        self.readable[Port::NetIn as usize] = false;
                        self.net_eof = true;
                        return Ok(true);
                    }
                    Err(e) => return Err(Fatal::sys("read from the network", e)),
                }
            }
            if self.feed_read_ciphertext()? == 0 {
                return Ok(moved);
            }
            moved = true;
        }
        Ok(moved)
    }

    /// Offers the session the ciphertext read and not yet taken; returns
    /// how many bytes it took.
    fn feed_read_ciphertext(&mut self) -> Result<usize, Fatal> {
        if self.down != Flow::Open || self.net_in.is_empty() || !self.session.wants_ciphertext() {
            return Ok(0);
        }
        let handshaking = self.session.is_handshaking();
        let n = self
            .session
            .feed_ciphertext(self.net_in.bytes())
            .map_err(|e| tls_fatal(handshaking, e))?;
        self.net_in.consume(n);
        Ok(n)
    }

    /// End-of-stream transitions, once everything before them has moved.
    fn ends(&mut self) -> Result<bool, Fatal> {
        let mut moved = false;
        // Network EOF, all of it processed: judge how the peer ended.
        if self.down == Flow::Open && self.net_eof && self.net_in.is_empty() {
            if self.session.is_handshaking() {
                return Err(tls_fatal(true, "the peer closed the connection"));
            }
            // A truncated stream is fatal, but only once every byte that
            // did arrive intact is with the app: nothing before the cut is
            // lost.
            let why = if self.records.mid_record() {
                Some("remote closed connection in the middle of a record")
            } else if self.settings.enforce_close_notify {
                Some("remote closed connection without a close_notify")
            } else {
                None
            };
            if let Some(why) = why {
                self.deferred
                    .get_or_insert_with(|| Fatal::new(code::TLS_RUN, why));
            }
            self.down = Flow::Draining;
            moved = true;
        }
        if self.up == Flow::Draining && self.app_in.is_empty() {
            if self.settings.send_close_notify && !self.close_notify_queued {
                self.session.send_close_notify();
                self.close_notify_queued = true;
                moved = true;
            }
            if self.net_out.is_empty() && !self.session.has_ciphertext() {
                self.up = Flow::Done;
                self.ports.close(Port::NetOut);
                moved = true;
            }
        }
        Ok(moved)
    }

    /// After a fatal error, one try at sending what the session queued
    /// (its alert), without waiting.
    fn last_gasp(&mut self) {
        if self.up == Flow::Done {
            return;
        }
        // Only whole records: after a short write, anything more would
        // leave a gap in the stream the peer reads.
        if !self.net_out.is_empty() {
            let pending = self.net_out.bytes().len();
            if !matches!(self.ports.write(Port::NetOut, self.net_out.bytes()), Ok(n) if n == pending)
            {
                return;
            }
            self.net_out.consume(pending);
        }
        let mut buf = [0u8; 512];
        let n = self.session.take_ciphertext(&mut buf);
        if n > 0 {
            let _ = self.ports.write(Port::NetOut, &buf[..n]);
        }
    }
}

/// The real fds. `NetIn`/`NetOut` may be two fds for one socket.
pub struct FdPorts {
    fds: [RawFd; 4],
    open: [bool; 4],
    /// Reused by every poll, so that waiting allocates nothing.
    poll_set: Vec<PollFd<'static>>,
}

impl FdPorts {
    /// Takes the four fds (`app_in, app_out, net_in, net_out`) and makes
    /// them non-blocking.
    pub fn new(app_in: RawFd, app_out: RawFd, net_in: RawFd, net_out: RawFd) -> io::Result<Self> {
        let fds = [app_in, app_out, net_in, net_out];
        for fd in fds {
            crate::sys::set_nonblocking(fd)?;
        }
        Ok(FdPorts {
            fds,
            open: [true; 4],
            poll_set: Vec::with_capacity(4),
        })
    }
}

impl FdPorts {
    /// The fd ciphertext comes in on.
    pub fn net_in(&self) -> RawFd {
        self.fds[Port::NetIn as usize]
    }
}

impl Ports for FdPorts {
    fn read(&mut self, port: Port, buf: &mut [u8]) -> io::Result<usize> {
        Ok(rustix::io::read(
            crate::sys::fd(self.fds[port as usize]),
            buf,
        )?)
    }

    fn write(&mut self, port: Port, buf: &[u8]) -> io::Result<usize> {
        Ok(rustix::io::write(
            crate::sys::fd(self.fds[port as usize]),
            buf,
        )?)
    }

    fn close(&mut self, port: Port) {
        let i = port as usize;
        if !self.open[i] {
            return;
        }
        self.open[i] = false;
        let fd = self.fds[i];
        if port == Port::NetOut {
            // On a pipe this fails with ENOTSOCK and closing is enough.
            let _ = rustix::net::shutdown(crate::sys::fd(fd), rustix::net::Shutdown::Write);
        }
        // The network in and out fds may be the same number; only the last
        // of the two to end closes it.
        let twin = match port {
            Port::NetIn => Some(Port::NetOut),
            Port::NetOut => Some(Port::NetIn),
            _ => None,
        };
        if let Some(t) = twin
            && self.fds[t as usize] == fd
            && self.open[t as usize]
        {
            return;
        }
        crate::sys::close(fd);
    }

    fn poll(&mut self, want: [bool; 4], timeout: Option<Duration>) -> io::Result<[bool; 4]> {
        use rustix::event::{PollFlags, Timespec};
        let set = &mut self.poll_set;
        set.clear();
        let mut port_of = [0usize; 4];
        for p in PORTS {
            let i = p as usize;
            if !self.open[i] {
                continue;
            }
            let flags = if want[i] {
                match p {
                    Port::AppIn | Port::NetIn => PollFlags::IN,
                    Port::AppOut | Port::NetOut => PollFlags::OUT,
                }
            } else if p == Port::AppOut {
                // Watched for errors only (no events): a pipe whose reader
                // is gone reports POLLERR, a socket whose peer closed
                // POLLHUP; a live one reports nothing.
                PollFlags::empty()
            } else {
                continue;
            };
            port_of[set.len()] = i;
            set.push(PollFd::from_borrowed_fd(crate::sys::fd(self.fds[i]), flags));
        }
        // Rounded up to the millisecond, as poll(2) would wait, so that a
        // deadline is never polled for 0 ms too early.
        let ts = timeout.map(|t| {
            let ms = t.as_micros().div_ceil(1000).min(i32::MAX as u128) as i64;
            Timespec {
                tv_sec: ms / 1000,
                tv_nsec: (ms % 1000) * 1_000_000,
            }
        });
        rustix::event::poll(set, ts.as_ref())?;
        let mut ready = [false; 4];
        for (k, fd) in set.iter().enumerate() {
            ready[port_of[k]] = !fd.revents().is_empty();
        }
        Ok(ready)
    }
}

#[cfg(test)]
mod tests {
    use super::{PAGE, Pending};

    #[test]
    fn a_buffer_starts_half_a_page_into_a_page_and_holds_its_size() {
        for size in [
            1,
            PAGE,
            super::CLEAR_BUF,
            super::CIPHER_BUF,
            super::NET_OUT_BUF,
        ] {
            let mut p = Pending::new(size);
            let space = p.space();
            assert_eq!(space.len(), size);
            assert_eq!(space.as_ptr() as usize % PAGE, PAGE / 2);
            space.fill(7);
            p.filled(size);
            p.consume(size / 2);
            assert_eq!(p.bytes(), &vec![7u8; size - size / 2][..]);
            p.consume(size - size / 2);
            assert!(p.is_empty());
            assert_eq!(p.room().len(), size);
        }
    }
}

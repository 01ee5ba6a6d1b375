//! s6-ioconnect: copies stdin to fd 7 and fd 6 to stdout until both
//! directions reach EOF, half-closing each side as its direction ends
//! (`shutdown(SHUT_WR)` when the target is a socket). One poll loop,
//! a fixed 16 KiB buffer per direction.

use crate::fatal::{self, Fatal, Result, code, warn};
use crate::net;
use crate::options::{self, Opt};
use crate::spawn;
use crate::sys;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::io::Errno;
use std::ffi::OsString;
use std::os::fd::RawFd;

const USAGE: &str = "s6-ioconnect [ -t timeout ] [ -r fdr ] [ -w fdw ]";

const TABLE: &[Opt] = &[
    Opt::value("t timeout"),
    Opt::value("r read-fd"),
    Opt::value("w write-fd"),
    // Upstream's "this fd is a socket" hints: we ask the fd itself.
    Opt::flag("0"),
    Opt::flag("1"),
    Opt::flag("6"),
    Opt::flag("7"),
];

const BUFSIZE: usize = 16384;

pub fn main() -> ! {
    fatal::run_main("s6-ioconnect", || run(spawn::args()))
}

/// One direction: from `src` to `dst` through a bounded buffer.
struct Pipe {
    src: RawFd,
    dst: RawFd,
    buf: Box<[u8; BUFSIZE]>,
    start: usize,
    end: usize,
    reading: bool,
    writing: bool,
}

impl Pipe {
    fn new(src: RawFd, dst: RawFd) -> Pipe {
        Pipe {
            src,
            dst,
            buf: Box::new([0; BUFSIZE]),
            start: 0,
            end: 0,
            reading: true,
            writing: true,
        }
    }

    fn empty(&self) -> bool {
        self.start == self.end
    }

    fn stop_reading(&mut self) {
        if self.reading {
            self.reading = false;
            sys::close(self.src);
        }
    }

    /// The other side will get nothing more: half-close it.
    fn finish(&mut self) {
        if self.writing {
            self.writing = false;
            if net::is_socket(self.dst) {
                let _ = rustix::net::shutdown(sys::fd(self.dst), rustix::net::Shutdown::Write);
            }
            sys::close(self.dst);
        }
    }

    fn fill(&mut self) {
        loop {
            match rustix::io::read(sys::fd(self.src), &mut self.buf[self.end..]) {
                Ok(0) => {
                    self.stop_reading();
                    break;
                }
                Ok(n) => {
                    self.end += n;
                    break;
                }
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => break,
                Err(e) => {
                    warn(format!("unable to read from fd {}: {e}", self.src));
                    self.stop_reading();
                    break;
                }
            }
        }
    }

    fn flush(&mut self) {
        while !self.empty() {
            match rustix::io::write(sys::fd(self.dst), &self.buf[self.start..self.end]) {
                Ok(n) => self.start += n,
                Err(Errno::INTR) => continue,
                Err(Errno::AGAIN) => return,
                Err(e) => {
                    if e != Errno::PIPE {
                        warn(format!("unable to write to fd {}: {e}", self.dst));
                    }
                    self.start = self.end;
                    self.stop_reading();
                    self.finish();
                    return;
                }
            }
        }
        // Empty: the whole buffer is free again.
        self.start = 0;
        self.end = 0;
        if !self.reading {
            self.finish();
        }
    }
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, TABLE, USAGE)?;
    let (mut timeout, mut fdr, mut fdw): (u32, RawFd, RawFd) = (0, 6, 7);
    for f in &parsed.found {
        match f.key {
            "t" => timeout = f.number(USAGE)?,
            "r" => fdr = f.number(USAGE)?,
            "w" => fdw = f.number(USAGE)?,
            _ => {}
        }
    }
    if fdr < 3 || fdw < 3 {
        return Err(Fatal::usage_because(USAGE, "fdr and fdw must be 3 or more"));
    }
    if !parsed.rest.is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    for fd in [0, 1, fdr, fdw] {
        sys::set_nonblocking(fd).map_err(|e| Fatal::sys(&format!("set up fd {fd}"), e))?;
    }
    sys::ignore_sigpipe();
    let mut dirs = [Pipe::new(0, fdw), Pipe::new(fdr, 1)];
    loop {
        let mut set: Vec<PollFd> = Vec::with_capacity(4);
        let mut slots = [[None; 2]; 2];
        for (i, d) in dirs.iter().enumerate() {
            if d.reading && d.end < BUFSIZE {
                slots[i][0] = Some(set.len());
                set.push(PollFd::from_borrowed_fd(sys::fd(d.src), PollFlags::IN));
            }
            if d.writing && !d.empty() {
                slots[i][1] = Some(set.len());
                set.push(PollFd::from_borrowed_fd(sys::fd(d.dst), PollFlags::OUT));
            }
        }
        if set.is_empty() {
            break;
        }
        let idle = dirs.iter().all(Pipe::empty);
        let ts = (timeout > 0 && idle).then(|| Timespec {
            tv_sec: (timeout / 1000).into(),
            tv_nsec: ((timeout % 1000) * 1_000_000).into(),
        });
        let n = match rustix::event::poll(&mut set, ts.as_ref()) {
            Ok(n) => n,
            Err(Errno::INTR) => continue,
            Err(e) => return Err(Fatal::sys("poll", e)),
        };
        if n == 0 {
            return Err(Fatal::new(1, "timed out"));
        }
        let ready: Vec<[bool; 2]> = slots
            .iter()
            .map(|s| s.map(|x| x.is_some_and(|k| !set[k].revents().is_empty())))
            .collect();
        drop(set);
        for (d, r) in dirs.iter_mut().zip(&ready) {
            if r[1] {
                d.flush();
            }
            if r[0] {
                d.fill();
                d.flush();
            }
        }
    }
    Ok(code::OK)
}

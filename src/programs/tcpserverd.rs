//! s6-tcpserverd: the long-lived accept loop. The listening socket is on
//! stdin; every connection runs prog with the socket on stdin and stdout
//! and the TCP variables in its environment. One poll over the self-pipe
//! and the listening socket: the server never waits on a connection, and
//! every child is reaped.

use crate::fatal::{self, Fatal, Result, code, info, warn};
use crate::net;
use crate::options::{self, Opt};
use crate::selfpipe::SelfPipe;
use crate::sys;
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, Signal, WaitOptions};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Write;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str =
    "s6-tcpserverd [ -1 ] [ -v verbosity ] [ -c maxconn ] [ -C localmaxconn ] prog...";

/// Upstream's hard cap on `-c`.
pub const ABSOLUTE_MAXCONN: u32 = 16384;

const TABLE: &[Opt] = &[
    Opt::flag("1 notify"),
    Opt::value("v verbosity"),
    Opt::value("c maxconn global-max-connections"),
    Opt::value("C localmaxconn local-max-connections"),
];

pub fn main() -> ! {
    fatal::run_main("s6-tcpserverd", || run(crate::spawn::args()))
}

struct Limits {
    maxconn: u32,
    localmaxconn: u32,
}

/// `-c 0` means 1; at most [`ABSOLUTE_MAXCONN`]; `-C` at most `-c`.
fn limits(maxconn: u32, localmaxconn: u32) -> Limits {
    let maxconn = maxconn.clamp(1, ABSOLUTE_MAXCONN);
    Limits {
        maxconn,
        localmaxconn: localmaxconn.clamp(1, maxconn),
    }
}

struct Server {
    prog: Vec<OsString>,
    limits: Limits,
    verbosity: u32,
    /// Every live child, and the client address it serves.
    children: HashMap<i32, IpAddr>,
    /// Open connections per client address.
    per_ip: HashMap<IpAddr, u32>,
    running: bool,
    /// After accept failed for lack of fds or memory, the listening socket
    /// stays readable: stop asking until a child ends or a second passes,
    /// instead of spinning.
    paused_until: Option<Instant>,
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, TABLE, USAGE)?;
    let mut notify = false;
    let mut verbosity = 1;
    let (mut maxconn, mut localmaxconn) = (40, 40);
    for f in &parsed.found {
        match f.key {
            "1" => notify = true,
            "v" => verbosity = f.number(USAGE)?,
            "c" => maxconn = f.number(USAGE)?,
            "C" => localmaxconn = f.number(USAGE)?,
            _ => {}
        }
    }
    if parsed.rest.is_empty() || parsed.rest[0].is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    let listener = sys::fd(0);
    let st = rustix::fs::fstat(listener).map_err(|e| Fatal::sys("fstat stdin", e))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::Socket {
        return Err(Fatal::new(code::USAGE, "stdin is not a socket"));
    }
    if !rustix::net::sockopt::socket_acceptconn(listener).unwrap_or(false) {
        return Err(Fatal::new(code::USAGE, "stdin is not a listening socket"));
    }
    sys::set_cloexec(0, true).map_err(|e| Fatal::sys("set socket flags", e))?;
    sys::set_nonblocking(0).map_err(|e| Fatal::sys("set socket flags", e))?;
    let bound = net::local_addr(listener).map_err(|e| Fatal::sys("get local address", e))?;
    let pipe = SelfPipe::new(&[
        libc::SIGCHLD,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGABRT,
    ])
    .map_err(|e| Fatal::sys("trap signals", e))?;
    if verbosity >= 2 {
        info(format!(
            "starting - bound to ip {} port {}",
            bound.ip(),
            bound.port()
        ));
    }
    if notify {
        let mut out = std::io::stdout().lock();
        // The reader only learns the port; a failed write is its problem.
        let _ = writeln!(out, "{}", bound.port()).and_then(|_| out.flush());
    }
    close_stdout()?;

    let mut server = Server {
        prog: parsed.rest,
        limits: limits(maxconn, localmaxconn),
        verbosity,
        children: HashMap::new(),
        per_ip: HashMap::new(),
        running: true,
        paused_until: None,
    };
    while server.running {
        if server.paused_until.is_some_and(|t| Instant::now() >= t) {
            server.paused_until = None;
        }
        let accepting =
            server.paused_until.is_none() && server.children.len() < server.limits.maxconn as usize;
        let mut set = vec![PollFd::from_borrowed_fd(pipe.fd(), PollFlags::IN)];
        if accepting {
            set.push(PollFd::from_borrowed_fd(listener, PollFlags::IN));
        }
        let timeout = server.paused_until.map(|t| {
            let d = t.saturating_duration_since(Instant::now());
            Timespec {
                tv_sec: d.as_secs() as _,
                tv_nsec: d.subsec_nanos() as _,
            }
        });
        match rustix::event::poll(&mut set, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Fatal::sys("poll", e)),
        }
        let signalled = !set[0].revents().is_empty();
        let incoming = accepting && !set[1].revents().is_empty();
        drop(set);
        if signalled {
            let sigs = pipe.drain().map_err(|e| Fatal::sys("read selfpipe", e))?;
            server.handle_signals(&sigs);
            continue;
        }
        if incoming {
            server.accept_all();
        }
    }
    if verbosity >= 2 {
        info("exiting");
    }
    Ok(code::OK)
}

/// Stdout is closed once the port is announced, so that a reader of `-1`
/// sees EOF; /dev/null takes its number so that no socket ever gets fd 1.
fn close_stdout() -> Result<()> {
    let null = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .map_err(|e| Fatal::sys("open /dev/null", e))?;
    sys::dup_to(null.as_raw_fd(), 1).map_err(|e| Fatal::sys("close stdout", e))
}

impl Server {
    fn accept_all(&mut self) {
        while self.children.len() < self.limits.maxconn as usize {
            match rustix::net::accept_with(sys::fd(0), rustix::net::SocketFlags::CLOEXEC) {
                Ok(sock) => self.new_connection(sock),
                Err(rustix::io::Errno::AGAIN) => return,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => {
                    if self.verbosity >= 1 {
                        warn(format!("unable to accept: {e}"));
                    }
                    if matches!(
                        e,
                        rustix::io::Errno::MFILE
                            | rustix::io::Errno::NFILE
                            | rustix::io::Errno::NOBUFS
                            | rustix::io::Errno::NOMEM
                    ) {
                        self.paused_until = Some(Instant::now() + Duration::from_secs(1));
                    }
                    return;
                }
            }
        }
    }

    fn new_connection(&mut self, sock: OwnedFd) {
        let (remote, local) = match (net::peer_addr(&sock), net::local_addr(&sock)) {
            (Ok(r), Ok(l)) => (r, l),
            (Err(e), _) | (_, Err(e)) => {
                if self.verbosity >= 1 {
                    warn(format!("unable to get the addresses of a connection: {e}"));
                }
                return;
            }
        };
        let ip = remote.ip();
        let num = self.per_ip.get(&ip).copied().unwrap_or(0);
        if num >= self.limits.localmaxconn {
            if self.verbosity >= 1 {
                warn(format!(
                    "reject {ip} port {}: {num} connections from this IP, limit {}",
                    remote.port(),
                    self.limits.localmaxconn
                ));
            }
            return;
        }
        let copy = match sock.try_clone() {
            Ok(c) => c,
            Err(e) => {
                if self.verbosity >= 1 {
                    warn(format!("unable to duplicate a socket: {e}"));
                }
                return;
            }
        };
        let mut cmd = Command::new(&self.prog[0]);
        cmd.args(&self.prog[1..])
            .env("PROTO", "TCP")
            .env("TCPLOCALIP", local.ip().to_string())
            .env("TCPLOCALPORT", local.port().to_string())
            .env("TCPREMOTEIP", ip.to_string())
            .env("TCPREMOTEPORT", remote.port().to_string())
            .env("TCPCONNNUM", num.to_string())
            .stdin(Stdio::from(sock))
            .stdout(Stdio::from(copy));
        let pid = match cmd.spawn() {
            Ok(child) => child.id() as i32,
            Err(e) => {
                if self.verbosity >= 1 {
                    warn(format!(
                        "unable to spawn {}: {e}",
                        self.prog[0].to_string_lossy()
                    ));
                }
                return;
            }
        };
        drop(cmd);
        self.children.insert(pid, ip);
        *self.per_ip.entry(ip).or_insert(0) += 1;
        if self.verbosity >= 2 {
            info(format!(
                "accept {ip} port {} pid {pid} count {}/{} total {}/{}",
                remote.port(),
                num + 1,
                self.limits.localmaxconn,
                self.children.len(),
                self.limits.maxconn
            ));
        }
    }

    fn end_connection(&mut self, pid: i32, how: String) {
        let Some(ip) = self.children.remove(&pid) else {
            return;
        };
        self.paused_until = None;
        let left = match self.per_ip.get_mut(&ip) {
            Some(n) if *n > 1 => {
                *n -= 1;
                *n
            }
            _ => {
                self.per_ip.remove(&ip);
                0
            }
        };
        if self.children.is_empty() {
            // Give back what a burst of connections made the maps grow to.
            self.children.shrink_to(64);
            self.per_ip.shrink_to(64);
        }
        if self.verbosity >= 2 {
            info(format!(
                "end pid {pid} {how} ip {ip} count {left}/{} total {}/{}",
                self.limits.localmaxconn,
                self.children.len(),
                self.limits.maxconn
            ));
        }
    }

    fn reap(&mut self) {
        loop {
            match rustix::process::waitpid(None, WaitOptions::NOHANG) {
                Ok(Some((pid, st))) => {
                    let how = match (st.exit_status(), st.terminating_signal()) {
                        (Some(c), _) => format!("exitcode {c}"),
                        (None, Some(s)) => format!("signal {s}"),
                        _ => "status unknown".to_string(),
                    };
                    self.end_connection(pid.as_raw_nonzero().get(), how);
                }
                Ok(None) => return,
                Err(rustix::io::Errno::INTR) => continue,
                Err(_) => return,
            }
        }
    }

    fn signal_children(&self, sigs: &[Signal]) {
        for &pid in self.children.keys() {
            if let Some(pid) = Pid::from_raw(pid) {
                for &s in sigs {
                    let _ = rustix::process::kill_process(pid, s);
                }
            }
        }
    }

    fn handle_signals(&mut self, sigs: &[libc::c_int]) {
        for &sig in sigs {
            let say = |what: &str| {
                if self.verbosity >= 2 {
                    info(what);
                }
            };
            match sig {
                libc::SIGCHLD => self.reap(),
                libc::SIGTERM => {
                    say("received SIGTERM, quitting");
                    self.running = false;
                }
                libc::SIGHUP => {
                    say("received SIGHUP, sending SIGTERM and SIGCONT to all connections");
                    self.signal_children(&[Signal::TERM, Signal::CONT]);
                }
                libc::SIGQUIT => {
                    say(
                        "received SIGQUIT, sending SIGTERM and SIGCONT to all connections and quitting",
                    );
                    self.signal_children(&[Signal::TERM, Signal::CONT]);
                    self.running = false;
                }
                libc::SIGABRT => {
                    say("received SIGABRT, sending SIGKILL to all connections and quitting");
                    self.signal_children(&[Signal::KILL]);
                    self.running = false;
                }
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped() {
        let l = limits(0, 0);
        assert_eq!((l.maxconn, l.localmaxconn), (1, 1));
        let l = limits(100_000, 50_000);
        assert_eq!(
            (l.maxconn, l.localmaxconn),
            (ABSOLUTE_MAXCONN, ABSOLUTE_MAXCONN)
        );
        let l = limits(10, 40);
        assert_eq!((l.maxconn, l.localmaxconn), (10, 10));
        let l = limits(40, 2);
        assert_eq!((l.maxconn, l.localmaxconn), (40, 2));
    }
}

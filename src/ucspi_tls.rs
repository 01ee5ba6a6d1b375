//! What `s6-ucspitlsc` and `s6-ucspitlsd` do: the UCSPI-TLS protocol for
//! opportunistic TLS (STARTTLS and friends).
//!
//! The process forks. The parent execs prog, which keeps talking
//! cleartext on the network fds and finds three more fds in its
//! environment: `SSLCTLFD` (one end of a socketpair), `SSLREADFD` and
//! `SSLWRITEFD` (pipes to and from a TLS engine that does not exist yet).
//! The child waits for one byte on the other end of the control socket:
//! `y` starts TLS, `Y` starts TLS and sends the handshake notification
//! block back over the control socket. The child then execs the `-io`
//! engine over the network fds and the pipes. If prog closes the control
//! socket (or dies) before sending a command, the child exits 0; any
//! other byte is a usage error (exit 100).

use crate::fatal::{self, Fatal, Result, code};
use crate::spawn::{self, EnvEdits};
use crate::sys::{self, Forked};
use crate::tls_options::{Side, WrapperArgs};
use crate::tls_wrapper::{engine_argv, hide_tls_variables, pipe};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};

/// The fds of one UCSPI-TLS setup, before the fork.
struct Channels {
    /// prog writes cleartext here (`SSLWRITEFD`); the engine reads it.
    to_engine: (OwnedFd, OwnedFd),
    /// The engine writes decrypted data here; prog reads it (`SSLREADFD`).
    to_app: (OwnedFd, OwnedFd),
    /// The control socket: prog's end (`SSLCTLFD`), the child's end.
    ctl: (OwnedFd, OwnedFd),
}

/// Sets up the channels, forks, and execs prog in the parent and the
/// engine in the child (after prog's command). Only returns on failure,
/// or with the child's exit code when prog declined TLS.
pub fn run(side: Side, w: &WrapperArgs) -> Result<i32> {
    if !sys::is_open(w.net[0]) || !sys::is_open(w.net[1]) {
        return Err(Fatal::sys("check network fds", "Bad file descriptor"));
    }
    let (ctl_app, ctl_child) = rustix::net::socketpair(
        rustix::net::AddressFamily::UNIX,
        rustix::net::SocketType::STREAM,
        rustix::net::SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| Fatal::sys("create the control socket", e))?;
    let ch = Channels {
        to_engine: pipe()?,
        to_app: pipe()?,
        ctl: (ctl_app, ctl_child),
    };
    let parent_pid = rustix::process::getpid().as_raw_nonzero().get();
    match sys::fork().map_err(|e| Fatal::sys("fork", e))? {
        Forked::Child => child(side, w, ch, parent_pid),
        Forked::Parent => exec_app(w, ch),
    }
}

/// prog's side: keep the network fds, add the three UCSPI-TLS ones.
fn exec_app(w: &WrapperArgs, ch: Channels) -> Result<i32> {
    drop(ch.to_engine.0);
    drop(ch.to_app.1);
    drop(ch.ctl.1);
    let mut env = EnvEdits::default();
    for (name, fd) in [
        ("SSLCTLFD", ch.ctl.0),
        ("SSLREADFD", ch.to_app.0),
        ("SSLWRITEFD", ch.to_engine.1),
    ] {
        // prog owns these from now on: they must survive the exec.
        let fd = fd.into_raw_fd();
        sys::set_cloexec(fd, false).map_err(|e| Fatal::sys("pass fds to prog", e))?;
        env.set(name, fd.to_string());
    }
    hide_tls_variables(&mut env, w.keep);
    Err(spawn::exec(&w.prog, &env))
}

/// What prog asked for on the control socket.
enum Command {
    Declined,
    Start { notify: bool },
}

fn read_command(ctl: &OwnedFd) -> Result<Command> {
    let mut c = [0u8; 1];
    let n = loop {
        match rustix::io::read(ctl, &mut c) {
            Ok(n) => break n,
            Err(rustix::io::Errno::INTR) => {}
            // prog vanishing with the socket still full reads as a reset.
            Err(rustix::io::Errno::CONNRESET) => break 0,
            Err(e) => return Err(Fatal::sys("read from control socket", e)),
        }
    };
    match (n, c[0]) {
        (0, _) => Ok(Command::Declined),
        (_, b'y') => Ok(Command::Start { notify: false }),
        (_, b'Y') => Ok(Command::Start { notify: true }),
        _ => Err(Fatal::new(
            code::USAGE,
            "unrecognized command on control socket",
        )),
    }
}

/// The waiting child: it holds the engine's ends until prog speaks, then
/// becomes the engine.
fn child(side: Side, w: &WrapperArgs, ch: Channels, parent: i32) -> Result<i32> {
    // prog's ends: closing them here is what lets EOFs reach prog later,
    // and lets us see prog close the control socket.
    drop(ch.to_engine.1);
    drop(ch.to_app.0);
    drop(ch.ctl.0);
    let verbose = w.tls.verbosity >= 2;
    let notify = match read_command(&ch.ctl.1)? {
        Command::Declined => {
            if verbose {
                fatal::info(format!("pid {parent} declined opportunistic TLS"));
            }
            return Ok(code::OK);
        }
        Command::Start { notify } => notify,
    };
    let notif: Option<RawFd> = if notify {
        // Nothing more is read from prog: the socket only carries the
        // notification block back.
        let _ = rustix::net::shutdown(&ch.ctl.1, rustix::net::Shutdown::Read);
        let fd = ch.ctl.1.into_raw_fd();
        sys::set_cloexec(fd, false).map_err(|e| Fatal::sys("pass fds to the engine", e))?;
        Some(fd)
    } else {
        drop(ch.ctl.1);
        None
    };
    let from_app = ch.to_engine.0.as_raw_fd();
    let to_app = ch.to_app.1.as_raw_fd();
    let fds = match side {
        // The client engine reads cleartext on stdin and writes it on
        // stdout; the network stays on its numbers.
        Side::Client => {
            sys::move_fds(&[(from_app, 0), (to_app, 1)])
                .map_err(|e| Fatal::sys("move file descriptors", e))?;
            w.net
        }
        // The server engine has the network on 0/1 already and takes the
        // cleartext pipes by number.
        Side::Server => {
            for fd in [from_app, to_app] {
                sys::set_cloexec(fd, false).map_err(|e| Fatal::sys("pass fds to the engine", e))?;
            }
            [from_app, to_app]
        }
    };
    if verbose {
        fatal::info(format!("pid {parent} accepted opportunistic TLS"));
    }
    let argv = engine_argv(side, &w.tls, notif, fds);
    // The engine keeps every TLS variable: no edit.
    let err = spawn::exec(&argv, &EnvEdits::default());
    // Keep the pipes alive until the exec is known to have failed.
    drop(ch.to_engine.0);
    drop(ch.to_app.1);
    Err(err)
}

//! What `s6-tlsc` and `s6-tlsd` do: interpose an engine between prog and
//! the network, wait for the handshake, and exec prog with the handshake's
//! variables in its environment.

use crate::fatal::{Fatal, Result, code};
use crate::notify_block::{self, BlockError};
use crate::spawn::{self, EnvEdits};
use crate::sys;
use crate::tls_options::{Side, TlsOptions};
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::process::Stdio;

/// A close-on-exec pipe: (read end, write end).
pub fn pipe() -> Result<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| Fatal::sys("create a pipe", e))
}

/// Spawns the engine for `side` over the network fds `net` (read, write),
/// moves the app's ends of the pipes onto the fds prog expects (`app`:
/// read, write), reads the notification block and execs `prog`.
pub fn interpose_engine(
    side: Side,
    o: &TlsOptions,
    keep_tls_env: bool,
    net: [RawFd; 2],
    app: [RawFd; 2],
    prog: &[OsString],
) -> Result<i32> {
    if !sys::is_open(net[0]) || !sys::is_open(net[1]) {
        return Err(Fatal::sys("check network fds", "Bad file descriptor"));
    }
    // Cleartext from prog to the engine, and from the engine to prog.
    let (to_engine_r, to_engine_w) = pipe()?;
    let (to_app_r, to_app_w) = pipe()?;
    let (notif_r, notif_w) = pipe()?;

    let (stdin, stdout, passed): (Stdio, Stdio, Vec<OwnedFd>) = match side {
        // The client engine: cleartext on its stdin/stdout, the network
        // fds inherited at their numbers.
        Side::Client => (
            Stdio::from(to_engine_r),
            Stdio::from(to_app_w),
            vec![notif_w],
        ),
        // The server engine: the network on its stdin/stdout (inherited),
        // the cleartext pipes passed by number.
        Side::Server => (
            Stdio::inherit(),
            Stdio::inherit(),
            vec![notif_w, to_engine_r, to_app_w],
        ),
    };
    let engine_fds = match side {
        Side::Client => net,
        Side::Server => [passed[1].as_raw_fd(), passed[2].as_raw_fd()],
    };
    let argv = engine_argv(side, o, Some(passed[0].as_raw_fd()), engine_fds);
    for fd in &passed {
        sys::set_cloexec(fd.as_raw_fd(), false)
            .map_err(|e| Fatal::sys("pass fds to the engine", e))?;
    }
    let mut child = spawn::spawn(&argv, stdin, stdout)?;
    drop(passed);

    // prog reads what the engine decrypted and writes what it encrypts.
    sys::dup_to(to_app_r.as_raw_fd(), app[0])
        .map_err(|e| Fatal::sys("move file descriptors", e))?;
    sys::dup_to(to_engine_w.as_raw_fd(), app[1])
        .map_err(|e| Fatal::sys("move file descriptors", e))?;
    drop(to_app_r);
    drop(to_engine_w);

    let mut block = Vec::new();
    std::fs::File::from(notif_r)
        .read_to_end(&mut block)
        .map_err(|e| Fatal::sys("read from handshake notification pipe", e))?;
    let vars = match notify_block::decode(&block) {
        Ok(v) => v,
        Err(BlockError::Empty) => {
            // The handshake failed: the engine said why; pass its code on.
            let status = child
                .wait()
                .map_err(|e| Fatal::sys("wait for the engine", e))?;
            return Ok(spawn::exit_code(status));
        }
        Err(BlockError::Malformed) => {
            return Err(Fatal::new(
                code::TLS_SETUP,
                "invalid handshake notification block",
            ));
        }
    };
    let mut env = EnvEdits::default();
    for k in notify_block::VARIABLES {
        if !vars.iter().any(|(name, v)| name == k && v.is_some()) {
            env.unset(k);
        }
    }
    for (k, v) in vars {
        match v {
            Some(v) => env.set(k, v),
            None => env.unset(k),
        }
    }
    hide_tls_variables(&mut env, keep_tls_env);
    Err(spawn::exec(prog, &env))
}

/// The command line of the engine for `side`: its options, the
/// notification fd when there is one, and its two fds (client: the
/// network; server: the cleartext pipes).
pub fn engine_argv(
    side: Side,
    o: &TlsOptions,
    notif: Option<RawFd>,
    fds: [RawFd; 2],
) -> Vec<OsString> {
    let name = match side {
        Side::Client => "s6-tlsc-io",
        Side::Server => "s6-tlsd-io",
    };
    let mut argv: Vec<OsString> = spawn::sibling(name);
    if let Some(fd) = notif {
        argv.push("-d".into());
        argv.push(fd.to_string().into());
    }
    argv.extend(o.engine_args());
    argv.push("--".into());
    argv.push(fds[0].to_string().into());
    argv.push(fds[1].to_string().into());
    argv
}

/// Unless `keep` (-Z), prog does not see the keys, certificates and
/// privileges meant for the engine.
pub fn hide_tls_variables(env: &mut EnvEdits, keep: bool) {
    if !keep {
        for k in spawn::tls_variables() {
            env.unset(k);
        }
    }
}

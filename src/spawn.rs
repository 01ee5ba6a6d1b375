//! Finding sibling programs, spawning them and exec'ing into prog with an
//! edited environment: the chain-loading plumbing every program shares.

use crate::fatal::{Fatal, code};
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

/// How this process was started: as a program of its own (`s6-tlsc`),
/// or as the multicall binary, through a symlink named after a program
/// or as `s6-networking <program> args...`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// One program per executable (what `cargo install` gives).
    Single,
    /// The multicall binary, called by a program's name.
    MulticallByName,
    /// The multicall binary, called as `s6-networking <program> args...`.
    MulticallSubcommand,
}

static INVOCATION: OnceLock<Invocation> = OnceLock::new();

/// Records how the multicall binary dispatched, before the program runs.
pub fn set_invocation(how: Invocation) {
    let _ = INVOCATION.set(how);
}

pub fn invocation() -> Invocation {
    INVOCATION.get().copied().unwrap_or(Invocation::Single)
}

/// How to run sibling program `name`, as an argv prefix:
/// - next to the running executable when it is there (an unpacked
///   tarball, a build directory, or the multicall binary's symlinks work
///   without touching PATH): `[dir/name]`;
/// - else, when this is the multicall binary and `name` is one of its
///   programs: `[this-executable, name]`, which needs no symlink at all;
/// - else `[name]`, for a PATH search.
pub fn sibling(name: &str) -> Vec<OsString> {
    let exe = std::env::current_exe().ok();
    if let Some(dir) = exe.as_deref().and_then(|p| p.parent()) {
        let candidate: PathBuf = dir.join(name);
        if is_executable(&candidate) {
            return vec![candidate.into_os_string()];
        }
    }
    if let Some(exe) = exe
        && invocation() != Invocation::Single
        && crate::programs::ALL.iter().any(|(n, _)| *n == name)
    {
        return vec![exe.into_os_string(), OsString::from(name)];
    }
    vec![OsString::from(name)]
}

fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Changes to make to the environment of the next program.
#[derive(Debug, Default, Clone)]
pub struct EnvEdits {
    pub set: Vec<(OsString, OsString)>,
    pub unset: Vec<OsString>,
}

impl EnvEdits {
    pub fn set(&mut self, k: impl Into<OsString>, v: impl Into<OsString>) {
        self.set.push((k.into(), v.into()));
    }
    pub fn unset(&mut self, k: impl Into<OsString>) {
        self.unset.push(k.into());
    }
    fn apply(&self, cmd: &mut Command) {
        for k in &self.unset {
            cmd.env_remove(k);
        }
        for (k, v) in &self.set {
            cmd.env(k, v);
        }
    }
}

fn command(argv: &[OsString]) -> Result<Command, Fatal> {
    let (prog, args) = argv
        .split_first()
        .ok_or_else(|| Fatal::new(code::USAGE, "no program to run"))?;
    let mut cmd = Command::new(prog);
    cmd.args(args);
    Ok(cmd)
}

/// Replaces this process with `argv`, keeping the pid and every fd that is
/// not close-on-exec. Only returns on failure.
pub fn exec(argv: &[OsString], env: &EnvEdits) -> Fatal {
    let mut cmd = match command(argv) {
        Ok(c) => c,
        Err(f) => return f,
    };
    env.apply(&mut cmd);
    let err = cmd.exec();
    Fatal::sys(
        &format!("exec {}", OsStr::new(&argv[0]).to_string_lossy()),
        err,
    )
}

/// Starts `argv` as a child with the given stdin and stdout; every other
/// fd that is not close-on-exec is inherited as it is.
pub fn spawn(argv: &[OsString], stdin: Stdio, stdout: Stdio) -> Result<Child, Fatal> {
    let mut cmd = command(argv)?;
    cmd.stdin(stdin).stdout(stdout);
    cmd.spawn()
        .map_err(|e| Fatal::sys(&format!("spawn {}", argv[0].to_string_lossy()), e))
}

/// The exit code a shell would report for a finished child.
pub fn exit_code(status: std::process::ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => c,
        (None, Some(sig)) => 128 + sig,
        _ => code::SYS,
    }
}

/// The TLS variables a prog never sees unless `-Z`: the names, and every
/// `KEYFILE:*` / `CERTFILE:*` in the current environment.
pub fn tls_variables() -> Vec<OsString> {
    let mut v: Vec<OsString> = [
        "CADIR", "CAFILE", "KEYFILE", "CERTFILE", "TLS_UID", "TLS_GID",
    ]
    .iter()
    .map(OsString::from)
    .collect();
    for (k, _) in std::env::vars_os() {
        let b = std::os::unix::ffi::OsStrExt::as_bytes(k.as_os_str());
        if b.starts_with(b"KEYFILE:") || b.starts_with(b"CERTFILE:") {
            v.push(k);
        }
    }
    v
}

/// The program's arguments: after argv\[0\], or after argv\[1\] when the
/// multicall binary was called as `s6-networking <program> args...`.
pub fn args() -> Vec<OsString> {
    let skip = match invocation() {
        Invocation::MulticallSubcommand => 2,
        _ => 1,
    };
    std::env::args_os().skip(skip).collect()
}

//! Finding sibling programs, spawning them and exec'ing into prog with an
//! edited environment: the chain-loading plumbing every program shares.

use crate::fatal::{Fatal, code};
use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// Where to run sibling `name` from: next to the running executable when
/// it is there (an unpacked tarball or a build directory works without
/// touching PATH), else `name` itself, for a PATH search.
pub fn sibling(name: &str) -> OsString {
    if let Some(dir) = std::env::current_exe()
        .ok()
        .as_deref()
        .and_then(|p| p.parent())
    {
        let candidate: PathBuf = dir.join(name);
        if is_executable(&candidate) {
            return candidate.into_os_string();
        }
    }
    OsString::from(name)
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

/// The arguments after argv\[0\].
pub fn args() -> Vec<OsString> {
    std::env::args_os().skip(1).collect()
}

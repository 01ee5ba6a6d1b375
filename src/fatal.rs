//! Messages and exits, upstream style: `prog: fatal: ...` on one line,
//! then a fixed exit code. Every program reports failures through
//! [`Fatal`], so no error reaches the user as a panic or a backtrace.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;

/// The exit codes shared by the suite.
pub mod code {
    pub const OK: i32 = 0;
    pub const DENIED: i32 = 1;
    pub const TLS_CONFIG: i32 = 96;
    pub const TLS_SETUP: i32 = 97;
    pub const TLS_RUN: i32 = 98;
    pub const TIMEOUT: i32 = 99;
    pub const USAGE: i32 = 100;
    pub const SYS: i32 = 111;
}

static PROG: OnceLock<String> = OnceLock::new();

/// Names the running program for every later message.
pub fn set_prog(name: &str) {
    let _ = PROG.set(name.to_string());
}

pub fn prog() -> &'static str {
    PROG.get().map(String::as_str).unwrap_or("s6-tls")
}

/// A failure that ends the program: the message is printed as
/// `prog: fatal: msg` (or as a usage line) and the process exits with `code`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal {
    pub code: i32,
    pub msg: String,
    /// Set for wrong usage: the usage line printed after `msg`.
    pub usage: Option<String>,
}

impl Fatal {
    pub fn new(code: i32, msg: impl Into<String>) -> Self {
        Fatal {
            code,
            msg: msg.into(),
            usage: None,
        }
    }

    /// `unable to <what>: <reason>`, exit 111: a system call failed.
    pub fn sys(what: &str, err: impl fmt::Display) -> Self {
        Fatal::new(code::SYS, format!("unable to {what}: {err}"))
    }

    /// Wrong usage: prints `prog: usage: <line>` (with the reason first
    /// when there is one) and exits 100.
    pub fn usage(line: &str) -> Self {
        Fatal {
            code: code::USAGE,
            msg: String::new(),
            usage: Some(line.to_string()),
        }
    }

    /// Wrong usage with a reason: `prog: fatal: <why>` then the usage line.
    pub fn usage_because(line: &str, why: impl fmt::Display) -> Self {
        Fatal {
            code: code::USAGE,
            msg: why.to_string(),
            usage: Some(line.to_string()),
        }
    }

    /// Prints the message and exits.
    pub fn exit(&self) -> ! {
        if !self.msg.is_empty() {
            line("fatal", &self.msg);
        }
        if let Some(usage) = &self.usage {
            line("usage", usage);
        }
        std::process::exit(self.code)
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

pub type Result<T> = std::result::Result<T, Fatal>;

fn line(level: &str, msg: &str) {
    // One write per message, so lines from concurrent processes do not mix.
    let text = format!("{}: {level}: {msg}\n", prog());
    let _ = std::io::stderr().write_all(text.as_bytes());
}

pub fn warn(msg: impl fmt::Display) {
    line("warning", &msg.to_string());
}

pub fn info(msg: impl fmt::Display) {
    line("info", &msg.to_string());
}

/// Runs a program's body and turns its outcome into an exit. Returning
/// `Ok(code)` exits with `code` without a message.
///
/// Always inlined, so that each program's body is compiled into its own
/// `programs::NAME::main`, named after it, rather than into an unnamed
/// copy of this function: `src/cold_text.ld` links the other programs'
/// code apart from the engines' in the multicall binary by those names.
#[inline(always)]
pub fn run_main(name: &str, body: impl FnOnce() -> Result<i32>) -> ! {
    set_prog(name);
    match body() {
        Ok(c) => std::process::exit(c),
        Err(f) => f.exit(),
    }
}

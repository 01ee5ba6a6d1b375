//! The TLS options shared by the engines, `s6-tlsc`/`s6-tlsd` and the
//! UCSPI-TLS programs, and how the wrappers pass them on to an engine.

use crate::backend::ClientAuth;
use crate::fatal::{Fatal, Result, code};
use crate::options::{Found, Opt};
use std::ffi::OsString;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Client,
    Server,
}

/// The options both sides share, client spelling of -k, -Y/-y.
pub const CLIENT: &[Opt] = &[
    Opt::flag("S close-notify"),
    Opt::flag("s no-close-notify"),
    Opt::flag("J enforce-close-notify"),
    Opt::flag("j no-enforce-close-notify"),
    Opt::flag("Y no-client-cert"),
    Opt::flag("y client-cert"),
    Opt::value("v verbosity"),
    Opt::value("K handshake-timeout kimeout"),
    Opt::value("k servername"),
    Opt::flag("verify-cert"),
    Opt::flag("no-verify-cert"),
];

/// The same, server spelling: -k is the SNI level, -Y asks for an optional
/// client certificate and -y requires one.
pub const SERVER: &[Opt] = &[
    Opt::flag("S close-notify"),
    Opt::flag("s no-close-notify"),
    Opt::flag("J enforce-close-notify"),
    Opt::flag("j no-enforce-close-notify"),
    Opt::flag("Y client-cert"),
    Opt::flag("y mandatory-client-cert"),
    Opt::value("v verbosity"),
    Opt::value("K handshake-timeout kimeout"),
    Opt::value("k sni-level"),
    Opt::flag("sni"),
    Opt::flag("mandatory-sni"),
];

/// `Z`/`z`: whether prog keeps the TLS variables.
pub const KEEP: &[Opt] = &[Opt::flag("Z keep"), Opt::flag("z no-keep")];

/// The table for `side` plus a program's own options.
pub fn table(side: Side, own: &[Opt]) -> Vec<Opt> {
    let common = match side {
        Side::Client => CLIENT,
        Side::Server => SERVER,
    };
    [common, own].concat()
}

#[derive(Debug, Clone)]
pub struct TlsOptions {
    pub side: Side,
    pub close_notify: bool,
    pub enforce_close_notify: bool,
    /// Client: `Required` means "send one" (-y). Server: what to ask for.
    pub client_cert: ClientAuth,
    pub verbosity: u32,
    pub handshake_timeout_ms: u32,
    pub server_name: Option<String>,
    pub sni_level: u32,
    pub verify: bool,
}

impl TlsOptions {
    pub fn new(side: Side) -> Self {
        TlsOptions {
            side,
            close_notify: false,
            enforce_close_notify: false,
            client_cert: ClientAuth::None,
            verbosity: 1,
            handshake_timeout_ms: 0,
            server_name: None,
            sni_level: 0,
            verify: true,
        }
    }

    /// Folds one option in; false if it is not one of the shared ones.
    pub fn apply(&mut self, f: &Found, usage: &str) -> Result<bool> {
        match (f.key, self.side) {
            ("S", _) => self.close_notify = true,
            ("s", _) => self.close_notify = false,
            ("J", _) => self.enforce_close_notify = true,
            ("j", _) => self.enforce_close_notify = false,
            ("Y", Side::Client) => self.client_cert = ClientAuth::None,
            ("y", Side::Client) => self.client_cert = ClientAuth::Required,
            ("Y", Side::Server) => self.client_cert = ClientAuth::Optional,
            ("y", Side::Server) => self.client_cert = ClientAuth::Required,
            ("v", _) => self.verbosity = f.number(usage)?,
            ("K", _) => self.handshake_timeout_ms = f.number(usage)?,
            ("k", Side::Client) => self.server_name = Some(f.text(usage)?),
            ("k", Side::Server) => self.sni_level = f.number(usage)?,
            ("sni", _) => self.sni_level = 1,
            ("mandatory-sni", _) => self.sni_level = 2,
            ("verify-cert", _) => self.verify = true,
            ("no-verify-cert", _) => self.verify = false,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The same options, spelled for an engine's command line.
    pub fn engine_args(&self) -> Vec<OsString> {
        let mut a: Vec<OsString> = Vec::new();
        a.push(if self.close_notify { "-S" } else { "-s" }.into());
        a.push(
            if self.enforce_close_notify {
                "-J"
            } else {
                "-j"
            }
            .into(),
        );
        match (self.side, self.client_cert) {
            (Side::Client, ClientAuth::None) => a.push("-Y".into()),
            (Side::Client, _) => a.push("-y".into()),
            (Side::Server, ClientAuth::Optional) => a.push("-Y".into()),
            (Side::Server, ClientAuth::Required) => a.push("-y".into()),
            (Side::Server, ClientAuth::None) => {}
        }
        a.push(format!("-v{}", self.verbosity).into());
        a.push(format!("-K{}", self.handshake_timeout_ms).into());
        match self.side {
            Side::Client => {
                if let Some(n) = &self.server_name {
                    a.push("-k".into());
                    a.push(n.into());
                }
                if !self.verify {
                    a.push("--no-verify-cert".into());
                }
            }
            Side::Server => a.push(format!("-k{}", self.sni_level).into()),
        }
        a
    }
}

/// What `s6-tlsc`, `s6-tlsd`, `s6-ucspitlsc` and `s6-ucspitlsd` take: the
/// TLS options, `-Z`/`-z`, the network fds (client: `-6`/`-7`, default
/// 6/7; server: always 0/1) and prog.
#[derive(Debug)]
pub struct WrapperArgs {
    pub tls: TlsOptions,
    /// `-Z`: prog keeps the TLS variables.
    pub keep: bool,
    /// The network fds: read, write.
    pub net: [i32; 2],
    pub prog: Vec<OsString>,
}

/// Parses a wrapper's command line for `side`.
pub fn parse_wrapper(side: Side, args: &[OsString], usage: &str) -> Result<WrapperArgs> {
    let fd_opts = [Opt::value("6 read-fd"), Opt::value("7 write-fd")];
    let own: Vec<Opt> = match side {
        Side::Client => [KEEP, &fd_opts[..]].concat(),
        Side::Server => KEEP.to_vec(),
    };
    let parsed = crate::options::parse(args, &table(side, &own), usage)?;
    let mut w = WrapperArgs {
        tls: TlsOptions::new(side),
        keep: false,
        net: match side {
            Side::Client => [6, 7],
            Side::Server => [0, 1],
        },
        prog: parsed.rest,
    };
    for f in &parsed.found {
        if w.tls.apply(f, usage)? {
            continue;
        }
        match f.key {
            "Z" => w.keep = true,
            "z" => w.keep = false,
            "6" | "7" => {
                let fd: i32 = f.number(usage)?;
                if fd < 3 {
                    return Err(Fatal::new(
                        code::USAGE,
                        format!("-{} must be 3 or more", f.key),
                    ));
                }
                w.net[usize::from(f.key == "7")] = fd;
            }
            _ => {}
        }
    }
    if w.net[0] == w.net[1] {
        return Err(Fatal::new(
            code::USAGE,
            "read-fd and write-fd must be different",
        ));
    }
    if w.prog.is_empty() {
        return Err(Fatal::usage(usage));
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::parse;

    fn fold(side: Side, args: &[&str]) -> TlsOptions {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let p = parse(&args, &table(side, KEEP), "u").unwrap();
        let mut o = TlsOptions::new(side);
        for f in &p.found {
            o.apply(f, "u").unwrap();
        }
        o
    }

    #[test]
    fn engine_args_round_trip() {
        for (side, args) in [
            (
                Side::Client,
                &[
                    "-SJy",
                    "-K",
                    "250",
                    "-k",
                    "a.example",
                    "--no-verify-cert",
                    "-v2",
                ][..],
            ),
            (Side::Server, &["-S", "-y", "-k2", "-K9"][..]),
            (Side::Server, &["-Y", "--sni"][..]),
            (Side::Client, &[][..]),
        ] {
            let o = fold(side, args);
            let again: Vec<String> = o
                .engine_args()
                .iter()
                .map(|s| s.to_string_lossy().into_owned())
                .collect();
            let again: Vec<&str> = again.iter().map(String::as_str).collect();
            let o2 = fold(side, &again);
            assert_eq!(format!("{o:?}"), format!("{o2:?}"), "{args:?}");
        }
    }

    #[test]
    fn server_spelling() {
        let o = fold(Side::Server, &["-y", "-Y", "--mandatory-sni"]);
        assert_eq!(o.client_cert, ClientAuth::Optional);
        assert_eq!(o.sni_level, 2);
        let o = fold(Side::Client, &["-y", "-Y", "-s", "-S"]);
        assert_eq!(o.client_cert, ClientAuth::None);
        assert!(o.close_notify);
    }

    #[test]
    fn wrapper_command_lines() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        let w = parse_wrapper(
            Side::Client,
            &args(&["-Z", "-6", "3", "-7", "4", "-k", "x", "prog", "-z"]),
            "u",
        )
        .unwrap();
        assert!(w.keep);
        assert_eq!(w.net, [3, 4]);
        assert_eq!(w.tls.server_name.as_deref(), Some("x"));
        assert_eq!(w.prog, args(&["prog", "-z"]));
        let w = parse_wrapper(Side::Server, &args(&["-Zz", "-k1", "p"]), "u").unwrap();
        assert!(!w.keep);
        assert_eq!(w.net, [0, 1]);
        assert_eq!(w.tls.sni_level, 1);
        for bad in [&["-6", "2", "p"][..], &["-6", "7", "p"], &["-k", "x"], &[]] {
            let e = parse_wrapper(Side::Client, &args(bad), "u").unwrap_err();
            assert_eq!(e.code, code::USAGE, "{bad:?}");
        }
        assert!(parse_wrapper(Side::Server, &args(&["-6", "3", "p"]), "u").is_err());
    }
}

//! The TLS options shared by the engines, `s6-tlsc`/`s6-tlsd` and the
//! UCSPI-TLS programs, and how the wrappers pass them on to an engine.

use crate::backend::ClientAuth;
use crate::fatal::Result;
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
}

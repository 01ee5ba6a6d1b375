//! s6-tcpserver: rewrites itself into
//! `s6-tcpserver-socketbinder ip port [ s6-applyuidgid ] s6-tcpserverd prog...`.

use crate::chain::{Argv, Sibling, UidGid};
use crate::fatal::{self, Fatal, Result};
use crate::net;
use crate::options::{self, Found, Opt};
use crate::spawn::{self, EnvEdits};
use std::ffi::OsString;

const USAGE: &str = "s6-tcpserver [ -q | -Q | -v ] [ -d | -D ] [ -1 ] [ -c maxconn ] [ -C localmaxconn ] [ -b backlog ] [ -G gidlist ] [ -g gid ] [ -u uid ] [ -U ] ip port prog...";

const TABLE: &[Opt] = &[
    Opt::flag("q quiet"),
    Opt::flag("Q normally-verbose"),
    Opt::flag("v verbose"),
    // Upstream's older releases chose the family with -4/-6; the address
    // tells it, so they are accepted and ignored.
    Opt::flag("4 ipv4"),
    Opt::flag("6 ipv6"),
    Opt::flag("d reuse-address"),
    Opt::flag("D no-reuse-address"),
    Opt::flag("1 notify"),
    Opt::value("c global-max-connections maxconn"),
    Opt::value("C local-max-connections localmaxconn"),
    Opt::value("b backlog"),
    Opt::value("G gidlist"),
    Opt::value("g gid"),
    Opt::value("u uid"),
    Opt::flag("U envuidgid with-envuidgid"),
];

/// Everything s6-tcpserver passes on.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TcpServerOptions {
    /// 0 quiet, 1 normal, 2 verbose.
    pub verbosity: u32,
    pub no_reuse: bool,
    pub notify: bool,
    pub maxconn: Option<u32>,
    pub localmaxconn: Option<u32>,
    pub backlog: Option<u32>,
    pub privileges: UidGid,
}

impl TcpServerOptions {
    pub fn new() -> Self {
        TcpServerOptions {
            verbosity: 1,
            ..Default::default()
        }
    }
}

/// The command line s6-tcpserver becomes.
pub fn rewrite(
    o: &TcpServerOptions,
    ip: &OsString,
    port: &OsString,
    prog: &[OsString],
    sib: Sibling,
) -> Vec<OsString> {
    let mut a = Argv::default();
    a.prog(sib, "s6-tcpserver-socketbinder")
        .flag_if(o.no_reuse, "-D")
        .opt("-b", o.backlog)
        .arg("--")
        .arg(ip.clone())
        .arg(port.clone());
    o.privileges.push(&mut a, sib);
    a.prog(sib, "s6-tcpserverd")
        .flag_if(o.verbosity != 1, &format!("-v{}", o.verbosity))
        .flag_if(o.notify, "-1")
        .opt("-c", o.maxconn)
        .opt("-C", o.localmaxconn)
        .arg("--")
        .extend(prog);
    a.0
}

pub fn main() -> ! {
    fatal::run_main("s6-tcpserver", || run(spawn::args()))
}

/// Checks `ip port` the way the socket binder will read them, so that a
/// mistake is reported before anything runs.
pub fn check_ip_port(ip: &OsString, port: &OsString, usage: &str) -> Result<()> {
    let (i, p) = (ip.to_string_lossy(), port.to_string_lossy());
    if net::parse_ip(&i).is_none() {
        return Err(Fatal::usage_because(
            usage,
            format!("invalid IP address: {i}"),
        ));
    }
    if net::parse_port(&p).is_none() {
        return Err(Fatal::usage_because(
            usage,
            format!("invalid port number: {p}"),
        ));
    }
    Ok(())
}

/// Folds the options found, in order (the last of two contradicting ones wins).
fn fold(found: &[Found]) -> Result<TcpServerOptions> {
    let mut o = TcpServerOptions::new();
    for f in found {
        if o.privileges.fold(f, USAGE)? {
            continue;
        }
        match f.key {
            "q" => o.verbosity = 0,
            "Q" => o.verbosity = 1,
            "v" => o.verbosity = 2,
            "d" => o.no_reuse = false,
            "D" => o.no_reuse = true,
            "1" => o.notify = true,
            "c" => o.maxconn = Some(f.number::<u32>(USAGE)?.max(1)),
            "C" => o.localmaxconn = Some(f.number::<u32>(USAGE)?.max(1)),
            "b" => o.backlog = Some(f.number(USAGE)?),
            _ => {}
        }
    }
    Ok(o)
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, TABLE, USAGE)?;
    let o = fold(&parsed.found)?;
    if parsed.rest.len() < 3 {
        return Err(Fatal::usage(USAGE));
    }
    check_ip_port(&parsed.rest[0], &parsed.rest[1], USAGE)?;
    let argv = rewrite(
        &o,
        &parsed.rest[0],
        &parsed.rest[1],
        &parsed.rest[2..],
        &spawn::sibling,
    );
    Err(spawn::exec(&argv, &EnvEdits::default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bare(n: &str) -> Vec<OsString> {
        vec![n.into()]
    }

    fn line(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let parsed = options::parse(&args, TABLE, USAGE).unwrap();
        let o = fold(&parsed.found).unwrap();
        let r = &parsed.rest;
        rewrite(&o, &r[0], &r[1], &r[2..], &bare)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn plain() {
        assert_eq!(
            line(&["127.0.0.1", "0", "cat"]),
            "s6-tcpserver-socketbinder -- 127.0.0.1 0 s6-tcpserverd -- cat"
        );
    }

    #[test]
    fn every_option() {
        assert_eq!(
            line(&[
                "-v1", "-c", "0", "-C5", "-b", "7", "-D", "-u", "99", "-g", "98", "-G", "1,2",
                "::", "443", "prog", "-x"
            ]),
            "s6-tcpserver-socketbinder -D -b 7 -- :: 443 s6-applyuidgid -G 1,2 -g 98 -u 99 -- \
             s6-tcpserverd -v2 -1 -c 1 -C 5 -- prog -x"
        );
    }

    #[test]
    fn envuidgid_and_quiet() {
        assert_eq!(
            line(&["-u", "5", "-U", "-q", "1.2.3.4", "80", "p"]),
            "s6-tcpserver-socketbinder -- 1.2.3.4 80 s6-applyuidgid -Uz -- s6-tcpserverd -v0 -- p"
        );
    }

    #[test]
    fn bad_addresses() {
        for (ip, port) in [
            ("1.2.3", "80"),
            ("localhost", "80"),
            ("::1", "65536"),
            ("::1", "x"),
        ] {
            let e = check_ip_port(&ip.into(), &port.into(), USAGE).unwrap_err();
            assert_eq!(e.code, 100);
        }
    }
}

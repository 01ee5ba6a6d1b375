//! s6-tlsclient: rewrites itself into
//! `s6-tcpclient ... host port s6-tlsc ... prog...`.

use crate::chain::{Argv, Sibling};
use crate::fatal::{self, Fatal, Result};
use crate::options::{self, Found, Opt};
use crate::programs::tcpclient;
use crate::spawn::{self, EnvEdits};
use std::ffi::OsString;

const USAGE: &str = "s6-tlsclient [ options ] [ -- ] host port prog...\n\
s6-tcpclient options: [ -q | -Q | -v ] [ -4 | -6 ] [ -d | -D ] [ -r | -R ] [ -h ] [ -H ] [ -n | -N ] [ -t timeout ] [ -l localname ] [ -T x+y ] [ -i localip ] [ -p localport ]\n\
s6-tlsc options: [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -Z | -z ] [ -K timeout ] [ -k servername ] [ --no-verify-cert ]";

const TABLE: &[Opt] = &[
    // For s6-tcpclient.
    Opt::flag("q quiet"),
    Opt::flag("Q normally-verbose"),
    Opt::flag("v verbose"),
    Opt::flag("4 ipv4"),
    Opt::flag("6 ipv6"),
    Opt::flag("d nagle"),
    Opt::flag("D no-nagle"),
    Opt::flag("H no-dns"),
    Opt::flag("dns"),
    Opt::flag("h hosts"),
    Opt::flag("no-hosts"),
    Opt::flag("R no-ident"),
    Opt::flag("r ident"),
    Opt::flag("N no-qualify"),
    Opt::flag("n qualify"),
    Opt::value("t timeout"),
    Opt::value("l local-name"),
    Opt::value("T connection-timeouts"),
    Opt::value("i local-ip"),
    Opt::value("p local-port"),
    // For s6-tlsc.
    Opt::flag("S close-notify"),
    Opt::flag("s no-close-notify"),
    Opt::flag("J enforce-close-notify"),
    Opt::flag("j no-enforce-close-notify"),
    Opt::flag("Y no-client-cert"),
    Opt::flag("y client-cert"),
    Opt::flag("verify-cert"),
    Opt::flag("no-verify-cert"),
    Opt::flag("Z keep"),
    Opt::flag("z no-keep"),
    Opt::value("K handshake-timeout kimeout"),
    Opt::value("k servername"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsClientOptions {
    pub verbosity: u32,
    pub ipv4: bool,
    pub ipv6: bool,
    pub no_delay: bool,
    pub no_dns: bool,
    pub hosts: bool,
    pub ident: bool,
    /// `Some(true)` for -n, `Some(false)` for -N.
    pub qualify: Option<bool>,
    pub timeout: u32,
    pub local_name: Option<String>,
    pub passes: Option<(u32, u32)>,
    pub local_ip: Option<String>,
    pub local_port: Option<u16>,
    pub close_notify: bool,
    pub enforce_close_notify: bool,
    pub client_cert: bool,
    pub no_verify: bool,
    pub keep: bool,
    pub handshake_timeout: u32,
    pub server_name: Option<String>,
}

impl Default for TlsClientOptions {
    fn default() -> Self {
        TlsClientOptions {
            verbosity: 1,
            ipv4: false,
            ipv6: false,
            no_delay: false,
            no_dns: false,
            hosts: false,
            ident: false,
            qualify: None,
            timeout: 0,
            local_name: None,
            passes: None,
            local_ip: None,
            local_port: None,
            close_notify: false,
            enforce_close_notify: false,
            client_cert: false,
            no_verify: false,
            keep: false,
            handshake_timeout: 0,
            server_name: None,
        }
    }
}

/// Folds the options in command-line order, checking values as
/// s6-tcpclient and s6-tlsc will, so that mistakes are reported here.
pub fn fold(found: &[Found]) -> Result<TlsClientOptions> {
    // The TCP values are checked by s6-tcpclient's own grammar.
    tcpclient::fold(found, USAGE)?;
    let mut o = TlsClientOptions::default();
    for f in found {
        match f.key {
            "q" => o.verbosity = 0,
            "Q" => o.verbosity = 1,
            "v" => o.verbosity = 2,
            "4" => o.ipv4 = true,
            "6" => o.ipv6 = true,
            "d" => o.no_delay = false,
            "D" => o.no_delay = true,
            "H" => o.no_dns = true,
            "dns" => o.no_dns = false,
            "h" => o.hosts = true,
            "no-hosts" => o.hosts = false,
            "R" => o.ident = false,
            "r" => o.ident = true,
            "N" => o.qualify = Some(false),
            "n" => o.qualify = Some(true),
            "t" => o.timeout = f.number(USAGE)?,
            "l" => o.local_name = Some(f.text(USAGE)?),
            "T" => o.passes = tcpclient::parse_passes(&f.text(USAGE)?),
            "i" => o.local_ip = Some(f.text(USAGE)?),
            "p" => o.local_port = Some(f.number(USAGE)?),
            "S" => o.close_notify = true,
            "s" => o.close_notify = false,
            "J" => o.enforce_close_notify = true,
            "j" => o.enforce_close_notify = false,
            "Y" => o.client_cert = false,
            "y" => o.client_cert = true,
            "verify-cert" => o.no_verify = false,
            "no-verify-cert" => o.no_verify = true,
            "Z" => o.keep = true,
            "z" => o.keep = false,
            "K" => o.handshake_timeout = f.number(USAGE)?,
            "k" => o.server_name = Some(f.text(USAGE)?),
            _ => {}
        }
    }
    Ok(o)
}

/// The command line s6-tlsclient becomes. Unless `-H`, `host` is also
/// the name the server's certificate is verified against (and sent as
/// SNI when it is a name); `-k` overrides it.
pub fn rewrite(
    o: &TlsClientOptions,
    host: &OsString,
    port: &OsString,
    prog: &[OsString],
    sib: Sibling,
) -> Vec<OsString> {
    let server_name: Option<OsString> = match (&o.server_name, o.no_dns) {
        (Some(k), _) => Some(k.into()),
        (None, false) => Some(host.clone()),
        (None, true) => None,
    };
    let mut a = Argv::default();
    a.prog(sib, "s6-tcpclient")
        .flag_if(o.verbosity == 0, "-q")
        .flag_if(o.verbosity == 2, "-v")
        .flag_if(o.ipv4, "-4")
        .flag_if(o.ipv6, "-6")
        .flag_if(o.no_delay, "-D")
        .flag_if(o.no_dns, "-H")
        .flag_if(o.hosts, "-h")
        .flag_if(o.ident, "-r")
        .flag_if(o.qualify == Some(true), "-n")
        .flag_if(o.qualify == Some(false), "-N")
        .opt("-t", (o.timeout > 0).then_some(o.timeout))
        .opt("-l", o.local_name.as_ref())
        .opt("-T", o.passes.map(|(x, y)| format!("{x}+{y}")))
        .opt("-i", o.local_ip.as_ref())
        .opt("-p", o.local_port)
        .arg("--")
        .arg(host.clone())
        .arg(port.clone());
    a.prog(sib, "s6-tlsc")
        .flag_if(o.verbosity != 1, &format!("-v{}", o.verbosity))
        .flag_if(o.close_notify, "-S")
        .flag_if(o.enforce_close_notify, "-J")
        .flag_if(o.client_cert, "-y")
        .flag_if(o.no_verify, "--no-verify-cert")
        .flag_if(o.keep, "-Z")
        .opt(
            "-K",
            (o.handshake_timeout > 0).then_some(o.handshake_timeout),
        );
    if let Some(k) = server_name {
        a.arg("-k").arg(k);
    }
    a.arg("--").extend(prog);
    a.0
}

pub fn main() -> ! {
    fatal::run_main("s6-tlsclient", || run(spawn::args()))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, TABLE, USAGE)?;
    let o = fold(&parsed.found)?;
    if parsed.rest.len() < 3 {
        return Err(Fatal::usage(USAGE));
    }
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

    fn line(args: &[&str]) -> String {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        let p = options::parse(&args, TABLE, USAGE).unwrap();
        let o = fold(&p.found).unwrap();
        let bare = |n: &str| vec![OsString::from(n)];
        rewrite(&o, &p.rest[0], &p.rest[1], &p.rest[2..], &bare)
            .iter()
            .map(|s| s.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn host_is_the_server_name_unless_h() {
        assert_eq!(
            line(&["example.org", "443", "prog"]),
            "s6-tcpclient -- example.org 443 s6-tlsc -k example.org -- prog"
        );
        assert_eq!(
            line(&["-H", "127.0.0.1", "443", "prog"]),
            "s6-tcpclient -H -- 127.0.0.1 443 s6-tlsc -- prog"
        );
        assert_eq!(
            line(&["-H", "-k", "localhost", "127.0.0.1", "443", "prog"]),
            "s6-tcpclient -H -- 127.0.0.1 443 s6-tlsc -k localhost -- prog"
        );
        assert_eq!(
            line(&["--no-dns", "--dns", "::1", "1", "p"]),
            "s6-tcpclient -- ::1 1 s6-tlsc -k ::1 -- p"
        );
    }

    #[test]
    fn every_option_goes_to_its_program() {
        assert_eq!(
            line(&[
                "-qv46DhrN",
                "-t",
                "9",
                "-l",
                "me",
                "-T3+4",
                "-i",
                "::1",
                "-p",
                "1234",
                "-SJyZ",
                "-K",
                "500",
                "--no-verify-cert",
                "-k",
                "a.test",
                "h",
                "1",
                "p",
                "-S"
            ]),
            "s6-tcpclient -v -4 -6 -D -h -r -N -t 9 -l me -T 3+4 -i ::1 -p 1234 -- h 1 \
             s6-tlsc -v2 -S -J -y --no-verify-cert -Z -K 500 -k a.test -- p -S"
        );
    }

    #[test]
    fn last_of_two_wins() {
        assert_eq!(
            line(&["-Ss", "-Jj", "-yY", "-Zz", "-Dd", "-v", "-q", "h", "1", "p"]),
            "s6-tcpclient -q -- h 1 s6-tlsc -v0 -k h -- p"
        );
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["-t", "x"][..],
            &["-T", "1+"],
            &["-i", "1.2.3"],
            &["-p", "70000"],
            &["-K", "-1"],
        ] {
            let args: Vec<OsString> = bad.iter().map(OsString::from).collect();
            let p = options::parse(&args, TABLE, USAGE).unwrap();
            assert_eq!(fold(&p.found).unwrap_err().code, 100, "{bad:?}");
        }
    }
}

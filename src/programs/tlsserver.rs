//! s6-tlsserver: rewrites itself into
//! `s6-tcpserver ... ip port [ s6-tcpserver-access ... ] [ proxy-server ]
//! s6-tlsd ... [ s6-applyuidgid ... ] prog...`.

use crate::chain::{Argv, Sibling, UidGid};
use crate::fatal::{self, Fatal, Result};
use crate::options::{self, Found, Opt};
use crate::programs::tcpserver::check_ip_port;
use crate::spawn::{self, EnvEdits};
use std::ffi::OsString;

const USAGE: &str = "s6-tlsserver [ options ] [ -- ] ip port prog...\n\
proxy-server options: [ -L ]\n\
s6-tcpserver options: [ -q | -Q | -v ] [ -1 ] [ -c maxconn ] [ -C localmaxconn ] [ -b backlog ] [ -G gidlist ] [ -g gid ] [ -u uid ] [ -U ]\n\
s6-tcpserver-access options: [ -e ] [ -W | -w ] [ -D | -d ] [ -H ] [ -h ] [ -R | -r ] [ -P | -p ] [ -l localname ] [ -B banner ] [ -t timeout ] [ -i rulesdir | -x rulesfile ]\n\
s6-tlsd options: [ -S | -s ] [ -J | -j ] [ -Y | -y ] [ -K timeout ] [ -Z | -z ] [ -k snilevel ]";

/// Upstream's long names, and the shorter ones SPEC lists, side by side.
const TABLE: &[Opt] = &[
    // s6-tcpserver
    Opt::flag("q quiet"),
    Opt::flag("Q normally-verbose"),
    Opt::flag("v verbose"),
    Opt::flag("4 ipv4"),
    Opt::flag("6 ipv6"),
    Opt::flag("1 notify"),
    Opt::value("c global-max-connections"),
    Opt::value("C local-max-connections"),
    Opt::value("b backlog"),
    Opt::value("G gidlist"),
    Opt::value("g gid"),
    Opt::value("u uid"),
    Opt::flag("U envuidgid with-envuidgid"),
    // proxy-server
    Opt::flag("L proxy"),
    // s6-tcpserver-access
    Opt::flag("e access"),
    Opt::flag("W no-strict-resolution"),
    Opt::flag("w strict-resolution"),
    Opt::flag("d nagle enable-nagle"),
    Opt::flag("D no-nagle disable-nagle"),
    Opt::flag("H no-dns disable-dns-lookups"),
    Opt::flag("dns"),
    Opt::flag("h hosts with-etchosts"),
    Opt::flag("no-hosts"),
    Opt::flag("R no-ident disable-ident-lookups"),
    Opt::flag("r ident enable-ident-lookups"),
    Opt::flag("P no-paranoid disable-paranoid-lookups"),
    Opt::flag("p paranoid enable-paranoid-lookups"),
    Opt::value("l local-name"),
    Opt::value("B banner"),
    Opt::value("t timeout"),
    Opt::value("i rules-directory"),
    Opt::value("x rules-file"),
    // s6-tlsd
    Opt::flag("S close-notify enable-closenotify"),
    Opt::flag("s no-close-notify disable-closenotify"),
    Opt::flag("J enforce-close-notify disallow-raw-eof"),
    Opt::flag("j no-enforce-close-notify allow-raw-eof"),
    Opt::flag("Y client-cert request-client-certificate"),
    Opt::flag("y mandatory-client-cert demand-client-certificate"),
    Opt::value("K handshake-timeout kimeout"),
    Opt::value("k sni-level"),
    Opt::flag("sni"),
    Opt::flag("mandatory-sni"),
    Opt::flag("Z keep keep-tlsd-environment"),
    Opt::flag("z no-keep no-keep-tlsd-environment"),
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rules {
    Dir(String),
    File(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsServerOptions {
    pub verbosity: u32,
    pub notify: bool,
    pub maxconn: Option<u32>,
    pub localmaxconn: Option<u32>,
    pub backlog: Option<u32>,
    pub privileges: UidGid,
    pub proxy: bool,
    pub force_access: bool,
    pub strict: bool,
    pub no_delay: bool,
    pub no_dns: bool,
    pub hosts: bool,
    pub ident: bool,
    pub paranoid: bool,
    pub local_name: Option<String>,
    pub banner: Option<String>,
    pub timeout: u32,
    pub rules: Option<Rules>,
    pub close_notify: bool,
    pub enforce_close_notify: bool,
    /// 0 none, 1 optional (-Y), 2 mandatory (-y).
    pub client_cert: u8,
    pub handshake_timeout: u32,
    pub sni_level: u32,
    pub keep: bool,
}

impl Default for TlsServerOptions {
    fn default() -> Self {
        TlsServerOptions {
            verbosity: 1,
            notify: false,
            maxconn: None,
            localmaxconn: None,
            backlog: None,
            privileges: UidGid::default(),
            proxy: false,
            force_access: false,
            strict: false,
            no_delay: false,
            no_dns: false,
            hosts: false,
            ident: false,
            paranoid: false,
            local_name: None,
            banner: None,
            timeout: 0,
            rules: None,
            close_notify: false,
            enforce_close_notify: false,
            client_cert: 0,
            handshake_timeout: 0,
            sni_level: 0,
            keep: false,
        }
    }
}

pub fn fold(found: &[Found]) -> Result<TlsServerOptions> {
    let mut o = TlsServerOptions::default();
    for f in found {
        if o.privileges.fold(f, USAGE)? {
            continue;
        }
        match f.key {
            "q" => o.verbosity = 0,
            "Q" => o.verbosity = 1,
            "v" => o.verbosity = 2,
            "1" => o.notify = true,
            "c" => o.maxconn = Some(f.number::<u32>(USAGE)?.max(1)),
            "C" => o.localmaxconn = Some(f.number::<u32>(USAGE)?.max(1)),
            "b" => o.backlog = Some(f.number(USAGE)?),
            "L" => o.proxy = true,
            "e" => o.force_access = true,
            "W" => o.strict = false,
            "w" => o.strict = true,
            "d" => o.no_delay = false,
            "D" => o.no_delay = true,
            "H" => o.no_dns = true,
            "dns" => o.no_dns = false,
            "h" => o.hosts = true,
            "no-hosts" => o.hosts = false,
            "R" => o.ident = false,
            "r" => o.ident = true,
            "P" => o.paranoid = false,
            "p" => o.paranoid = true,
            "l" => o.local_name = Some(f.text(USAGE)?),
            "B" => o.banner = Some(f.text(USAGE)?),
            "t" => o.timeout = f.number(USAGE)?,
            "i" => o.rules = Some(Rules::Dir(f.text(USAGE)?)),
            "x" => o.rules = Some(Rules::File(f.text(USAGE)?)),
            "S" => o.close_notify = true,
            "s" => o.close_notify = false,
            "J" => o.enforce_close_notify = true,
            "j" => o.enforce_close_notify = false,
            "Y" => o.client_cert = 1,
            "y" => o.client_cert = 2,
            "K" => o.handshake_timeout = f.number(USAGE)?,
            "k" => o.sni_level = f.number(USAGE)?,
            "sni" => o.sni_level = 1,
            "mandatory-sni" => o.sni_level = 2,
            "Z" => o.keep = true,
            "z" => o.keep = false,
            // -4/-6: the address gives the family.
            _ => {}
        }
    }
    Ok(o)
}

impl TlsServerOptions {
    /// s6-tcpserver-access runs only when it has work to do: DNS lookups
    /// (on unless -H), or any of -w -D -r -p -l -B -t -i -x (or -e).
    pub fn needs_access(&self) -> bool {
        !self.no_dns
            || self.strict
            || self.no_delay
            || self.ident
            || self.paranoid
            || self.local_name.is_some()
            || self.banner.is_some()
            || self.timeout > 0
            || self.rules.is_some()
            || self.force_access
    }
}

fn verbosity_flag(v: u32) -> Option<&'static str> {
    match v {
        0 => Some("-v0"),
        1 => None,
        _ => Some("-v2"),
    }
}

/// The command line s6-tlsserver becomes.
pub fn rewrite(
    o: &TlsServerOptions,
    ip: &OsString,
    port: &OsString,
    prog: &[OsString],
    sib: Sibling,
) -> Vec<OsString> {
    let mut a = Argv::default();
    a.prog(sib, "s6-tcpserver")
        .flag_if(o.verbosity == 0, "-q")
        .flag_if(o.verbosity == 2, "-v")
        .flag_if(o.notify, "-1")
        .opt("-c", o.maxconn)
        .opt("-C", o.localmaxconn)
        .opt("-b", o.backlog)
        .arg("--")
        .arg(ip.clone())
        .arg(port.clone());
    if o.needs_access() {
        a.prog(sib, "s6-tcpserver-access");
        if let Some(v) = verbosity_flag(o.verbosity) {
            a.arg(v);
        }
        a.flag_if(o.strict, "-w")
            .flag_if(o.no_delay, "-D")
            .flag_if(o.no_dns, "-H")
            .flag_if(o.hosts, "-h")
            .flag_if(o.ident, "-r")
            .flag_if(o.paranoid, "-p")
            .opt("-l", o.local_name.as_ref())
            .opt("-B", o.banner.as_ref())
            .opt("-t", (o.timeout > 0).then_some(o.timeout));
        match &o.rules {
            Some(Rules::Dir(d)) => a.arg("-i").arg(d),
            Some(Rules::File(f)) => a.arg("-x").arg(f),
            None => &mut a,
        }
        .arg("--");
    }
    if o.proxy {
        a.prog(sib, "proxy-server").arg("--");
    }
    a.prog(sib, "s6-tlsd");
    if let Some(v) = verbosity_flag(o.verbosity) {
        a.arg(v);
    }
    a.flag_if(o.close_notify, "-S")
        .flag_if(o.enforce_close_notify, "-J")
        .flag_if(o.client_cert == 1, "-Y")
        .flag_if(o.client_cert == 2, "-y")
        .opt(
            "-K",
            (o.handshake_timeout > 0).then_some(o.handshake_timeout),
        )
        .flag_if(o.keep, "-Z")
        .flag_if(o.sni_level == 1, "-k1")
        .flag_if(o.sni_level >= 2, "-k2")
        .arg("--");
    o.privileges.push(&mut a, sib);
    a.extend(prog);
    a.0
}

pub fn main() -> ! {
    fatal::run_main("s6-tlsserver", || run(spawn::args()))
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
    fn without_options_access_does_the_dns_lookups() {
        assert_eq!(
            line(&["127.0.0.1", "443", "prog"]),
            "s6-tcpserver -- 127.0.0.1 443 s6-tcpserver-access -- s6-tlsd -- prog"
        );
    }

    #[test]
    fn with_h_alone_there_is_no_access() {
        assert_eq!(
            line(&["-H", "::", "443", "prog", "arg"]),
            "s6-tcpserver -- :: 443 s6-tlsd -- prog arg"
        );
    }

    #[test]
    fn each_access_option_brings_access_back() {
        for (opt, shown) in [
            (&["-w"][..], "-w -H"),
            (&["-D"], "-D -H"),
            (&["-r"], "-H -r"),
            (&["-p"], "-H -p"),
            (&["-l", "me"], "-H -l me"),
            (&["-B", "hi"], "-H -B hi"),
            (&["-t", "500"], "-H -t 500"),
            (&["-i", "rules"], "-H -i rules"),
            (&["-x", "rules.cdb"], "-H -x rules.cdb"),
            (&["-e"], "-H"),
        ] {
            let mut args = vec!["-H"];
            args.extend_from_slice(opt);
            args.extend(["1.2.3.4", "1", "p"]);
            assert_eq!(
                line(&args),
                format!("s6-tcpserver -- 1.2.3.4 1 s6-tcpserver-access {shown} -- s6-tlsd -- p"),
                "{opt:?}"
            );
        }
        // -t 0 is no timeout, so nothing to do.
        assert_eq!(
            line(&["-H", "-t0", "1.2.3.4", "1", "p"]),
            "s6-tcpserver -- 1.2.3.4 1 s6-tlsd -- p"
        );
    }

    #[test]
    fn everything() {
        assert_eq!(
            line(&[
                "-v1L", "-c", "100", "-C", "0", "-b", "5", "-u", "10", "-g", "11", "-G", "12,13",
                "-hW", "-SJyZ", "-K", "3000", "-k", "2", "-x", "r.cdb", "0.0.0.0", "443", "httpd",
                "-d"
            ]),
            "s6-tcpserver -v -1 -c 100 -C 1 -b 5 -- 0.0.0.0 443 \
             s6-tcpserver-access -v2 -h -x r.cdb -- proxy-server -- \
             s6-tlsd -v2 -S -J -y -K 3000 -Z -k2 -- \
             s6-applyuidgid -G 12,13 -g 11 -u 10 -- httpd -d"
        );
    }

    #[test]
    fn quiet_envuidgid_and_long_names() {
        assert_eq!(
            line(&[
                "--quiet",
                "--no-dns",
                "--envuidgid",
                "--client-cert",
                "--sni",
                "--global-max-connections=3",
                "--proxy",
                "::1",
                "0",
                "p"
            ]),
            "s6-tcpserver -q -c 3 -- ::1 0 proxy-server -- s6-tlsd -v0 -Y -k1 -- \
             s6-applyuidgid -Uz -- p"
        );
    }

    #[test]
    fn every_long_name_of_the_spec_is_known() {
        let spec = "--quiet --normally-verbose --verbose --notify --proxy --envuidgid \
            --global-max-connections=1 --local-max-connections=1 --backlog=1 --gidlist=1 \
            --gid=1 --uid=1 --local-name=a --banner=b --timeout=1 --rules-directory=d \
            --rules-file=f --no-dns --dns --hosts --no-hosts --ident --no-ident --paranoid \
            --no-paranoid --nagle --no-nagle --strict-resolution --no-strict-resolution \
            --close-notify --no-close-notify --enforce-close-notify --no-enforce-close-notify \
            --client-cert --mandatory-client-cert --keep --no-keep --handshake-timeout=1 \
            --sni-level=1 --sni --mandatory-sni";
        let mut args: Vec<OsString> = spec.split_whitespace().map(OsString::from).collect();
        args.extend(["::", "1", "p"].map(OsString::from));
        let p = options::parse(&args, TABLE, USAGE).unwrap();
        assert_eq!(p.rest.len(), 3);
        fold(&p.found).unwrap();
    }

    #[test]
    fn bad_values_are_usage_errors() {
        for bad in [
            &["-c", "x"][..],
            &["-G", "1,a"],
            &["-k", "high"],
            &["-u", "-1"],
        ] {
            let args: Vec<OsString> = bad.iter().map(OsString::from).collect();
            let p = options::parse(&args, TABLE, USAGE).unwrap();
            assert_eq!(fold(&p.found).unwrap_err().code, 100, "{bad:?}");
        }
    }
}

//! s6-tcpserver-access: TCP access control between s6-tcpserverd and prog.
//!
//! Reads the client's address from `${PROTO}REMOTEIP` (and friends, as
//! s6-tcpserverd sets them), writes the banner, checks the rules (IP
//! prefixes, then reverse DNS names), sets `${PROTO}REMOTEHOST`,
//! `${PROTO}LOCALHOST` and `${PROTO}REMOTEINFO`, applies the rule's
//! environment, and execs prog, or the rule's `exec`.

use crate::accessrules::{self, EnvEdit, Rule, Rules, canonical, fmt_ip6};
use crate::fatal::{self, Fatal, Result, code};
use crate::options::{self, Opt};
use crate::resolve;
use crate::spawn::{self, EnvEdits};
use crate::sys;
use std::ffi::{OsStr, OsString};
use std::net::IpAddr;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USAGE: &str = "s6-tcpserver-access [ -v verbosity ] [ -W | -w ] [ -D | -d ] [ -H ] [ -h ] [ -R | -r ] [ -P | -p ] [ -l localname ] [ -B banner ] [ -t timeout ] [ -i rulesdir | -x rulesfile ] prog...";

/// Upstream writes the banner through a 512-byte buffer and refuses more.
const MAX_BANNER: usize = 512;

const TABLE: &[Opt] = &[
    Opt::value("v verbosity"),
    Opt::flag("W no-strict-resolution"),
    Opt::flag("w strict-resolution"),
    Opt::flag("D no-nagle"),
    Opt::flag("d nagle"),
    Opt::flag("H no-dns"),
    Opt::flag("dns"),
    Opt::flag("h hosts"),
    Opt::flag("no-hosts"),
    Opt::flag("R no-ident"),
    Opt::flag("r ident"),
    Opt::flag("P no-paranoid"),
    Opt::flag("p paranoid"),
    Opt::value("l local-name"),
    Opt::value("B banner"),
    Opt::value("t timeout"),
    Opt::value("i rules-directory"),
    Opt::value("x rules-file"),
];

enum Source {
    None,
    Dir(PathBuf),
    Cdb(PathBuf),
}

struct Config {
    verbosity: u32,
    fatal: bool,
    nodelay: bool,
    dns: bool,
    ident: bool,
    paranoid: bool,
    localname: Option<OsString>,
    banner: Vec<u8>,
    timeout_ms: u64,
    rules: Source,
}

fn parse(args: &[OsString]) -> Result<(Config, Vec<OsString>)> {
    let parsed = options::parse(args, TABLE, USAGE)?;
    let mut c = Config {
        verbosity: 1,
        fatal: true,
        nodelay: false,
        dns: true,
        ident: false,
        paranoid: false,
        localname: None,
        banner: Vec::new(),
        timeout_ms: 0,
        rules: Source::None,
    };
    for f in &parsed.found {
        let value = || f.value.clone().unwrap_or_default();
        match f.key {
            "v" => c.verbosity = f.number(USAGE)?,
            "W" => c.fatal = false,
            "w" => c.fatal = true,
            "D" => c.nodelay = true,
            "d" => c.nodelay = false,
            "H" => c.dns = false,
            "dns" => c.dns = true,
            "R" => c.ident = false,
            "r" => c.ident = true,
            "P" => c.paranoid = false,
            "p" => c.paranoid = true,
            "l" => c.localname = Some(value()),
            "B" => {
                // Upstream queues every -B in its output buffer.
                c.banner.extend_from_slice(value().as_bytes());
                if c.banner.len() > MAX_BANNER {
                    return Err(Fatal::new(code::USAGE, "banner too long"));
                }
            }
            "t" => c.timeout_ms = f.number(USAGE)?,
            "i" => c.rules = Source::Dir(PathBuf::from(value())),
            "x" => c.rules = Source::Cdb(PathBuf::from(value())),
            // -h / --no-hosts: the system resolver reads /etc/hosts as
            // nsswitch.conf says, whatever we ask.
            _ => {}
        }
    }
    match parsed.rest.first() {
        Some(p) if !p.is_empty() => Ok((c, parsed.rest)),
        _ => Err(Fatal::usage(USAGE)),
    }
}

/// The connection, as s6-tcpserverd describes it in the environment.
struct Conn {
    proto: String,
    remote: IpAddr,
    local: IpAddr,
}

fn getenv(name: &str) -> Result<String> {
    let v =
        std::env::var_os(name).ok_or_else(|| Fatal::new(code::USAGE, format!("{name} not set")))?;
    v.into_string()
        .map_err(|_| Fatal::new(code::USAGE, format!("invalid {name}")))
}

fn env_ip(name: &str) -> Result<IpAddr> {
    let v = getenv(name)?;
    v.parse::<IpAddr>()
        .map(canonical)
        .map_err(|_| Fatal::new(code::USAGE, format!("invalid {name}: {v}")))
}

fn env_port(name: &str) -> Result<u16> {
    let v = getenv(name)?;
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Fatal::new(code::USAGE, format!("invalid {name}: {v}")));
    }
    v.parse::<u16>()
        .map_err(|_| Fatal::new(code::USAGE, format!("invalid {name}: {v}")))
}

fn read_conn() -> Result<Conn> {
    let proto = getenv("PROTO")?;
    let remote = env_ip(&format!("{proto}REMOTEIP"))?;
    env_port(&format!("{proto}REMOTEPORT"))?;
    let local = env_ip(&format!("{proto}LOCALIP"))?;
    env_port(&format!("{proto}LOCALPORT"))?;
    Ok(Conn {
        proto,
        remote,
        local,
    })
}

fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => fmt_ip6(&v6),
    }
}

fn timed_out(what: &str) -> Fatal {
    Fatal::new(code::TIMEOUT, format!("timed out {what}"))
}

/// Writes the banner on fd 1 (the client) before anything else.
fn write_banner(banner: &[u8], deadline: Option<Instant>) -> Result<()> {
    if banner.is_empty() {
        return Ok(());
    }
    let fd = sys::fd(1);
    let flags = rustix::fs::fcntl_getfl(fd).map_err(|e| Fatal::sys("write banner", e))?;
    rustix::fs::fcntl_setfl(fd, flags | rustix::fs::OFlags::NONBLOCK)
        .map_err(|e| Fatal::sys("write banner", e))?;
    let result = write_all_by(fd, banner, deadline);
    let _ = rustix::fs::fcntl_setfl(fd, flags);
    result
}

fn write_all_by(
    fd: std::os::fd::BorrowedFd<'_>,
    mut buf: &[u8],
    deadline: Option<Instant>,
) -> Result<()> {
    use rustix::event::{PollFd, PollFlags, poll};
    while !buf.is_empty() {
        match rustix::io::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(rustix::io::Errno::INTR) => {}
            Err(rustix::io::Errno::AGAIN) => {
                let timeout = match deadline {
                    None => None,
                    Some(d) => {
                        let left = d.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            return Err(timed_out("writing banner"));
                        }
                        Some(rustix::event::Timespec {
                            tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                            tv_nsec: left.subsec_nanos().into(),
                        })
                    }
                };
                let mut fds = [PollFd::new(&fd, PollFlags::OUT)];
                match poll(&mut fds, timeout.as_ref()) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(Fatal::sys("write banner", e)),
                }
            }
            Err(e) => return Err(Fatal::sys("write banner", e)),
        }
    }
    Ok(())
}

enum Verdict {
    Allow(accessrules::Allow),
    Deny,
    NotFound,
}

fn check(
    rules: &Option<(Rules, String, &'static str)>,
    keys: &[String],
    against: &str,
) -> Result<Verdict> {
    let Some((rules, shown, kind)) = rules else {
        return Ok(Verdict::Allow(Default::default()));
    };
    match rules.first(keys) {
        Ok(Some((_, Rule::Allow(a)))) => Ok(Verdict::Allow(a)),
        Ok(Some((_, Rule::Deny))) => Ok(Verdict::Deny),
        Ok(None) => Ok(Verdict::NotFound),
        Err(e) => Err(Fatal::new(
            code::SYS,
            format!("unable to check {kind} ruleset for {against} in {shown}: {e}"),
        )),
    }
}

/// The environment changes, in order; later ones win.
struct Modifs(Vec<EnvEdit>);

impl Modifs {
    fn set(&mut self, name: &str, value: Option<&[u8]>) {
        self.0.push(EnvEdit {
            name: name.as_bytes().to_vec(),
            value: value.map(<[u8]>::to_vec),
        });
    }
}

fn to_env_edits(edits: &[EnvEdit]) -> EnvEdits {
    let mut last: Vec<(Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    for e in edits.iter().filter(|e| !e.name.is_empty()) {
        last.retain(|(n, _)| *n != e.name);
        last.push((e.name.clone(), e.value.clone()));
    }
    let mut out = EnvEdits::default();
    for (n, v) in last {
        let n = OsString::from_vec(n);
        match v {
            Some(v) => out.set(n, OsString::from_vec(v)),
            None => out.unset(n),
        }
    }
    out
}

/// The program an `exec` rule runs: execlineb -c, as upstream, when
/// execlineb is on PATH; otherwise /bin/sh -c.
fn exec_argv(script: &[u8]) -> Vec<OsString> {
    let script = match script.iter().position(|&b| b == 0) {
        Some(nul) => &script[..nul],
        None => script,
    };
    let script = OsStr::from_bytes(script).to_os_string();
    let on_path = std::env::var_os("PATH").is_some_and(|p| {
        std::env::split_paths(&p).any(|d| {
            use std::os::unix::fs::PermissionsExt;
            std::fs::metadata(d.join("execlineb"))
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    });
    if on_path {
        vec!["execlineb".into(), "-c".into(), script]
    } else {
        vec!["/bin/sh".into(), "-c".into(), script]
    }
}

pub fn main() -> ! {
    fatal::run_main("s6-tcpserver-access", || run(spawn::args()))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let (cfg, prog) = parse(&args)?;
    let conn = read_conn()?;
    let deadline =
        (cfg.timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(cfg.timeout_ms));
    let ip = ip_text(conn.remote);
    let deny = |why: &str| -> Result<i32> {
        if cfg.verbosity >= 2 {
            fatal::info(format!("deny pid {} ip {ip}: {why}", std::process::id()));
        }
        Ok(code::DENIED)
    };

    if cfg.nodelay
        && let Err(e) = rustix::net::sockopt::set_tcp_nodelay(sys::fd(1), true)
        && cfg.verbosity >= 1
    {
        fatal::warn(format!("unable to set TCP_NODELAY: {e}"));
    }
    write_banner(&cfg.banner, deadline)?;

    let rules = open_rules(&cfg)?;
    let mut verdict = check(&rules, &accessrules::ip_keys(conn.remote), "IP")?;
    match verdict {
        Verdict::Deny => return deny("denied by rule"),
        Verdict::NotFound if !cfg.dns => return deny("no matching rule"),
        _ => {}
    }

    let p = &conn.proto;
    let mut modifs = Modifs(Vec::new());
    // Mapped addresses reach prog in their IPv4 form.
    if ip != getenv(&format!("{p}REMOTEIP"))? {
        modifs.set(&format!("{p}REMOTEIP"), Some(ip.as_bytes()));
    }
    let local_ip = ip_text(conn.local);
    if local_ip != getenv(&format!("{p}LOCALIP"))? {
        modifs.set(&format!("{p}LOCALIP"), Some(local_ip.as_bytes()));
    }
    if cfg.ident && cfg.verbosity >= 1 {
        fatal::warn(format!(
            "IDENT lookups (-r) are not supported: {p}REMOTEINFO is left unset"
        ));
    }
    modifs.set(&format!("{p}REMOTEINFO"), None);

    if cfg.dns {
        let name = host_names(&cfg, &conn, deadline, &mut modifs)?;
        if let (Some(name), Verdict::NotFound) = (&name, &verdict) {
            verdict = check(&rules, &accessrules::reversedns_keys(name), "reverse DNS")?;
        }
    } else {
        let localname = cfg.localname.as_ref().map(|n| n.as_bytes());
        modifs.set(&format!("{p}LOCALHOST"), localname);
        modifs.set(&format!("{p}REMOTEHOST"), None);
    }
    let allow = match verdict {
        Verdict::Allow(a) => a,
        Verdict::Deny => return deny("denied by rule"),
        Verdict::NotFound => return deny("no matching rule"),
    };

    let mut edits = allow.env;
    edits.extend(modifs.0);
    if cfg.verbosity >= 1 {
        fatal::info(format!("allow pid {} ip {ip}", std::process::id()));
    }
    let argv = match &allow.exec {
        Some(script) => exec_argv(script),
        None => prog,
    };
    Err(spawn::exec(&argv, &to_env_edits(&edits)))
}

/// The rules named by -i or -x, checked for being there.
fn open_rules(cfg: &Config) -> Result<Option<(Rules, String, &'static str)>> {
    match &cfg.rules {
        Source::None => {
            if cfg.verbosity >= 2 {
                fatal::warn("invoked without a ruleset!");
            }
            Ok(None)
        }
        Source::Dir(d) => {
            // Upstream would deny every client of a missing rules directory
            // in silence; say why instead.
            let shown = d.display().to_string();
            match std::fs::metadata(d) {
                Ok(m) if m.is_dir() => {
                    // Keys we may not reach are "no rule", as upstream; a
                    // rules directory we may not enter at all is an error.
                    rustix::fs::access(d, rustix::fs::Access::EXEC_OK)
                        .map_err(|e| Fatal::sys(&format!("open rules directory {shown}"), e))?;
                    Ok(Some((Rules::Dir(d.clone()), shown, "fs")))
                }
                Ok(_) => Err(Fatal::new(
                    code::SYS,
                    format!("unable to open rules directory {shown}: Not a directory"),
                )),
                Err(e) => Err(Fatal::sys(&format!("open rules directory {shown}"), e)),
            }
        }
        Source::Cdb(f) => {
            let r =
                Rules::open_cdb(f).map_err(|e| Fatal::new(code::SYS, format!("unable to {e}")))?;
            Ok(Some((r, f.display().to_string(), "cdb")))
        }
    }
}

/// Sets `${PROTO}LOCALHOST` and `${PROTO}REMOTEHOST` from the resolver
/// (both looked up at once, as upstream) and returns the remote name.
/// With -w (the default) a failed or timed-out lookup drops the client
/// (111 / 99); with -W it only leaves the name unset.
fn host_names(
    cfg: &Config,
    conn: &Conn,
    deadline: Option<Instant>,
    modifs: &mut Modifs,
) -> Result<Option<String>> {
    let fail = |what: String, e: std::io::Error| -> Result<()> {
        if cfg.fatal {
            return Err(Fatal::new(code::SYS, format!("unable to {what}: {e}")));
        }
        if cfg.verbosity >= 2 {
            fatal::warn(format!("unable to {what}: {e}"));
        }
        Ok(())
    };
    let timeout = |what: String| -> Result<()> {
        if cfg.fatal {
            return Err(timed_out(&what));
        }
        if cfg.verbosity >= 2 {
            fatal::warn(format!("timed out {what}"));
        }
        Ok(())
    };
    let p = &conn.proto;
    let ip = ip_text(conn.remote);
    let mut ips = vec![conn.remote];
    if cfg.localname.is_none() {
        ips.push(conn.local);
    }
    let mut found = resolve::names_of(&ips, deadline).into_iter();
    let remote = found.next().flatten();
    let local_name = match found.next() {
        None => cfg.localname.as_ref().map(|n| n.as_bytes().to_vec()),
        Some(None) => {
            timeout(format!("looking up the name of {}", ip_text(conn.local)))?;
            None
        }
        Some(Some(Err(e))) => {
            fail(format!("look up the name of {}", ip_text(conn.local)), e)?;
            None
        }
        Some(Some(Ok(name))) => name.map(String::into_bytes),
    };
    modifs.set(&format!("{p}LOCALHOST"), local_name.as_deref());
    let mut name = match remote {
        None => {
            timeout(format!("looking up the name of {ip}"))?;
            None
        }
        Some(Err(e)) => {
            fail(format!("look up the name of {ip}"), e)?;
            None
        }
        Some(Ok(name)) => name,
    };
    // -p: keep the name only if it resolves back to the client.
    if cfg.paranoid
        && let Some(n) = name.take()
    {
        let lookup = n.clone();
        match resolve::with_deadline(deadline, move || resolve::addresses_of(&lookup)) {
            None => timeout(format!("resolving {n}"))?,
            Some(Err(e)) => fail(format!("resolve {n}"), e)?,
            Some(Ok(addrs)) if addrs.iter().any(|&a| canonical(a) == conn.remote) => name = Some(n),
            Some(Ok(_)) => {
                if cfg.verbosity >= 2 {
                    fatal::warn(format!("{n} does not resolve to {ip}: ignoring it"));
                }
            }
        }
    }
    modifs.set(
        &format!("{p}REMOTEHOST"),
        name.as_deref().map(str::as_bytes),
    );
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn last_flag_wins_and_banners_queue() {
        let (c, rest) = parse(&args(&[
            "-Ww", "-HD", "-B", "ab", "-Bcd", "-t", "50", "prog", "-x",
        ]))
        .unwrap();
        assert!(c.fatal && !c.dns && c.nodelay);
        assert_eq!(c.banner, b"abcd");
        assert_eq!(c.timeout_ms, 50);
        assert_eq!(rest, args(&["prog", "-x"]));
        let (c, _) = parse(&args(&["-i", "d", "-x", "f", "p"])).unwrap();
        assert!(matches!(c.rules, Source::Cdb(_)));
    }

    #[test]
    fn bad_command_lines() {
        for bad in [
            &[][..],
            &["-i", "d"],
            &["-Z", "p"],
            &["-t", "x", "p"],
            &["-v"],
            &[""],
        ] {
            assert_eq!(
                parse(&args(bad)).err().map(|e| e.code),
                Some(100),
                "{bad:?}"
            );
        }
        let long = "x".repeat(513);
        assert_eq!(
            parse(&args(&["-B", &long, "p"])).err().map(|e| e.code),
            Some(100)
        );
    }

    #[test]
    fn later_env_edits_win() {
        let e = |n: &str, v: Option<&str>| EnvEdit {
            name: n.into(),
            value: v.map(|v| v.into()),
        };
        let out = to_env_edits(&[
            e("A", Some("1")),
            e("B", None),
            e("A", None),
            e("B", Some("2")),
        ]);
        assert_eq!(out.unset, vec![OsString::from("A")]);
        assert_eq!(out.set, vec![(OsString::from("B"), OsString::from("2"))]);
    }
}

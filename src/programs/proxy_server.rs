//! proxy-server: reads a PROXY protocol header (v1 or v2) on stdin, sets
//! the variables a direct connection would have set, and execs prog with
//! everything after the header still unread on stdin.

use crate::fatal::{self, Fatal, Result};
use crate::options::{self, Opt};
use crate::proxy_header::{self, Addresses, Header, Progress, Versions};
use crate::spawn::{self, EnvEdits};
use crate::sys;
use std::ffi::OsString;
use std::net::IpAddr;
use std::os::unix::ffi::OsStringExt;
use std::time::{Duration, Instant};

const USAGE: &str =
    "proxy-server [ -1 | --only-v1 | -2 | --only-v2 ] [ -t timeout ] [ -v verbosity ] prog...";

const OPTIONS: &[Opt] = &[
    Opt::flag("1 only-v1 disable-v2"),
    Opt::flag("2 only-v2 disable-v1"),
    Opt::value("t timeout"),
    Opt::value("v verbosity"),
];

pub fn main() -> ! {
    fatal::run_main("proxy-server", || run(spawn::args()))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, OPTIONS, USAGE)?;
    let mut versions = Versions::BOTH;
    let mut timeout_ms: u64 = 0;
    let mut verbosity: u32 = 1;
    for f in &parsed.found {
        match f.key {
            "1" => versions.v2 = false,
            "2" => versions.v1 = false,
            "t" => timeout_ms = f.number(USAGE)?,
            "v" => verbosity = f.number(USAGE)?,
            _ => {}
        }
    }
    if parsed.rest.is_empty() {
        return Err(Fatal::usage(USAGE));
    }
    let mut env = EnvEdits::default();
    if !versions.v1 && !versions.v2 {
        if verbosity >= 1 {
            fatal::warn("both versions disabled, no PROXY header expected");
        }
    } else {
        let deadline = (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
        let header = read_header(versions, deadline)?;
        report(&header, verbosity);
        set_variables(&header, &mut env);
    }
    Err(spawn::exec(&parsed.rest, &env))
}

/// Reads exactly the header from stdin: never a byte of what follows.
fn read_header(versions: Versions, deadline: Option<Instant>) -> Result<Header> {
    let mut buf = Vec::with_capacity(proxy_header::V1_MAX);
    loop {
        match proxy_header::parse(&buf, versions) {
            Ok(Progress::Done(h)) => return Ok(h),
            Ok(Progress::NeedMore(n)) => read_more(&mut buf, n, deadline)?,
            Err(e) => return Err(Fatal::new(e.exit_code(), e.to_string())),
        }
    }
}

/// Appends at most `n` bytes read from stdin to `buf`, waiting until the
/// deadline.
fn read_more(buf: &mut Vec<u8>, n: usize, deadline: Option<Instant>) -> Result<()> {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let stdin = sys::fd(0);
    let start = buf.len();
    buf.resize(start + n, 0);
    loop {
        let timeout = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Fatal::sys("read from stdin", "Connection timed out"));
                }
                Some(Timespec::try_from(left).unwrap_or(Timespec {
                    tv_sec: i64::MAX,
                    tv_nsec: 0,
                }))
            }
        };
        let mut p = [PollFd::new(&stdin, PollFlags::IN)];
        match poll(&mut p, timeout.as_ref()) {
            Ok(0) => continue,
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(Fatal::sys("poll stdin", e)),
        }
        match rustix::io::read(stdin, &mut buf[start..]) {
            Ok(0) => {
                let why = match start {
                    0 => "end of file before the PROXY header".to_string(),
                    n => format!("end of file after {n} bytes of the PROXY header"),
                };
                return Err(Fatal::sys("read from stdin", why));
            }
            Ok(got) => {
                buf.truncate(start + got);
                return Ok(());
            }
            Err(rustix::io::Errno::INTR | rustix::io::Errno::AGAIN) => continue,
            Err(e) => return Err(Fatal::sys("read from stdin", e)),
        }
    }
}

fn report(h: &Header, verbosity: u32) {
    if let Some(family) = h.local_with_family
        && verbosity >= 1
    {
        fatal::warn(format!(
            "received LOCAL command with family set to {family}"
        ));
    }
    if verbosity >= 2 {
        let what = match &h.addresses {
            Addresses::Keep => "no addresses (the connection's own stand)".to_string(),
            Addresses::Tcp { remote, local } => format!("TCP from {remote} to {local}"),
            Addresses::Unix { remote, local } => format!(
                "IPC from {} to {}",
                String::from_utf8_lossy(remote),
                String::from_utf8_lossy(local)
            ),
        };
        fatal::info(format!("PROXY v{} header: {what}", h.version));
    }
}

/// An address as s6-tcpserver writes it: IPv4-mapped IPv6 as plain IPv4.
fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(a) => match a.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => a.to_string(),
        },
        IpAddr::V4(a) => a.to_string(),
    }
}

fn set_variables(h: &Header, env: &mut EnvEdits) {
    match &h.addresses {
        Addresses::Keep => {}
        Addresses::Tcp { remote, local } => {
            env.set("PROTO", "TCP");
            env.set("TCPREMOTEIP", ip_text(remote.ip()));
            env.set("TCPREMOTEPORT", remote.port().to_string());
            env.set("TCPLOCALIP", ip_text(local.ip()));
            env.set("TCPLOCALPORT", local.port().to_string());
        }
        Addresses::Unix { remote, local } => {
            env.set("PROTO", "IPC");
            env.set("IPCREMOTEPATH", OsString::from_vec(remote.clone()));
            env.set("IPCLOCALPATH", OsString::from_vec(local.clone()));
        }
    }
    let e = &h.extensions;
    for (name, value) in [
        ("SSL_TLS_SNI_SERVERNAME", &e.authority),
        ("SSL_PROTOCOL", &e.ssl_version),
        ("SSL_PEER_CERT_CN", &e.ssl_cn),
        ("SSL_CIPHER", &e.ssl_cipher),
    ] {
        if let Some(v) = value {
            env.set(name, OsString::from_vec(v.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fatal::code;

    #[test]
    fn mapped_addresses_read_as_ipv4() {
        assert_eq!(ip_text("::ffff:10.1.2.3".parse().unwrap()), "10.1.2.3");
        assert_eq!(ip_text("2001:db8::1".parse().unwrap()), "2001:db8::1");
        assert_eq!(ip_text("127.0.0.1".parse().unwrap()), "127.0.0.1");
    }

    #[test]
    fn variables_for_each_kind() {
        let h = Header {
            len: 0,
            version: 2,
            addresses: Addresses::Tcp {
                remote: "[::ffff:192.0.2.9]:4000".parse().unwrap(),
                local: "[2001:db8::2]:443".parse().unwrap(),
            },
            extensions: proxy_header::Extensions {
                authority: Some(b"a.test".to_vec()),
                ..Default::default()
            },
            local_with_family: None,
        };
        let mut env = EnvEdits::default();
        set_variables(&h, &mut env);
        let got: Vec<(String, String)> = env
            .set
            .iter()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        let want: Vec<(String, String)> = [
            ("PROTO", "TCP"),
            ("TCPREMOTEIP", "192.0.2.9"),
            ("TCPREMOTEPORT", "4000"),
            ("TCPLOCALIP", "2001:db8::2"),
            ("TCPLOCALPORT", "443"),
            ("SSL_TLS_SNI_SERVERNAME", "a.test"),
        ]
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
        assert_eq!(got, want);
        let keep = Header {
            addresses: Addresses::Keep,
            extensions: Default::default(),
            ..h
        };
        let mut env = EnvEdits::default();
        set_variables(&keep, &mut env);
        assert!(env.set.is_empty() && env.unset.is_empty());
    }

    #[test]
    fn usage_errors() {
        let args = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(run(args(&[])).unwrap_err().code, code::USAGE);
        assert_eq!(run(args(&["-t", "x", "p"])).unwrap_err().code, code::USAGE);
        assert_eq!(
            run(args(&["--only-v3", "p"])).unwrap_err().code,
            code::USAGE
        );
    }
}

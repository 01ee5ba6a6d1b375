//! s6-tcpclient: connects to host:port and execs prog with the socket on
//! fds 6 (read) and 7 (write) and the TCP variables in its environment.

use crate::fatal::{self, Fatal, Result, code, info, warn};
use crate::net;
use crate::options::{self, Found, Opt};
use crate::spawn::{self, EnvEdits};
use crate::sys;
use std::ffi::OsString;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::os::fd::{AsFd, IntoRawFd};
use std::time::{Duration, Instant};

const USAGE: &str = "s6-tcpclient [ -q | -Q | -v ] [ -4 | -6 ] [ -d | -D ] [ -r | -R ] [ -h ] [ -H ] [ -n | -N ] [ -t timeout ] [ -l localname ] [ -T x+y ] [ -i localip ] [ -p localport ] host port prog...";

const TABLE: &[Opt] = &[
    Opt::flag("q quiet"),
    Opt::flag("Q normally-verbose"),
    Opt::flag("v verbose"),
    Opt::flag("4 ipv4"),
    Opt::flag("6 ipv6"),
    Opt::flag("d nagle"),
    Opt::flag("D no-nagle"),
    Opt::flag("r ident"),
    Opt::flag("R no-ident"),
    Opt::flag("h hosts"),
    Opt::flag("no-hosts"),
    Opt::flag("H no-dns"),
    Opt::flag("dns"),
    Opt::flag("n qualify"),
    Opt::flag("N no-qualify"),
    Opt::value("t timeout"),
    Opt::value("l local-name"),
    Opt::value("T connection-timeouts"),
    Opt::value("i local-ip"),
    Opt::value("p local-port"),
];

/// Upstream tries at most this many addresses.
const MAX_ADDRESSES: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientOptions {
    pub verbosity: u32,
    pub ipv4: bool,
    pub ipv6: bool,
    pub no_delay: bool,
    pub ident: bool,
    pub dns: bool,
    pub local_name: Option<String>,
    /// Global limit, seconds; 0 = none.
    pub timeout: u32,
    /// First and second pass connection timeouts, seconds.
    pub passes: (u32, u32),
    pub local_ip: Option<IpAddr>,
    pub local_port: u16,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            verbosity: 1,
            ipv4: false,
            ipv6: false,
            no_delay: false,
            ident: false,
            dns: true,
            local_name: None,
            timeout: 0,
            passes: (2, 58),
            local_ip: None,
            local_port: 0,
        }
    }
}

/// `-T x+y` or `-T x` (then there is no second pass).
pub fn parse_passes(s: &str) -> Option<(u32, u32)> {
    let num = |t: &str| -> Option<u32> {
        if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        t.parse().ok()
    };
    match s.split_once('+') {
        Some((x, y)) => Some((num(x)?, num(y)?)),
        None => Some((num(s)?, 0)),
    }
}

pub fn fold(found: &[Found], usage: &str) -> Result<ClientOptions> {
    let mut o = ClientOptions::default();
    for f in found {
        match f.key {
            "q" => o.verbosity = 0,
            "Q" => o.verbosity = 1,
            "v" => o.verbosity = 2,
            "4" => o.ipv4 = true,
            "6" => o.ipv6 = true,
            "d" => o.no_delay = false,
            "D" => o.no_delay = true,
            "r" => o.ident = true,
            "R" => o.ident = false,
            "H" => o.dns = false,
            "dns" => o.dns = true,
            "t" => o.timeout = f.number(usage)?,
            "l" => o.local_name = Some(f.text(usage)?),
            "T" => {
                let t = f.text(usage)?;
                o.passes = parse_passes(&t).ok_or_else(|| {
                    Fatal::usage_because(usage, format!("-T needs x+y (seconds), not {t}"))
                })?;
            }
            "i" => {
                let t = f.text(usage)?;
                o.local_ip = Some(net::parse_ip(&t).ok_or_else(|| {
                    Fatal::usage_because(usage, format!("invalid local IP address: {t}"))
                })?);
            }
            "p" => {
                let t = f.text(usage)?;
                o.local_port = net::parse_port(&t).ok_or_else(|| {
                    Fatal::usage_because(usage, format!("invalid local port: {t}"))
                })?;
            }
            // -h, -n, -N: the system resolver reads the hosts file and
            // qualifies names as it is configured to.
            _ => {}
        }
    }
    Ok(o)
}

pub fn main() -> ! {
    fatal::run_main("s6-tcpclient", || run(spawn::args()))
}

fn family_ok(o: &ClientOptions, ip: &IpAddr) -> bool {
    match (o.ipv4, o.ipv6) {
        (false, false) | (true, true) => true,
        (true, false) => ip.is_ipv4(),
        (false, true) => ip.is_ipv6(),
    }
}

/// The addresses to try, in order.
fn addresses(o: &ClientOptions, host: &str) -> Result<Vec<IpAddr>> {
    let mut ips: Vec<IpAddr> = if host.is_empty() || host == "0" {
        vec![Ipv6Addr::LOCALHOST.into(), Ipv4Addr::LOCALHOST.into()]
    } else if let Some(list) = host
        .split(',')
        .map(net::parse_ip)
        .collect::<Option<Vec<_>>>()
    {
        list
    } else if !o.dns {
        return Err(Fatal::usage_because(
            USAGE,
            format!("with -H, host must be an IP address: {host}"),
        ));
    } else {
        (host, 0)
            .to_socket_addrs()
            .map_err(|e| Fatal::sys(&format!("resolve {host}"), e))?
            .map(|a| net::normalize(a.ip()))
            .collect()
    };
    ips.retain(|ip| family_ok(o, ip));
    let mut seen = Vec::new();
    ips.retain(|ip| {
        let new = !seen.contains(ip);
        seen.push(*ip);
        new
    });
    ips.truncate(MAX_ADDRESSES);
    if ips.is_empty() {
        return Err(Fatal::new(
            code::USAGE,
            format!("no suitable IP address for {host}"),
        ));
    }
    Ok(ips)
}

fn try_connect(
    o: &ClientOptions,
    to: SocketAddr,
    limit: Option<Duration>,
) -> std::io::Result<std::os::fd::OwnedFd> {
    let sock = net::socket(to.ip(), false, true)?;
    if o.local_ip.is_some() || o.local_port != 0 {
        let ip = o.local_ip.unwrap_or(match to {
            SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
            SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
        });
        rustix::net::bind(&sock, &SocketAddr::new(ip, o.local_port))?;
    }
    net::connect(sock.as_fd(), to, limit)?;
    Ok(sock)
}

/// Two passes, as upstream: every address with the first timeout, then
/// the ones that failed with the second. The global `-t` caps it all.
fn connect(o: &ClientOptions, ips: &[IpAddr], port: u16) -> Result<std::os::fd::OwnedFd> {
    let start = Instant::now();
    let deadline = (o.timeout > 0).then(|| start + Duration::from_secs(o.timeout.into()));
    let (mut x, mut y) = o.passes;
    if ips.len() == 1 {
        x += y;
        y = 0;
    }
    let mut pass: Vec<IpAddr> = ips.to_vec();
    for (i, secs) in [x, y].into_iter().enumerate() {
        if i == 1 && secs == 0 {
            break;
        }
        let mut again = Vec::new();
        for ip in pass {
            let mut limit = (secs > 0).then(|| Duration::from_secs(secs.into()));
            if let Some(d) = deadline {
                let left = d.saturating_duration_since(Instant::now());
                limit = Some(limit.map_or(left, |l| l.min(left)));
            }
            let to = SocketAddr::new(ip, port);
            match try_connect(o, to, limit) {
                Ok(s) => return Ok(s),
                Err(e) => {
                    if i == 0 && y > 0 {
                        again.push(ip);
                    } else if o.verbosity >= 1 {
                        warn(format!("unable to connect to {ip} port {port}: {e}"));
                    }
                }
            }
        }
        pass = again;
    }
    Err(Fatal::new(
        code::SYS,
        "unable to connect to a suitable IP address",
    ))
}

fn run(args: Vec<OsString>) -> Result<i32> {
    let parsed = options::parse(&args, TABLE, USAGE)?;
    let o = fold(&parsed.found, USAGE)?;
    if parsed.rest.len() < 3 {
        return Err(Fatal::usage(USAGE));
    }
    let host = parsed.rest[0]
        .to_str()
        .ok_or_else(|| Fatal::usage_because(USAGE, "invalid host"))?;
    let port_s = parsed.rest[1].to_string_lossy();
    let port = net::parse_port(&port_s)
        .filter(|&p| p != 0)
        .ok_or_else(|| Fatal::usage_because(USAGE, format!("invalid port number: {port_s}")))?;
    let ips = addresses(&o, host)?;
    let sock = connect(&o, &ips, port)?;

    rustix::io::ioctl_fionbio(&sock, false).map_err(|e| Fatal::sys("set socket blocking", e))?;
    if o.no_delay {
        rustix::net::sockopt::set_tcp_nodelay(&sock, true)
            .map_err(|e| Fatal::sys("set TCP_NODELAY", e))?;
    }
    let local = net::local_addr(&sock).map_err(|e| Fatal::sys("get local address and port", e))?;
    let remote = net::peer_addr(&sock).map_err(|e| Fatal::sys("get remote address and port", e))?;
    if o.verbosity >= 2 {
        info(format!(
            "connected to {} port {}",
            remote.ip(),
            remote.port()
        ));
    }
    let mut env = EnvEdits::default();
    env.set("PROTO", "TCP");
    env.set("TCPREMOTEIP", remote.ip().to_string());
    env.set("TCPREMOTEPORT", remote.port().to_string());
    env.set("TCPLOCALIP", local.ip().to_string());
    env.set("TCPLOCALPORT", local.port().to_string());
    let local_host = match &o.local_name {
        Some(n) => Some(n.clone()),
        None if o.dns => net::name_of(local.ip()),
        None => None,
    };
    let remote_host = if o.dns {
        net::name_of(remote.ip())
    } else {
        None
    };
    for (k, v) in [("TCPLOCALHOST", local_host), ("TCPREMOTEHOST", remote_host)] {
        match v {
            Some(v) => env.set(k, v),
            None => env.unset(k),
        }
    }
    if o.ident && o.verbosity >= 1 {
        warn("IDENT lookups (-r) are not supported: TCPREMOTEINFO is left unset");
    }
    env.unset("TCPREMOTEINFO");

    let fd = sock.into_raw_fd();
    for to in [6, 7] {
        sys::dup_to(fd, to).map_err(|e| Fatal::sys(&format!("set up fd {to}"), e))?;
    }
    if fd != 6 && fd != 7 {
        sys::close(fd);
    }
    Err(spawn::exec(&parsed.rest[2..], &env))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes() {
        assert_eq!(parse_passes("2+58"), Some((2, 58)));
        assert_eq!(parse_passes("5"), Some((5, 0)));
        assert_eq!(parse_passes("0+1"), Some((0, 1)));
        for bad in ["", "+1", "1+", "a+1", "1+2+3", "-1"] {
            assert_eq!(parse_passes(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn families_and_literals() {
        let o = ClientOptions::default();
        let both = addresses(&o, "0").unwrap();
        assert_eq!(both.len(), 2);
        let o4 = ClientOptions {
            ipv4: true,
            ..ClientOptions::default()
        };
        assert_eq!(
            addresses(&o4, "::1,127.0.0.1,127.0.0.1").unwrap(),
            vec![IpAddr::from(Ipv4Addr::LOCALHOST)]
        );
        assert_eq!(addresses(&o4, "::1").unwrap_err().code, 100);
        let no_dns = ClientOptions {
            dns: false,
            ..ClientOptions::default()
        };
        assert_eq!(addresses(&no_dns, "example.org").unwrap_err().code, 100);
    }
}

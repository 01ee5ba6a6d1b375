//! The network edge of the TCP programs: addresses as upstream's tools
//! read and print them, IPv4-mapped IPv6 addresses folded back to IPv4,
//! reverse lookups, and the socket calls they share. rustix covers the
//! socket calls; `libc` covers `getnameinfo`, which rustix lacks.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

/// An IP address literal, v4 or v6.
pub fn parse_ip(s: &str) -> Option<IpAddr> {
    s.parse().ok()
}

/// A port number: decimal digits only, 0 to 65535.
pub fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `::ffff:1.2.3.4` is the IPv4 client 1.2.3.4 seen through a dual-stack
/// socket: access rules and environment variables must see 1.2.3.4.
pub fn normalize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(v6),
        },
        v4 => v4,
    }
}

fn normalize_addr(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(normalize(a.ip()), a.port())
}

fn to_std(a: rustix::net::SocketAddrAny) -> io::Result<SocketAddr> {
    SocketAddr::try_from(a).map_err(|_| io::Error::other("not an INET socket"))
}

/// The local address of a socket, normalised.
pub fn local_addr(fd: impl AsFd) -> io::Result<SocketAddr> {
    Ok(normalize_addr(to_std(rustix::net::getsockname(fd)?)?))
}

/// The peer address of a connected socket, normalised.
pub fn peer_addr(fd: impl AsFd) -> io::Result<SocketAddr> {
    match rustix::net::getpeername(fd)? {
        Some(a) => Ok(normalize_addr(to_std(a)?)),
        None => Err(io::Error::other("no peer address")),
    }
}

/// Is `fd` a socket?
pub fn is_socket(fd: RawFd) -> bool {
    rustix::fs::fstat(crate::sys::fd(fd))
        .map(|st| rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::Socket)
        .unwrap_or(false)
}

/// A new TCP (or UDP) socket for `ip`'s family, close-on-exec.
pub fn socket(ip: IpAddr, udp: bool, nonblocking: bool) -> io::Result<OwnedFd> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = match ip {
        IpAddr::V4(_) => AddressFamily::INET,
        IpAddr::V6(_) => AddressFamily::INET6,
    };
    let kind = if udp {
        SocketType::DGRAM
    } else {
        SocketType::STREAM
    };
    let mut flags = SocketFlags::CLOEXEC;
    if nonblocking {
        flags |= SocketFlags::NONBLOCK;
    }
    Ok(rustix::net::socket_with(family, kind, flags, None)?)
}

/// Connects a non-blocking socket, waiting at most `limit` (None: as long
/// as the kernel tries). The socket stays non-blocking.
pub fn connect(fd: BorrowedFd<'_>, to: SocketAddr, limit: Option<Duration>) -> io::Result<()> {
    use rustix::event::{PollFd, PollFlags, Timespec};
    match rustix::net::connect(fd, &to) {
        Ok(()) => return Ok(()),
        Err(rustix::io::Errno::INPROGRESS) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    let deadline = limit.map(|l| std::time::Instant::now() + l);
    loop {
        let left = deadline.map(|d| d.saturating_duration_since(std::time::Instant::now()));
        if left == Some(Duration::ZERO) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        let ts = left.map(|d| Timespec {
            tv_sec: d.as_secs() as _,
            tv_nsec: d.subsec_nanos() as _,
        });
        let mut set = [PollFd::from_borrowed_fd(fd, PollFlags::OUT)];
        match rustix::event::poll(&mut set, ts.as_ref()) {
            Ok(0) => continue,
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    match rustix::net::sockopt::socket_error(fd)? {
        Ok(()) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The name `ip` maps back to (hosts file or DNS, as the system's
/// resolver is configured), or None.
pub fn name_of(ip: IpAddr) -> Option<String> {
    let mut host = [0 as libc::c_char; 1025];
    let r = match ip {
        IpAddr::V4(v4) => {
            let sa = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: 0,
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: `sa` is a live, fully initialised sockaddr_in whose
            // exact size we pass; `host` is a live buffer of the length we
            // pass, which getnameinfo NUL-terminates on success.
            unsafe {
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in).cast(),
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
        }
        IpAddr::V6(v6) => {
            let sa = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: 0,
                sin6_flowinfo: 0,
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.octets(),
                },
                sin6_scope_id: 0,
            };
            // SAFETY: as above, with a sockaddr_in6.
            unsafe {
                libc::getnameinfo(
                    (&sa as *const libc::sockaddr_in6).cast(),
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                    host.as_mut_ptr(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            }
        }
    };
    if r != 0 {
        return None;
    }
    let bytes: Vec<u8> = host
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8(bytes).ok().filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("0"), Some(0));
        assert_eq!(parse_port("65535"), Some(65535));
        for bad in ["", "65536", "-1", "+5", "12a", "000000080", " 1"] {
            assert_eq!(parse_port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn mapped_addresses_become_ipv4() {
        let m: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
        assert_eq!(normalize(m), "10.1.2.3".parse::<IpAddr>().unwrap());
        let v6: IpAddr = "::1".parse().unwrap();
        assert_eq!(normalize(v6), v6);
        assert_eq!(parse_ip("1.2.3"), None);
        assert!(parse_ip("fe80::1").is_some());
    }
}

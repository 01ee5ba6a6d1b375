//! Host names from the system resolver (getnameinfo / getaddrinfo, so
//! /etc/hosts and DNS as /etc/nsswitch.conf says), with an optional
//! deadline: a lookup runs on its own thread and is abandoned when the
//! deadline passes (the caller then exits or execs, which ends the thread).

use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::mpsc;
use std::time::Instant;

/// Runs `f`, giving up at `deadline`: `None` means it timed out.
pub fn with_deadline<T: Send + 'static>(
    deadline: Option<Instant>,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let Some(deadline) = deadline else {
        return Some(f());
    };
    let (tx, rx) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("lookup".into())
        .spawn(move || {
            let _ = tx.send(f());
        });
    if spawned.is_err() {
        return None;
    }
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .ok()
}

/// The names of `ips`, looked up at once. `None` for a lookup still
/// running at the deadline.
pub fn names_of(
    ips: &[IpAddr],
    deadline: Option<Instant>,
) -> Vec<Option<io::Result<Option<String>>>> {
    let (tx, rx) = mpsc::channel();
    let mut out: Vec<Option<io::Result<Option<String>>>> = ips.iter().map(|_| None).collect();
    let mut waiting = 0;
    for (i, &ip) in ips.iter().enumerate() {
        let tx = tx.clone();
        let spawned = std::thread::Builder::new()
            .name("lookup".into())
            .spawn(move || {
                let _ = tx.send((i, name_of(ip)));
            });
        match spawned {
            Ok(_) => waiting += 1,
            Err(e) => out[i] = Some(Err(e)),
        }
    }
    while waiting > 0 {
        let got = match deadline {
            None => rx.recv().ok(),
            Some(d) => rx
                .recv_timeout(d.saturating_duration_since(Instant::now()))
                .ok(),
        };
        let Some((i, r)) = got else { break };
        out[i] = Some(r);
        waiting -= 1;
    }
    out
}

/// The name of `ip` (reverse lookup). `Ok(None)`: it has none.
pub fn name_of(ip: IpAddr) -> io::Result<Option<String>> {
    let mut host = [0 as libc::c_char; 1025];
    let rc = match ip {
        IpAddr::V4(v4) => {
            // SAFETY: an all-zero sockaddr_in is a valid value; we fill it.
            let mut sa: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sa.sin_family = libc::AF_INET as libc::sa_family_t;
            sa.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
            // SAFETY: `sa` is a live sockaddr_in of the size we pass, `host`
            // a live buffer of the length we pass; no service is asked for.
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
            // SAFETY: an all-zero sockaddr_in6 is a valid value; we fill it.
            let mut sa: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sa.sin6_addr.s6_addr = v6.octets();
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
    match rc {
        0 => {
            // SAFETY: on success getnameinfo wrote a null-terminated string
            // into `host`, which is still alive.
            let name = unsafe { std::ffi::CStr::from_ptr(host.as_ptr()) };
            let name = name.to_string_lossy();
            let name = name.strip_suffix('.').unwrap_or(&name);
            Ok((!name.is_empty()).then(|| name.to_string()))
        }
        libc::EAI_NONAME => Ok(None),
        libc::EAI_SYSTEM => Err(io::Error::last_os_error()),
        code => {
            // SAFETY: gai_strerror returns a pointer to a static string.
            let msg = unsafe { std::ffi::CStr::from_ptr(libc::gai_strerror(code)) };
            Err(io::Error::other(msg.to_string_lossy().into_owned()))
        }
    }
}

/// The addresses `name` resolves to (forward lookup).
pub fn addresses_of(name: &str) -> io::Result<Vec<IpAddr>> {
    Ok((name, 0)
        .to_socket_addrs()?
        .map(|sa: SocketAddr| sa.ip())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn deadline_gives_up_on_a_slow_call() {
        let t = Instant::now();
        let r = with_deadline(Some(Instant::now() + Duration::from_millis(50)), || {
            std::thread::sleep(Duration::from_secs(5));
            1
        });
        assert_eq!(r, None);
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_eq!(with_deadline(None, || 7), Some(7));
        assert_eq!(
            with_deadline(Some(Instant::now() + Duration::from_secs(5)), || 8),
            Some(8)
        );
    }
}

//! What the fault, hygiene and soak tests share on top of `common`: the
//! processes of a chain as /proc sees them (so that a test can tell that
//! every one of them is gone, none left behind as an orphan), signals,
//! resets, and a few /proc readings.
#![allow(dead_code)]

use crate::common::*;
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

/// A process as /proc knows it: its pid and its start time, so that a pid
/// reused by a later process is not mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pid {
    pub pid: u32,
    start: u64,
}

/// State letter and start time of `pid`, from /proc/PID/stat.
fn stat(pid: u32) -> Option<(char, u64)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((f[0].chars().next()?, f[19].parse().ok()?))
}

impl Pid {
    pub fn of(pid: u32) -> Option<Pid> {
        stat(pid).map(|(_, start)| Pid { pid, start })
    }

    /// Still running (a zombie waiting for its reaper counts as gone).
    pub fn alive(&self) -> bool {
        matches!(stat(self.pid), Some((st, start)) if start == self.start && st != 'Z')
    }

    pub fn comm(&self) -> String {
        comm(self.pid)
    }
}

pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `pid` and all its descendants, now.
pub fn tree(pid: u32) -> Vec<Pid> {
    let mut out: Vec<Pid> = Pid::of(pid).into_iter().collect();
    let mut i = 0;
    while i < out.len() {
        let kids = children(out[i].pid);
        out.extend(kids.into_iter().filter_map(Pid::of));
        i += 1;
    }
    out
}

/// Waits until every process in `procs` is gone; fails naming the ones
/// left (with what they are) after `limit`.
pub fn assert_gone(procs: &[Pid], limit: Duration, what: &str) {
    let end = Instant::now() + limit;
    loop {
        let left: Vec<String> = procs
            .iter()
            .filter(|p| p.alive())
            .map(|p| format!("{} ({})", p.pid, p.comm()))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < end,
            "{what}: still running after {limit:?}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for a process named `name` among the descendants of `pid`.
pub fn find_in_tree(pid: u32, name: &str, limit: Duration) -> Pid {
    let end = Instant::now() + limit;
    loop {
        if let Some(p) = tree(pid).into_iter().find(|p| p.comm() == name) {
            return p;
        }
        assert!(
            Instant::now() < end,
            "no {name} under {pid}: {:?}",
            tree(pid)
                .iter()
                .map(|p| (p.pid, p.comm()))
                .collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Makes the next close of `s` (by whoever holds the last copy) a reset:
/// SO_LINGER on, with a zero timeout.
pub fn reset_on_close(s: &TcpStream) {
    let l = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: setsockopt reads `l`, a live linger struct, of the size given.
    let r = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            &l as *const libc::linger as *const libc::c_void,
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        )
    };
    assert_eq!(r, 0, "SO_LINGER: {}", std::io::Error::last_os_error());
}

/// Open fds of a process.
pub fn fd_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// A `Key:` line of /proc/PID/status, as its whitespace-separated fields.
pub fn status_field(pid: u32, key: &str) -> Vec<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .map(|v| v.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Peak resident memory of a process, KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_field(pid, "VmHWM")
        .first()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Asserts `pid` used (almost) no CPU during `d`: a busy loop would use
/// about 100 clock ticks a second.
pub fn assert_idle_for(pid: u32, d: Duration, what: &str) {
    let before = cpu_ticks(pid);
    std::thread::sleep(d);
    let used = cpu_ticks(pid) - before;
    let allowed = 2 + d.as_millis() as u64 / 1000;
    assert!(used <= allowed, "{what}: {used} ticks of CPU in {d:?}");
}

/// The first TLS record a client engine sends (its ClientHello), as real
/// bytes to replay slowly or in part.
pub fn client_hello(pki: &Pki) -> Vec<u8> {
    use std::io::Read;
    let (c, mut s) = tcp_pair();
    let _engine = Engine::client(pki, c, &["-k", "localhost"], &[]);
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut hdr = [0u8; 5];
    s.read_exact(&mut hdr).unwrap();
    assert_eq!(hdr[0], 22, "not a handshake record: {hdr:?}");
    let len = u16::from_be_bytes([hdr[3], hdr[4]]) as usize;
    let mut rec = hdr.to_vec();
    rec.resize(5 + len, 0);
    s.read_exact(&mut rec[5..]).unwrap();
    rec
}

/// The variable that marks every process of one test's chains: set on the
/// first command, it is inherited all the way down (the wrappers remove
/// only the TLS variables), so /proc tells which processes are left.
pub const TAG: &str = "S6_TLS_TEST_TAG";

/// Marks `c` and everything it will start with a tag of its own.
pub fn tag(c: &mut std::process::Command) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = format!(
        "{}.{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    c.env(TAG, &t);
    t
}

/// The live processes carrying `tag` in their environment.
pub fn tagged(tag: &str) -> Vec<Pid> {
    let want = format!("{TAG}={tag}");
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(format!("/proc/{pid}/environ")) else {
            continue;
        };
        if env.split(|&b| b == 0).any(|v| v == want.as_bytes())
            && let Some(p) = Pid::of(pid)
            && p.alive()
        {
            out.push(p);
        }
    }
    out
}

/// Waits until no process but `except` carries `tag`.
pub fn assert_none_tagged(tag: &str, except: &[u32], limit: Duration, what: &str) {
    let end = Instant::now() + limit;
    loop {
        let left: Vec<Pid> = tagged(tag)
            .into_iter()
            .filter(|p| !except.contains(&p.pid))
            .collect();
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < end,
            "{what}: left behind after {limit:?}: {:?}",
            left.iter().map(|p| (p.pid, p.comm())).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The command `tcp_support::tls_server` runs, to be adjusted before
/// `Server::start`.
pub fn tls_server_cmd(pki: &Pki, extra: &[&str], prog: &[&str]) -> std::process::Command {
    let mut c = cmd("s6-tlsserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .arg("-1H")
        .args(extra)
        .args(["127.0.0.1", "0"])
        .args(prog);
    c
}

/// `tcp_support::tls_server` with every process it will start tagged.
pub fn tagged_tls_server(
    pki: &Pki,
    extra: &[&str],
    prog: &[&str],
) -> (crate::tcp_support::Server, String) {
    let mut c = tls_server_cmd(pki, extra, prog);
    let t = tag(&mut c);
    let log = pki.path(&format!("server-{t}.log"));
    (crate::tcp_support::Server::start(&mut c, &log), t)
}

/// Makes `c` start with no fd above 2 but `keep` (whatever the test
/// process itself inherited from its own caller), so that an fd a chain
/// holds is one the chain made.
pub fn only_fds(c: &mut std::process::Command, keep: &[i32]) {
    use std::os::unix::process::CommandExt;
    let mut keep: Vec<i32> = keep.to_vec();
    keep.sort();
    // SAFETY: between fork and exec only close_range/close, which are
    // async-signal-safe, on numbers; `keep` is this closure's own Vec.
    unsafe {
        c.pre_exec(move || {
            let mut lo = 3u32;
            for &k in keep.iter().chain(std::iter::once(&i32::MAX)) {
                let k = k as u32;
                if k > lo && libc::syscall(libc::SYS_close_range, lo, k - 1, 0) != 0 {
                    for fd in lo..k.min(4096) {
                        libc::close(fd as i32);
                    }
                }
                lo = lo.max(k.saturating_add(1));
            }
            Ok(())
        });
    }
}

//! What the TCP-side tests share: a super-server started with `-1`
//! (its port read from stdout), measured through /proc and stopped with
//! its children; clients bound to a chosen local address; a small HTTP
//! responder for curl and openssl.
#![allow(dead_code)]

use crate::common::*;
use std::io::{BufRead, BufReader, Read};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const T: Duration = Duration::from_secs(30);

/// A running s6-tcpserver / s6-tlsserver chain (the pid is s6-tcpserverd's
/// once the chain has exec'd down to it).
pub struct Server {
    pub proc: Proc,
    pub port: u16,
    pub log: PathBuf,
}

impl Server {
    /// Starts `cmd` (which must have been given `-1`), stderr to `log`,
    /// and waits for the port it prints.
    pub fn start(cmd: &mut Command, log: &Path) -> Server {
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(log).unwrap()));
        let mut proc = Proc::spawn(cmd);
        let out = proc.child.as_mut().unwrap().stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            // Ready means the port line *and* stdout closed: until then the
            // server is still setting up (it puts /dev/null on fd 1), and a
            // test that squeezes its fd limit must not race with that.
            let mut line = String::new();
            let mut r = BufReader::new(out);
            let _ = r.read_line(&mut line);
            let _ = std::io::copy(&mut r, &mut std::io::sink());
            let _ = tx.send(line);
        });
        let line = rx
            .recv_timeout(T)
            .unwrap_or_else(|_| panic!("no port from the server; log: {}", read(log)));
        let port = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("bad port line {line:?}; log: {}", read(log)));
        Server {
            proc,
            port,
            log: log.to_path_buf(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on a child we own and have not reaped.
        assert_eq!(unsafe { libc::kill(self.pid() as i32, sig) }, 0);
    }

    pub fn log(&self) -> String {
        read(&self.log)
    }

    /// Open fds of the server process.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .unwrap()
            .count()
    }

    /// The lowest fd number the server does not hold, once its fd table
    /// has been the same for 100 ms: right after start-up it may still
    /// hold a passing fd (the /dev/null it puts on stdout after `-1`),
    /// which would leave a hole below a limit computed from it.
    pub fn lowest_free_fd(&self) -> u64 {
        let used = || -> Vec<u64> {
            let mut v: Vec<u64> = std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
                .unwrap()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            v.sort();
            v
        };
        let end = Instant::now() + T;
        let mut last = used();
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let now = used();
            if now == last || Instant::now() > end {
                return (0..).find(|n| !now.contains(n)).unwrap();
            }
            last = now;
        }
    }

    /// Resident memory of the server process, KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    /// The children of the server process, now.
    pub fn children(&self) -> Vec<u32> {
        let pid = self.pid();
        let path = format!("/proc/{pid}/task/{pid}/children");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    }

    pub fn addr(&self, ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), self.port)
    }

    /// Waits until the log holds `needle` `times` times.
    pub fn wait_log(&self, needle: &str, times: usize) {
        let end = Instant::now() + T;
        while self.log().matches(needle).count() < times {
            assert!(
                Instant::now() < end,
                "no {needle:?} x{times} in log: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGABRT: the server kills every child, then exits.
        if let Some(c) = self.proc.child.as_mut()
            && c.try_wait().ok().flatten().is_none()
        {
            // SAFETY: kill(2) on a child we own and have not reaped.
            unsafe { libc::kill(c.id() as i32, libc::SIGABRT) };
            let _ = self.proc.try_wait(Duration::from_secs(5));
        }
    }
}

pub fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// A TCP connection to `to` from the local address `from`.
pub fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    let from: IpAddr = from.parse().unwrap();
    let family = if from.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    };
    let s = socket(family, SocketType::STREAM, None).unwrap();
    bind(&s, &SocketAddr::new(from, 0)).unwrap();
    connect(&s, &to).unwrap();
    TcpStream::from(s)
}

/// Reads until EOF or `limit`; None if the peer kept the connection open.
pub fn read_to_eof(s: &mut TcpStream, limit: Duration) -> Option<Vec<u8>> {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut v = Vec::new();
    match s.read_to_end(&mut v) {
        Ok(_) => Some(v),
        Err(_) => None,
    }
}

/// Reads one line (with a time limit).
pub fn read_line(s: &mut TcpStream, limit: Duration) -> Option<String> {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => return (!line.is_empty()).then(|| String::from_utf8_lossy(&line).into()),
            Ok(_) if b[0] == b'\n' => return Some(String::from_utf8_lossy(&line).into()),
            Ok(_) => line.push(b[0]),
            Err(_) => return None,
        }
    }
}

/// The HTTP responder script shipped with the tests.
pub fn http_responder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/http-responder.sh")
}

/// Is IPv6 loopback usable here?
pub fn have_ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

/// A file holding `bytes`, opened for reading, as a child's stdin.
pub fn stdin_file(dir: &Path, name: &str, bytes: &[u8]) -> Stdio {
    let p = file(dir, name, bytes);
    Stdio::from(std::fs::File::open(p).unwrap())
}

pub fn stdout_file(p: &Path) -> Stdio {
    Stdio::from(std::fs::File::create(p).unwrap())
}

/// s6-tlsserver with the test PKI's server certificate, `-1`, no DNS.
pub fn tls_server(pki: &Pki, ip: &str, extra: &[&str], prog: &[&str]) -> Server {
    let mut c = cmd("s6-tlsserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .arg("-1H")
        .args(extra)
        .args([ip, "0"])
        .args(prog);
    Server::start(&mut c, &pki.path(&format!("server-{}.log", unique())))
}

/// s6-tlsclient to `port` trusting the test CA, with `-H -k localhost`.
pub fn tls_client(pki: &Pki, ip: &str, port: u16, extra: &[&str], prog: &[&str]) -> Command {
    let mut c = cmd("s6-tlsclient");
    c.env("CAFILE", &pki.ca_file)
        .args(["-H", "-k", "localhost"])
        .args(extra)
        .args([ip, &port.to_string()])
        .args(prog);
    c
}

pub fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Parses `env` output into pairs.
pub fn env_of(text: &str) -> std::collections::HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

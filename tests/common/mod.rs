//! What every end-to-end test needs: the built binaries, a fresh PKI in a
//! temporary directory, loopback sockets handed to processes as fds, and
//! processes that are killed and reaped whatever happens to the test.
#![allow(dead_code)]

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, date_time_ymd,
};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// A program built by this package (cargo builds them for integration
/// tests), or by another build of it: `S6TLS_BIN_DIR` names a directory of
/// programs to test instead (.ci/run points it at the nightly build-std
/// musl binaries, which cargo test cannot build).
pub fn bin(name: &str) -> PathBuf {
    let dir = match std::env::var_os("S6TLS_BIN_DIR").filter(|d| !d.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => {
            let exe = std::env::current_exe().expect("current_exe");
            exe.parent()
                .and_then(Path::parent)
                .expect("target dir")
                .to_path_buf()
        }
    };
    let p = dir.join(name);
    assert!(p.exists(), "{} is not built", p.display());
    p
}

/// The directory holding the built programs, to put first on PATH.
pub fn bin_dir() -> PathBuf {
    bin("s6-tlsc").parent().unwrap().to_path_buf()
}

/// `name` where a dropped-privilege process may exec it: the built one,
/// unless a directory above it is closed to others (a checkout under
/// /root, a `mktemp -d` clone), then a link to it (or a copy) in a
/// directory of its own beside links to every other built program, since
/// siblings are found next to the executable.
pub fn runnable_by_others(name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static SHARED: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    let built = bin(name);
    let open = built
        .ancestors()
        .skip(1)
        .all(|d| std::fs::metadata(d).is_ok_and(|m| m.permissions().mode() & 0o001 != 0));
    if open {
        return built;
    }
    let dir = SHARED.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        for e in std::fs::read_dir(bin_dir()).unwrap() {
            let e = e.unwrap();
            let n = e.file_name();
            let n = n.to_string_lossy();
            let program = (n.starts_with("s6-") || n == "proxy-server") && !n.contains('.');
            if program && e.file_type().unwrap().is_file() {
                let to = dir.path().join(&*n);
                if std::fs::hard_link(e.path(), &to).is_err() {
                    std::fs::copy(e.path(), &to).unwrap();
                }
            }
        }
        dir
    });
    dir.path().join(name)
}

/// A certificate and its key, written as PEM and DER files.
pub struct CertFiles {
    pub cert_pem: PathBuf,
    pub cert_der: PathBuf,
    pub key_pem: PathBuf,
    pub key_der: PathBuf,
    pub der: Vec<u8>,
}

/// A throwaway PKI: a CA and certificates it signed, plus a few bad ones.
pub struct Pki {
    pub dir: tempfile::TempDir,
    /// The CA certificate (PEM), for CAFILE.
    pub ca_file: PathBuf,
    /// A directory holding the CA certificate, for CADIR.
    pub ca_dir: PathBuf,
    /// localhost, 127.0.0.1 and ::1.
    pub server: CertFiles,
    /// `*.example.test`.
    pub wildcard: CertFiles,
    /// `other.test` only.
    pub other: CertFiles,
    /// A client certificate (CN=client.test).
    pub client: CertFiles,
    /// localhost, but expired in 2001.
    pub expired: CertFiles,
    /// localhost, self-signed: trusted by nobody.
    pub untrusted: CertFiles,
    /// A CA nobody trusts and a client certificate it signed.
    pub rogue_client: CertFiles,
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

fn params(names: &[&str], cn: &str) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "FR");
    dn.push(DnType::OrganizationName, "s6-tls test");
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p
}

fn save(dir: &Path, name: &str, cert: &rcgen::Certificate, key: &KeyPair) -> CertFiles {
    let f = CertFiles {
        cert_pem: dir.join(format!("{name}.crt.pem")),
        cert_der: dir.join(format!("{name}.crt.der")),
        key_pem: dir.join(format!("{name}.key.pem")),
        key_der: dir.join(format!("{name}.key.der")),
        der: cert.der().to_vec(),
    };
    write(&f.cert_pem, cert.pem().as_bytes());
    write(&f.cert_der, cert.der());
    write(&f.key_pem, key.serialize_pem().as_bytes());
    write(&f.key_der, &key.serialize_der());
    f
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = params(&[], "s6-tls test CA");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let ca = Issuer::new(ca_params, &ca_key);
        let ca_file = d.join("ca.pem");
        write(&ca_file, ca_cert.pem().as_bytes());
        let ca_dir = d.join("cadir");
        std::fs::create_dir(&ca_dir).unwrap();
        write(&ca_dir.join("ca.der"), ca_cert.der());
        write(&ca_dir.join("README"), b"not a certificate\n");

        let signed = |name: &str, names: &[&str], cn: &str| {
            let key = KeyPair::generate().unwrap();
            let cert = params(names, cn).signed_by(&key, &ca).unwrap();
            save(d, name, &cert, &key)
        };
        let server = signed("server", &["localhost", "127.0.0.1", "::1"], "localhost");
        let wildcard = signed("wildcard", &["*.example.test"], "*.example.test");
        let other = signed("other", &["other.test"], "other.test");
        let client = signed("client", &["client.test"], "client.test");

        let key = KeyPair::generate().unwrap();
        let mut p = params(&["localhost", "127.0.0.1"], "localhost");
        p.not_before = date_time_ymd(2000, 1, 1);
        p.not_after = date_time_ymd(2001, 1, 1);
        let expired = save(d, "expired", &p.signed_by(&key, &ca).unwrap(), &key);

        let key = KeyPair::generate().unwrap();
        let untrusted = save(
            d,
            "untrusted",
            &params(&["localhost", "127.0.0.1"], "localhost")
                .self_signed(&key)
                .unwrap(),
            &key,
        );

        let rogue_key = KeyPair::generate().unwrap();
        let mut rogue_params = params(&[], "rogue CA");
        rogue_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let rogue = Issuer::new(rogue_params, &rogue_key);
        let key = KeyPair::generate().unwrap();
        let rogue_client = save(
            d,
            "rogue-client",
            &params(&["client.test"], "rogue")
                .signed_by(&key, &rogue)
                .unwrap(),
            &key,
        );

        Pki {
            dir,
            ca_file,
            ca_dir,
            server,
            wildcard,
            other,
            client,
            expired,
            untrusted,
            rogue_client,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// A child process that is killed and reaped when dropped.
pub struct Proc {
    pub child: Option<Child>,
    pub name: String,
}

impl Proc {
    pub fn spawn(cmd: &mut Command) -> Proc {
        let name = format!("{:?}", cmd.get_program());
        let child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        Proc {
            child: Some(child),
            name,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Waits at most `limit`; panics (after killing it) if it is still running.
    pub fn wait(&mut self, limit: Duration) -> ExitStatus {
        self.try_wait(limit)
            .unwrap_or_else(|| panic!("{} still running after {limit:?}", self.name))
    }

    pub fn try_wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let child = self.child.as_mut().unwrap();
        let end = Instant::now() + limit;
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return Some(st);
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Waits, then returns the exit code and everything on stderr (which
    /// must have been piped).
    pub fn finish(&mut self, limit: Duration) -> (i32, String) {
        let mut err = String::new();
        let stderr = self.child.as_mut().unwrap().stderr.take();
        let reader = stderr.map(|mut s| {
            std::thread::spawn(move || {
                let mut v = String::new();
                let _ = s.read_to_string(&mut v);
                v
            })
        });
        let st = self.wait(limit);
        if let Some(r) = reader {
            err = r.join().unwrap();
        }
        (code_of(st), err)
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

pub fn code_of(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// A connected pair of TCP sockets on 127.0.0.1.
pub fn tcp_pair() -> (TcpStream, TcpStream) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (s, _) = l.accept().unwrap();
    (c, s)
}

/// Makes `cmd` start with `fds[i].0` duplicated onto fd number `fds[i].1`.
/// The sources must stay open until the command is spawned.
pub fn with_fds(cmd: &mut Command, fds: &[(RawFd, RawFd)]) {
    let fds = fds.to_vec();
    // SAFETY: between fork and exec we call only dup2 and fcntl, which are
    // async-signal-safe, and touch no memory but this closure's own Vec.
    unsafe {
        cmd.pre_exec(move || {
            // Move the sources out of the way first, so that mapping onto a
            // number that is itself a source does not clobber it.
            let mut tmp = Vec::with_capacity(fds.len());
            for &(from, _) in &fds {
                let t = libc::fcntl(from, libc::F_DUPFD_CLOEXEC, 100);
                if t < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                tmp.push(t);
            }
            for (i, &(_, to)) in fds.iter().enumerate() {
                if libc::dup2(tmp[i], to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Deterministic test data: `n` bytes from `seed`.
pub fn data(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    let mut v = Vec::with_capacity(n);
    while v.len() < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(n);
    v
}

/// Asserts two byte strings are equal without printing megabytes.
pub fn assert_same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        panic!(
            "{what}: got {} bytes, want {}; first difference at {at}",
            got.len(),
            want.len()
        );
    }
}

/// Writes `bytes` to a new file in `dir` and returns its path.
pub fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    write(&p, bytes);
    p
}

/// A `Command` for a built program with a clean, predictable environment:
/// the TLS variables removed and the built programs first on PATH.
pub fn cmd(name: &str) -> Command {
    cmd_at(&bin(name))
}

/// [`cmd`] for a program at `path` (a copy of a built one).
pub fn cmd_at(path: &Path) -> Command {
    let mut c = Command::new(path);
    for (k, _) in std::env::vars_os() {
        let s = k.to_string_lossy();
        if s.starts_with("KEYFILE")
            || s.starts_with("CERTFILE")
            || s.starts_with("SSL_")
            || ["CADIR", "CAFILE", "TLS_UID", "TLS_GID"].contains(&s.as_ref())
        {
            c.env_remove(&k);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![bin_dir()];
    paths.extend(std::env::split_paths(&path));
    c.env("PATH", std::env::join_paths(paths).unwrap());
    c
}

/// Keeps an fd open in this process while a child uses its copy.
pub fn raw(s: &impl AsRawFd) -> RawFd {
    s.as_raw_fd()
}

pub fn owned(s: impl Into<OwnedFd>) -> OwnedFd {
    s.into()
}

/// Writes all of `data` then half-closes; used from a thread.
pub fn send_all_then_shutdown(mut s: TcpStream, data: Vec<u8>) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        s.write_all(&data).unwrap();
        let _ = s.shutdown(std::net::Shutdown::Write);
    })
}

pub fn piped_stderr(c: &mut Command) -> &mut Command {
    c.stderr(Stdio::piped())
}

/// The time any single step of a test may take before it counts as a hang.
pub const LIMIT: Duration = Duration::from_secs(60);

/// `sh -c script` as the arguments of a chain-loaded prog.
pub fn sh(script: &str) -> [String; 3] {
    ["sh".into(), "-c".into(), script.into()]
}

/// Spawns `c`, then drops `keep` (the sockets or pipe ends the child got
/// copies of), so that only the child holds them.
pub fn start<T>(c: &mut Command, keep: T) -> Proc {
    let p = Proc::spawn(c);
    drop(keep);
    p
}

/// `s6-tlsc opts...` with the network on fds 8/9 (6 and 7 not open)
/// uploads `up` to an s6-tlsd that stores it and answers "done"; prog runs
/// the shell `check` first. Both ends must exit 0 and the bytes arrive.
pub fn upload_on_fds_8_and_9(pki: &Pki, opts: &[&str], check: &str, up: &[u8]) {
    let d = pki.dir.path();
    let cin = file(d, "cin", up);
    let sout = d.join("sout");
    let (c, s) = tcp_pair();
    let mut server = start(
        &mut tlsd(
            pki,
            &s,
            &[],
            &format!("cat > {}; echo done", sout.display()),
        ),
        s,
    );
    let mut cc = cmd("s6-tlsc");
    cc.env("CAFILE", &pki.ca_file)
        .args(opts)
        .args(sh(&format!(
            "{check}cat {} >&9; exec 9>&-; read x <&8; [ \"$x\" = done ]",
            cin.display()
        )))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_fds(&mut cc, &[(raw(&c), 8), (raw(&c), 9)]);
    let mut client = start(&mut cc, c);
    let (code, err) = client.finish(LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.finish(LIMIT).0, 0);
    assert_same(&std::fs::read(&sout).unwrap(), up, "up");
}

/// `s6-tlsd opts... sh -c script` over `sock` (on its fds 0/1), serving the
/// localhost certificate, stderr piped.
pub fn tlsd(pki: &Pki, sock: &TcpStream, opts: &[&str], script: &str) -> Command {
    let mut c = cmd("s6-tlsd");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(opts)
        .args(sh(script))
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock.try_clone().unwrap()))
        .stderr(Stdio::piped());
    c
}

/// `s6-tlsc opts... sh -c script` over `sock` (on its fds 6/7), trusting
/// the test CA, stderr piped. The caller keeps `sock` open until spawned.
pub fn tlsc(pki: &Pki, sock: &TcpStream, opts: &[&str], script: &str) -> Command {
    let mut c = cmd("s6-tlsc");
    c.env("CAFILE", &pki.ca_file)
        .args(opts)
        .args(sh(script))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_fds(&mut c, &[(raw(sock), 6), (raw(sock), 7)]);
    c
}

/// An engine run directly: the test is its application, writing cleartext
/// to `input` and reading cleartext from `output`.
pub struct Engine {
    pub proc: Proc,
    pub input: Option<Box<dyn Write + Send>>,
    pub output: Option<Box<dyn Read + Send>>,
}

impl Engine {
    /// `s6-tlsc-io opts... 6 7` with the network on fds 6/7 and the
    /// application on stdin/stdout. `env` is added to a clean environment
    /// holding CAFILE.
    pub fn client(pki: &Pki, sock: TcpStream, opts: &[&str], env: &[(&str, &Path)]) -> Engine {
        let mut c = cmd("s6-tlsc-io");
        c.env("CAFILE", &pki.ca_file);
        for (k, v) in env {
            c.env(k, v);
        }
        c.args(opts)
            .args(["6", "7"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        with_fds(&mut c, &[(raw(&sock), 6), (raw(&sock), 7)]);
        let mut proc = start(&mut c, sock);
        let child = proc.child.as_mut().unwrap();
        let input = child
            .stdin
            .take()
            .map(|w| Box::new(w) as Box<dyn Write + Send>);
        let output = child
            .stdout
            .take()
            .map(|r| Box::new(r) as Box<dyn Read + Send>);
        Engine {
            proc,
            input,
            output,
        }
    }

    /// `s6-tlsd-io opts... 3 4` with the network on stdin/stdout and the
    /// application on pipes at fds 3 (from the test) and 4 (to the test).
    /// `env` is added to a clean environment holding KEYFILE/CERTFILE for
    /// localhost.
    pub fn server(pki: &Pki, sock: TcpStream, opts: &[&str], env: &[(&str, &Path)]) -> Engine {
        let mut c = cmd("s6-tlsd-io");
        c.env("KEYFILE", &pki.server.key_pem)
            .env("CERTFILE", &pki.server.cert_pem);
        for (k, v) in env {
            c.env(k, v);
        }
        let (from_test, to_engine) = std::io::pipe().unwrap();
        let (from_engine, to_test) = std::io::pipe().unwrap();
        c.args(opts)
            .args(["3", "4"])
            .stdin(owned(sock.try_clone().unwrap()))
            .stdout(owned(sock))
            .stderr(Stdio::piped());
        with_fds(&mut c, &[(raw(&from_test), 3), (raw(&to_test), 4)]);
        let proc = start(&mut c, (from_test, to_test));
        Engine {
            proc,
            input: Some(Box::new(to_engine)),
            output: Some(Box::new(from_engine)),
        }
    }

    /// Writes `data` to the engine from a thread, then closes its input.
    pub fn send(&mut self, data: Vec<u8>) -> std::thread::JoinHandle<()> {
        let mut w = self.input.take().expect("input already closed");
        std::thread::spawn(move || {
            // The engine may legitimately be gone (an error test).
            let _ = w.write_all(&data);
        })
    }

    /// Reads everything the engine outputs, from a thread.
    pub fn receive(&mut self) -> std::thread::JoinHandle<Vec<u8>> {
        let mut r = self.output.take().expect("output already taken");
        std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = r.read_to_end(&mut v);
            v
        })
    }

    pub fn pid(&self) -> u32 {
        self.proc.pid()
    }

    /// Exit code and stderr.
    pub fn finish(&mut self) -> (i32, String) {
        self.proc.finish(LIMIT)
    }
}

/// Joins a thread started by `Engine::receive` or similar, bounded in time.
pub fn join<T: Send + 'static>(h: std::thread::JoinHandle<T>, limit: Duration) -> T {
    let end = Instant::now() + limit;
    while !h.is_finished() {
        assert!(Instant::now() < end, "thread still running after {limit:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
    h.join().unwrap()
}

/// Asserts a failure was reported as one clean fatal line, not a panic.
pub fn assert_clean_failure(stderr: &str, prog: &str, needle: &str) {
    assert!(!stderr.contains("panicked"), "panic in stderr: {stderr}");
    assert!(
        !stderr.contains("RUST_BACKTRACE"),
        "backtrace hint: {stderr}"
    );
    let fatal: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with(&format!("{prog}: fatal: ")))
        .collect();
    assert_eq!(fatal.len(), 1, "want one fatal line from {prog}: {stderr}");
    assert!(
        fatal[0].contains(needle),
        "fatal line {:?} should mention {needle:?}",
        fatal[0]
    );
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Is something listening on 127.0.0.1:`port`? Read from /proc/net/tcp, so
/// that checking does not use up a connection of a one-shot server.
pub fn is_listening(port: u16) -> bool {
    let table = std::fs::read_to_string("/proc/net/tcp").unwrap_or_default();
    let want = format!(":{port:04X}");
    table.lines().skip(1).any(|l| {
        let f: Vec<&str> = l.split_whitespace().collect();
        f.len() > 3 && f[1].ends_with(&want) && f[3] == "0A"
    })
}

/// `openssl s_server` for one connection on 127.0.0.1:`port`, with the
/// localhost certificate unless `args` names another.
pub fn s_server(pki: &Pki, port: u16, args: &[&str]) -> Command {
    let mut c = Command::new("openssl");
    c.arg("s_server")
        .args(["-naccept", "1", "-accept"])
        .arg(format!("127.0.0.1:{port}"));
    if !args.contains(&"-cert") {
        c.arg("-cert")
            .arg(&pki.server.cert_pem)
            .arg("-key")
            .arg(&pki.server.key_pem);
    }
    c.args(args).stderr(Stdio::piped());
    c
}

/// Starts a server command built by `s_server` and waits until it listens.
pub fn start_s_server(c: &mut Command, port: u16) -> Proc {
    let mut p = Proc::spawn(c);
    let end = Instant::now() + Duration::from_secs(20);
    while !is_listening(port) {
        if let Some(st) = p.try_wait(Duration::ZERO) {
            let (_, err) = p.finish(LIMIT);
            panic!("openssl s_server exited {st:?}: {err}");
        }
        assert!(Instant::now() < end, "openssl s_server does not listen");
        std::thread::sleep(Duration::from_millis(10));
    }
    p
}

/// `openssl s_client` to 127.0.0.1:`port`, trusting the test CA.
pub fn s_client(pki: &Pki, port: u16, args: &[&str]) -> Command {
    let mut c = Command::new("openssl");
    c.arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        .arg("-CAfile")
        .arg(&pki.ca_file)
        .args(args)
        .stderr(Stdio::piped());
    c
}

/// Runs `openssl` with `args`, asserting success; returns stdout.
pub fn openssl(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = Command::new("openssl").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// `SHA256:<hex>` of a DER certificate, computed by openssl.
pub fn cert_hash(der_file: &Path) -> String {
    let out = openssl(&[
        "dgst".as_ref(),
        "-sha256".as_ref(),
        "-r".as_ref(),
        der_file.as_os_str(),
    ]);
    let text = String::from_utf8(out).unwrap();
    format!("SHA256:{}", text.split_whitespace().next().unwrap())
}

/// The variables of an `env` dump (one `KEY=value` per line).
pub fn parse_env(text: &str) -> std::collections::BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The pids of `pid`'s children.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
                out.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    out
}

/// utime + stime of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

/// Waits until `path` exists (a marker a prog writes), bounded.
pub fn wait_for_file(path: &Path, limit: Duration) {
    let end = Instant::now() + limit;
    while !path.exists() {
        assert!(Instant::now() < end, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Accepts one connection on `l`, failing the test after `limit`.
pub fn accept_within(l: &TcpListener, limit: Duration) -> TcpStream {
    l.set_nonblocking(true).unwrap();
    let end = Instant::now() + limit;
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false).unwrap();
                return s;
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                assert!(Instant::now() < end, "no connection after {limit:?}");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    }
}

/// Puts a built program at `to` to be run from there: a hard link where
/// possible, so that this process never holds the file open for writing
/// (a copy's write fd, inherited by another test thread's fork before its
/// exec, makes running the copy fail with ETXTBSY now and then).
pub fn place_exe(from: &Path, to: &Path) {
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to).unwrap();
    }
}

/// `c` run as nobody (uid and gid 65534, no supplementary groups) through
/// util-linux's setpriv, with the same arguments and environment.
pub fn as_nobody(c: &Command) -> Command {
    let mut n = Command::new("setpriv");
    n.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(c.get_program())
        .args(c.get_args());
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => n.env(k, v),
            None => n.env_remove(k),
        };
    }
    n
}

/// Sends `sig` to `pid`.
pub fn kill(pid: u32, sig: i32) {
    // SAFETY: kill(2) takes integers only; a stale pid gets ESRCH.
    unsafe { libc::kill(pid as i32, sig) };
}

/// Is this test running as root?
pub fn is_root() -> bool {
    // SAFETY: geteuid has no arguments and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

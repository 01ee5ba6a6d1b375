//! s6-tlsserver with s6-tcpserver-access in its chain, end to end: rules
//! from a directory (-i) and from a cdb made by s6-accessrules-cdb-from-fs
//! (-x), over 127.0.0.1 and ::1, with s6-tlsclient as the peer. Allow
//! (data byte-exact, env/ next to the SSL_* and TCP* variables), deny
//! (prog never runs, the client fails at once), exec overrides (which
//! replace s6-tlsd too, as upstream's chain does), a
//! certificate chosen per rule through env/KEYFILE and env/CERTFILE (the
//! use case upstream's s6-tlsserver page gives), and -B, whose banner goes
//! out in cleartext before the handshake, as in upstream's chain.
//!
//! No DNS query leaves the machine: over IPv4 the reverse lookups run
//! (127.0.0.1 is answered from /etc/hosts, which one test checks under
//! strace); over IPv6 (::1 is not in /etc/hosts here) every server gets -H,
//! which turns the lookups off while -i/-x still run s6-tcpserver-access.

mod common;
mod tcp_support;
use common::*;
use std::io::Read;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tcp_support::*;

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// The rule key of the loopback address `ip`.
fn key(ip: &str) -> &'static str {
    if ip == "::1" {
        "ip6/::1_128"
    } else {
        "ip4/127.0.0.1_32"
    }
}

/// Does /etc/hosts name 127.0.0.1, read before DNS? Then reverse lookups
/// of it stay on the machine and the IPv4 servers can run without -H.
fn loopback_in_hosts() -> Option<String> {
    let nss = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let files_first = nss
        .lines()
        .find(|l| l.trim_start().starts_with("hosts:"))
        .is_none_or(|l| l.split_whitespace().nth(1) == Some("files"));
    if !files_first {
        return None;
    }
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    hosts.lines().find_map(|l| {
        let mut w = l.split('#').next()?.split_whitespace();
        (w.next()? == "127.0.0.1").then(|| w.next().map(str::to_string))?
    })
}

/// How the rules reach s6-tcpserver-access.
#[derive(Clone, Copy, Debug)]
enum Source {
    Dir,
    Cdb,
}

/// The options giving s6-tlsserver the rules in `dir`, compiled to a cdb
/// first for `Source::Cdb`; plus -H where a lookup would leave the machine.
fn rules_opts(dir: &Path, source: Source, ip: &str) -> Vec<String> {
    let mut v = Vec::new();
    if ip == "::1" || loopback_in_hosts().is_none() {
        v.push("-H".to_string());
    }
    match source {
        Source::Dir => v.extend(["-i".to_string(), dir.to_str().unwrap().to_string()]),
        Source::Cdb => {
            let cdb = dir.with_extension("cdb");
            let out = cmd("s6-accessrules-cdb-from-fs")
                .arg(&cdb)
                .arg(dir)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            v.extend(["-x".to_string(), cdb.to_str().unwrap().to_string()]);
        }
    }
    v
}

/// `s6-tlsserver -1 opts ip 0 prog...` serving the localhost certificate.
fn server(pki: &Pki, ip: &str, opts: &[String], prog: &[&str]) -> Server {
    let mut c = cmd("s6-tlsserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .arg("-1")
        .args(opts)
        .args([ip, "0"])
        .args(prog);
    Server::start(&mut c, &pki.path(&format!("server-{}.log", unique())))
}

/// s6-tlsclient (verifying `name`) running s6-ioconnect: `input` in,
/// what the server sends into `output`. Returns the exit code, stderr
/// and how long it took.
fn client(
    pki: &Pki,
    ip: &str,
    port: u16,
    name: &str,
    input: &[u8],
    output: &Path,
) -> (i32, String, Duration) {
    let mut c = cmd("s6-tlsclient");
    c.env("CAFILE", &pki.ca_file)
        .args(["-H", "-k", name, ip, &port.to_string(), "s6-ioconnect"])
        .stdin(stdin_file(
            pki.dir.path(),
            &format!("in-{}", unique()),
            input,
        ))
        .stdout(stdout_file(output))
        .stderr(Stdio::piped());
    let start = Instant::now();
    let (code, err) = Proc::spawn(&mut c).finish(T);
    (code, err, start.elapsed())
}

/// PATH with the built programs first, as `cmd` sets it.
fn path_with_bins() -> std::ffi::OsString {
    let mut paths = vec![bin_dir()];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap()
}

fn ips() -> Vec<&'static str> {
    if have_ipv6() {
        vec!["127.0.0.1", "::1"]
    } else {
        eprintln!("no IPv6 loopback here: ::1 not tested");
        vec!["127.0.0.1"]
    }
}

/// Every (ip, source) pair, with a fresh rules directory for each.
fn each_case(mut f: impl FnMut(&Pki, &str, Source, &Path)) {
    for ip in ips() {
        for source in [Source::Dir, Source::Cdb] {
            let pki = Pki::new();
            let dir = pki.path("rules");
            f(&pki, ip, source, &dir);
        }
    }
}

#[test]
fn allowed_clients_reach_prog_with_the_rule_environment() {
    each_case(|pki, ip, source, dir| {
        let k = key(ip);
        put(dir, &format!("{k}/allow"), b"");
        put(dir, &format!("{k}/env/GREETING"), b"hello from the rules\n");
        put(dir, &format!("{k}/env/DROPPED"), b"");
        let opts = rules_opts(dir, source, ip);
        let envfile = pki.path("prog.env");
        let prog = format!("env > {}; exec cat", envfile.display());
        let mut c = cmd("s6-tlsserver");
        // DROPPED is set for the server and unset by the rule's empty file.
        c.env("DROPPED", "still here");
        let srv = {
            c.env("KEYFILE", &pki.server.key_pem)
                .env("CERTFILE", &pki.server.cert_pem)
                .arg("-1")
                .args(&opts)
                .args([ip, "0", "sh", "-c", &prog]);
            Server::start(&mut c, &pki.path("server.log"))
        };
        let input = data(500_000, 3);
        let out = pki.path("out");
        let (code, err, _) = client(pki, ip, srv.port, "localhost", &input, &out);
        assert_eq!(code, 0, "{ip} {source:?}: {err}\nserver: {}", srv.log());
        assert_same(&std::fs::read(&out).unwrap(), &input, "echo");

        let env = env_of(&read(&envfile));
        assert_eq!(env["GREETING"], "hello from the rules", "{ip} {source:?}");
        assert!(!env.contains_key("DROPPED"), "{ip} {source:?}");
        assert_eq!(env["PROTO"], "TCP");
        assert_eq!(env["TCPREMOTEIP"], ip);
        assert_eq!(env["TCPLOCALIP"], ip);
        assert_eq!(env["TCPLOCALPORT"], srv.port.to_string());
        assert_eq!(env["SSL_PROTOCOL"], "TLSv1.3");
        assert_eq!(env["SSL_TLS_SNI_SERVERNAME"], "localhost");
        assert!(!env.contains_key("KEYFILE") && !env.contains_key("CERTFILE"));
        if opts.iter().any(|o| o == "-H") {
            assert!(!env.contains_key("TCPREMOTEHOST"), "{env:?}");
        } else {
            // The lookups ran (from /etc/hosts).
            let name = loopback_in_hosts().unwrap();
            assert_eq!(env["TCPREMOTEHOST"], name);
            assert_eq!(env["TCPLOCALHOST"], name);
        }
    });
}

#[test]
fn denied_clients_are_cut_off_before_prog() {
    each_case(|pki, ip, source, dir| {
        put(dir, &format!("{}/deny", key(ip)), b"");
        // Something else allowed, so the tree is not just "deny all".
        put(dir, "ip4/192.0.2.0_24/allow", b"");
        // -v: s6-tlsserver passes -v2 to s6-tcpserver-access, which then
        // logs its denials.
        let mut opts = rules_opts(dir, source, ip);
        opts.push("-v".into());
        let marker = pki.path("prog-ran");
        let prog = format!("touch {}; exec cat", marker.display());
        let mut srv = server(pki, ip, &opts, &["sh", "-c", &prog]);
        for _ in 0..2 {
            let out = pki.path("out");
            let (code, err, took) = client(pki, ip, srv.port, "localhost", b"hello\n", &out);
            assert_ne!(code, 0, "{ip} {source:?}: the client got through");
            assert!(!err.contains("panicked"), "{err}");
            assert!(took < Duration::from_secs(10), "{took:?}");
            assert_eq!(read(&out), "");
        }
        // The server is still there, and prog never ran.
        assert!(srv.proc.try_wait(Duration::from_millis(100)).is_none());
        srv.wait_log("s6-tcpserver-access: info: deny pid", 2);
        assert!(srv.log().contains(&format!(" ip {ip}")), "{}", srv.log());
        assert!(
            !marker.exists(),
            "{ip} {source:?}: prog ran for a denied client"
        );
    });
}

/// An exec rule replaces what s6-tcpserver-access would run, and in
/// s6-tlsserver's chain that is `s6-tlsd ... prog`, as upstream: a bare
/// command talks cleartext on the socket, so an exec rule that wants TLS
/// runs s6-tlsd itself.
#[test]
fn an_exec_rule_replaces_the_rest_of_the_chain() {
    each_case(|pki, ip, source, dir| {
        let k = key(ip);
        put(dir, &format!("{k}/allow"), b"");
        put(
            dir,
            &format!("{k}/exec"),
            b"echo replaced by the exec rule\n",
        );
        let opts = rules_opts(dir, source, ip);
        let marker = pki.path("prog-ran");
        let prog = format!("touch {}; exec cat", marker.display());
        let srv = server(pki, ip, &opts, &["sh", "-c", &prog]);
        let mut sock = TcpStream::connect(srv.addr(ip)).unwrap();
        let got = read_to_eof(&mut sock, T).expect("the exec rule never closed");
        assert_eq!(got, b"replaced by the exec rule\n", "{ip} {source:?}");
        assert!(!marker.exists(), "{ip} {source:?}: prog ran besides exec");

        let dir2 = pki.path("rules2");
        put(&dir2, &format!("{k}/allow"), b"");
        put(
            &dir2,
            &format!("{k}/exec"),
            b"s6-tlsd echo replaced by the exec rule, over TLS\n",
        );
        let opts = rules_opts(&dir2, source, ip);
        let srv = server(pki, ip, &opts, &["sh", "-c", &prog]);
        let out = pki.path("out");
        let (code, err, _) = client(pki, ip, srv.port, "localhost", b"", &out);
        assert_eq!(code, 0, "{ip} {source:?}: {err}\nserver: {}", srv.log());
        assert_eq!(read(&out), "replaced by the exec rule, over TLS\n");
        assert!(!marker.exists(), "{ip} {source:?}: prog ran besides exec");
    });
}

/// Upstream: "since s6-tlsd is always run after s6-tcpserver-access, it is
/// possible to set different TLS/SSL parameters (typically a different
/// KEYFILE and CERTFILE) depending on the client connection".
#[test]
fn a_rule_chooses_the_certificate() {
    each_case(|pki, ip, source, dir| {
        let k = key(ip);
        put(dir, &format!("{k}/allow"), b"");
        let mut line = pki.other.key_pem.as_os_str().as_encoded_bytes().to_vec();
        line.push(b'\n');
        put(dir, &format!("{k}/env/KEYFILE"), &line);
        let mut line = pki.other.cert_pem.as_os_str().as_encoded_bytes().to_vec();
        line.push(b'\n');
        put(dir, &format!("{k}/env/CERTFILE"), &line);
        let opts = rules_opts(dir, source, ip);
        let envfile = pki.path("prog.env");
        let prog = format!("env > {}; exec cat", envfile.display());
        let srv = server(pki, ip, &opts, &["sh", "-c", &prog]);

        // The client expecting other.test is served other.test's certificate.
        let out = pki.path("out");
        let input = data(100_000, 8);
        let (code, err, _) = client(pki, ip, srv.port, "other.test", &input, &out);
        assert_eq!(code, 0, "{ip} {source:?}: {err}\nserver: {}", srv.log());
        assert_same(&std::fs::read(&out).unwrap(), &input, "echo");
        let env = env_of(&read(&envfile));
        assert_eq!(env["SSL_TLS_SNI_SERVERNAME"], "other.test");
        assert!(!env.contains_key("KEYFILE"), "{env:?}");

        // One expecting localhost (the server's own default) is not.
        let (code, err, took) = client(pki, ip, srv.port, "localhost", b"x", &out);
        assert_ne!(code, 0, "{ip} {source:?}: localhost accepted");
        assert!(
            err.contains("s6-tlsc") && !err.contains("panicked"),
            "{err}"
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
    });
}

/// Upstream's s6-tlsserver passes -B to s6-tcpserver-access, which runs
/// before s6-tlsd: the banner is written in cleartext, before the TLS
/// handshake. A client that reads it first can then do TLS on the same
/// connection; a plain TLS client takes it for a broken handshake.
#[test]
fn the_banner_comes_in_cleartext_before_the_handshake() {
    for ip in ips() {
        let pki = Pki::new();
        let banner = "cleartext banner\r\n";
        let srv = server(
            &pki,
            ip,
            &["-H".into(), "-B".into(), banner.into()],
            &["cat"],
        );
        let mut sock = TcpStream::connect(srv.addr(ip)).unwrap();
        sock.set_read_timeout(Some(T)).unwrap();
        let mut got = vec![0u8; banner.len()];
        sock.read_exact(&mut got).unwrap();
        assert_eq!(got, banner.as_bytes(), "{ip}");

        // Now TLS over the rest of the connection.
        let out = pki.path("out");
        let input = file(pki.dir.path(), "in", &data(50_000, 4));
        let mut c = tlsc(
            &pki,
            &sock,
            &["-k", "localhost"],
            &format!(
                "cat {} >&7 & exec 7>&-; cat <&6 > {}; wait",
                input.display(),
                out.display()
            ),
        );
        let mut p = start(&mut c, sock);
        let (code, err) = p.finish(T);
        assert_eq!(code, 0, "{ip}: {err}\nserver: {}", srv.log());
        assert_same(
            &std::fs::read(&out).unwrap(),
            &std::fs::read(&input).unwrap(),
            "echo after the banner",
        );

        // s6-tlsclient does not expect a banner: the handshake fails cleanly.
        let (code, err, took) = client(&pki, ip, srv.port, "localhost", b"x", &out);
        assert_ne!(code, 0);
        assert!(!err.contains("panicked"), "{err}");
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
}

/// The whole server chain under strace, with reverse lookups on: every
/// connect/sendto outside AF_UNIX goes to loopback, and nothing to port 53.
#[test]
fn reverse_lookups_send_no_dns_query_off_the_machine() {
    let Some(name) = loopback_in_hosts() else {
        eprintln!("skipped: 127.0.0.1 is not named in /etc/hosts (files first)");
        return;
    };
    if Command::new("strace").arg("-V").output().is_err() {
        eprintln!("skipped: no strace");
        return;
    }
    let pki = Pki::new();
    let dir = pki.path("rules");
    put(&dir, "ip4/127.0.0.1_32/allow", b"");
    let trace = pki.path("trace");
    let envfile = pki.path("prog.env");
    let prog = format!("env > {}; exec cat", envfile.display());
    let mut c = Command::new("strace");
    c.args([
        "-f",
        "-qq",
        "-e",
        "trace=connect,sendto,sendmsg,sendmmsg",
        "-o",
    ])
    .arg(&trace)
    .arg(bin("s6-tlsserver"))
    .env("PATH", path_with_bins())
    .env("KEYFILE", &pki.server.key_pem)
    .env("CERTFILE", &pki.server.cert_pem)
    .args([
        "-1",
        "-i",
        dir.to_str().unwrap(),
        "127.0.0.1",
        "0",
        "sh",
        "-c",
        &prog,
    ]);
    let srv = Server::start(&mut c, &pki.path("server.log"));
    let out = pki.path("out");
    let (code, err, _) = client(&pki, "127.0.0.1", srv.port, "localhost", b"traced\n", &out);
    assert_eq!(code, 0, "{err}\nserver: {}", srv.log());
    assert_eq!(read(&out), "traced\n");
    let env = env_of(&read(&envfile));
    assert_eq!(env["TCPREMOTEHOST"], name);
    // The server is strace's child: stop it first, as dropping srv stops
    // only strace, which would leave its tracee running.
    for pid in srv.children() {
        kill(pid, libc::SIGABRT);
    }
    let end = Instant::now() + T;
    while !srv.children().is_empty() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(srv);
    let trace = read(&trace);
    // The trace is not empty (strace ran the chain; glibc's resolver
    // shows as its attempts on nscd's socket where there is no nscd).
    assert!(!trace.trim().is_empty(), "strace recorded nothing");
    for l in trace.lines() {
        if l.contains("AF_INET") {
            assert!(
                l.contains("inet_addr(\"127.") || l.contains("\"::1\""),
                "a packet off loopback: {l}"
            );
        }
        assert!(!l.contains("htons(53)"), "a DNS query: {l}");
    }
}

//! `s6-tlsserver -L` as a whole (s6-tcpserver, proxy-server, s6-tlsd)
//! behind a real HAProxy with send-proxy and send-proxy-v2, on 127.0.0.1
//! and ::1: TLS clients (s6-tlsclient, openssl s_client) connect to
//! HAProxy, prog sees the address of the original client, not HAProxy's,
//! and the data goes through byte for byte.

mod common;
mod tcp_support;
use common::*;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tcp_support::*;

fn haproxy_bin() -> PathBuf {
    [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
    .expect("haproxy is not installed (apt-get install haproxy)")
}

/// Is something listening on `addr`? Read from /proc, so that asking
/// opens no connection through the proxy.
fn listening(addr: &SocketAddr) -> bool {
    let (table, local) = match addr.ip() {
        IpAddr::V4(ip) => (
            "/proc/net/tcp",
            format!("{:08X}", u32::from_le_bytes(ip.octets())),
        ),
        IpAddr::V6(ip) => (
            "/proc/net/tcp6",
            ip.octets()
                .chunks(4)
                .map(|w| format!("{:08X}", u32::from_le_bytes([w[0], w[1], w[2], w[3]])))
                .collect(),
        ),
    };
    let needle = format!("{local}:{:04X} ", addr.port());
    std::fs::read_to_string(table).is_ok_and(|t| {
        t.lines()
            .any(|l| l.contains(&needle) && l.split_whitespace().nth(3) == Some("0A"))
    })
}

/// HAProxy with one frontend per (address, send-proxy variant), all
/// forwarding to 127.0.0.1:`backend`. Returns it and the frontends.
fn haproxy(dir: &Path, backend: u16, fronts: &[(&str, &str)]) -> (Proc, Vec<SocketAddr>) {
    let mut cfg = "global\n    maxconn 50\n\
                   defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
        .to_string();
    let mut addrs = Vec::new();
    for (i, (ip, send)) in fronts.iter().enumerate() {
        let ip: IpAddr = ip.parse().unwrap();
        let addr = TcpListener::bind((ip, 0)).unwrap().local_addr().unwrap();
        cfg += &format!(
            "frontend f{i}\n    bind {addr}\n    default_backend b{i}\n\
             backend b{i}\n    server s 127.0.0.1:{backend} {send}\n"
        );
        addrs.push(addr);
    }
    let cfg = file(dir, "haproxy.cfg", cfg.as_bytes());
    let mut h = Command::new(haproxy_bin());
    h.arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut h);
    let start = Instant::now();
    while !addrs.iter().all(listening) {
        if let Some(st) = p.try_wait(Duration::from_millis(20)) {
            let (_, err) = p.finish(T);
            panic!("haproxy exited with {st}: {err}");
        }
        assert!(start.elapsed() < T, "haproxy does not listen");
    }
    (p, addrs)
}

fn fronts() -> Vec<(&'static str, &'static str)> {
    let mut v = vec![("127.0.0.1", "send-proxy"), ("127.0.0.1", "send-proxy-v2")];
    if have_ipv6() {
        v.extend([("::1", "send-proxy"), ("::1", "send-proxy-v2")]);
    } else {
        eprintln!("no IPv6 loopback here: TCP6 through HAProxy not tested");
    }
    v
}

/// `s6-tlsserver -1 -H -L 127.0.0.1 0` with a prog that records the TCP
/// variables it sees in `envfile`, then echoes.
fn proxied_server(pki: &Pki, envfile: &Path) -> Server {
    let prog = format!("env > {}; exec cat", envfile.display());
    tls_server(pki, "127.0.0.1", &["-L"], &["sh", "-c", &prog])
}

#[test]
fn tlsclient_through_haproxy_to_tlsserver_l() {
    let pki = Pki::new();
    let envfile = pki.path("server.env");
    let srv = proxied_server(&pki, &envfile);
    let (_haproxy, addrs) = haproxy(pki.dir.path(), srv.port, &fronts());
    for (i, (addr, (_, send))) in addrs.iter().zip(fronts()).enumerate() {
        let _ = std::fs::remove_file(&envfile);
        let cenv = pki.path(&format!("client{i}.env"));
        let out = pki.path(&format!("out{i}"));
        let input = data(400_000, i as u64);
        let prog = format!("env > {}; exec s6-ioconnect", cenv.display());
        let mut c = tls_client(
            &pki,
            &addr.ip().to_string(),
            addr.port(),
            &[],
            &["sh", "-c", &prog],
        );
        c.stdin(stdin_file(pki.dir.path(), &format!("in{i}"), &input))
            .stdout(stdout_file(&out))
            .stderr(Stdio::piped());
        let (code, err) = Proc::spawn(&mut c).finish(T);
        assert_eq!(code, 0, "via {addr} {send}: {err}\nserver: {}", srv.log());
        assert_same(&std::fs::read(&out).unwrap(), &input, "echo");

        let client = env_of(&read(&cenv));
        let server = env_of(&read(&envfile));
        // The client's own end of its connection to HAProxy...
        assert_eq!(server["TCPREMOTEIP"], client["TCPLOCALIP"], "{addr} {send}");
        assert_eq!(
            server["TCPREMOTEPORT"], client["TCPLOCALPORT"],
            "{addr} {send}"
        );
        // ...and HAProxy's end of it, which the client connected to.
        assert_eq!(server["TCPLOCALIP"], addr.ip().to_string(), "{send}");
        assert_eq!(server["TCPLOCALPORT"], addr.port().to_string(), "{send}");
        assert_ne!(server["TCPLOCALPORT"], srv.port.to_string());
        assert_eq!(server["PROTO"], "TCP");
        assert_eq!(server["SSL_PROTOCOL"], "TLSv1.3");
        assert_eq!(server["SSL_TLS_SNI_SERVERNAME"], "localhost");
    }
}

#[test]
fn openssl_s_client_through_haproxy_to_tlsserver_l() {
    let pki = Pki::new();
    let envfile = pki.path("server.env");
    let srv = proxied_server(&pki, &envfile);
    let (_haproxy, addrs) = haproxy(pki.dir.path(), srv.port, &fronts());
    for (addr, (_, send)) in addrs.iter().zip(fronts()) {
        let _ = std::fs::remove_file(&envfile);
        let mut c = Command::new("openssl");
        c.args(["s_client", "-quiet", "-no_ign_eof", "-verify_return_error"])
            .args(["-servername", "localhost", "-connect"])
            .arg(addr.to_string())
            .arg("-CAfile")
            .arg(&pki.ca_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut p = Proc::spawn(&mut c);
        // Lines of printable text: s_client is line-oriented on a terminal
        // but passes bytes through from a pipe.
        let mut input = Vec::new();
        for (n, chunk) in data(60_000, 7).chunks(60).enumerate() {
            input.extend(chunk.iter().map(|b| b'a' + b % 26));
            input.extend(format!(" {n}\n").as_bytes());
        }
        let mut stdin = p.child.as_mut().unwrap().stdin.take().unwrap();
        let mut stdout = p.child.as_mut().unwrap().stdout.take().unwrap();
        let want = input.len();
        let reader = std::thread::spawn(move || {
            let mut v = vec![0u8; want];
            let r = stdout.read_exact(&mut v);
            (r.is_ok(), v)
        });
        stdin.write_all(&input).unwrap();
        let (ok, got) = join(reader, T);
        assert!(ok, "via {addr} {send}: short echo; server: {}", srv.log());
        assert_same(&got, &input, "echo through openssl s_client");
        drop(stdin);
        let (code, err) = p.finish(T);
        assert_eq!(code, 0, "s_client via {addr} {send}: {err}");
        let server = env_of(&read(&envfile));
        assert_eq!(server["TCPREMOTEIP"], addr.ip().to_string(), "{send}");
        assert_eq!(server["TCPLOCALPORT"], addr.port().to_string(), "{send}");
    }
}

/// With -L and access rules, s6-tcpserver-access runs before proxy-server,
/// as upstream's proxy-server page wants ("it needs to run after these
/// programs, to override the TCP-provided values"): the rules judge the
/// connection that reached us (HAProxy's, from 127.0.0.1), and prog sees
/// the rule's env/ next to the original client's address.
#[test]
fn with_access_rules_the_rules_judge_the_proxy_and_prog_sees_the_client() {
    let pki = Pki::new();
    let rules = pki.path("rules");
    for (rel, body) in [
        ("ip4/127.0.0.1_32/allow", &b""[..]),
        ("ip4/127.0.0.1_32/env/VIA", b"the proxy\n"),
        ("ip4/0.0.0.0_0/deny", b""),
        ("ip6/::_0/deny", b""),
    ] {
        let p = rules.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    let envfile = pki.path("server.env");
    let prog = format!("env > {}; exec cat", envfile.display());
    let srv = tls_server(
        &pki,
        "127.0.0.1",
        &["-L", "-i", rules.to_str().unwrap()],
        &["sh", "-c", &prog],
    );
    let fronts = fronts();
    let (_haproxy, addrs) = haproxy(pki.dir.path(), srv.port, &fronts);
    for (i, (addr, (_, send))) in addrs.iter().zip(&fronts).enumerate() {
        let _ = std::fs::remove_file(&envfile);
        let out = pki.path(&format!("out{i}"));
        let input = data(50_000, 30 + i as u64);
        let mut c = tls_client(
            &pki,
            &addr.ip().to_string(),
            addr.port(),
            &[],
            &["s6-ioconnect"],
        );
        c.stdin(stdin_file(pki.dir.path(), &format!("in{i}"), &input))
            .stdout(stdout_file(&out))
            .stderr(Stdio::piped());
        let (code, err) = Proc::spawn(&mut c).finish(T);
        assert_eq!(code, 0, "via {addr} {send}: {err}\nserver: {}", srv.log());
        assert_same(&std::fs::read(&out).unwrap(), &input, "echo");
        let server = env_of(&read(&envfile));
        assert_eq!(server["VIA"], "the proxy", "{addr} {send}");
        assert_eq!(server["TCPREMOTEIP"], addr.ip().to_string(), "{send}");
        assert_eq!(server["TCPLOCALPORT"], addr.port().to_string(), "{send}");
    }
}

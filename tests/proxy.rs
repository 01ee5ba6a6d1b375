//! proxy-server: behind a real HAProxy (send-proxy and send-proxy-v2) in
//! front of s6-tlsd, with the TLS handshake in the same segment as the
//! header, and on every error path.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

/// The chain a super-server would run for one connection: proxy-server,
/// then s6-tlsd, then prog; the socket on 0/1 and the TCP variables of
/// the connection as it reached us (from the proxy).
fn spawn_server_chain(pki: &Pki, sock: TcpStream, proxy_args: &[&str], prog: &str) -> Proc {
    let peer = sock.peer_addr().unwrap();
    let local = sock.local_addr().unwrap();
    let mut c = cmd("proxy-server");
    c.env("PROTO", "TCP")
        .env("TCPREMOTEIP", peer.ip().to_string())
        .env("TCPREMOTEPORT", peer.port().to_string())
        .env("TCPLOCALIP", local.ip().to_string())
        .env("TCPLOCALPORT", local.port().to_string())
        .env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(proxy_args)
        .args(["s6-tlsd", "sh", "-c", prog])
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock))
        .stderr(Stdio::piped());
    Proc::spawn(&mut c)
}

/// A server prog that records the TCP variables it sees in `envfile`,
/// then echoes everything back.
fn echo_prog(envfile: &Path) -> String {
    format!(
        "printf '%s %s %s %s %s\\n' \"$PROTO\" \"$TCPREMOTEIP\" \"$TCPREMOTEPORT\" \"$TCPLOCALIP\" \"$TCPLOCALPORT\" > {}; exec cat",
        envfile.display()
    )
}

/// s6-tlsc over `sock`: sends `input`, half-closes, collects the reply.
fn tls_client(pki: &Pki, sock: &TcpStream, input: &Path, output: &Path) -> Proc {
    let mut c = cmd("s6-tlsc");
    c.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "sh", "-c"])
        .arg(format!(
            "cat {} >&7 & exec 7>&-; cat <&6 > {}; wait",
            input.display(),
            output.display()
        ))
        .stderr(Stdio::piped());
    with_fds(&mut c, &[(raw(sock), 6), (raw(sock), 7)]);
    Proc::spawn(&mut c)
}

/// Is something listening on `addr`? (Read from the kernel, so that
/// asking does not open a connection through the proxy.)
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
    std::fs::read_to_string(table)
        .map(|t| {
            t.lines()
                .any(|l| l.contains(&needle) && l.split_whitespace().nth(3) == Some("0A"))
        })
        .unwrap_or(false)
}

fn haproxy_bin() -> PathBuf {
    for p in [
        "/usr/sbin/haproxy",
        "/usr/bin/haproxy",
        "/usr/local/sbin/haproxy",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("haproxy is not installed (apt-get install haproxy)");
}

/// Is IPv6 loopback usable here? (Some containers have it disabled.)
fn have_ipv6() -> bool {
    TcpListener::bind("[::1]:0").is_ok()
}

#[test]
fn haproxy_send_proxy_v1_and_v2_in_front_of_s6_tlsd() {
    let pki = Pki::new();
    let backend = TcpListener::bind("127.0.0.1:0").unwrap();
    let backend_port = backend.local_addr().unwrap().port();
    // (frontend address, PROXY version): a frontend each, all proxying to
    // the one backend socket this test accepts on.
    let mut frontends: Vec<(IpAddr, &str)> = vec![
        (Ipv4Addr::LOCALHOST.into(), "send-proxy"),
        (Ipv4Addr::LOCALHOST.into(), "send-proxy-v2"),
    ];
    if have_ipv6() {
        frontends.push((Ipv6Addr::LOCALHOST.into(), "send-proxy"));
        frontends.push((Ipv6Addr::LOCALHOST.into(), "send-proxy-v2"));
    } else {
        eprintln!("no IPv6 loopback here: TCP6 through HAProxy not tested");
    }
    let mut cfg = "global\n    maxconn 50\n\
                   defaults\n    mode tcp\n    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n"
        .to_string();
    let mut addrs = Vec::new();
    for (i, (ip, send)) in frontends.iter().enumerate() {
        let addr = TcpListener::bind((*ip, 0)).unwrap().local_addr().unwrap();
        cfg += &format!(
            "frontend f{i}\n    bind {addr}\n    default_backend b{i}\n\
             backend b{i}\n    server s 127.0.0.1:{backend_port} {send}\n"
        );
        addrs.push(addr);
    }
    let cfg = file(pki.dir.path(), "haproxy.cfg", cfg.as_bytes());
    let mut h = Command::new(haproxy_bin());
    h.arg("-db")
        .arg("-f")
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut haproxy = Proc::spawn(&mut h);
    let start = Instant::now();
    while !addrs.iter().all(listening) {
        if let Some(st) = haproxy.try_wait(Duration::from_millis(20)) {
            let (_, err) = haproxy.finish(LIMIT);
            panic!("haproxy exited with {st}: {err}");
        }
        assert!(start.elapsed() < LIMIT, "haproxy does not listen");
    }

    for (i, (addr, (_, send))) in addrs.iter().zip(&frontends).enumerate() {
        let envfile = pki.path(&format!("env{i}"));
        let input = file(pki.dir.path(), &format!("in{i}"), &data(300_000, i as u64));
        let output = pki.path(&format!("out{i}"));
        let sock = TcpStream::connect(addr).unwrap();
        let client_addr = sock.local_addr().unwrap();
        let mut client = tls_client(&pki, &sock, &input, &output);
        drop(sock);
        let (conn, proxy_side) = backend.accept().unwrap();
        let mut server = spawn_server_chain(&pki, conn, &[], &echo_prog(&envfile));
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "client via {addr} {send}: {err}");
        let (code, err) = server.finish(LIMIT);
        assert_eq!(code, 0, "server chain via {addr} {send}: {err}");
        assert_same(
            &std::fs::read(&output).unwrap(),
            &std::fs::read(&input).unwrap(),
            "echo",
        );
        // prog sees the original client, not HAProxy's own connection.
        let env = std::fs::read_to_string(&envfile).unwrap();
        assert_eq!(
            env,
            format!(
                "TCP {} {} {} {}\n",
                client_addr.ip(),
                client_addr.port(),
                addr.ip(),
                addr.port()
            ),
            "via {addr} {send}"
        );
        assert_ne!(proxy_side.port(), client_addr.port());
    }
}

/// Sends `bytes` (then EOF) to `proxy-server [args] prog` on stdin; returns
/// its exit code, stderr and stdout.
fn run_proxy_server(args: &[&str], bytes: &[u8], env: &[(&str, &str)]) -> (i32, String, Vec<u8>) {
    let (mut peer, sock) = tcp_pair();
    let mut c = cmd("proxy-server");
    c.args(args)
        .args([
            "sh",
            "-c",
            "printf '%s|%s|%s|%s|%s|%s\\n' \"$PROTO\" \"$TCPREMOTEIP\" \"$TCPREMOTEPORT\" \"$TCPLOCALIP\" \"$TCPLOCALPORT\" \"$SSL_TLS_SNI_SERVERNAME\"; exec cat",
        ])
        .envs(env.iter().copied())
        .stdin(owned(sock))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut c);
    let mut stdout = p.child.as_mut().unwrap().stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });
    peer.write_all(bytes).unwrap();
    peer.shutdown(Shutdown::Write).unwrap();
    let (code, err) = p.finish(LIMIT);
    (code, err, reader.join().unwrap())
}

fn v2(cmd: u8, fam_proto: u8, block: &[u8]) -> Vec<u8> {
    let mut v = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    v.push(0x20 | cmd);
    v.push(fam_proto);
    v.extend_from_slice(&(block.len() as u16).to_be_bytes());
    v.extend_from_slice(block);
    v
}

const REAL: &[(&str, &str)] = &[
    ("PROTO", "TCP"),
    ("TCPREMOTEIP", "10.9.9.9"),
    ("TCPREMOTEPORT", "999"),
    ("TCPLOCALIP", "10.8.8.8"),
    ("TCPLOCALPORT", "888"),
];

#[test]
fn headers_set_the_variables_and_leave_the_payload() {
    let mut v4 = vec![192, 0, 2, 1, 198, 51, 100, 7];
    v4.extend_from_slice(&[0xc8, 0x22, 0x01, 0xbb]);
    let mut v6 = Vec::new();
    v6.extend_from_slice(
        &"2001:db8::5"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    v6.extend_from_slice(
        &"::ffff:10.1.2.3"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets(),
    );
    v6.extend_from_slice(&[0, 1, 0, 2]);
    let mut v4_tlv = v4.clone();
    v4_tlv.extend_from_slice(&[0x04, 0, 3, 0, 0, 0, 0x02, 0, 6]);
    v4_tlv.extend_from_slice(b"a.test");
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n".to_vec(),
            "TCP|192.0.2.1|51234|198.51.100.7|443|",
        ),
        (
            b"PROXY TCP6 2001:db8::1 ::1 65535 0\r\n".to_vec(),
            "TCP|2001:db8::1|65535|::1|0|",
        ),
        (
            b"PROXY UNKNOWN\r\n".to_vec(),
            "TCP|10.9.9.9|999|10.8.8.8|888|",
        ),
        (
            b"PROXY UNKNOWN 1.1.1.1 2.2.2.2 1 2\r\n".to_vec(),
            "TCP|10.9.9.9|999|10.8.8.8|888|",
        ),
        (v2(1, 0x11, &v4), "TCP|192.0.2.1|51234|198.51.100.7|443|"),
        (v2(1, 0x21, &v6), "TCP|2001:db8::5|1|10.1.2.3|2|"),
        (
            v2(1, 0x11, &v4_tlv),
            "TCP|192.0.2.1|51234|198.51.100.7|443|a.test",
        ),
        (v2(0, 0x00, &[]), "TCP|10.9.9.9|999|10.8.8.8|888|"),
        (v2(0, 0x11, &v4), "TCP|10.9.9.9|999|10.8.8.8|888|"),
        (v2(1, 0x00, &[7; 40]), "TCP|10.9.9.9|999|10.8.8.8|888|"),
    ];
    for (header, want) in cases {
        // The payload starts with bytes that would confuse a parser that
        // read too far: another header, and a TLS record.
        let mut bytes = header.clone();
        let payload = b"PROXY TCP4 6.6.6.6 6.6.6.6 6 6\r\n\x16\x03\x01 and the rest\n";
        bytes.extend_from_slice(payload);
        let (code, err, out) = run_proxy_server(&[], &bytes, REAL);
        assert_eq!(code, 0, "{err}");
        let out = String::from_utf8_lossy(&out).into_owned();
        let (line, rest) = out.split_once('\n').unwrap();
        assert_eq!(line, want, "{:?}", String::from_utf8_lossy(&header));
        assert_eq!(rest.as_bytes(), payload);
        if header == v2(0, 0x11, &v4) {
            assert_eq!(
                err,
                "proxy-server: warning: received LOCAL command with family set to 1\n"
            );
        } else {
            assert_eq!(err, "");
        }
    }
}

#[test]
fn version_restrictions() {
    let line = b"PROXY UNKNOWN\r\nrest".to_vec();
    let bin = [v2(0, 0, &[]), b"rest".to_vec()].concat();
    for (args, bytes, want) in [
        (&["-1"][..], &line, 0),
        (&["--only-v1"], &bin, 1),
        (&["-2"], &bin, 0),
        (&["--only-v2"], &line, 1),
        (&["--disable-v1"], &line, 1),
        (&["--disable-v2"], &line, 0),
    ] {
        let (code, err, _) = run_proxy_server(args, bytes, REAL);
        assert_eq!(code, want, "{args:?}: {err}");
    }
    // Both disabled: a warning, and prog gets every byte.
    let (code, err, out) = run_proxy_server(&["-1", "-2"], &line, REAL);
    assert_eq!(code, 0);
    assert_eq!(
        err,
        "proxy-server: warning: both versions disabled, no PROXY header expected\n"
    );
    assert_eq!(
        out,
        b"TCP|10.9.9.9|999|10.8.8.8|888|\nPROXY UNKNOWN\r\nrest"
    );
}

#[test]
fn error_paths() {
    let mut long = b"PROXY UNKNOWN ".to_vec();
    long.resize(300, b'a');
    long.extend_from_slice(b"\r\n");
    let mut v2_ip4 = vec![0u8; 12];
    v2_ip4[0] = 1;
    for (bytes, code, msg) in [
        (
            b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            1,
            "invalid PROXY header signature",
        ),
        (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".repeat(3),
            1,
            "invalid PROXY header signature",
        ),
        (
            b"PROXY TCP4 1.2.3.4".to_vec(),
            111,
            "unable to read from stdin: end of file after 18 bytes of the PROXY header",
        ),
        (
            b"PROXY".to_vec(),
            111,
            "unable to read from stdin: end of file after 5 bytes of the PROXY header",
        ),
        (
            v2(1, 0x11, &v2_ip4)[..20].to_vec(),
            111,
            "unable to read from stdin: end of file after 20 bytes of the PROXY header",
        ),
        (
            b"".to_vec(),
            111,
            "unable to read from stdin: end of file before the PROXY header",
        ),
        (long, 1, "PROXY line too long"),
        (
            b"PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n".to_vec(),
            1,
            "invalid local port in PROXY line",
        ),
        (
            b"PROXY TCP7 1.2.3.4 5.6.7.8 1 2\r\n".to_vec(),
            1,
            "invalid protocol in PROXY line",
        ),
        (v2(1, 0x41, &[0; 216]), 1, "invalid address family"),
        (v2(1, 0xf1, &[0; 216]), 1, "invalid address family"),
        (
            v2(1, 0x12, &v2_ip4),
            2,
            "unsupported transport protocol: datagram",
        ),
        (v2(1, 0x11, &v2_ip4[..8]), 1, "invalid address length"),
        (v2(3, 0x11, &v2_ip4), 1, "invalid PROXY command"),
        (
            v2(1, 0x11, &[&v2_ip4[..], &[0x20, 0, 2, 1]].concat()),
            1,
            "invalid TLV encoding in extension",
        ),
    ] {
        // A mislabelled header cannot be fixed by what follows it.
        let mut c = bytes.clone();
        if code != 111 {
            c.extend_from_slice(b"\r\n\r\n");
        }
        let (got, err, out) = run_proxy_server(&[], &c, REAL);
        assert_eq!(got, code, "{:?}: {err}", String::from_utf8_lossy(&bytes));
        assert_eq!(err, format!("proxy-server: fatal: {msg}\n"));
        assert!(out.is_empty(), "prog must not run");
    }
}

#[test]
fn timeout_is_exit_111() {
    let (_peer, sock) = tcp_pair();
    let mut c = cmd("proxy-server");
    c.args(["-t", "300", "true"])
        .stdin(owned(sock))
        .stderr(Stdio::piped());
    let start = Instant::now();
    let (code, err) = Proc::spawn(&mut c).finish(LIMIT);
    let took = start.elapsed();
    assert_eq!(code, 111);
    assert_eq!(
        err,
        "proxy-server: fatal: unable to read from stdin: Connection timed out\n"
    );
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn usage() {
    for args in [&[][..], &["-t"], &["-t", "soon", "true"], &["-3", "true"]] {
        let mut c = cmd("proxy-server");
        c.args(args).stderr(Stdio::piped());
        let (code, err) = Proc::spawn(&mut c).finish(LIMIT);
        assert_eq!(code, 100, "{args:?}");
        assert!(err.contains("proxy-server: usage: proxy-server"), "{err}");
    }
}

/// Relays between a TLS client and the server, putting `header` in front
/// of the client's first bytes in one write, so that the header and the
/// ClientHello travel in the same segment.
fn relay_with_header(
    client: TcpStream,
    server: TcpStream,
    header: Vec<u8>,
) -> [std::thread::JoinHandle<()>; 2] {
    relay_with_split_header(client, server, vec![header])
}

/// `relay_with_header` with the header sent in `chunks`: all but the last
/// written one by one with a pause between them (so that each arrives in a
/// read of its own), the last in the same write as the client's first bytes.
fn relay_with_split_header(
    client: TcpStream,
    server: TcpStream,
    mut chunks: Vec<Vec<u8>>,
) -> [std::thread::JoinHandle<()>; 2] {
    server.set_nodelay(true).unwrap();
    let (mut c_in, mut c_out) = (client.try_clone().unwrap(), client);
    let (mut s_in, mut s_out) = (server.try_clone().unwrap(), server);
    let header = chunks.pop().unwrap();
    let up = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        for c in chunks {
            s_out.write_all(&c).unwrap();
            std::thread::sleep(PAUSE);
        }
        let mut first = Some(header);
        loop {
            let n = c_in.read(&mut buf).unwrap_or(0);
            if n == 0 {
                let _ = s_out.shutdown(Shutdown::Write);
                return;
            }
            let chunk = match first.take() {
                Some(mut h) => {
                    assert_eq!(buf[0], 0x16, "the client starts with a handshake record");
                    h.extend_from_slice(&buf[..n]);
                    h
                }
                None => buf[..n].to_vec(),
            };
            if s_out.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    let down = std::thread::spawn(move || {
        let mut buf = vec![0u8; 65536];
        loop {
            let n = s_in.read(&mut buf).unwrap_or(0);
            if n == 0 || c_out.write_all(&buf[..n]).is_err() {
                let _ = c_out.shutdown(Shutdown::Write);
                return;
            }
        }
    });
    [up, down]
}

#[test]
fn tls_right_behind_the_header_reaches_the_engine_untouched() {
    let pki = Pki::new();
    let mut v4 = vec![203, 0, 113, 9, 127, 0, 0, 1];
    v4.extend_from_slice(&[0x30, 0x39, 0x01, 0xbb]);
    for (i, header) in [
        b"PROXY TCP4 203.0.113.9 127.0.0.1 12345 443\r\n".to_vec(),
        v2(1, 0x11, &v4),
    ]
    .into_iter()
    .enumerate()
    {
        let envfile = pki.path(&format!("env{i}"));
        let input = file(
            pki.dir.path(),
            &format!("in{i}"),
            &data(200_000, 40 + i as u64),
        );
        let output = pki.path(&format!("out{i}"));
        let (client_sock, relay_client) = tcp_pair();
        let (relay_server, server_sock) = tcp_pair();
        let mut server = spawn_server_chain(&pki, server_sock, &[], &echo_prog(&envfile));
        let mut client = tls_client(&pki, &client_sock, &input, &output);
        drop(client_sock);
        let relays = relay_with_header(relay_client, relay_server, header);
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "client: {err}");
        let (code, err) = server.finish(LIMIT);
        assert_eq!(code, 0, "server: {err}");
        for r in relays {
            r.join().unwrap();
        }
        assert_same(
            &std::fs::read(&output).unwrap(),
            &std::fs::read(&input).unwrap(),
            "echo",
        );
        assert_eq!(
            std::fs::read_to_string(&envfile).unwrap(),
            "TCP 203.0.113.9 12345 127.0.0.1 443\n"
        );
    }
}

/// Between two chunks of a split header: long enough for each chunk to be
/// read on its own.
const PAUSE: Duration = Duration::from_millis(30);

/// Cuts `bytes` at the offsets `at` (increasing).
fn split_at(bytes: &[u8], at: &[usize]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut from = 0;
    for &i in at.iter().chain(std::iter::once(&bytes.len())) {
        out.push(bytes[from..i].to_vec());
        from = i;
    }
    out
}

/// A v1 header and a v2 header (with a TLV), each with the offsets where
/// they are cut: inside the signature, between fields, inside the length,
/// inside an address, inside the CRLF or the TLV; the last piece is the
/// end of the header only.
fn split_headers() -> Vec<(Vec<u8>, Vec<usize>, &'static str)> {
    let v1 = b"PROXY TCP4 192.0.2.1 198.51.100.7 51234 443\r\n".to_vec();
    let v1_cuts = vec![1, 3, 6, 11, 15, 21, 34, 40, v1.len() - 1];
    let mut v4 = vec![192, 0, 2, 1, 198, 51, 100, 7, 0xc8, 0x22, 0x01, 0xbb];
    v4.extend_from_slice(&[0x04, 0, 3, 0, 0, 0]);
    let v2h = v2(1, 0x11, &v4);
    // 12-byte signature, version/command, family, 2-byte length, block.
    let v2_cuts = vec![1, 5, 11, 12, 13, 14, 15, 18, 27, 29, v2h.len() - 1];
    vec![
        (v1, v1_cuts, "TCP|192.0.2.1|51234|198.51.100.7|443|"),
        (v2h, v2_cuts, "TCP|192.0.2.1|51234|198.51.100.7|443|"),
    ]
}

#[test]
fn a_header_split_across_reads() {
    // proxy-server reads the header as it comes, piece by piece, and the
    // payload right behind it reaches prog intact, whether it comes in the
    // same write as the header's end or later.
    for (header, cuts, want) in split_headers() {
        for glued in [true, false] {
            let (mut peer, sock) = tcp_pair();
            peer.set_nodelay(true).unwrap();
            let mut c = cmd("proxy-server");
            c.args([
                "sh",
                "-c",
                "printf '%s|%s|%s|%s|%s|%s\\n' \"$PROTO\" \"$TCPREMOTEIP\" \"$TCPREMOTEPORT\" \"$TCPLOCALIP\" \"$TCPLOCALPORT\" \"$SSL_TLS_SNI_SERVERNAME\"; exec cat",
            ])
            .envs(REAL.iter().copied())
            .stdin(owned(sock))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
            let mut p = Proc::spawn(&mut c);
            let mut stdout = p.child.as_mut().unwrap().stdout.take().unwrap();
            let reader = std::thread::spawn(move || {
                let mut v = Vec::new();
                stdout.read_to_end(&mut v).unwrap();
                v
            });
            let payload = b"PROXY TCP4 6.6.6.6 6.6.6.6 6 6\r\n\x16\x03\x01 and the rest\n";
            let mut pieces = split_at(&header, &cuts);
            if glued {
                pieces.last_mut().unwrap().extend_from_slice(payload);
            } else {
                pieces.push(payload.to_vec());
            }
            for piece in &pieces {
                peer.write_all(piece).unwrap();
                std::thread::sleep(PAUSE);
            }
            peer.shutdown(Shutdown::Write).unwrap();
            let (code, err) = p.finish(LIMIT);
            let out = reader.join().unwrap();
            let what = format!(
                "{:?} in {} pieces",
                String::from_utf8_lossy(&header),
                pieces.len()
            );
            assert_eq!(code, 0, "{what}: {err}");
            assert_eq!(err, "", "{what}");
            let out = String::from_utf8_lossy(&out).into_owned();
            let (line, rest) = out.split_once('\n').unwrap();
            assert_eq!(line, want, "{what}");
            assert_eq!(rest.as_bytes(), payload, "{what}");
        }
    }
}

#[test]
fn tls_behind_a_header_split_across_reads() {
    // The same split headers in front of s6-tlsd: the ClientHello comes in
    // the same write as the header's last byte, and the whole session
    // (200 kB echoed) goes through.
    let pki = Pki::new();
    for (i, (header, cuts, _)) in split_headers().into_iter().enumerate() {
        let envfile = pki.path(&format!("env{i}"));
        let input = file(
            pki.dir.path(),
            &format!("in{i}"),
            &data(200_000, 50 + i as u64),
        );
        let output = pki.path(&format!("out{i}"));
        let (client_sock, relay_client) = tcp_pair();
        let (relay_server, server_sock) = tcp_pair();
        let mut server = spawn_server_chain(&pki, server_sock, &[], &echo_prog(&envfile));
        let mut client = tls_client(&pki, &client_sock, &input, &output);
        drop(client_sock);
        let relays = relay_with_split_header(relay_client, relay_server, split_at(&header, &cuts));
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "client: {err}");
        let (code, err) = server.finish(LIMIT);
        assert_eq!(code, 0, "server: {err}");
        for r in relays {
            r.join().unwrap();
        }
        assert_same(
            &std::fs::read(&output).unwrap(),
            &std::fs::read(&input).unwrap(),
            "echo",
        );
        assert_eq!(
            std::fs::read_to_string(&envfile).unwrap(),
            "TCP 192.0.2.1 51234 198.51.100.7 443\n"
        );
    }
}

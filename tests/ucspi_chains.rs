//! The UCSPI-TLS programs in the chains they are made for: s6-ucspitlsd
//! under a real s6-tcpserver (driven by `openssl s_client -starttls smtp`),
//! s6-ucspitlsc under a real s6-tcpclient (against aiosmtpd), and both of
//! our chains talking to each other, over 127.0.0.1 and ::1. Data after
//! the upgrade is compared byte for byte; the apps see the handshake
//! notification they asked for with `Y`.

mod common;
mod tcp_support;
use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tcp_support::*;

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

fn bytes(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

/// A DATA body: CRLF lines of base64 letters, none starting with a dot.
fn smtp_body(n_lines: usize, seed: u64) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut body = Vec::new();
    for line in data(n_lines * 76, seed).chunks(76) {
        body.extend(line.iter().map(|b| ALPHABET[usize::from(b % 64)]));
        body.extend_from_slice(b"\r\n");
    }
    body
}

fn ips() -> Vec<&'static str> {
    if have_ipv6() {
        vec!["127.0.0.1", "::1"]
    } else {
        eprintln!("no IPv6 loopback here: ::1 not tested");
        vec!["127.0.0.1"]
    }
}

/// `s6-tcpserver -1 ip 0 s6-ucspitlsd -S python3 smtp_server.py out mode`.
fn smtp_super_server(pki: &Pki, ip: &str, out: &Path, mode: &str) -> Server {
    let mut c = cmd("s6-tcpserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(["-1", ip, "0", "s6-ucspitlsd", "-S", "python3"])
        .arg(script("smtp_server.py"))
        .arg(out)
        .arg(mode);
    Server::start(&mut c, &pki.path(&format!("server-{}.log", unique())))
}

/// What smtp_server.py recorded of its environment.
fn server_env(out: &Path) -> std::collections::HashMap<String, String> {
    env_of(&String::from_utf8_lossy(&bytes(&out.join("env"))))
}

/// Waits for the server-side app to finish writing (it saves
/// `sent_after_tls` last).
fn wait_for_server_app(out: &Path, srv: &Server) {
    let f = out.join("sent_after_tls");
    let end = std::time::Instant::now() + T;
    while !f.exists() {
        assert!(
            std::time::Instant::now() < end,
            "smtp_server.py never finished; server log: {}",
            srv.log()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn check_server_notification(out: &Path) {
    let block = String::from_utf8_lossy(&bytes(&out.join("notification"))).into_owned();
    assert!(block.contains("SSL_PROTOCOL=TLSv1.3\0"), "{block:?}");
    assert!(block.contains("SSL_CIPHER=TLS_"), "{block:?}");
    assert!(
        block.contains("SSL_TLS_SNI_SERVERNAME=localhost\0"),
        "{block:?}"
    );
    assert!(block.ends_with("\0\0"), "{block:?}");
}

#[test]
fn openssl_starttls_smtp_against_ucspitlsd_under_s6_tcpserver() {
    for ip in ips() {
        let pki = Pki::new();
        let out = pki.path("out");
        std::fs::create_dir(&out).unwrap();
        let srv = smtp_super_server(&pki, ip, &out, "Y");

        let mut c = Command::new("openssl");
        c.args(["s_client", "-starttls", "smtp", "-quiet", "-no_ign_eof"])
            .arg("-nocommands")
            .arg("-connect")
            .arg(srv.addr(ip).to_string())
            .args(["-servername", "localhost", "-verify_return_error"])
            .arg("-CAfile")
            .arg(&pki.ca_file)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut client = Proc::spawn(&mut c);
        let body = smtp_body(1500, 11);
        let mut input = b"EHLO client.test\r\nHELP\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@server.test>\r\nDATA\r\n".to_vec();
        input.extend_from_slice(&body);
        input.extend_from_slice(b".\r\nQUIT\r\n");
        let mut stdin = client.child.as_mut().unwrap().stdin.take().unwrap();
        let mut stdout = client.child.as_mut().unwrap().stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = stdout.read_to_end(&mut v);
            v
        });
        // Stdin stays open until the server has said 221 and closed.
        stdin.write_all(&input).unwrap();
        let (code, err) = client.finish(T);
        drop(stdin);
        let received = join(reader, T);
        assert_eq!(code, 0, "{ip}: s_client: {err}\nserver: {}", srv.log());
        wait_for_server_app(&out, &srv);

        assert_same(
            &received,
            &bytes(&out.join("sent_after_tls")),
            "server to client after STARTTLS",
        );
        assert!(received.ends_with(b"221 2.0.0 bye\r\n"), "{ip}");
        assert_same(&bytes(&out.join("body")), &body, "client to server");
        check_server_notification(&out);
        let env = server_env(&out);
        assert_eq!(env["PROTO"], "TCP");
        assert_eq!(env["TCPREMOTEIP"], ip);
        assert_eq!(env["TCPLOCALPORT"], srv.port.to_string());
        assert_eq!(env["KEYFILE"], "<unset>");
    }
}

/// `s6-tcpclient -H ip port s6-ucspitlsc -k localhost <app>`, the app
/// being smtp_client.py (saving its environment first).
fn smtp_client_chain(pki: &Pki, ip: &str, port: u16, out: &Path, body: &Path) -> (i32, String) {
    let app = format!(
        "env > {}/client.env; exec python3 {} {} {} Y",
        out.display(),
        script("smtp_client.py").display(),
        out.display(),
        body.display()
    );
    let mut c = cmd("s6-tcpclient");
    c.env("CAFILE", &pki.ca_file)
        .args(["-H", ip, &port.to_string()])
        .args(["s6-ucspitlsc", "-k", "localhost", "sh", "-c", &app])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    Proc::spawn(&mut c).finish(T)
}

fn check_client_side(out: &Path, ip: &str, port: u16) {
    let block = String::from_utf8_lossy(&bytes(&out.join("notification"))).into_owned();
    assert!(block.starts_with("SSL_PROTOCOL=TLSv1."), "{block:?}");
    assert!(block.contains("\0SSL_PEER_CERT_HASH=SHA256:"), "{block:?}");
    assert!(block.ends_with("\0\0"), "{block:?}");
    let env = env_of(&String::from_utf8_lossy(&bytes(&out.join("client.env"))));
    assert_eq!(env["PROTO"], "TCP");
    assert_eq!(env["TCPREMOTEIP"], ip);
    assert_eq!(env["TCPREMOTEPORT"], port.to_string());
    for k in ["SSLCTLFD", "SSLREADFD", "SSLWRITEFD"] {
        assert!(env.contains_key(k), "{k} missing: {env:?}");
    }
    assert!(!env.contains_key("CAFILE"), "the app sees CAFILE");
}

#[test]
fn ucspitlsc_under_s6_tcpclient_against_aiosmtpd() {
    let pki = Pki::new();
    let out = pki.path("out");
    std::fs::create_dir(&out).unwrap();
    let port = free_port();
    let mut c = Command::new("python3");
    c.arg(script("aiosmtpd_server.py"))
        .arg(port.to_string())
        .arg(&pki.server.cert_pem)
        .arg(&pki.server.key_pem)
        .arg(&out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut smtpd = Proc::spawn(&mut c);
    let mut ready = [0u8; 6];
    smtpd
        .child
        .as_mut()
        .unwrap()
        .stdout
        .take()
        .unwrap()
        .read_exact(&mut ready)
        .expect("aiosmtpd did not start (is it installed? apt-get install python3-aiosmtpd)");
    assert_eq!(&ready, b"ready\n");

    let body = smtp_body(3000, 12);
    let body_file = file(pki.dir.path(), "body", &body);
    let (code, err) = smtp_client_chain(&pki, "127.0.0.1", port, &out, &body_file);
    let replies = String::from_utf8_lossy(&bytes(&out.join("replies"))).into_owned();
    assert_eq!(code, 0, "{err}\nreplies: {replies}");
    assert_same(&bytes(&out.join("message")), &body, "message");
    assert_eq!(bytes(&out.join("server_tls")), b"True\n");
    assert!(
        replies.contains("250 2.0.0 message accepted\r\n"),
        "{replies}"
    );
    check_client_side(&out, "127.0.0.1", port);
}

/// Both of our chains, and nothing else: s6-tcpclient + s6-ucspitlsc +
/// smtp_client.py against s6-tcpserver + s6-ucspitlsd + smtp_server.py.
#[test]
fn our_ucspi_client_chain_against_our_ucspi_server_chain() {
    for ip in ips() {
        let pki = Pki::new();
        let sout = pki.path("sout");
        let cout = pki.path("cout");
        std::fs::create_dir(&sout).unwrap();
        std::fs::create_dir(&cout).unwrap();
        let srv = smtp_super_server(&pki, ip, &sout, "Y");
        let body = smtp_body(4000, 13);
        let body_file = file(pki.dir.path(), "body", &body);
        let (code, err) = smtp_client_chain(&pki, ip, srv.port, &cout, &body_file);
        let replies = bytes(&cout.join("replies"));
        assert_eq!(
            code,
            0,
            "{ip}: {err}\nreplies: {}\nserver: {}",
            String::from_utf8_lossy(&replies),
            srv.log()
        );
        wait_for_server_app(&sout, &srv);
        assert_same(&bytes(&sout.join("body")), &body, "client to server");
        // Everything the server sent after the upgrade is what the client
        // read after its STARTTLS reply.
        let marker = b"220 2.0.0 ready to start TLS\r\n";
        let at = replies
            .windows(marker.len())
            .position(|w| w == marker)
            .expect("no STARTTLS reply")
            + marker.len();
        assert_same(
            &replies[at..],
            &bytes(&sout.join("sent_after_tls")),
            "server to client after STARTTLS",
        );
        check_server_notification(&sout);
        check_client_side(&cout, ip, srv.port);
        assert_eq!(server_env(&sout)["TCPREMOTEIP"], ip);
    }
}

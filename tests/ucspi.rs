//! s6-ucspitlsd and s6-ucspitlsc against real STARTTLS peers nobody here
//! wrote (`openssl s_client -starttls smtp`, Python's aiosmtpd), and the
//! UCSPI-TLS error paths.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(30);

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
}

fn text(p: &Path) -> String {
    String::from_utf8_lossy(&read(p)).into_owned()
}

/// A DATA body: many CRLF lines, none starting with a dot.
fn smtp_body(n_lines: usize, seed: u64) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let raw = data(n_lines * 76, seed);
    let mut body = Vec::new();
    for line in raw.chunks(76) {
        body.extend(line.iter().map(|b| ALPHABET[usize::from(b % 64)]));
        body.extend_from_slice(b"\r\n");
    }
    body
}

/// s6-ucspitlsd serving `smtp_server.py` on an accepted socket, driven by
/// `openssl s_client -starttls smtp`.
fn openssl_starttls_against_ucspitlsd(mode: &str) {
    let pki = Pki::new();
    let out = pki.path("out");
    std::fs::create_dir(&out).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();

    let mut client = Command::new("openssl");
    client
        .args(["s_client", "-starttls", "smtp", "-quiet", "-no_ign_eof"])
        // Lines typed at s_client are data, not its K/Q/R commands.
        .arg("-nocommands")
        .args(["-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-verify_return_error"])
        .arg("-CAfile")
        .arg(&pki.ca_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut client = Proc::spawn(&mut client);
    let (sock, _) = listener.accept().unwrap();

    let mut server = cmd("s6-ucspitlsd");
    server
        .env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        // OpenSSL 3 calls an EOF without close_notify an error.
        .arg("-S")
        .arg("python3")
        .arg(script("smtp_server.py"))
        .arg(&out)
        .arg(mode)
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock))
        .stderr(Stdio::piped());
    let mut server = Proc::spawn(&mut server);

    // What s_client sends once TLS is up: its stdin, as a user would type
    // it. s_client reads it only after the STARTTLS dance and the handshake.
    let body = smtp_body(2000, 5);
    let mut input = b"EHLO client.test\r\nHELP\r\nMAIL FROM:<a@client.test>\r\nRCPT TO:<b@server.test>\r\nDATA\r\n".to_vec();
    input.extend_from_slice(&body);
    input.extend_from_slice(b".\r\nQUIT\r\n");
    let mut stdin = client.child.as_mut().unwrap().stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        stdin.write_all(&input).unwrap();
        // Keep stdin open: the server ends the session (221, then EOF).
        std::thread::sleep(Duration::from_secs(60));
        drop(stdin);
    });
    let mut stdout = client.child.as_mut().unwrap().stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        stdout.read_to_end(&mut v).unwrap();
        v
    });

    let (code, err) = server.finish(LIMIT);
    assert_eq!(code, 0, "server: {err}");
    let (ccode, cerr) = client.finish(LIMIT);
    let received = reader.join().unwrap();
    drop(writer);
    assert_eq!(ccode, 0, "s_client: {cerr}");

    // Byte-exact both ways after the upgrade.
    assert_same(
        &received,
        &read(&out.join("sent_after_tls")),
        "server to client",
    );
    assert!(received.len() > 30_000, "{} bytes", received.len());
    assert_same(&read(&out.join("body")), &body, "client to server");

    // prog got the UCSPI-TLS fds, and not the server's key.
    let env = text(&out.join("env"));
    for k in ["SSLCTLFD", "SSLREADFD", "SSLWRITEFD"] {
        assert!(
            env.lines()
                .any(|l| l.starts_with(&format!("{k}=")) && !l.ends_with("<unset>")),
            "{env}"
        );
    }
    assert!(
        env.contains("CERTFILE=<unset>\n") && env.contains("KEYFILE=<unset>\n"),
        "{env}"
    );

    let notification = out.join("notification");
    if mode == "Y" {
        let block = text(&notification);
        assert!(block.ends_with("\0\0"), "{block:?}");
        assert!(block.contains("SSL_PROTOCOL=TLSv1.3\0"), "{block:?}");
        assert!(block.contains("SSL_CIPHER=TLS_"), "{block:?}");
        assert!(
            block.contains("SSL_TLS_SNI_SERVERNAME=localhost\0"),
            "{block:?}"
        );
    } else {
        assert!(!notification.exists());
    }
}

#[test]
fn openssl_starttls_smtp_drives_ucspitlsd_with_notification() {
    openssl_starttls_against_ucspitlsd("Y");
}

#[test]
fn openssl_starttls_smtp_drives_ucspitlsd_without_notification() {
    openssl_starttls_against_ucspitlsd("y");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts aiosmtpd on a loopback port; returns it and the port.
fn aiosmtpd(pki: &Pki, out: &Path) -> (Proc, u16) {
    let port = free_port();
    let mut c = Command::new("python3");
    c.arg(script("aiosmtpd_server.py"))
        .arg(port.to_string())
        .arg(&pki.server.cert_pem)
        .arg(&pki.server.key_pem)
        .arg(out)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped());
    let mut p = Proc::spawn(&mut c);
    let mut stdout = p.child.as_mut().unwrap().stdout.take().unwrap();
    let mut ready = [0u8; 6];
    stdout
        .read_exact(&mut ready)
        .expect("aiosmtpd did not start (is it installed? apt-get install python3-aiosmtpd)");
    assert_eq!(&ready, b"ready\n");
    (p, port)
}

fn ucspitlsc_against_aiosmtpd(mode: &str) {
    let pki = Pki::new();
    let out = pki.path("out");
    std::fs::create_dir(&out).unwrap();
    let (_server, port) = aiosmtpd(&pki, &out);
    let body = smtp_body(3000, 9);
    let body_file = file(pki.dir.path(), "body", &body);

    let sock = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut client = cmd("s6-ucspitlsc");
    client
        .env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "python3"])
        .arg(script("smtp_client.py"))
        .arg(&out)
        .arg(&body_file)
        .arg(mode)
        .stderr(Stdio::piped());
    with_fds(&mut client, &[(raw(&sock), 6), (raw(&sock), 7)]);
    let mut client = Proc::spawn(&mut client);
    drop(sock);
    let (code, err) = client.finish(LIMIT);
    let replies = text(&out.join("replies"));
    assert_eq!(code, 0, "client: {err}\nreplies: {replies}");

    // aiosmtpd saw the message over TLS, byte for byte.
    assert_same(&read(&out.join("message")), &body, "message");
    assert_eq!(text(&out.join("server_tls")), "True\n");
    assert!(
        replies.contains("250 2.0.0 message accepted\r\n"),
        "{replies}"
    );
    let notification = out.join("notification");
    if mode == "Y" {
        let block = text(&notification);
        assert!(block.starts_with("SSL_PROTOCOL=TLSv1."), "{block:?}");
        assert!(block.contains("\0SSL_CIPHER="), "{block:?}");
        assert!(block.contains("SSL_PEER_CERT_HASH=SHA256:"), "{block:?}");
        assert!(block.ends_with("\0\0"), "{block:?}");
    } else {
        assert!(!notification.exists());
    }
}

#[test]
fn ucspitlsc_upgrades_to_aiosmtpd_with_notification() {
    ucspitlsc_against_aiosmtpd("Y");
}

#[test]
fn ucspitlsc_upgrades_to_aiosmtpd_without_notification() {
    ucspitlsc_against_aiosmtpd("y");
}

/// s6-ucspitlsd running `ucspi_probe.py` with `args` over an accepted
/// socket; the test keeps the peer end.
fn probe(pki: &Pki, args: &[&str]) -> (Proc, TcpStream, PathBuf) {
    probe_with(pki, &[], args)
}

fn probe_with(pki: &Pki, flags: &[&str], args: &[&str]) -> (Proc, TcpStream, PathBuf) {
    let report = pki.path("report");
    let (peer, sock) = tcp_pair();
    let mut c = cmd("s6-ucspitlsd");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(flags)
        .arg("python3")
        .arg(script("ucspi_probe.py"))
        .arg(&report)
        .args(args)
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock))
        .stderr(Stdio::piped());
    (Proc::spawn(&mut c), peer, report)
}

#[test]
fn closing_the_control_socket_declines_tls() {
    let pki = Pki::new();
    let (mut p, mut peer, report) = probe(&pki, &["close"]);
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = Vec::new();
    peer.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"cleartext\n");
    let (code, err) = p.finish(LIMIT);
    assert_eq!(code, 7, "prog's own exit code: {err}");
    assert_eq!(text(&report), "child=0\n");
    assert_eq!(err, "");
}

#[test]
fn an_unknown_command_byte_is_exit_100() {
    let pki = Pki::new();
    let (mut p, _peer, report) = probe(&pki, &["byte", "x"]);
    let (code, err) = p.finish(LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(text(&report), "child=100\n");
    assert_eq!(
        err,
        "s6-ucspitlsd: fatal: unrecognized command on control socket\n"
    );
}

#[test]
fn a_failed_handshake_after_y_ends_the_engine_with_98() {
    for command in ["y", "Y"] {
        let pki = Pki::new();
        let (mut p, mut peer, report) = probe(&pki, &["start", command]);
        // Not a TLS client: plain text where a ClientHello should be.
        peer.write_all(b"HELO plain.text.client\r\n\r\n\r\n\r\n\r\n")
            .unwrap();
        let (code, err) = p.finish(LIMIT);
        assert_eq!(code, 0, "{err}");
        let report = text(&report);
        assert!(report.starts_with("child=98\n"), "{report}");
        assert!(report.contains("read=b''"), "{report}");
        if command == "Y" {
            // The block never came: the control socket just closed.
            assert!(report.contains("block=b''"), "{report}");
        }
        assert!(err.starts_with("s6-tlsd-io: fatal: "), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        // The peer sees the connection end.
        peer.set_read_timeout(Some(LIMIT)).unwrap();
        let mut rest = Vec::new();
        let _ = peer.read_to_end(&mut rest);
    }
}

#[test]
fn a_failed_handshake_on_the_client_side() {
    // s6-ucspitlsc upgrading against a server whose certificate nobody
    // trusts: the engine ends with 98 and prog reads EOF.
    let pki = Pki::new();
    let report = pki.path("report");
    let (peer, sock) = tcp_pair();
    let mut server = cmd("s6-tlsd");
    server
        .env("KEYFILE", &pki.untrusted.key_pem)
        .env("CERTFILE", &pki.untrusted.cert_pem)
        .args(["cat"])
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock))
        .stderr(Stdio::piped());
    let mut server = Proc::spawn(&mut server);
    let mut c = cmd("s6-ucspitlsc");
    c.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "python3"])
        .arg(script("ucspi_probe.py"))
        .arg(&report)
        .args(["start", "Y"])
        .stderr(Stdio::piped());
    with_fds(&mut c, &[(raw(&peer), 6), (raw(&peer), 7)]);
    let mut client = Proc::spawn(&mut c);
    drop(peer);
    let (code, err) = client.finish(LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(text(&report), "child=98\nblock=b''\nread=b''\n");
    assert!(err.starts_with("s6-tlsc-io: fatal: "), "{err}");
    let _ = server.finish(LIMIT);
}

#[test]
fn usage_errors() {
    for (prog, args) in [
        ("s6-ucspitlsc", &[][..]),
        ("s6-ucspitlsc", &["-6", "2", "true"]),
        ("s6-ucspitlsc", &["-6", "8", "-7", "8", "true"]),
        ("s6-ucspitlsd", &["--bogus", "true"]),
        ("s6-ucspitlsd", &["-K", "soon", "true"]),
    ] {
        let mut c = cmd(prog);
        c.args(args).stderr(Stdio::piped());
        let (code, err) = Proc::spawn(&mut c).finish(LIMIT);
        assert_eq!(code, 100, "{prog} {args:?}: {err}");
        assert!(err.starts_with(&format!("{prog}: ")), "{err}");
    }
    // No network fds: a system error, before anything forks.
    let mut c = cmd("s6-ucspitlsc");
    c.arg("true").stderr(Stdio::piped());
    let (code, err) = Proc::spawn(&mut c).finish(LIMIT);
    assert_eq!(code, 111);
    assert_eq!(
        err,
        "s6-ucspitlsc: fatal: unable to check network fds: Bad file descriptor\n"
    );
}

#[test]
fn tls_variables_reach_prog_only_with_keep() {
    for (flag, kept) in [("-z", false), ("-Z", true)] {
        let pki = Pki::new();
        let (mut peer, sock) = tcp_pair();
        let mut c = cmd("s6-ucspitlsd");
        c.env("KEYFILE", &pki.server.key_pem)
            .env("CERTFILE", &pki.server.cert_pem)
            .env("KEYFILE:a.test", &pki.wildcard.key_pem)
            .env("CERTFILE:a.test", &pki.wildcard.cert_pem)
            .env("TLS_UID", "65534")
            .args([flag, "env"])
            .stdin(owned(sock.try_clone().unwrap()))
            .stdout(owned(sock))
            .stderr(Stdio::piped());
        let mut p = Proc::spawn(&mut c);
        // The Command still holds our copies of the socket.
        drop(c);
        let (code, err) = p.finish(LIMIT);
        assert_eq!(code, 0, "{err}");
        peer.set_read_timeout(Some(LIMIT)).unwrap();
        let mut env = String::new();
        peer.read_to_string(&mut env).unwrap();
        for k in [
            "KEYFILE=",
            "CERTFILE=",
            "KEYFILE:a.test=",
            "CERTFILE:a.test=",
            "TLS_UID=",
        ] {
            assert_eq!(
                env.lines().any(|l| l.starts_with(k)),
                kept,
                "{flag} {k}\n{env}"
            );
        }
        for k in ["SSLCTLFD=", "SSLREADFD=", "SSLWRITEFD="] {
            assert!(env.lines().any(|l| l.starts_with(k)), "{env}");
        }
    }
}

#[test]
fn verbose_child_says_what_prog_chose() {
    let pki = Pki::new();
    let (mut p, _peer, report) = probe_with(&pki, &["-v2"], &["close"]);
    let pid = p.pid();
    let (code, err) = p.finish(LIMIT);
    assert_eq!(code, 7);
    assert_eq!(text(&report), "child=0\n");
    assert_eq!(
        err,
        format!("s6-ucspitlsd: info: pid {pid} declined opportunistic TLS\n")
    );

    // Accepted, then the engine fails on a peer that is not TLS.
    let (mut p, mut peer, report) = probe_with(&pki, &["-v", "2"], &["start", "y"]);
    let pid = p.pid();
    peer.write_all(b"not a ClientHello\r\n\r\n\r\n").unwrap();
    let (code, err) = p.finish(LIMIT);
    assert_eq!(code, 0, "{err}");
    assert!(text(&report).starts_with("child=98\n"));
    assert!(
        err.starts_with(&format!(
            "s6-ucspitlsd: info: pid {pid} accepted opportunistic TLS\ns6-tlsd-io: fatal: "
        )),
        "{err}"
    );
}

#[test]
fn ucspitlsc_with_the_network_on_other_fds() {
    // -6 8 -7 9: the network is on fds 8/9 (6 and 7 are not the network;
    // s6-ucspitlsc may put the UCSPI-TLS pipes there). prog
    // talks cleartext there, then starts TLS with Y and moves data both
    // ways over $SSLREADFD/$SSLWRITEFD; the engine takes the network from
    // 8/9. The peer is the test (cleartext), then s6-tlsd echoing.
    let pki = Pki::new();
    let d = pki.dir.path();
    let up = data(300_000, 31);
    let up_file = file(d, "up", &up);
    let down = pki.path("down");
    let block = pki.path("block");
    let (c, mut s) = tcp_pair();
    let app = format!(
        "for f in 6 7; do case $(readlink /proc/$$/fd/$f) in socket:*) exit 6$f;; esac; done; \
         echo STARTTLS >&9; read -r x <&8; [ \"$x\" = GO ] || exit 65; \
         printf Y >&$SSLCTLFD; cat <&$SSLCTLFD > {block}; exec {{SSLCTLFD}}>&- 8<&- 9>&-; \
         {{ exec {{SSLWRITEFD}}>&-; cat <&$SSLREADFD > {down}; }} & \
         cat {up} >&$SSLWRITEFD; exec {{SSLWRITEFD}}>&-; wait",
        block = block.display(),
        down = down.display(),
        up = up_file.display()
    );
    let mut cc = cmd("s6-ucspitlsc");
    cc.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "-6", "8", "-7", "9", "bash", "-c", &app])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    with_fds(&mut cc, &[(raw(&c), 8), (raw(&c), 9)]);
    let mut client = Proc::spawn(&mut cc);
    drop(cc);
    drop(c);

    // The cleartext part, byte by byte so as not to read past the line.
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    while line.last() != Some(&b'\n') {
        if s.read(&mut b).unwrap() == 0 {
            let (code, err) = client.finish(LIMIT);
            panic!("EOF after {line:?}: s6-ucspitlsc exited {code}: {err}");
        }
        line.push(b[0]);
    }
    assert_eq!(line, b"STARTTLS\n");
    s.write_all(b"GO\n").unwrap();
    let mut server = Proc::spawn(&mut tlsd(&pki, &s, &[], "exec cat"));
    drop(s);

    let (code, err) = client.finish(LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "");
    let (scode, serr) = server.finish(LIMIT);
    assert_eq!(scode, 0, "{serr}");
    assert_same(&read(&down), &up, "echoed through TLS");
    let block = text(&block);
    assert!(block.starts_with("SSL_PROTOCOL=TLSv1."), "{block:?}");
    assert!(
        block.contains("\0SSL_TLS_SNI_SERVERNAME=localhost\0"),
        "{block:?}"
    );
    assert!(block.ends_with("\0\0"), "{block:?}");
}

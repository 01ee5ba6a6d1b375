//! Our engines against OpenSSL's: byte-exact transfers both ways with
//! `openssl s_server` and `openssl s_client`, a request/reply where our
//! client half-closes first, protocol versions and cipher names.

mod common;
use common::*;
use std::io::Read;
use std::process::Stdio;

const SIZES: [usize; 4] = [0, 1, 16 * 1024 + 1, 64 * 1024 * 1024];

fn reader<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

#[test]
fn our_client_uploads_to_openssl_server() {
    let pki = Pki::new();
    for (i, &n) in SIZES.iter().enumerate() {
        let port = free_port();
        // -quiet: stdout is exactly what was received; stdin is held open
        // (at its EOF s_server would drop the connection).
        let mut sc = s_server(&pki, port, &["-quiet"]);
        sc.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut server = start_s_server(&mut sc, port);
        let got = reader(server.child.as_mut().unwrap().stdout.take().unwrap());
        let want = data(n, 10 + i as u64);
        let input = file(pki.dir.path(), "up", &want);
        let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        // -S: s_server ends the connection when it gets close_notify.
        let mut client = start(
            &mut tlsc(
                &pki,
                &sock,
                &["-k", "localhost", "-S"],
                &format!("cat {} >&7; exec 7>&-; cat <&6 >/dev/null", input.display()),
            ),
            sock,
        );
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "{n}: {err}");
        server.wait(LIMIT);
        assert_same(&join(got, LIMIT), &want, &format!("{n} bytes up"));
    }
}

#[test]
fn our_client_downloads_from_openssl_server_after_half_closing() {
    // s_server -WWW answers `GET /file` with a header and the file, after
    // our client sent its request and half-closed.
    let pki = Pki::new();
    let www = pki.dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    for (i, &n) in SIZES.iter().enumerate() {
        let want = data(n, 20 + i as u64);
        file(&www, "f.bin", &want);
        let port = free_port();
        let mut sc = s_server(&pki, port, &["-WWW"]);
        sc.current_dir(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut server = start_s_server(&mut sc, port);
        let out = pki.path("down");
        let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut client = start(
            &mut tlsc(
                &pki,
                &sock,
                &["-k", "localhost"],
                &format!(
                    "printf 'GET /f.bin HTTP/1.0\\r\\n\\r\\n' >&7; exec 7>&-; cat <&6 > {}",
                    out.display()
                ),
            ),
            sock,
        );
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "{n}: {err}");
        server.wait(LIMIT);
        let got = std::fs::read(&out).unwrap();
        let body = got
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|p| &got[p + 4..])
            .unwrap_or_else(|| panic!("no HTTP header in {} bytes", got.len()));
        assert!(got.starts_with(b"HTTP/1.0 200 ok\r\n"));
        assert_same(body, &want, &format!("{n} bytes down"));
    }
}

#[test]
fn half_close_with_close_notify_in_tls12_and_tls13() {
    // Our client ends its side with close_notify, then still reads a 1 MiB
    // reply: allowed in TLS 1.3, and in TLS 1.2 as long as the peer goes
    // on sending (s_server -WWW does).
    let pki = Pki::new();
    let www = pki.dir.path().join("www");
    std::fs::create_dir(&www).unwrap();
    let want = data(1024 * 1024, 50);
    file(&www, "f.bin", &want);
    for version in ["-tls1_2", "-tls1_3"] {
        let port = free_port();
        let mut sc = s_server(&pki, port, &["-WWW", version]);
        sc.current_dir(&www)
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let mut server = start_s_server(&mut sc, port);
        let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut cli = Engine::client(&pki, sock, &["-k", "localhost", "-S", "-J"], &[]);
        let got = cli.receive();
        join(cli.send(b"GET /f.bin HTTP/1.0\r\n\r\n".to_vec()), LIMIT);
        let got = join(got, LIMIT);
        let (code, err) = cli.finish();
        assert_eq!(code, 0, "{version}: {err}");
        server.wait(LIMIT);
        assert!(got.len() > want.len(), "{version}: {} bytes", got.len());
        assert_same(&got[got.len() - want.len()..], &want, version);
    }
}

#[test]
fn openssl_server_close_notify_satisfies_our_client_under_j() {
    // s_server -WWW ends with close_notify: -J must be content.
    let pki = Pki::new();
    let www = pki.dir.path();
    file(www, "small", b"hello\n");
    let port = free_port();
    let mut sc = s_server(&pki, port, &["-WWW"]);
    sc.current_dir(www)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut server = start_s_server(&mut sc, port);
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut cli = Engine::client(&pki, sock, &["-k", "localhost", "-J"], &[]);
    let got = cli.receive();
    join(cli.send(b"GET /small HTTP/1.0\r\n\r\n".to_vec()), LIMIT);
    let got = join(got, LIMIT);
    assert!(got.ends_with(b"\r\n\r\nhello\n"), "{got:?}");
    let (code, err) = cli.finish();
    assert_eq!(code, 0, "{err}");
    server.wait(LIMIT);
}

/// `openssl s_client args...` against s6-tlsd running `script`.
fn openssl_client_to_us(
    pki: &Pki,
    client_args: &[&str],
    stdin: Stdio,
    server_opts: &[&str],
    script: &str,
) -> (i32, Vec<u8>, String, i32, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut cl = s_client(pki, port, client_args);
    cl.stdin(stdin).stdout(Stdio::piped());
    let mut client = Proc::spawn(&mut cl);
    let out = reader(client.child.as_mut().unwrap().stdout.take().unwrap());
    let s = accept_within(&l, LIMIT);
    let mut server = start(&mut tlsd(pki, &s, server_opts, script), s);
    let (ccode, cerr) = client.finish(LIMIT);
    let (scode, serr) = server.finish(LIMIT);
    assert!(!serr.contains("panicked"), "{serr}");
    (ccode, join(out, LIMIT), cerr, scode, serr)
}

#[test]
fn openssl_client_uploads_to_our_server() {
    let pki = Pki::new();
    for (i, &n) in SIZES.iter().enumerate() {
        let want = data(n, 30 + i as u64);
        let input = file(pki.dir.path(), "up", &want);
        let out = pki.path("got");
        // -no_ign_eof: at the end of its stdin s_client sends close_notify
        // and closes; our server under -J accepts exactly that.
        let (_, _, cerr, scode, serr) = openssl_client_to_us(
            &pki,
            &["-quiet", "-no_ign_eof", "-nocommands"],
            Stdio::from(std::fs::File::open(&input).unwrap()),
            &["-J"],
            &format!("cat > {}", out.display()),
        );
        assert_eq!(scode, 0, "{n}: {serr} {cerr}");
        assert_same(
            &std::fs::read(&out).unwrap(),
            &want,
            &format!("{n} bytes up"),
        );
    }
}

#[test]
fn openssl_client_downloads_from_our_server() {
    let pki = Pki::new();
    for (i, &n) in SIZES.iter().enumerate() {
        let want = data(n, 40 + i as u64);
        let input = file(pki.dir.path(), "down", &want);
        // -quiet implies -ign_eof: s_client reads until our server closes,
        // with close_notify (-S), and its stdout is exactly the data.
        let (ccode, got, cerr, scode, serr) = openssl_client_to_us(
            &pki,
            &["-quiet"],
            Stdio::null(),
            &["-S"],
            &format!("cat {}", input.display()),
        );
        assert_eq!(scode, 0, "{n}: {serr}");
        assert_eq!(ccode, 0, "{n}: {cerr}");
        assert_same(&got, &want, &format!("{n} bytes down"));
    }
}

/// What our server's prog sees (SSL_PROTOCOL, SSL_CIPHER) for an
/// `openssl s_client` with `args`, or None if the handshake failed.
fn server_sees(
    pki: &Pki,
    cert: Option<(&std::path::Path, &std::path::Path)>,
    args: &[&str],
) -> (Option<(String, String)>, String) {
    let seen = pki.path("seen");
    let _ = std::fs::remove_file(&seen);
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut cl = s_client(pki, port, args);
    cl.args(["-quiet", "-no_ign_eof"])
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut client = Proc::spawn(&mut cl);
    let s = accept_within(&l, LIMIT);
    let mut sc = tlsd(
        pki,
        &s,
        &[],
        &format!(
            "printf '%s %s' \"$SSL_PROTOCOL\" \"$SSL_CIPHER\" > {}",
            seen.display()
        ),
    );
    if let Some((k, c)) = cert {
        sc.env("KEYFILE", k).env("CERTFILE", c);
    }
    let mut server = start(&mut sc, s);
    let _ = client.finish(LIMIT);
    let (_, serr) = server.finish(LIMIT);
    assert!(!serr.contains("panicked"), "{serr}");
    let seen = std::fs::read_to_string(&seen).ok().map(|t| {
        let (p, c) = t.split_once(' ').unwrap();
        (p.to_string(), c.to_string())
    });
    (seen, serr)
}

fn pair(p: &str, c: &str) -> Option<(String, String)> {
    Some((p.to_string(), c.to_string()))
}

#[test]
fn server_protocol_versions() {
    let pki = Pki::new();
    // TLS 1.1 (openssl made willing to offer it) is refused.
    let (seen, err) = server_sees(&pki, None, &["-tls1_1", "-cipher", "ALL@SECLEVEL=0"]);
    assert_eq!(seen, None, "TLS 1.1 was accepted");
    assert_clean_failure(&err, "s6-tlsd-io", "handshake");
    let (seen, _) = server_sees(&pki, None, &["-tls1_2"]);
    assert_eq!(seen.as_ref().unwrap().0, "TLSv1.2");
    let (seen, _) = server_sees(&pki, None, &["-tls1_3"]);
    assert_eq!(seen.as_ref().unwrap().0, "TLSv1.3");
}

#[test]
fn server_cipher_names_are_openssl_names() {
    let pki = Pki::new();
    for (args, want) in [
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256"][..],
            pair("TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256"),
        ),
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"],
            pair("TLSv1.2", "ECDHE-ECDSA-AES256-GCM-SHA384"),
        ),
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"],
            pair("TLSv1.2", "ECDHE-ECDSA-CHACHA20-POLY1305"),
        ),
        (
            &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
            pair("TLSv1.3", "TLS_AES_128_GCM_SHA256"),
        ),
        (
            &["-tls1_3", "-ciphersuites", "TLS_AES_256_GCM_SHA384"],
            pair("TLSv1.3", "TLS_AES_256_GCM_SHA384"),
        ),
        (
            &["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            pair("TLSv1.3", "TLS_CHACHA20_POLY1305_SHA256"),
        ),
    ] {
        let (seen, err) = server_sees(&pki, None, args);
        assert_eq!(seen, want, "{args:?}: {err}");
    }
    // An RSA certificate, made by openssl.
    let d = pki.dir.path();
    let out = std::process::Command::new("openssl")
        .current_dir(d)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "rsa.key",
            "-out",
            "rsa.pem",
            "-subj",
            "/CN=localhost",
            "-days",
            "2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let (k, c) = (d.join("rsa.key"), d.join("rsa.pem"));
    for (cipher, want) in [
        ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256"),
        ("ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"),
        ("ECDHE-RSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305"),
    ] {
        let (seen, err) = server_sees(&pki, Some((&k, &c)), &["-tls1_2", "-cipher", cipher]);
        assert_eq!(seen, pair("TLSv1.2", want), "{err}");
    }
}

#[test]
fn client_sees_the_same_names_against_openssl_server() {
    let pki = Pki::new();
    for (args, want) in [
        (
            &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384"][..],
            "TLSv1.2 ECDHE-ECDSA-AES256-GCM-SHA384",
        ),
        (
            &["-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256"],
            "TLSv1.3 TLS_CHACHA20_POLY1305_SHA256",
        ),
    ] {
        let port = free_port();
        let mut sc = s_server(&pki, port, &["-quiet"]);
        sc.args(args).stdin(Stdio::piped()).stdout(Stdio::null());
        let mut server = start_s_server(&mut sc, port);
        let seen = pki.path("cseen");
        let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut client = start(
            &mut tlsc(
                &pki,
                &sock,
                &["-k", "localhost", "-S"],
                &format!(
                    "printf '%s %s' \"$SSL_PROTOCOL\" \"$SSL_CIPHER\" > {}; exec 7>&-; cat <&6 >/dev/null",
                    seen.display()
                ),
            ),
            sock,
        );
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "{err}");
        server.wait(LIMIT);
        assert_eq!(std::fs::read_to_string(&seen).unwrap(), want);
    }
}

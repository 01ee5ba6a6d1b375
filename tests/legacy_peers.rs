//! Legacy peers. The client is liberal in the protocol versions it accepts,
//! as upstream's: with the BoringSSL backend it still talks TLS 1.1 to a
//! legacy server; rustls knows TLS 1.2 and 1.3 only, so there the handshake
//! fails cleanly. The server is strict on both backends: TLS 1.2 and up,
//! forward-secret AEAD suites only.

mod common;
use common::*;
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// `openssl s_server` speaking TLS 1.1 only, reversing each line it gets.
fn tls11_server(pki: &Pki) -> (Proc, TcpStream) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = Command::new("openssl");
    s.args(["s_server", "-naccept", "1", "-rev", "-tls1_1"])
        .args(["-cipher", "ALL@SECLEVEL=0", "-accept"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("-cert")
        .arg(&pki.server.cert_pem)
        .arg("-key")
        .arg(&pki.server.key_pem)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let server = Proc::spawn(&mut s);
    let end = Instant::now() + LIMIT;
    loop {
        if let Ok(c) = TcpStream::connect(("127.0.0.1", port)) {
            return (server, c);
        }
        assert!(Instant::now() < end, "openssl s_server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn client_against_a_tls11_only_server() {
    let pki = Pki::new();
    let (_server, c) = tls11_server(&pki);
    let out = pki.path("out");
    let mut client = cmd("s6-tlsc");
    client
        .env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "--", "sh", "-c"])
        .arg(format!(
            "echo \"$SSL_PROTOCOL $SSL_CIPHER\" > {0}; echo hello >&7; head -n 1 <&6 >> {0}",
            out.display()
        ));
    piped_stderr(&mut client);
    with_fds(&mut client, &[(raw(&c), 6), (raw(&c), 7)]);
    let mut client = Proc::spawn(&mut client);
    drop(c);
    let (code, err) = client.finish(LIMIT);
    assert!(!err.contains("panicked"), "{err}");
    if cfg!(feature = "boring") {
        // s6-tlsc execs the app, whose status this is.
        assert_eq!(code, 0, "{err}");
        let got = std::fs::read_to_string(&out).unwrap();
        assert_eq!(got, "TLSv1.1 ECDHE-ECDSA-AES128-SHA\nolleh\n");
    } else {
        assert_eq!(code, 98, "{err}");
        assert!(
            err.contains("s6-tlsc-io: fatal: ") && err.contains("handshake"),
            "{err}"
        );
        assert!(!out.exists(), "the app ran after a failed handshake");
    }
}

/// `openssl s_client` offering only `suite` in TLS 1.2 to s6-tlsd.
fn server_against_a_client_offering(suite: &str) -> (i32, String, Option<String>) {
    let pki = Pki::new();
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut c = Command::new("openssl");
    c.args(["s_client", "-tls1_2", "-cipher", suite, "-connect"])
        .arg(l.local_addr().unwrap().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _client = Proc::spawn(&mut c);
    let (s, _) = l.accept().unwrap();
    let seen = pki.path("seen");
    let mut server = cmd("s6-tlsd");
    server
        .env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(["--", "sh", "-c"])
        .arg(format!("echo \"$SSL_CIPHER\" > {}", seen.display()))
        .stdin(owned(s.try_clone().unwrap()))
        .stdout(owned(s));
    piped_stderr(&mut server);
    let (code, err) = Proc::spawn(&mut server).finish(LIMIT);
    (code, err, std::fs::read_to_string(&seen).ok())
}

#[test]
fn server_refuses_suites_without_forward_secrecy_or_aead() {
    for suite in ["AES128-SHA", "AES128-GCM-SHA256", "ECDHE-ECDSA-AES128-SHA"] {
        let (code, err, seen) = server_against_a_client_offering(suite);
        assert_eq!(code, 98, "{suite}: {err}");
        assert!(err.contains("s6-tlsd-io: fatal: "), "{suite}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert_eq!(seen, None, "{suite}: the app ran");
    }
    let (code, err, seen) = server_against_a_client_offering("ECDHE-ECDSA-AES128-GCM-SHA256");
    assert_eq!(code, 0, "{err}");
    assert_eq!(seen.as_deref(), Some("ECDHE-ECDSA-AES128-GCM-SHA256\n"));
}

//! The client is liberal in the protocol versions it accepts, as upstream's:
//! with the BoringSSL backend it still talks TLS 1.1 to a legacy server;
//! rustls knows TLS 1.2 and 1.3 only, so there the handshake fails cleanly.
//! (The server side accepts TLS 1.2 and up on both backends.)

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

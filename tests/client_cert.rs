//! Client certificates: our client with -y against s6-tlsd -y/-Y and
//! against `openssl s_server -Verify 1`; s6-tlsd -y refusing clients
//! without a certificate or with one from an untrusted CA.

mod common;
use common::*;
use std::path::Path;
use std::process::Stdio;

/// s6-tlsc (opts, with `key`/`cert` for -y) against s6-tlsd (opts, trusting
/// the test CA). Returns client code, server code, what the server prog
/// saw as SSL_PEER_CERT_HASH and SSL_PEER_CERT_SUBJECT (None: it did not
/// run), and both stderrs.
fn run(
    pki: &Pki,
    server_opts: &[&str],
    client_opts: &[&str],
    key: &Path,
    cert: &Path,
) -> (i32, i32, Option<(String, String)>, String) {
    let d = pki.dir.path();
    let seen = d.join("seen");
    let _ = std::fs::remove_file(&seen);
    let (c, s) = tcp_pair();
    let mut sc = tlsd(
        pki,
        &s,
        server_opts,
        &format!(
            "printf '%s\\n%s' \"${{SSL_PEER_CERT_HASH-none}}\" \"${{SSL_PEER_CERT_SUBJECT-none}}\" > {}; echo ok",
            seen.display()
        ),
    );
    sc.env("CADIR", &pki.ca_dir);
    let mut server = start(&mut sc, s);
    let mut copts = vec!["-k", "localhost"];
    copts.extend_from_slice(client_opts);
    let mut cc = tlsc(pki, &c, &copts, "cat <&6 >/dev/null");
    cc.env("KEYFILE", key).env("CERTFILE", cert);
    let mut client = start(&mut cc, c);
    let (ccode, cerr) = client.finish(LIMIT);
    let (scode, serr) = server.finish(LIMIT);
    let err = format!("{cerr}{serr}");
    assert!(!err.contains("panicked"), "{err}");
    let seen = std::fs::read_to_string(&seen).ok().map(|s| {
        let (h, subj) = s.split_once('\n').unwrap();
        (h.to_string(), subj.to_string())
    });
    (ccode, scode, seen, err)
}

#[test]
fn required_client_certificate_is_seen_by_the_server_prog() {
    let pki = Pki::new();
    let cl = &pki.client;
    for (key, cert) in [(&cl.key_pem, &cl.cert_pem), (&cl.key_der, &cl.cert_der)] {
        let (c, s, seen, err) = run(&pki, &["-y"], &["-y"], key, cert);
        assert_eq!((c, s), (0, 0), "{err}");
        let (hash, subject) = seen.expect("server prog did not run");
        assert_eq!(hash, cert_hash(&cl.cert_der));
        assert_eq!(subject, "C=FR, O=s6-tls test, CN=client.test");
    }
}

#[test]
fn optional_client_certificate() {
    let pki = Pki::new();
    let cl = &pki.client;
    // Sent: seen.
    let (c, s, seen, err) = run(&pki, &["-Y"], &["-y"], &cl.key_pem, &cl.cert_pem);
    assert_eq!((c, s), (0, 0), "{err}");
    assert_eq!(seen.unwrap().0, cert_hash(&cl.cert_der));
    // Not sent (-Y on the client is "no certificate"): the connection
    // works and the prog sees no peer certificate.
    let (c, s, seen, err) = run(&pki, &["-Y"], &["-Y"], &cl.key_pem, &cl.cert_pem);
    assert_eq!((c, s), (0, 0), "{err}");
    assert_eq!(seen.unwrap(), ("none".to_string(), "none".to_string()));
    // Long options.
    let (c, s, seen, err) = run(
        &pki,
        &["--mandatory-client-cert"],
        &["--client-cert"],
        &cl.key_pem,
        &cl.cert_pem,
    );
    assert_eq!((c, s), (0, 0), "{err}");
    assert!(seen.is_some());
}

#[test]
fn server_requiring_a_certificate_rejects_missing_and_untrusted_ones() {
    let pki = Pki::new();
    let cl = &pki.client;
    let (_, s, seen, err) = run(&pki, &["-y"], &[], &cl.key_pem, &cl.cert_pem);
    assert_eq!(s, 98, "{err}");
    assert!(
        seen.is_none(),
        "server prog ran without a client certificate"
    );
    assert!(err.contains("s6-tlsd-io: fatal: "), "{err}");

    let rogue = &pki.rogue_client;
    for opts in [&["-y"][..], &["-Y"]] {
        let (c, s, seen, err) = run(&pki, opts, &["-y"], &rogue.key_pem, &rogue.cert_pem);
        assert_eq!(s, 98, "{opts:?}: {err}");
        assert!(
            seen.is_none(),
            "server prog ran with an untrusted client certificate"
        );
        assert!(err.contains("s6-tlsd-io: fatal: "), "{err}");
        assert!(
            err.contains("UnknownIssuer") || err.contains("certificate"),
            "{err}"
        );
        // In TLS 1.3 the client's handshake is over before the server
        // judges its certificate, so s6-tlsc may already have started its
        // prog (whose code we get); its engine learns from the alert.
        let _ = c;
        assert!(
            err.contains("s6-tlsc-io: fatal: TLS error: received fatal alert"),
            "{err}"
        );
    }
}

/// Our client engine with -y (or not) against `openssl s_server -Verify 1`.
fn against_openssl(pki: &Pki, client_opts: &[&str]) -> (i32, String, Vec<u8>) {
    let port = free_port();
    let mut sc = s_server(
        pki,
        port,
        &["-Verify", "1", "-verify_return_error", "-quiet"],
    );
    sc.arg("-CAfile").arg(&pki.ca_file);
    // -quiet: stdout is exactly the data received; stdin stays open.
    sc.stdin(Stdio::piped()).stdout(Stdio::piped());
    let mut server = start_s_server(&mut sc, port);
    let out = server.child.as_mut().unwrap().stdout.take().unwrap();
    let got = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut { out }, &mut v);
        v
    });
    let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut copts = vec!["-k", "localhost", "-S"];
    copts.extend_from_slice(client_opts);
    let env = [
        ("KEYFILE", pki.client.key_pem.as_path()),
        ("CERTFILE", pki.client.cert_pem.as_path()),
    ];
    let mut cli = Engine::client(pki, sock, &copts, &env);
    let _ = cli.receive();
    let sent = cli.send(b"hello from a certified client\n".to_vec());
    join(sent, LIMIT);
    let (code, err) = cli.finish();
    server.wait(LIMIT);
    (code, err, join(got, LIMIT))
}

#[test]
fn openssl_server_accepts_our_client_certificate() {
    let pki = Pki::new();
    let (code, err, got) = against_openssl(&pki, &["-y"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(got, b"hello from a certified client\n");
    // Without -y, s_server -Verify 1 refuses the client.
    let (code, err, got) = against_openssl(&pki, &[]);
    assert_eq!(code, 98, "{err}");
    assert!(got.is_empty());
    assert_clean_failure(&err, "s6-tlsc-io", "alert");
}

//! Certificate selection by SNI: `-k 1` (named pairs, else the default),
//! `-k 2` (named pairs only), wildcards. Names are never resolved: every
//! connection goes to 127.0.0.1 and only the SNI carries the name.

mod common;
use common::*;
use std::process::Stdio;

/// Server env with the default pair and two named ones.
fn sni_server(
    pki: &Pki,
    sock: &std::net::TcpStream,
    level: &str,
    with_default: bool,
) -> std::process::Command {
    let opts: &[&str] = if level.starts_with("--") {
        &[level]
    } else {
        &["-k", level]
    };
    let mut sc = tlsd(pki, sock, opts, "printf '%s' \"$SSL_TLS_SNI_SERVERNAME\"");
    if !with_default {
        sc.env_remove("KEYFILE").env_remove("CERTFILE");
    }
    sc.env("KEYFILE:other.test", &pki.other.key_pem)
        .env("CERTFILE:other.test", &pki.other.cert_der)
        .env("KEYFILE:*.example.test", &pki.wildcard.key_der)
        .env("CERTFILE:*.example.test", &pki.wildcard.cert_pem);
    sc
}

/// Our client asks for `name`; returns (client code, what the server prog
/// saw as SNI, the peer certificate hash the client prog saw, stderrs).
fn connect(
    pki: &Pki,
    level: &str,
    with_default: bool,
    client_opts: &[&str],
) -> (i32, String, String, String) {
    let d = pki.dir.path();
    let sni = d.join("sni");
    let hash = d.join("hash");
    let _ = std::fs::remove_file(&sni);
    let _ = std::fs::remove_file(&hash);
    let (c, s) = tcp_pair();
    let mut server = start(&mut sni_server(pki, &s, level, with_default), s);
    let mut client = start(
        &mut tlsc(
            pki,
            &c,
            client_opts,
            &format!(
                "cat <&6 > {}; printf '%s' \"$SSL_PEER_CERT_HASH\" > {}",
                sni.display(),
                hash.display()
            ),
        ),
        c,
    );
    let (code, cerr) = client.finish(LIMIT);
    let (scode, serr) = server.finish(LIMIT);
    assert!(!cerr.contains("panicked") && !serr.contains("panicked"));
    if code == 0 {
        assert_eq!(scode, 0, "{serr}");
    }
    (
        code,
        std::fs::read_to_string(&sni).unwrap_or_default(),
        std::fs::read_to_string(&hash).unwrap_or_default(),
        format!("{cerr}{serr}"),
    )
}

#[test]
fn level_1_picks_the_named_pair_or_the_default() {
    let pki = Pki::new();
    let (code, sni, hash, err) = connect(&pki, "1", true, &["-k", "other.test"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sni, "other.test");
    assert_eq!(hash, cert_hash(&pki.other.cert_der));

    let (code, sni, hash, err) = connect(&pki, "1", true, &["-k", "a.example.test"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sni, "a.example.test");
    assert_eq!(hash, cert_hash(&pki.wildcard.cert_der));

    // A name with no pair gets the default certificate (here, which then
    // fails name verification; --no-verify-cert shows which one it was).
    let (code, _, _, err) = connect(&pki, "1", true, &["-k", "unknown.test"]);
    assert_eq!(code, 98, "{err}");
    let (code, sni, hash, err) =
        connect(&pki, "1", true, &["-k", "unknown.test", "--no-verify-cert"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sni, "unknown.test");
    assert_eq!(hash, cert_hash(&pki.server.cert_der));

    // The wildcard is one label deep only.
    let (code, _, hash, err) = connect(
        &pki,
        "1",
        true,
        &["-k", "a.b.example.test", "--no-verify-cert"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash, cert_hash(&pki.server.cert_der));

    // --sni is -k 1.
    let (code, _, hash, err) = connect(&pki, "--sni", true, &["-k", "other.test"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash, cert_hash(&pki.other.cert_der));
}

#[test]
fn level_0_ignores_the_named_pairs() {
    let pki = Pki::new();
    let (code, sni, hash, err) =
        connect(&pki, "0", true, &["-k", "other.test", "--no-verify-cert"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sni, "other.test");
    assert_eq!(hash, cert_hash(&pki.server.cert_der));
}

#[test]
fn level_2_needs_a_matching_pair() {
    let pki = Pki::new();
    // Without KEYFILE/CERTFILE at all.
    let (code, sni, hash, err) = connect(&pki, "2", false, &["-k", "x.example.test"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(sni, "x.example.test");
    assert_eq!(hash, cert_hash(&pki.wildcard.cert_der));
    let (code, _, hash, err) = connect(&pki, "--mandatory-sni", false, &["-k", "other.test"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash, cert_hash(&pki.other.cert_der));

    // An unknown name, or no name at all: the handshake fails, even with
    // a default pair present.
    for (with_default, opts) in [
        (false, &["-k", "unknown.test", "--no-verify-cert"][..]),
        (true, &["-k", "unknown.test", "--no-verify-cert"]),
        (false, &["--no-verify-cert"]),
    ] {
        let (code, sni, _, err) = connect(&pki, "2", with_default, opts);
        assert_eq!(code, 98, "{opts:?}: {err}");
        assert!(sni.is_empty(), "server prog ran");
        assert!(err.contains("s6-tlsd-io: fatal: "), "{err}");
    }
}

/// `openssl s_client -servername name` against s6-tlsd; returns the
/// subject line s_client printed and the SNI the server prog saw.
fn openssl_client(pki: &Pki, level: &str, name: &str) -> (bool, String, String) {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut cl = s_client(
        pki,
        port,
        &[
            "-servername",
            name,
            "-verify_hostname",
            name,
            "-verify_return_error",
            "-ign_eof",
        ],
    );
    cl.stdin(Stdio::null()).stdout(Stdio::piped());
    let mut client = Proc::spawn(&mut cl);
    let s = accept_within(&l, LIMIT);
    let mut server = start(&mut sni_server(pki, &s, level, true), s);
    let out = client.child.as_mut().unwrap().stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut v = String::new();
        let _ = std::io::Read::read_to_string(&mut { out }, &mut v);
        v
    });
    let (code, _) = client.finish(LIMIT);
    let text = join(reader, LIMIT);
    let _ = server.finish(LIMIT);
    let subject = text
        .lines()
        .find(|l| l.starts_with("subject="))
        .unwrap_or("")
        .to_string();
    // s_client exits 1 when the server closes without close_notify (-s).
    let _ = code;
    (text.contains("\nVerified peername: "), subject, text)
}

#[test]
fn openssl_client_gets_the_certificate_for_its_servername() {
    let pki = Pki::new();
    let (ok, subject, text) = openssl_client(&pki, "1", "b.example.test");
    assert!(ok, "{text}");
    assert!(subject.contains("CN = *.example.test"), "{subject}");
    assert!(
        text.contains("b.example.test"),
        "SNI not echoed by the server prog: {text}"
    );
    let (ok, subject, text) = openssl_client(&pki, "2", "other.test");
    assert!(ok, "{text}");
    assert!(subject.contains("CN = other.test"), "{subject}");
    let (ok, subject, text) = openssl_client(&pki, "1", "localhost");
    assert!(ok, "{text}");
    assert!(subject.contains("CN = localhost"), "{subject}");
    let (ok, _, text) = openssl_client(&pki, "2", "nobody.test");
    assert!(!ok, "{text}");
}

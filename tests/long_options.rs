//! The long forms of the TLS options, run against the real programs: each
//! has the effect of its short form (the option tables are unit-tested in
//! src/options.rs; this checks they reach the behaviour).

mod common;
use common::*;
use std::io::Read;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// `prog opts...` with a peer that connects and says nothing: the
/// handshake must time out after the given 400 ms with exit 98.
fn times_out(pki: &Pki, prog: &str, opts: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let (c, _silent) = tcp_pair();
    let mut cm = cmd(prog);
    if prog.starts_with("s6-tlsc") {
        cm.env("CAFILE", &pki.ca_file);
    } else {
        cm.env("KEYFILE", &pki.server.key_pem)
            .env("CERTFILE", &pki.server.cert_pem);
    }
    cm.args(opts);
    if prog.ends_with("-io") {
        cm.args(["6", "7"]);
    } else {
        cm.arg("touch").arg(&mark);
    }
    cm.stdin(owned(c.try_clone().unwrap()))
        .stdout(owned(c.try_clone().unwrap()))
        .stderr(Stdio::piped());
    with_fds(&mut cm, &[(raw(&c), 6), (raw(&c), 7)]);
    let t0 = Instant::now();
    let mut p = start(&mut cm, c);
    let (code, err) = p.finish(Duration::from_secs(10));
    let took = t0.elapsed();
    assert_eq!(code, 98, "{prog} {opts:?}: {err}");
    let engine = prog.strip_suffix("-io").unwrap_or(prog).to_string() + "-io";
    assert_clean_failure(&err, &engine, "handshake timed out");
    assert!(
        took >= Duration::from_millis(400),
        "{prog} {opts:?}: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{prog} {opts:?}: {took:?}");
    assert!(!mark.exists(), "{prog}: prog ran");
}

#[test]
fn handshake_timeout() {
    let pki = Pki::new();
    for (prog, opts) in [
        ("s6-tlsc-io", &["--handshake-timeout=400"][..]),
        ("s6-tlsc", &["--handshake-timeout", "400"]),
        ("s6-tlsd-io", &["--handshake-timeout", "400"]),
        ("s6-tlsd", &["--handshake-timeout=400"]),
    ] {
        times_out(&pki, prog, opts);
    }
}

/// s6-tlsd `opts` with the default pair (unless `default` is false) and a
/// pair for other.test; s6-tlsc asks for `name`. Returns the client's exit
/// code and the peer certificate hash its prog saw.
fn sni(pki: &Pki, opts: &[&str], default: bool, name: &str) -> (i32, String) {
    let (c, s) = tcp_pair();
    let mut sc = tlsd(pki, &s, opts, "echo hi");
    if !default {
        sc.env_remove("KEYFILE").env_remove("CERTFILE");
    }
    sc.env("KEYFILE:other.test", &pki.other.key_pem)
        .env("CERTFILE:other.test", &pki.other.cert_pem);
    let mut server = start(&mut sc, s);
    let mut cc = tlsc(
        pki,
        &c,
        &["-k", name],
        "read x <&6 && [ \"$x\" = hi ] && printf '%s' \"$SSL_PEER_CERT_HASH\" >&2",
    );
    let mut client = start(&mut cc, c);
    let (code, err) = client.finish(LIMIT);
    let _ = server.finish(LIMIT);
    assert!(!err.contains("panicked"), "{err}");
    (code, err)
}

#[test]
fn sni_level() {
    let pki = Pki::new();
    let other = cert_hash(&pki.other.cert_der);
    let server = cert_hash(&pki.server.cert_der);
    // Level 0 (the default) ignores the named pairs.
    let (code, err) = sni(&pki, &[], true, "localhost");
    assert_eq!((code, err.as_str()), (0, server.as_str()));
    // --sni-level=1 picks the pair named like the SNI, else the default.
    for opts in [&["--sni-level=1"][..], &["--sni-level", "1"]] {
        let (code, err) = sni(&pki, opts, true, "other.test");
        assert_eq!((code, err.as_str()), (0, other.as_str()), "{opts:?}");
        let (code, err) = sni(&pki, opts, true, "localhost");
        assert_eq!((code, err.as_str()), (0, server.as_str()), "{opts:?}");
    }
    // --sni-level=2 works without a default pair.
    let (code, err) = sni(&pki, &["--sni-level=2"], false, "other.test");
    assert_eq!((code, err.as_str()), (0, other.as_str()));
}

/// Reads a notification fd to its EOF.
fn block(mut r: std::io::PipeReader) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

#[test]
fn notification_fd() {
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let (snotif_r, snotif_w) = std::io::pipe().unwrap();
    let (app_r, app_w) = std::io::pipe().unwrap();
    let (_out_r, out_w) = std::io::pipe().unwrap();
    let mut sc = cmd("s6-tlsd-io");
    sc.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(["--notification-fd", "5", "3", "4"])
        .stdin(owned(s.try_clone().unwrap()))
        .stdout(owned(s.try_clone().unwrap()))
        .stderr(Stdio::piped());
    with_fds(
        &mut sc,
        &[(raw(&app_r), 3), (raw(&out_w), 4), (raw(&snotif_w), 5)],
    );
    let mut server = start(&mut sc, (s, snotif_w, app_r, out_w));
    let (cnotif_r, cnotif_w) = std::io::pipe().unwrap();
    let mut cc = cmd("s6-tlsc-io");
    cc.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "--notification-fd=3", "6", "7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    with_fds(&mut cc, &[(raw(&c), 6), (raw(&c), 7), (raw(&cnotif_w), 3)]);
    let mut client = start(&mut cc, (c, cnotif_w));
    let (cblock, sblock) = (block(cnotif_r), block(snotif_r));
    for (who, b) in [
        ("client", join(cblock, LIMIT)),
        ("server", join(sblock, LIMIT)),
    ] {
        assert!(b.starts_with(b"SSL_PROTOCOL=TLSv1."), "{who}: {b:?}");
        assert!(
            b.windows(24).any(|w| w == b"\0SSL_TLS_SNI_SERVERNAME="),
            "{who}: {b:?}"
        );
        assert!(b.ends_with(b"\0\0"), "{who}: {b:?}");
    }
    drop(client.child.as_mut().unwrap().stdin.take());
    drop(app_w);
    assert_eq!(client.finish(LIMIT).0, 0);
    assert_eq!(server.finish(LIMIT).0, 0);
}

#[test]
fn read_fd_and_write_fd() {
    // --read-fd=8 --write-fd 9: the network is on fds 8/9 (6 and 7 are
    // not open), and prog reads and writes its cleartext there.
    let pki = Pki::new();
    let up = data(100_000, 21);
    upload_on_fds_8_and_9(
        &pki,
        &["-k", "localhost", "--read-fd=8", "--write-fd", "9"],
        "[ -e /dev/fd/6 ] && exit 66; [ -e /dev/fd/7 ] && exit 67; ",
        &up,
    );
}

/// The stderr of s6-tlsc-io `opts` (with no server name) against s6-tlsd-io.
fn client_stderr(pki: &Pki, opts: &[&str]) -> String {
    let (c, s) = tcp_pair();
    let mut srv = Engine::server(pki, s, &[], &[]);
    let mut cli = Engine::client(pki, c, opts, &[]);
    let got = cli.receive();
    drop(cli.input.take());
    let _ = srv.send(b"bye".to_vec());
    assert_eq!(join(got, LIMIT), b"bye");
    let (code, err) = cli.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(srv.finish().0, 0);
    err
}

#[test]
fn verbosity() {
    let pki = Pki::new();
    let warning = "s6-tlsc-io: warning: no server name given";
    let quiet = client_stderr(&pki, &["--verbosity=0", "--no-verify-cert"]);
    assert_eq!(quiet, "");
    let quiet = client_stderr(&pki, &["--verbosity", "0", "--no-verify-cert"]);
    assert_eq!(quiet, "");
    let normal = client_stderr(&pki, &["--verbosity=1", "--no-verify-cert"]);
    assert_eq!(normal.lines().count(), 1, "{normal}");
    assert!(normal.starts_with(warning), "{normal}");
    let loud = client_stderr(&pki, &["--verbosity=2", "--servername=localhost"]);
    assert!(
        loud.contains("s6-tlsc-io: info: handshake done: TLSv1."),
        "{loud}"
    );
    // The wrapper passes it on to its engine.
    for (opts, want) in [
        (&["--verbosity=0"][..], false),
        (&["--verbosity", "1"], true),
    ] {
        let (c, s) = tcp_pair();
        let mut server = start(&mut tlsd(&pki, &s, &[], "echo hi"), s);
        let mut o = opts.to_vec();
        o.push("--no-verify-cert");
        let mut client = start(&mut tlsc(&pki, &c, &o, "read x <&6"), c);
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "{err}");
        assert_eq!(server.finish(LIMIT).0, 0);
        assert_eq!(err.contains(warning), want, "s6-tlsc {opts:?}: {err}");
        assert_eq!(err.lines().count(), usize::from(want), "{err}");
    }
}

/// s6-tlsd `server_opts` against s6-tlsc `client_opts` holding the client
/// certificate in KEYFILE/CERTFILE. Returns the client's code and the
/// client certificate hash the server prog saw, or the server's code and
/// stderr if it failed.
fn client_cert(pki: &Pki, server_opts: &[&str], client_opts: &[&str]) -> (i32, String) {
    let (c, s) = tcp_pair();
    let mut sc = tlsd(
        pki,
        &s,
        server_opts,
        "printf '%s\\n' \"${SSL_PEER_CERT_HASH:-none}\"",
    );
    sc.env("CAFILE", &pki.ca_file);
    let mut server = start(&mut sc, s);
    let mut opts = vec!["-k", "localhost"];
    opts.extend_from_slice(client_opts);
    let mut cc = tlsc(pki, &c, &opts, "read x <&6; printf '%s' \"$x\" >&2");
    cc.env("KEYFILE", &pki.client.key_pem)
        .env("CERTFILE", &pki.client.cert_pem);
    let mut client = start(&mut cc, c);
    let (code, err) = client.finish(LIMIT);
    let (scode, serr) = server.finish(LIMIT);
    if scode != 0 {
        return (scode, serr);
    }
    (code, err)
}

#[test]
fn no_client_cert() {
    let pki = Pki::new();
    let hash = cert_hash(&pki.client.cert_der);
    // --client-cert sends it (as -y), --no-client-cert does not (as -Y),
    // whatever KEYFILE/CERTFILE hold; the last of the two wins.
    let (code, seen) = client_cert(&pki, &["-Y"], &["--client-cert"]);
    assert_eq!((code, seen.as_str()), (0, hash.as_str()));
    let (code, seen) = client_cert(&pki, &["-Y"], &["--client-cert", "--no-client-cert"]);
    assert_eq!((code, seen.as_str()), (0, "none"));
    let (code, seen) = client_cert(&pki, &["-Y"], &["--no-client-cert", "-y"]);
    assert_eq!((code, seen.as_str()), (0, hash.as_str()));
    // A server that requires one refuses the client that sent none (under
    // TLS 1.3 the client has finished its handshake by then and its prog
    // has started: the server's failure is the one to check).
    let (code, err) = client_cert(&pki, &["-y"], &["-y", "--no-client-cert"]);
    assert_eq!(code, 98, "{err}");
    assert_clean_failure(&err, "s6-tlsd-io", "");
}

//! Every way the engines and their wrappers refuse to work: the exit code,
//! one clear `prog: fatal:` line, no panic, and prog never started.

mod common;
use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What a run of s6-tlsc against s6-tlsd gave.
struct Outcome {
    client: i32,
    client_err: String,
    server: i32,
    server_err: String,
}

/// Runs s6-tlsc against s6-tlsd; each prog would create a marker file,
/// which must not exist when the handshake fails.
fn pair(
    pki: &Pki,
    server_env: &[(&str, &Path)],
    server_opts: &[&str],
    client_env: &[(&str, &Path)],
    client_opts: &[&str],
) -> (Outcome, bool, bool) {
    let d = pki.dir.path();
    let cmark = d.join("client-ran");
    let smark = d.join("server-ran");
    let _ = std::fs::remove_file(&cmark);
    let _ = std::fs::remove_file(&smark);
    let (c, s) = tcp_pair();
    let mut sc = tlsd(pki, &s, server_opts, &format!("touch {}", smark.display()));
    for (k, v) in server_env {
        sc.env(k, v);
    }
    let mut server = start(&mut sc, s);
    let mut cc = tlsc(pki, &c, client_opts, &format!("touch {}", cmark.display()));
    for (k, v) in client_env {
        cc.env(k, v);
    }
    let mut client = start(&mut cc, c);
    let (client_code, client_err) = client.finish(LIMIT);
    let (server_code, server_err) = server.finish(LIMIT);
    for e in [&client_err, &server_err] {
        assert!(!e.contains("panicked"), "{e}");
    }
    (
        Outcome {
            client: client_code,
            client_err,
            server: server_code,
            server_err,
        },
        cmark.exists(),
        smark.exists(),
    )
}

/// A handshake that must fail on the client side with 98 and `needle`;
/// neither prog may run.
fn client_rejects(pki: &Pki, server_env: &[(&str, &Path)], client_opts: &[&str], needle: &str) {
    let (o, cran, sran) = pair(pki, server_env, &[], &[], client_opts);
    assert_eq!(o.client, 98, "client: {}", o.client_err);
    assert_clean_failure(&o.client_err, "s6-tlsc-io", needle);
    assert!(!cran, "client prog ran after a failed handshake");
    assert_eq!(o.server, 98, "server: {}", o.server_err);
    assert!(!sran, "server prog ran after a failed handshake");
}

#[test]
fn untrusted_server_certificate() {
    let pki = Pki::new();
    let u = &pki.untrusted;
    client_rejects(
        &pki,
        &[("KEYFILE", &u.key_pem), ("CERTFILE", &u.cert_pem)],
        &["-k", "localhost"],
        "invalid peer certificate: UnknownIssuer",
    );
}

#[test]
fn untrusted_certificate_is_rejected_even_without_a_name() {
    let pki = Pki::new();
    let u = &pki.untrusted;
    client_rejects(
        &pki,
        &[("KEYFILE", &u.key_pem), ("CERTFILE", &u.cert_pem)],
        &[],
        "invalid peer certificate: UnknownIssuer",
    );
}

#[test]
fn wrong_server_name() {
    let pki = Pki::new();
    client_rejects(&pki, &[], &["-k", "other.test"], "not valid for name");
}

#[test]
fn expired_server_certificate() {
    let pki = Pki::new();
    let e = &pki.expired;
    client_rejects(
        &pki,
        &[("KEYFILE", &e.key_pem), ("CERTFILE", &e.cert_pem)],
        &["-k", "localhost"],
        "certificate expired",
    );
}

#[test]
fn no_verify_cert_lets_an_untrusted_certificate_through() {
    let pki = Pki::new();
    let u = &pki.untrusted;
    let env = [("KEYFILE", u.key_pem.as_path()), ("CERTFILE", &u.cert_pem)];
    let (o, cran, sran) = pair(
        &pki,
        &env,
        &[],
        &[],
        &["-k", "localhost", "--no-verify-cert"],
    );
    assert_eq!(
        (o.client, o.server),
        (0, 0),
        "{}{}",
        o.client_err,
        o.server_err
    );
    assert!(cran && sran);
    // The same certificate without the option: refused (see above), and
    // --verify-cert after it turns verification back on.
    let (o, cran, _) = pair(
        &pki,
        &env,
        &[],
        &[],
        &["-k", "localhost", "--no-verify-cert", "--verify-cert"],
    );
    assert_eq!(o.client, 98, "{}", o.client_err);
    assert!(!cran);
}

#[test]
fn missing_client_certificate_when_required() {
    let pki = Pki::new();
    let ca = [("CAFILE", pki.ca_file.as_path())];
    let (o, cran, sran) = pair(&pki, &ca, &["-y"], &[], &["-k", "localhost"]);
    assert_eq!(o.server, 98, "server: {}", o.server_err);
    assert_clean_failure(&o.server_err, "s6-tlsd-io", "certificate");
    assert!(
        !sran,
        "server prog ran without the required client certificate"
    );
    // In TLS 1.3 the client finishes its handshake before the server judges
    // its (absent) certificate; whether its prog starts is a race, but its
    // engine must fail, not end normally.
    let _ = cran;
    assert!(!o.client_err.contains("panicked"));
}

/// Runs `prog args...` with `env` on a connected socket at fds 6/7 (and
/// 0/1 for the server engine), expecting failure before any network I/O.
fn run_alone(prog: &str, args: &[&str], env: &[(&str, &Path)]) -> (i32, String, bool) {
    run_alone_as(prog, args, env, false)
}

/// `run_alone`, as nobody when `nobody` is set.
fn run_alone_as(
    prog: &str,
    args: &[&str],
    env: &[(&str, &Path)],
    nobody: bool,
) -> (i32, String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let (c, s) = tcp_pair();
    let mut cmdl = if nobody {
        cmd_at(&runnable_by_others(prog))
    } else {
        cmd(prog)
    };
    for (k, v) in env {
        cmdl.env(k, v);
    }
    cmdl.args(args)
        .stdin(owned(c.try_clone().unwrap()))
        .stdout(owned(c.try_clone().unwrap()))
        .stderr(Stdio::piped());
    if prog == "s6-tlsc" || prog == "s6-tlsd" {
        cmdl.args(["touch"]).arg(&mark);
    }
    if nobody {
        cmdl = as_nobody(&cmdl);
        cmdl.stdin(owned(c.try_clone().unwrap()))
            .stdout(owned(c.try_clone().unwrap()))
            .stderr(Stdio::piped());
    }
    with_fds(&mut cmdl, &[(raw(&c), 6), (raw(&c), 7)]);
    let mut p = start(&mut cmdl, c);
    let (code, err) = p.finish(LIMIT);
    drop(s);
    (code, err, mark.exists())
}

fn expect(prog: &str, args: &[&str], env: &[(&str, &Path)], code: i32, needle: &str) {
    let (got, err, ran) = run_alone(prog, args, env);
    assert_eq!(got, code, "{prog} {args:?}: {err}");
    let engine = match prog {
        "s6-tlsc" => "s6-tlsc-io",
        "s6-tlsd" => "s6-tlsd-io",
        p => p,
    };
    // Usage errors come from the wrapper itself, the rest from the engine.
    let who = if code == 100 && needle.is_empty() {
        prog
    } else if err.contains(&format!("{engine}: fatal")) {
        engine
    } else {
        prog
    };
    if needle.is_empty() {
        assert!(!err.contains("panicked"), "{err}");
        assert!(
            err.contains(&format!("{prog}: usage: ")),
            "{prog} {args:?}: {err}"
        );
    } else {
        assert_clean_failure(&err, who, needle);
    }
    assert!(!ran, "{prog} {args:?}: prog ran");
}

fn server_files(pki: &Pki) -> [(&'static str, PathBuf); 2] {
    [
        ("KEYFILE", pki.server.key_pem.clone()),
        ("CERTFILE", pki.server.cert_pem.clone()),
    ]
}

fn env_of<'a>(v: &'a [(&'static str, PathBuf)]) -> Vec<(&'static str, &'a Path)> {
    v.iter().map(|(k, p)| (*k, p.as_path())).collect()
}

#[test]
fn client_without_trust_anchors() {
    expect(
        "s6-tlsc-io",
        &["6", "7"],
        &[],
        100,
        "CADIR or CAFILE not set",
    );
    expect("s6-tlsc", &[], &[], 100, "CADIR or CAFILE not set");
    // Not even with --no-verify-cert, as upstream.
    expect(
        "s6-tlsc-io",
        &["--no-verify-cert", "6", "7"],
        &[],
        100,
        "CADIR or CAFILE not set",
    );
}

#[test]
fn server_without_key_or_certificate() {
    let pki = Pki::new();
    let key = [("KEYFILE", pki.server.key_pem.as_path())];
    let cert = [("CERTFILE", pki.server.cert_pem.as_path())];
    for prog in ["s6-tlsd-io", "s6-tlsd"] {
        let args: &[&str] = if prog == "s6-tlsd-io" {
            &["6", "7"]
        } else {
            &[]
        };
        expect(prog, args, &cert, 100, "KEYFILE not set");
        expect(prog, args, &key, 100, "CERTFILE not set");
        expect(prog, args, &[], 100, "not set");
    }
}

#[test]
fn bad_files_are_configuration_errors() {
    let pki = Pki::new();
    let d = pki.dir.path();
    let garbage = file(d, "garbage", b"this is not PEM nor DER\n");
    let empty = file(d, "empty", b"");
    let truncated_pem = file(
        d,
        "truncated.pem",
        &std::fs::read(&pki.server.cert_pem).unwrap()[..100],
    );
    let missing = d.join("missing");
    let empty_dir = d.join("emptydir");
    std::fs::create_dir(&empty_dir).unwrap();
    let key = pki.server.key_pem.as_path();
    let cert = pki.server.cert_pem.as_path();

    // Server: key or certificate unreadable or garbage.
    for (k, c, needle) in [
        (missing.as_path(), cert, "unable to read private key file"),
        (garbage.as_path(), cert, "no private key found"),
        (empty.as_path(), cert, "no private key found"),
        (d, cert, "unable to read private key file"),
        (key, missing.as_path(), "unable to read certificate file"),
        (key, garbage.as_path(), "no certificate found"),
        (key, truncated_pem.as_path(), "no certificate found"),
        (key, empty.as_path(), "no certificate found"),
        // A key that does not go with the certificate.
        (pki.other.key_pem.as_path(), cert, "private key"),
        // A certificate where the key should be.
        (cert, cert, "no private key found"),
    ] {
        let env = [("KEYFILE", k), ("CERTFILE", c)];
        expect("s6-tlsd-io", &["6", "7"], &env, 96, needle);
        expect("s6-tlsd", &[], &env, 96, needle);
    }

    // Client: trust anchors unreadable or holding no certificate.
    for (var, p, needle) in [
        (
            "CAFILE",
            missing.as_path(),
            "unable to read trust anchor file",
        ),
        ("CAFILE", garbage.as_path(), "no trust anchor found"),
        ("CAFILE", empty.as_path(), "no trust anchor found"),
        ("CAFILE", truncated_pem.as_path(), "no trust anchor found"),
        (
            "CADIR",
            missing.as_path(),
            "unable to read trust anchor directory",
        ),
        ("CADIR", empty_dir.as_path(), "no trust anchor found"),
        (
            "CADIR",
            garbage.as_path(),
            "unable to read trust anchor directory",
        ),
    ] {
        expect("s6-tlsc-io", &["6", "7"], &[(var, p)], 96, needle);
        expect("s6-tlsc", &[], &[(var, p)], 96, needle);
    }

    // Client certificate (-y) files.
    let ca = pki.ca_file.as_path();
    for (k, c, needle) in [
        (
            garbage.as_path(),
            pki.client.cert_pem.as_path(),
            "no private key found",
        ),
        (
            pki.client.key_pem.as_path(),
            garbage.as_path(),
            "no certificate found",
        ),
    ] {
        let env = [("CAFILE", ca), ("KEYFILE", k), ("CERTFILE", c)];
        expect("s6-tlsc-io", &["-y", "6", "7"], &env, 96, needle);
    }
    // Server trust anchors for client certificates (-Y, -y).
    let env = [
        ("KEYFILE", key),
        ("CERTFILE", cert),
        ("CAFILE", garbage.as_path()),
    ];
    expect(
        "s6-tlsd-io",
        &["-y", "6", "7"],
        &env,
        96,
        "no trust anchor found",
    );
    let env = [("KEYFILE", key), ("CERTFILE", cert)];
    expect(
        "s6-tlsd-io",
        &["-Y", "6", "7"],
        &env,
        100,
        "CADIR or CAFILE not set",
    );
}

#[test]
fn files_that_exist_but_may_not_be_read() {
    // Root reads every file, so this runs the engines as nobody, with the
    // key, certificate or trust anchors present but mode 0600, owned by root.
    if !Path::new("/usr/bin/setpriv").exists() || !is_root() {
        eprintln!("skipped: needs root and setpriv to run as nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let pki = Pki::new();
    let d = pki.dir.path();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(d, 0o755);
    let readable = |name: &str, from: &Path| {
        let p = d.join(name);
        std::fs::copy(from, &p).unwrap();
        mode(&p, 0o644);
        p
    };
    let secret = |name: &str, from: &Path| {
        let p = d.join(name);
        std::fs::copy(from, &p).unwrap();
        mode(&p, 0o600);
        p
    };
    let key = readable("key-ok.pem", &pki.server.key_pem);
    let cert = readable("cert-ok.pem", &pki.server.cert_pem);
    let ca = readable("ca-ok.pem", &pki.ca_file);
    let key_600 = secret("key-600.pem", &pki.server.key_pem);
    let cert_600 = secret("cert-600.pem", &pki.server.cert_pem);
    let ca_600 = secret("ca-600.pem", &pki.ca_file);

    let check = |prog: &str, env: &[(&str, &Path)], needle: &str, path: &Path| {
        let args: &[&str] = if prog.ends_with("-io") {
            &["6", "7"]
        } else {
            &[]
        };
        let (code, err, ran) = run_alone_as(prog, args, env, true);
        assert_eq!(code, 96, "{prog} {env:?}: {err}");
        let engine = prog.strip_suffix("-io").unwrap_or(prog).to_string() + "-io";
        assert_clean_failure(&err, &engine, needle);
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("Permission denied"), "{err}");
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!ran, "{prog}: prog ran");
    };
    for prog in ["s6-tlsd-io", "s6-tlsd"] {
        let env = [("KEYFILE", key_600.as_path()), ("CERTFILE", cert.as_path())];
        check(prog, &env, "unable to read private key file", &key_600);
        let env = [("KEYFILE", key.as_path()), ("CERTFILE", cert_600.as_path())];
        check(prog, &env, "unable to read certificate file", &cert_600);
    }
    for prog in ["s6-tlsc-io", "s6-tlsc"] {
        let env = [("CAFILE", ca_600.as_path())];
        check(prog, &env, "unable to read trust anchor file", &ca_600);
        // -y: the client's own key.
        let env = [
            ("CAFILE", ca.as_path()),
            ("KEYFILE", key_600.as_path()),
            ("CERTFILE", cert.as_path()),
        ];
        let (code, err, _) = run_alone_as(
            prog,
            &if prog.ends_with("-io") {
                vec!["-y", "6", "7"]
            } else {
                vec!["-y"]
            },
            &env,
            true,
        );
        assert_eq!(code, 96, "{prog} -y: {err}");
        assert!(err.contains("unable to read private key file"), "{err}");
    }
}

#[test]
fn bad_options() {
    let pki = Pki::new();
    let sf = server_files(&pki);
    let senv = env_of(&sf);
    let ca = [("CAFILE", pki.ca_file.as_path())];
    for (prog, env) in [
        ("s6-tlsc-io", &ca[..]),
        ("s6-tlsd-io", &senv[..]),
        ("s6-tlsc", &ca[..]),
        ("s6-tlsd", &senv[..]),
    ] {
        let fds: &[&str] = if prog.ends_with("-io") {
            &["6", "7"]
        } else {
            &[]
        };
        for bad in [
            &["-X"][..],
            &["--no-such-option"],
            &["-K", "soon"],
            &["-v", "-1"],
            &["-K"],
        ] {
            let args: Vec<&str> = bad.iter().chain(fds).copied().collect();
            let (code, err, ran) = run_alone(prog, &args, env);
            assert_eq!(code, 100, "{prog} {args:?}: {err}");
            assert!(!err.contains("panicked"), "{err}");
            assert!(
                err.contains(&format!("{prog}: usage: ")),
                "{prog} {args:?}: {err}"
            );
            assert!(!ran);
        }
    }
    // Engines: missing or invalid fd arguments.
    for args in [&[][..], &["6"], &["six", "7"], &["6", "-7"]] {
        let (code, err, _) = run_alone("s6-tlsc-io", args, &ca);
        assert_eq!(code, 100, "{args:?}: {err}");
        assert!(err.contains("s6-tlsc-io: usage: "), "{err}");
    }
    // Wrappers: no prog.
    for (prog, env) in [("s6-tlsd", &senv[..]), ("s6-tlsc", &ca[..])] {
        let mut c = cmd(prog);
        for (k, v) in env {
            c.env(k, v);
        }
        let mut p = Proc::spawn(c.arg("-S").stderr(Stdio::piped()));
        let (code, err) = p.finish(LIMIT);
        assert_eq!(code, 100, "{prog}: {err}");
        assert!(err.contains(&format!("{prog}: usage: ")), "{err}");
    }
    // s6-tlsc: -6/-7 must name fds 3 and up, and two different ones.
    for args in [&["-6", "1"][..], &["-7", "2"], &["-6", "7"]] {
        let (code, err, ran) = run_alone("s6-tlsc", args, &ca);
        assert_eq!(code, 100, "{args:?}: {err}");
        assert!(!err.contains("panicked") && !ran);
    }
    // s6-tlsd-io -k with a level that is not a number.
    let (code, err, _) = run_alone("s6-tlsd-io", &["-k", "x", "6", "7"], &senv);
    assert_eq!(code, 100, "{err}");
}

#[test]
fn network_fds_not_open() {
    let pki = Pki::new();
    let ca = [("CAFILE", pki.ca_file.as_path())];
    // The engine named fds that are not open.
    expect("s6-tlsc-io", &["40", "41"], &ca, 111, "Bad file descriptor");
    let sf = server_files(&pki);
    expect(
        "s6-tlsd-io",
        &["40", "41"],
        &env_of(&sf),
        111,
        "Bad file descriptor",
    );
    // s6-tlsc without fds 6 and 7, and with -6/-7 naming closed fds.
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    for extra in [&[][..], &["-6", "40", "-7", "41"]] {
        let mut c = cmd("s6-tlsc");
        c.env("CAFILE", &pki.ca_file)
            .args(extra)
            .arg("touch")
            .arg(&mark)
            .stderr(Stdio::piped());
        let mut p = Proc::spawn(&mut c);
        let (code, err) = p.finish(LIMIT);
        assert_eq!(code, 111, "{extra:?}: {err}");
        assert_clean_failure(&err, "s6-tlsc", "Bad file descriptor");
        assert!(!mark.exists());
    }
    // (s6-tlsd with fds 0/1 closed cannot be tested: the Rust runtime
    // reopens closed standard fds on /dev/null before main.)
}

/// A peer that connects and says nothing: the handshake times out.
fn silent_peer(prog: &str, env: &[(&str, &Path)]) {
    let dir = tempfile::tempdir().unwrap();
    let mark = dir.path().join("ran");
    let (c, _silent) = tcp_pair();
    let mut cm = cmd(prog);
    for (k, v) in env {
        cm.env(k, v);
    }
    cm.args(["-K", "300"]);
    match prog {
        "s6-tlsc-io" | "s6-tlsd-io" => {
            cm.args(["6", "7"]);
        }
        _ => {
            cm.arg("touch").arg(&mark);
        }
    }
    cm.stdin(owned(c.try_clone().unwrap()))
        .stdout(owned(c.try_clone().unwrap()))
        .stderr(Stdio::piped());
    with_fds(&mut cm, &[(raw(&c), 6), (raw(&c), 7)]);
    let t0 = Instant::now();
    let mut p = start(&mut cm, c);
    let (code, err) = p.finish(Duration::from_secs(10));
    let took = t0.elapsed();
    assert_eq!(code, 98, "{prog}: {err}");
    let engine = if prog.ends_with("-io") {
        prog.to_string()
    } else {
        format!("{prog}-io")
    };
    assert_clean_failure(&err, &engine, "handshake timed out");
    assert!(
        took >= Duration::from_millis(300),
        "{prog} gave up after {took:?}"
    );
    assert!(took < Duration::from_secs(5), "{prog} took {took:?}");
    assert!(!mark.exists());
}

#[test]
fn handshake_timeout_with_a_silent_peer() {
    let pki = Pki::new();
    let ca = [("CAFILE", pki.ca_file.as_path())];
    let sf = server_files(&pki);
    silent_peer("s6-tlsc-io", &ca);
    silent_peer("s6-tlsc", &ca);
    silent_peer("s6-tlsd-io", &env_of(&sf));
    silent_peer("s6-tlsd", &env_of(&sf));
}

#[test]
fn a_peer_that_is_not_tls() {
    // Garbage instead of a ClientHello / ServerHello: 98, clean message.
    let pki = Pki::new();
    let sf = server_files(&pki);
    for (prog, env) in [
        ("s6-tlsd-io", env_of(&sf)),
        ("s6-tlsc-io", vec![("CAFILE", pki.ca_file.as_path())]),
    ] {
        let (c, mut s) = tcp_pair();
        let mut cm = cmd(prog);
        for (k, v) in &env {
            cm.env(k, v);
        }
        cm.args(["6", "7"])
            .stdin(owned(c.try_clone().unwrap()))
            .stdout(owned(c.try_clone().unwrap()))
            .stderr(Stdio::piped());
        with_fds(&mut cm, &[(raw(&c), 6), (raw(&c), 7)]);
        let mut p = start(&mut cm, c);
        use std::io::Write;
        let _ = s.write_all(b"GET / HTTP/1.0\r\n\r\n");
        let _ = s.shutdown(std::net::Shutdown::Write);
        let (code, err) = p.finish(LIMIT);
        assert_eq!(code, 98, "{prog}: {err}");
        assert_clean_failure(&err, prog, "handshake");
    }
}

#[test]
fn the_peer_closing_during_the_handshake() {
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let mut e = Engine::client(&pki, c, &["-k", "localhost"], &[]);
    drop(s);
    let (code, err) = e.finish();
    assert_eq!(code, 98, "{err}");
    assert_clean_failure(&err, "s6-tlsc-io", "during the handshake");
    let _ = Command::new("true");
}

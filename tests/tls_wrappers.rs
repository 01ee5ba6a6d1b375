//! s6-tlsclient and s6-tlsserver for real: the whole chains over
//! loopback, against each other and against curl and openssl.

mod common;
mod tcp_support;
use common::*;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;
use tcp_support::*;

#[test]
fn seed_example_works() {
    let pki = Pki::new();
    let srv = tls_server(&pki, "127.0.0.1", &[], &["cat"]);
    let out = pki.path("out");
    // As the seed page shows it (no -H: names come from the hosts file).
    let mut c = cmd("s6-tlsclient");
    c.env("CAFILE", &pki.ca_file)
        .args([
            "-k",
            "localhost",
            "127.0.0.1",
            &srv.port.to_string(),
            "s6-ioconnect",
        ])
        .stdin(stdin_file(pki.dir.path(), "in", b"GET / HTTP/1.0\r\n\r\n"))
        .stdout(stdout_file(&out));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0);
    assert_eq!(std::fs::read(&out).unwrap(), b"GET / HTTP/1.0\r\n\r\n");
}

fn echo_both_ways(ip: &str, size: usize) {
    let pki = Pki::new();
    let srv = tls_server(&pki, ip, &[], &["cat"]);
    let up = data(size, 7);
    let out = pki.path("echo.out");
    let mut c = tls_client(&pki, ip, srv.port, &[], &["s6-ioconnect"]);
    c.stdin(stdin_file(pki.dir.path(), "echo.in", &up))
        .stdout(stdout_file(&out));
    assert_eq!(
        code_of(Proc::spawn(&mut c).wait(Duration::from_secs(300))),
        0
    );
    assert_same(&std::fs::read(&out).unwrap(), &up, "echo");
}

#[test]
fn echo_64_mib() {
    echo_both_ways("127.0.0.1", 64 << 20);
}

#[test]
fn echo_over_ipv6() {
    if !have_ipv6() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    echo_both_ways("::1", 4 << 20);
}

#[test]
fn half_close_64_mib_each_way() {
    let pki = Pki::new();
    let down = data(64 << 20, 9);
    let reply = file(pki.dir.path(), "reply", &down);
    // The server reads to EOF (the client's half-close), then answers
    // with the byte count and 64 MiB of its own.
    let prog = format!("wc -c; cat {}", reply.display());
    let srv = tls_server(&pki, "127.0.0.1", &[], &["sh", "-c", &prog]);
    let up = data(64 << 20, 8);
    let out = pki.path("hc.out");
    let mut c = tls_client(&pki, "127.0.0.1", srv.port, &[], &["s6-ioconnect"]);
    c.stdin(stdin_file(pki.dir.path(), "hc.in", &up))
        .stdout(stdout_file(&out));
    assert_eq!(
        code_of(Proc::spawn(&mut c).wait(Duration::from_secs(300))),
        0
    );
    let got = std::fs::read(&out).unwrap();
    let head = format!("{}\n", up.len());
    assert!(
        got.starts_with(head.as_bytes()),
        "{:?}",
        &got[..got.len().min(20)]
    );
    assert_same(&got[head.len()..], &down, "reply after half-close");
}

/// Runs one client whose prog saves its environment and what the server
/// prog (`env`) printed; returns (client env, server env).
fn environments(
    server_opts: &[&str],
    client_opts: &[&str],
) -> (
    std::collections::HashMap<String, String>,
    std::collections::HashMap<String, String>,
    u16,
) {
    let pki = Pki::new();
    let srv = tls_server(&pki, "127.0.0.1", server_opts, &["env"]);
    let out = pki.path("env");
    let prog = format!("env > {0}.client; cat <&6 > {0}.server", out.display());
    let mut c = tls_client(
        &pki,
        "127.0.0.1",
        srv.port,
        client_opts,
        &["sh", "-c", &prog],
    );
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0);
    (
        env_of(&read(&out.with_extension("client"))),
        env_of(&read(&out.with_extension("server"))),
        srv.port,
    )
}

#[test]
fn environment_on_each_side() {
    let (client, server, port) = environments(&[], &[]);
    let port = port.to_string();
    assert_eq!(server["PROTO"], "TCP");
    assert_eq!(server["TCPLOCALIP"], "127.0.0.1");
    assert_eq!(server["TCPLOCALPORT"], port);
    assert_eq!(server["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(server["TCPREMOTEPORT"], client["TCPLOCALPORT"]);
    assert_eq!(server["TCPCONNNUM"], "0");
    assert_eq!(server["SSL_PROTOCOL"], "TLSv1.3");
    assert!(
        server["SSL_CIPHER"].starts_with("TLS_"),
        "{}",
        server["SSL_CIPHER"]
    );
    assert_eq!(server["SSL_TLS_SNI_SERVERNAME"], "localhost");
    assert_eq!(client["PROTO"], "TCP");
    assert_eq!(client["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(client["TCPREMOTEPORT"], port);
    assert_eq!(client["TCPLOCALIP"], "127.0.0.1");
    assert_eq!(client["SSL_PROTOCOL"], "TLSv1.3");
    assert_eq!(client["SSL_CIPHER"], server["SSL_CIPHER"]);
    assert!(client["SSL_PEER_CERT_SUBJECT"].contains("CN=localhost"));
    assert!(client["SSL_PEER_CERT_HASH"].starts_with("SHA256:"));
    for k in ["KEYFILE", "CERTFILE", "CAFILE", "CADIR"] {
        assert!(!server.contains_key(k), "server prog sees {k}");
        assert!(!client.contains_key(k), "client prog sees {k}");
    }
}

#[test]
fn environment_with_z_keeps_the_tls_variables() {
    let (client, server, _) = environments(&["-Z"], &["-Z"]);
    assert!(server.contains_key("KEYFILE") && server.contains_key("CERTFILE"));
    assert!(client.contains_key("CAFILE"));
    let (client, server, _) = environments(&["--keep"], &["--keep", "--no-keep"]);
    assert!(server.contains_key("KEYFILE"));
    assert!(!client.contains_key("CAFILE"), "the last of -Z/-z wins");
}

#[test]
fn tlsserver_limits_pass_through() {
    let pki = Pki::new();
    let srv = tls_server(
        &pki,
        "127.0.0.1",
        &["-C", "1"],
        &["sh", "-c", "echo up; exec cat"],
    );
    // The first connection holds its slot.
    let mut first = tls_client(&pki, "127.0.0.1", srv.port, &[], &["sh", "-c", "cat <&6"]);
    first.stdout(Stdio::piped());
    let mut first = Proc::spawn(&mut first);
    let mut lines = BufReader::new(first.child.as_mut().unwrap().stdout.take().unwrap());
    let mut l = String::new();
    lines.read_line(&mut l).unwrap();
    assert_eq!(l, "up\n");
    // The second from the same IP is closed before any handshake.
    let mut second = tls_client(&pki, "127.0.0.1", srv.port, &[], &["true"]);
    let (code, err) = Proc::spawn(piped_stderr(&mut second)).finish(T);
    assert_eq!(code, 98, "{err}");
    srv.wait_log("reject 127.0.0.1", 1);
}

#[test]
fn curl_and_openssl_talk_to_tlsserver() {
    let pki = Pki::new();
    let responder = http_responder();
    // -S: an HTTPS server ends with close_notify; OpenSSL 3 calls a bare
    // EOF an error (and s_client then exits 1).
    let srv = tls_server(&pki, "127.0.0.1", &["-S"], &[responder.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}/", srv.port);
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20", "--cacert"])
        .arg(&pki.ca_file)
        .arg(&url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "hello 127.0.0.1 over TLSv1.3\n"
    );

    for (version, want) in [("-tls1_3", "TLSv1.3"), ("-tls1_2", "TLSv1.2")] {
        let mut c = Command::new("openssl");
        c.args(["s_client", version, "-quiet", "-verify_return_error"])
            .args(["-connect", &format!("127.0.0.1:{}", srv.port)])
            .args(["-servername", "localhost", "-CAfile"])
            .arg(&pki.ca_file)
            .stdin(stdin_file(pki.dir.path(), "req", b"GET / HTTP/1.0\r\n\r\n"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut p = Proc::spawn(&mut c);
        let mut body = String::new();
        std::io::Read::read_to_string(
            &mut p.child.as_mut().unwrap().stdout.take().unwrap(),
            &mut body,
        )
        .unwrap();
        assert_eq!(code_of(p.wait(T)), 0);
        assert!(body.starts_with("HTTP/1.0 200 OK\r\n"), "{body}");
        assert!(
            body.ends_with(&format!("hello 127.0.0.1 over {want}\n")),
            "{body}"
        );
    }

    if have_ipv6() {
        let srv6 = tls_server(&pki, "::1", &[], &[responder.to_str().unwrap()]);
        let out = Command::new("curl")
            .args(["-sS", "--max-time", "20", "--cacert"])
            .arg(&pki.ca_file)
            .arg(format!("https://[::1]:{}/", srv6.port))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "hello ::1 over TLSv1.3\n"
        );
    }
}

#[test]
fn tlsclient_talks_to_openssl_s_server() {
    let pki = Pki::new();
    let mut s = Command::new("openssl");
    s.args([
        "s_server",
        "-accept",
        "127.0.0.1:0",
        "-www",
        "-naccept",
        "1",
        "-cert",
    ])
    .arg(&pki.server.cert_pem)
    .arg("-key")
    .arg(&pki.server.key_pem)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut s = Proc::spawn(&mut s);
    let mut lines = BufReader::new(s.child.as_mut().unwrap().stdout.take().unwrap());
    let port = loop {
        let mut l = String::new();
        assert!(
            lines.read_line(&mut l).unwrap() > 0,
            "s_server said nothing"
        );
        if let Some(a) = l.trim().strip_prefix("ACCEPT ") {
            break a.rsplit(':').next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    let out = pki.path("s_server.out");
    let mut c = cmd("s6-tlsclient");
    c.env("CAFILE", &pki.ca_file)
        .args(["-H", "-k", "localhost", "127.0.0.1", &port, "sh", "-c"])
        .arg(format!(
            "printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&7; cat <&6 > {}",
            out.display()
        ));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0);
    let page = read(&out);
    assert!(page.starts_with("HTTP/1.0 200 ok"), "{page}");
    assert!(page.contains("s_server"), "{page}");
}

fn expect_fail(c: &mut Command, code: i32, msg: &str) {
    let (got, err) = Proc::spawn(piped_stderr(c.stdin(Stdio::null()))).finish(T);
    assert_eq!(got, code, "{err}");
    assert!(err.contains(msg), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_to_the_wrappers() {
    let server = |args: &[&str]| {
        let mut c = cmd("s6-tlsserver");
        c.args(args);
        c
    };
    expect_fail(
        &mut server(&["-X", "127.0.0.1", "0", "cat"]),
        100,
        "s6-tlsserver: fatal: unknown option -X",
    );
    expect_fail(
        &mut server(&["-H", "1.2.3", "0", "cat"]),
        100,
        "invalid IP address: 1.2.3",
    );
    expect_fail(
        &mut server(&["-H", "127.0.0.1", "http", "cat"]),
        100,
        "invalid port number: http",
    );
    expect_fail(
        &mut server(&["-H", "127.0.0.1", "0"]),
        100,
        "s6-tlsserver: usage:",
    );
    expect_fail(
        &mut server(&["-k", "x", "127.0.0.1", "0", "cat"]),
        100,
        "invalid number",
    );
    let client = |args: &[&str]| {
        let mut c = cmd("s6-tlsclient");
        c.args(args);
        c
    };
    expect_fail(
        &mut client(&["--bogus", "h", "1", "p"]),
        100,
        "unknown option --bogus",
    );
    expect_fail(
        &mut client(&["-T", "1+x", "h", "1", "p"]),
        100,
        "-T needs x+y",
    );
    expect_fail(
        &mut client(&["-H", "127.0.0.1", "99999", "p"]),
        100,
        "s6-tcpclient: fatal: invalid port number",
    );
    // No trust anchors: the engine refuses, and its code comes back.
    let pki = Pki::new();
    let srv = tls_server(&pki, "127.0.0.1", &[], &["cat"]);
    expect_fail(
        &mut client(&["-H", "127.0.0.1", &srv.port.to_string(), "true"]),
        100,
        "CADIR or CAFILE not set",
    );
    // The wrong name: the certificate does not match.
    let mut c = tls_client(
        &pki,
        "127.0.0.1",
        srv.port,
        &["-k", "other.test"],
        &["true"],
    );
    expect_fail(&mut c, 98, "s6-tlsc-io: fatal:");
    // Without -k and without -H, host is the name checked: 127.0.0.1 is
    // in the certificate, 127.0.0.2 is not.
    let mut c = cmd("s6-tlsclient");
    c.env("CAFILE", &pki.ca_file)
        .args(["127.0.0.1", &srv.port.to_string(), "true"]);
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0);
}

/// The multicall binary on its own in a directory, with nothing on PATH:
/// first as `s6-networking <program>`, then through its symlinks.
#[test]
fn multicall_binary_runs_the_whole_client_chain() {
    let pki = Pki::new();
    let srv = tls_server(&pki, "127.0.0.1", &[], &["cat"]);
    let alone = pki.path("alone");
    std::fs::create_dir(&alone).unwrap();
    let exe = alone.join("s6-networking");
    place_exe(&bin("s6-networking"), &exe);
    let port = srv.port.to_string();
    let run = |argv0: &std::path::Path, pre: &[&str], prog: &[&str], tag: &str| {
        let out = pki.path(&format!("mc-{tag}.out"));
        let mut c = Command::new(argv0);
        c.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("CAFILE", &pki.ca_file)
            .args(pre)
            .args(["-H", "-k", "localhost", "127.0.0.1", &port])
            .args(prog)
            .stdin(stdin_file(
                pki.dir.path(),
                &format!("mc-{tag}.in"),
                tag.as_bytes(),
            ))
            .stdout(stdout_file(&out));
        assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0, "{tag}");
        assert_eq!(read(&out), tag);
    };
    let e = exe.to_str().unwrap();
    run(&exe, &["s6-tlsclient"], &[e, "s6-ioconnect"], "subcommand");

    let links = pki.path("links");
    std::fs::create_dir(&links).unwrap();
    let st = Command::new(&exe)
        .arg("--install")
        .arg(&links)
        .status()
        .unwrap();
    assert!(st.success());
    // Installing again replaces the links.
    assert!(
        Command::new(&exe)
            .arg("--install")
            .arg(&links)
            .status()
            .unwrap()
            .success()
    );
    // Links elsewhere: siblings run as `<exe> <name>`.
    let ioc = links.join("s6-ioconnect");
    run(
        &links.join("s6-tlsclient"),
        &[],
        &[ioc.to_str().unwrap()],
        "symlinks",
    );
    // Links next to the binary: siblings run through them.
    assert!(
        Command::new(&exe)
            .arg("--install")
            .arg(&alone)
            .status()
            .unwrap()
            .success()
    );
    let ioc = alone.join("s6-ioconnect");
    run(
        &alone.join("s6-tlsclient"),
        &[],
        &[ioc.to_str().unwrap()],
        "next-to-it",
    );

    let list = Command::new(&exe).arg("--list").output().unwrap();
    let names = String::from_utf8(list.stdout).unwrap();
    for n in [
        "s6-tlsclient",
        "s6-tlsserver",
        "s6-tcpserverd",
        "s6-tlsd-io",
        "s6-applyuidgid",
    ] {
        assert!(names.lines().any(|l| l == n), "{n} missing from {names}");
        assert!(links.join(n).exists());
    }
    let mut c = Command::new(&exe);
    c.arg("s6-nonesuch");
    expect_fail(
        &mut c,
        100,
        "s6-networking: fatal: unknown program: s6-nonesuch",
    );
    let mut c = Command::new(&exe);
    expect_fail(&mut c, 100, "s6-networking: usage:");
}

/// The server chain from the multicall binary too, through `s6-networking
/// s6-tlsserver`, its siblings found as `<exe> <name>`.
#[test]
fn multicall_binary_runs_the_whole_server_chain() {
    let pki = Pki::new();
    let alone = pki.path("alone");
    std::fs::create_dir(&alone).unwrap();
    let exe = alone.join("s6-networking");
    place_exe(&bin("s6-networking"), &exe);
    let mut c = Command::new(&exe);
    c.env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(["s6-tlsserver", "-1H", "127.0.0.1", "0", "cat"]);
    let srv = Server::start(&mut c, &pki.path("mc-server.log"));
    let out = pki.path("mcs.out");
    let mut c = tls_client(&pki, "127.0.0.1", srv.port, &[], &["s6-ioconnect"]);
    c.stdin(stdin_file(pki.dir.path(), "mcs.in", b"via multicall\n"))
        .stdout(stdout_file(&out));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0, "{}", srv.log());
    assert_eq!(read(&out), "via multicall\n");
}

/// The README's first example, word for word but for the port: a
/// certificate fresh from `openssl req`, s6-tlsserver echoing with cat,
/// s6-tlsclient with s6-ioconnect.
#[test]
fn readme_example_with_an_openssl_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let st = Command::new("openssl")
        .current_dir(dir.path())
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args([
            "-nodes", "-days", "30", "-keyout", "key.pem", "-out", "cert.pem",
        ])
        .args(["-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let mut s = cmd("s6-tlsserver");
    s.current_dir(dir.path())
        .env("KEYFILE", "key.pem")
        .env("CERTFILE", "cert.pem")
        .args(["-1", "-H", "127.0.0.1", "0", "cat"]);
    let srv = Server::start(&mut s, &dir.path().join("server.log"));
    let out = dir.path().join("out");
    let mut c = cmd("s6-tlsclient");
    c.current_dir(dir.path())
        .env("CAFILE", "cert.pem")
        .args([
            "-k",
            "localhost",
            "127.0.0.1",
            &srv.port.to_string(),
            "s6-ioconnect",
        ])
        .stdin(stdin_file(dir.path(), "in", b"hello\n"))
        .stdout(stdout_file(&out));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0, "{}", srv.log());
    assert_eq!(read(&out), "hello\n");
}

#[test]
fn tlsserver_runs_prog_with_dropped_privileges() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: skipped");
        return;
    }
    let pki = Pki::new();
    let prog = ["sh", "-c", "id -u; id -g; echo ${UID-unset}"];
    for (opts, env) in [
        (&["-u", "65534", "-g", "65533"][..], None),
        (&["-U"][..], Some(("65534", "65533"))),
    ] {
        let mut c = cmd("s6-tlsserver");
        c.env("KEYFILE", &pki.server.key_pem)
            .env("CERTFILE", &pki.server.cert_pem)
            .args(["-1", "-H"])
            .args(opts)
            .args(["127.0.0.1", "0"])
            .args(prog);
        if let Some((u, g)) = env {
            c.env("UID", u).env("GID", g).env("GIDLIST", "");
        }
        let srv = Server::start(&mut c, &pki.path(&format!("priv-{}.log", unique())));
        let out = pki.path("priv.out");
        let mut cl = tls_client(&pki, "127.0.0.1", srv.port, &[], &["s6-ioconnect"]);
        cl.stdin(Stdio::null()).stdout(stdout_file(&out));
        assert_eq!(code_of(Proc::spawn(&mut cl).wait(T)), 0, "{}", srv.log());
        // The key was read as root by the engine; prog runs as 65534.
        assert_eq!(read(&out), "65534\n65533\nunset\n", "{opts:?}");
    }
}

#[test]
fn client_certificates_pass_through_both_wrappers() {
    let pki = Pki::new();
    let mut c = cmd("s6-tlsserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .env("CAFILE", &pki.ca_file)
        .args(["-1", "-H", "-y", "127.0.0.1", "0", "env"]);
    let srv = Server::start(&mut c, &pki.path("cc.log"));
    let out = pki.path("cc.out");
    let mut cl = tls_client(&pki, "127.0.0.1", srv.port, &["-y"], &["s6-ioconnect"]);
    cl.env("KEYFILE", &pki.client.key_pem)
        .env("CERTFILE", &pki.client.cert_pem)
        .stdin(Stdio::null())
        .stdout(stdout_file(&out));
    assert_eq!(code_of(Proc::spawn(&mut cl).wait(T)), 0, "{}", srv.log());
    let e = env_of(&read(&out));
    assert!(
        e["SSL_PEER_CERT_SUBJECT"].contains("CN=client.test"),
        "{e:?}"
    );
    // Without a certificate, the server refuses the handshake (with TLS
    // 1.3 the client learns it after its own side is done): prog gets
    // nothing and the server's engine says why.
    let out2 = pki.path("cc2.out");
    let mut cl = tls_client(&pki, "127.0.0.1", srv.port, &[], &["s6-ioconnect"]);
    cl.stdin(Stdio::null()).stdout(stdout_file(&out2));
    let (_, err) = Proc::spawn(piped_stderr(&mut cl)).finish(T);
    assert_eq!(read(&out2), "", "{err}");
    srv.wait_log("s6-tlsd-io: fatal:", 1);
}

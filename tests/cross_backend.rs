//! The two TLS backends against each other: a client built with one and a
//! server built with the other, both ways round, moving data in both
//! directions at once, byte-exact, with client certificates, SNI and
//! close_notify on both sides.
//!
//! The other backend's programs come from `S6TLS_OTHER_BIN_DIR` (.ci/run
//! builds each backend in its own target dir and points each test run at
//! the other one); without it these tests pass after writing a notice
//! straight to fd 2, so that it shows even though the test harness
//! captures what tests print.
//!
//! Only TLS 1.3 is crossed: neither program has a way to limit the protocol
//! version (upstream's have none either), and both backends' clients and
//! servers prefer TLS 1.3, so two of our programs never negotiate TLS 1.2
//! with each other. TLS 1.2 is covered against openssl on each backend
//! (tests/interop_openssl.rs, tests/legacy_peers.rs).

mod common;
use common::*;
use s6_tls::backend::{Backend, TlsBackend};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(60);

fn other_bin_dir() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("S6TLS_OTHER_BIN_DIR").filter(|d| !d.is_empty()) else {
        // Not eprintln!: libtest would capture it and show it only on failure.
        let name = std::thread::current().name().unwrap_or("?").to_string();
        let _ = std::io::Write::write_all(
            &mut std::io::stderr(),
            format!(
                "cross_backend::{name}: SKIPPED: S6TLS_OTHER_BIN_DIR is not set \
                 (bash .ci/run sets it to the other backend's target/.../debug)\n"
            )
            .as_bytes(),
        );
        return None;
    };
    let dir = PathBuf::from(dir).canonicalize().unwrap();
    assert!(
        dir.join("s6-tlsc").exists() && dir.join("s6-tlsd").exists(),
        "S6TLS_OTHER_BIN_DIR={} holds no build of s6-tlsc and s6-tlsd",
        dir.display()
    );
    assert_ne!(
        dir,
        bin_dir().canonicalize().unwrap(),
        "S6TLS_OTHER_BIN_DIR must be the other backend's build"
    );
    Some(dir)
}

/// `cmd` for the program of the same name built in `dir` (with `dir` first
/// on PATH, so that it finds its own engine).
fn cmd_in(dir: &Path, name: &str) -> Command {
    let c = cmd(name);
    let mut o = Command::new(dir.join(name));
    for (k, v) in c.get_envs() {
        match v {
            Some(v) => o.env(k, v),
            None => o.env_remove(k),
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![dir.to_path_buf()];
    paths.extend(std::env::split_paths(&path));
    o.env("PATH", std::env::join_paths(paths).unwrap());
    o
}

/// `KEY=value` lines (as `env` prints them) into a map of the SSL_ variables.
fn ssl_env(path: &Path) -> HashMap<String, String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("SSL_"))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn cert_hash(der: &[u8]) -> String {
    s6_tls::cert_subject::hash_text(&Backend::sha256(der))
}

/// One connection: `client_dir`'s s6-tlsc against `server_dir`'s s6-tlsd,
/// each side sending its own data while receiving the other's.
fn exchange(client_dir: &Path, server_dir: &Path, server_name: &str, size: usize) {
    let pki = Pki::new();
    let up = data(size, 1);
    let down = data(size + 12_345, 2);
    let up_in = file(pki.dir.path(), "up.in", &up);
    let down_in = file(pki.dir.path(), "down.in", &down);
    let up_out = pki.path("up.out");
    let down_out = pki.path("down.out");
    let server_env = pki.path("server.env");
    let client_env = pki.path("client.env");
    let (c, s) = tcp_pair();

    // Each app sends from the background and closes its own copy of the
    // sending fd, so that the engine sees EOF as soon as its data is out.
    let mut server = cmd_in(server_dir, "s6-tlsd");
    server
        .env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .env("KEYFILE:*.example.test", &pki.wildcard.key_pem)
        .env("CERTFILE:*.example.test", &pki.wildcard.cert_pem)
        .env("CAFILE", &pki.ca_file)
        .args(["-S", "-J", "-y", "-k", "1", "--", "sh", "-c"])
        .arg(format!(
            "env > {}; cat {} & exec 1>&-; cat > {}; wait",
            server_env.display(),
            down_in.display(),
            up_out.display()
        ))
        .stdin(owned(s.try_clone().unwrap()))
        .stdout(owned(s));
    piped_stderr(&mut server);
    let mut server = Proc::spawn(&mut server);

    let mut client = cmd_in(client_dir, "s6-tlsc");
    client
        .env("CAFILE", &pki.ca_file)
        .env("KEYFILE", &pki.client.key_pem)
        .env("CERTFILE", &pki.client.cert_pem)
        .args(["-S", "-J", "-y", "-k", server_name, "--", "sh", "-c"])
        .arg(format!(
            "env > {}; cat {} >&7 & exec 7>&-; cat <&6 > {}; wait",
            client_env.display(),
            up_in.display(),
            down_out.display()
        ));
    piped_stderr(&mut client);
    with_fds(&mut client, &[(raw(&c), 6), (raw(&c), 7)]);
    let mut client = Proc::spawn(&mut client);
    drop(c);

    let (ccode, cerr) = client.finish(LIMIT);
    let (scode, serr) = server.finish(LIMIT);
    assert_eq!((ccode, scode), (0, 0), "client: {cerr}\nserver: {serr}");
    assert_same(&std::fs::read(&up_out).unwrap(), &up, "client to server");
    assert_same(
        &std::fs::read(&down_out).unwrap(),
        &down,
        "server to client",
    );

    // Both sides describe the same session in the same words.
    let ce = ssl_env(&client_env);
    let se = ssl_env(&server_env);
    assert_eq!(ce["SSL_PROTOCOL"], "TLSv1.3");
    assert_eq!(se["SSL_PROTOCOL"], "TLSv1.3");
    assert!(ce["SSL_CIPHER"].starts_with("TLS_"), "{ce:?}");
    assert_eq!(ce["SSL_CIPHER"], se["SSL_CIPHER"]);
    assert_eq!(ce["SSL_TLS_SNI_SERVERNAME"], server_name);
    assert_eq!(se["SSL_TLS_SNI_SERVERNAME"], server_name);
    let server_cert = if server_name == "localhost" {
        &pki.server.der
    } else {
        &pki.wildcard.der
    };
    assert_eq!(ce["SSL_PEER_CERT_HASH"], cert_hash(server_cert));
    assert_eq!(se["SSL_PEER_CERT_HASH"], cert_hash(&pki.client.der));
    let subject = |der: &[u8]| s6_tls::cert_subject::subject_oneline(der).unwrap();
    assert_eq!(ce["SSL_PEER_CERT_SUBJECT"], subject(server_cert));
    assert_eq!(se["SSL_PEER_CERT_SUBJECT"], subject(&pki.client.der));
}

#[test]
fn this_client_against_the_other_server() {
    let Some(other) = other_bin_dir() else {
        return;
    };
    exchange(&bin_dir(), &other, "localhost", 3 << 20);
}

#[test]
fn other_client_against_this_server() {
    let Some(other) = other_bin_dir() else {
        return;
    };
    exchange(&other, &bin_dir(), "localhost", 3 << 20);
}

#[test]
fn sni_wildcard_across_backends() {
    let Some(other) = other_bin_dir() else {
        return;
    };
    exchange(&bin_dir(), &other, "a.example.test", 64 << 10);
    exchange(&other, &bin_dir(), "b.example.test", 64 << 10);
}

/// A certificate one side rejects fails the same way whichever backend
/// rejects it: the client exits 98.
#[test]
fn untrusted_server_is_refused_across_backends() {
    let Some(other) = other_bin_dir() else {
        return;
    };
    for (client_dir, server_dir) in [(bin_dir(), other.clone()), (other.clone(), bin_dir())] {
        let pki = Pki::new();
        let (c, s) = tcp_pair();
        let mut server = cmd_in(&server_dir, "s6-tlsd");
        server
            .env("KEYFILE", &pki.untrusted.key_pem)
            .env("CERTFILE", &pki.untrusted.cert_pem)
            .args(["--", "cat"])
            .stdin(owned(s.try_clone().unwrap()))
            .stdout(owned(s));
        piped_stderr(&mut server);
        let mut server = Proc::spawn(&mut server);
        let mut client = cmd_in(&client_dir, "s6-tlsc");
        client.env("CAFILE", &pki.ca_file).args([
            "-k",
            "localhost",
            "--",
            "sh",
            "-c",
            "echo reached",
        ]);
        piped_stderr(&mut client);
        client.stdout(std::process::Stdio::piped());
        with_fds(&mut client, &[(raw(&c), 6), (raw(&c), 7)]);
        let mut client = Proc::spawn(&mut client);
        drop(c);
        let mut out = client.child.as_mut().unwrap().stdout.take().unwrap();
        let (ccode, cerr) = client.finish(LIMIT);
        let mut seen = String::new();
        std::io::Read::read_to_string(&mut out, &mut seen).unwrap();
        assert_eq!(ccode, 98, "client stderr: {cerr}");
        assert!(cerr.contains("s6-tlsc"), "{cerr}");
        assert_eq!(seen, "", "the app must not run");
        let (scode, _) = server.finish(LIMIT);
        assert_ne!(scode, 0);
    }
}

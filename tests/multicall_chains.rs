//! The multicall binary alone in a directory with its symlinks, and
//! nothing of ours on PATH, running the chains the other multicall tests
//! leave out: s6-tlsserver with s6-tcpserver-access (rules dir and a cdb
//! made by the multicall s6-accessrules-cdb-from-fs), s6-tlsserver -L
//! (proxy-server), and the UCSPI-TLS pair under s6-tcpserver and
//! s6-tcpclient.

mod common;
mod tcp_support;
use common::*;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use tcp_support::*;

const PATH: &str = "/usr/bin:/bin";

/// A directory holding only the multicall binary and its symlinks.
fn install(pki: &Pki) -> PathBuf {
    let alone = pki.path("alone");
    std::fs::create_dir(&alone).unwrap();
    let exe = alone.join("s6-networking");
    place_exe(&bin("s6-networking"), &exe);
    let st = Command::new(&exe)
        .arg("--install")
        .arg(&alone)
        .status()
        .unwrap();
    assert!(st.success());
    alone
}

/// One of the symlinks, with an empty environment but for PATH.
fn link(alone: &Path, name: &str) -> Command {
    let mut c = Command::new(alone.join(name));
    c.env_clear().env("PATH", PATH);
    c
}

fn server(pki: &Pki, alone: &Path, opts: &[&str], prog: &[&str]) -> Server {
    let mut c = link(alone, "s6-tlsserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .arg("-1")
        .args(opts)
        .args(["127.0.0.1", "0"])
        .args(prog);
    Server::start(&mut c, &pki.path(&format!("server-{}.log", unique())))
}

/// s6-tlsclient (a symlink) running s6-ioconnect (a symlink): sends
/// `input`, returns what came back.
fn client(pki: &Pki, alone: &Path, port: u16, input: &[u8]) -> Vec<u8> {
    let out = pki.path(&format!("out-{}", unique()));
    let ioc = alone.join("s6-ioconnect");
    let mut c = link(alone, "s6-tlsclient");
    c.env("CAFILE", &pki.ca_file)
        .args(["-H", "-k", "localhost", "127.0.0.1", &port.to_string()])
        .arg(&ioc)
        .stdin(stdin_file(
            pki.dir.path(),
            &format!("in-{}", unique()),
            input,
        ))
        .stdout(stdout_file(&out))
        .stderr(Stdio::piped());
    let (code, err) = Proc::spawn(&mut c).finish(T);
    assert_eq!(code, 0, "{err}");
    std::fs::read(&out).unwrap()
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

#[test]
fn multicall_tlsserver_with_access_rules() {
    let pki = Pki::new();
    let alone = install(&pki);
    let rules = pki.path("rules");
    put(&rules, "ip4/127.0.0.1_32/allow", b"");
    put(&rules, "ip4/127.0.0.1_32/env/RULE", b"multicall\n");
    put(&rules, "ip4/0.0.0.0_0/deny", b"");
    let cdb = pki.path("rules.cdb");
    let st = link(&alone, "s6-accessrules-cdb-from-fs")
        .arg(&cdb)
        .arg(&rules)
        .status()
        .unwrap();
    assert!(st.success());
    let envfile = pki.path("prog.env");
    let prog = format!("env > {}; exec cat", envfile.display());
    for opts in [
        ["-H", "-i", rules.to_str().unwrap()],
        ["-H", "-x", cdb.to_str().unwrap()],
    ] {
        let _ = std::fs::remove_file(&envfile);
        let srv = server(&pki, &alone, &opts, &["sh", "-c", &prog]);
        let input = data(200_000, 21);
        assert_same(&client(&pki, &alone, srv.port, &input), &input, "echo");
        let env = env_of(&read(&envfile));
        assert_eq!(env["RULE"], "multicall", "{opts:?}");
        assert_eq!(env["SSL_PROTOCOL"], "TLSv1.3");
        assert_eq!(env["TCPREMOTEIP"], "127.0.0.1");
    }
}

#[test]
fn multicall_tlsserver_l_reads_a_proxy_header() {
    let pki = Pki::new();
    let alone = install(&pki);
    let envfile = pki.path("prog.env");
    let prog = format!("env > {}; exec cat", envfile.display());
    let srv = server(&pki, &alone, &["-H", "-L"], &["sh", "-c", &prog]);
    let mut sock = TcpStream::connect(srv.addr("127.0.0.1")).unwrap();
    sock.write_all(b"PROXY TCP4 192.0.2.7 198.51.100.9 5555 443\r\n")
        .unwrap();
    let out = pki.path("out");
    let input = file(pki.dir.path(), "in", &data(100_000, 22));
    let mut c = link(&alone, "s6-tlsc");
    c.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "sh", "-c"])
        .arg(format!(
            "cat {} >&7 & exec 7>&-; cat <&6 > {}; wait",
            input.display(),
            out.display()
        ))
        .stderr(Stdio::piped());
    with_fds(&mut c, &[(raw(&sock), 6), (raw(&sock), 7)]);
    let (code, err) = start(&mut c, sock).finish(T);
    assert_eq!(code, 0, "{err}\nserver: {}", srv.log());
    assert_same(
        &std::fs::read(&out).unwrap(),
        &std::fs::read(&input).unwrap(),
        "echo",
    );
    let env = env_of(&read(&envfile));
    assert_eq!(env["TCPREMOTEIP"], "192.0.2.7");
    assert_eq!(env["TCPREMOTEPORT"], "5555");
    assert_eq!(env["TCPLOCALIP"], "198.51.100.9");
    assert_eq!(env["TCPLOCALPORT"], "443");
}

#[test]
fn multicall_ucspi_chains() {
    let pki = Pki::new();
    let alone = install(&pki);
    let script = |n: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/scripts")
            .join(n)
    };
    let sout = pki.path("sout");
    let cout = pki.path("cout");
    std::fs::create_dir(&sout).unwrap();
    std::fs::create_dir(&cout).unwrap();
    let mut c = link(&alone, "s6-tcpserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(["-1", "127.0.0.1", "0"])
        .arg(alone.join("s6-ucspitlsd"))
        .args(["-S", "python3"])
        .arg(script("smtp_server.py"))
        .arg(&sout)
        .arg("Y");
    let srv = Server::start(&mut c, &pki.path("server.log"));
    let body = data(50_000, 23)
        .chunks(50)
        .flat_map(|l| {
            let mut v: Vec<u8> = l.iter().map(|b| b'A' + b % 26).collect();
            v.extend_from_slice(b"\r\n");
            v
        })
        .collect::<Vec<u8>>();
    let body_file = file(pki.dir.path(), "body", &body);
    let mut c = link(&alone, "s6-tcpclient");
    c.env("CAFILE", &pki.ca_file)
        .args(["-H", "127.0.0.1", &srv.port.to_string()])
        .arg(alone.join("s6-ucspitlsc"))
        .args(["-k", "localhost", "python3"])
        .arg(script("smtp_client.py"))
        .arg(&cout)
        .arg(&body_file)
        .arg("Y")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (code, err) = Proc::spawn(&mut c).finish(T);
    assert_eq!(code, 0, "{err}\nserver: {}", srv.log());
    wait_for_file(&sout.join("sent_after_tls"), T);
    assert_same(&std::fs::read(sout.join("body")).unwrap(), &body, "body");
    for out in [&sout, &cout] {
        let block = std::fs::read(out.join("notification")).unwrap();
        assert!(block.starts_with(b"SSL_PROTOCOL=TLSv1.3\0"), "{block:?}");
        assert!(block.ends_with(b"\0\0"));
    }
}

//! What a prog and an engine are left holding: the engines drop to
//! TLS_UID/TLS_GID (and lose every supplementary group) before the first
//! network byte; prog never sees the TLS configuration variables unless
//! -Z, in every program that starts one; and prog inherits no fd beyond
//! its documented ones, nor does an engine. (tests/privileges.rs and
//! tests/environment.rs cover the common cases; this adds what they do
//! not: a starting set of groups to lose, a gid distinct from the uid, the
//! moment of the drop, the UCSPI engines, the four other programs'
//! environments, and the fds.) Last, no copy of a private key is left in
//! an engine's writable memory once it is set up, on either backend.

mod common;
mod fault_support;
mod tcp_support;
use common::*;
use fault_support::*;
use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tcp_support::*;

const UID: u32 = 65534;
const GID: u32 = 65533;

fn is_root() -> bool {
    status_field(std::process::id(), "Uid")
        .first()
        .map(String::as_str)
        == Some("0")
}

/// Starts `c` with root's supplementary groups set to a few, so that the
/// engine has some to lose.
fn with_groups(c: &mut Command) {
    // SAFETY: setgroups is async-signal-safe and reads only the array.
    unsafe {
        c.pre_exec(|| {
            let groups: [libc::gid_t; 3] = [0, 4, 27];
            if libc::setgroups(groups.len(), groups.as_ptr()) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

fn ids(pid: u32, key: &str) -> Vec<u32> {
    status_field(pid, key)
        .iter()
        .map(|v| v.parse().unwrap())
        .collect()
}

/// Waits for the engine to have left root, then checks its ids: exactly
/// `uid`, `gid`, and `groups` as the supplementary groups.
fn assert_engine_dropped(engine: Pid, uid: u32, gid: u32, groups: &[u32], what: &str) {
    let end = Instant::now() + LIMIT;
    while ids(engine.pid, "Uid").first() == Some(&0) {
        assert!(Instant::now() < end, "{what} still root");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(ids(engine.pid, "Uid"), [uid; 4], "{what} uid");
    assert_eq!(ids(engine.pid, "Gid"), [gid; 4], "{what} gid");
    assert_eq!(
        ids(engine.pid, "Groups"),
        groups,
        "{what} supplementary groups"
    );
}

#[test]
fn engines_drop_every_group_before_the_first_network_byte() {
    if !is_root() {
        eprintln!("not root: privilege drop cannot be tested");
        return;
    }
    let pki = Pki::new();
    // Server: the client has sent nothing yet when the ids are read; the
    // socket is then handed to a client engine and the connection works.
    let (c, s) = tcp_pair();
    let mut sc = tlsd(&pki, &s, &[], "echo up; exec cat > /dev/null");
    sc.env("TLS_UID", UID.to_string())
        .env("TLS_GID", GID.to_string());
    with_groups(&mut sc);
    let mut server = start(&mut sc, s);
    let engine = find_in_tree(server.pid(), "s6-tlsd-io", LIMIT);
    assert_engine_dropped(engine, UID, GID, &[GID], "s6-tlsd-io");
    assert_eq!(ids(server.pid(), "Groups"), [0, 4, 27], "the wrapper's own");
    let mut cli = Engine::client(&pki, c, &["-k", "localhost"], &[]);
    let got = cli.receive();
    drop(cli.input.take());
    assert_eq!(join(got, LIMIT), b"up\n");
    assert_eq!(cli.finish().0, 0);
    assert_eq!(server.finish(LIMIT).0, 0);

    // Client: its ClientHello is out, no byte has come back. TLS_UID
    // alone: no gid change, and no supplementary group left.
    let (c, s) = tcp_pair();
    let mut cc = tlsc(&pki, &c, &["-k", "localhost"], "exec cat <&6");
    cc.env("TLS_UID", UID.to_string());
    with_groups(&mut cc);
    let mut client = start(&mut cc, c);
    let engine = find_in_tree(client.pid(), "s6-tlsc-io", LIMIT);
    assert_engine_dropped(engine, UID, 0, &[], "s6-tlsc-io");
    let mut srv = Engine::server(&pki, s, &[], &[]);
    join(srv.send(b"down\n".to_vec()), LIMIT);
    let (code, err) = client.finish(LIMIT);
    assert_eq!(code, 0, "{err}");
    drop(srv);
}

#[test]
fn ucspi_engines_drop_privileges_too() {
    if !is_root() {
        eprintln!("not root: privilege drop cannot be tested");
        return;
    }
    let pki = Pki::new();
    // s6-ucspitlsd: prog asks for TLS at once; the client is silent.
    let (_peer, sock) = tcp_pair();
    let mut c = cmd("s6-ucspitlsd");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .env("TLS_UID", UID.to_string())
        .env("TLS_GID", GID.to_string())
        .args(sh("printf y >&$SSLCTLFD; exec sleep 30"))
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock.try_clone().unwrap()))
        .stderr(Stdio::null());
    with_groups(&mut c);
    let server = start(&mut c, sock);
    let engine = find_in_tree(server.pid(), "s6-tlsd-io", LIMIT);
    assert_engine_dropped(engine, UID, GID, &[GID], "s6-ucspitlsd's engine");
    // s6-ucspitlsc: the server reads the ClientHello and says nothing.
    let (cs, mut peer) = tcp_pair();
    let mut c = cmd("s6-ucspitlsc");
    c.env("CAFILE", &pki.ca_file)
        .env("TLS_UID", UID.to_string())
        .env("TLS_GID", GID.to_string())
        .args(["-k", "localhost"])
        .args(sh("printf y >&$SSLCTLFD; exec sleep 30"))
        .stderr(Stdio::null());
    with_fds(&mut c, &[(raw(&cs), 6), (raw(&cs), 7)]);
    with_groups(&mut c);
    let client = start(&mut c, cs);
    let mut b = [0u8; 1];
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    peer.read_exact(&mut b).unwrap();
    let engine = find_in_tree(client.pid(), "s6-tlsc-io", LIMIT);
    assert_engine_dropped(engine, UID, GID, &[GID], "s6-ucspitlsc's engine");
    let mut all = tree(server.pid());
    all.extend(tree(client.pid()));
    drop((server, client));
    for p in &all {
        kill(p.pid, libc::SIGKILL);
    }
    assert_gone(&all, Duration::from_secs(5), "ucspi chains");
}

const CONFIG: [&str; 8] = [
    "CADIR",
    "CAFILE",
    "KEYFILE",
    "CERTFILE",
    "TLS_UID",
    "TLS_GID",
    "KEYFILE:a.test",
    "CERTFILE:a.test",
];

/// Sets every configuration variable on `c` (valid files, ids 0 so that
/// nothing is dropped).
fn configure(pki: &Pki, c: &mut Command) {
    c.env("CADIR", &pki.ca_dir)
        .env("CAFILE", &pki.ca_file)
        .env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .env("TLS_UID", "0")
        .env("TLS_GID", "0")
        .env("KEYFILE:a.test", &pki.wildcard.key_pem)
        .env("CERTFILE:a.test", &pki.wildcard.cert_pem);
}

/// Checks which configuration variables an `env` dump holds.
fn check_env(dump: &str, keep: bool, what: &str) {
    let vars = parse_env(dump);
    assert!(vars.contains_key("PATH"), "{what}: not an env dump: {dump}");
    for k in CONFIG {
        assert_eq!(vars.contains_key(k), keep, "{what}: {k}\n{dump}");
    }
}

/// The environments of the progs of s6-tlsserver, s6-tlsclient,
/// s6-ucspitlsd and s6-ucspitlsc, each run with every variable set, prog
/// being `env` itself (a shell would drop the `KEYFILE:name` ones).
fn four_environments(flag: &str) -> [(String, &'static str); 4] {
    let pki = Pki::new();
    let mut out = Vec::new();
    // s6-tlsserver: prog's env comes to the client over TLS.
    let mut c = cmd("s6-tlsserver");
    configure(&pki, &mut c);
    c.args(["-1H", flag, "127.0.0.1", "0", "env"]);
    let srv = Server::start(&mut c, &pki.path("server.log"));
    let mut c = tls_client(
        &pki,
        "127.0.0.1",
        srv.port,
        &[],
        &["sh", "-c", "exec 7>&-; exec cat <&6"],
    );
    c.stdout(Stdio::piped());
    let p = c.output().unwrap();
    assert!(p.status.success());
    out.push((String::from_utf8(p.stdout).unwrap(), "s6-tlsserver"));
    // s6-tlsclient: prog's stdout is ours.
    let srv = tls_server(&pki, "127.0.0.1", &[], &["true"]);
    let mut c = tls_client(&pki, "127.0.0.1", srv.port, &[flag], &["env"]);
    configure(&pki, &mut c);
    let p = c.output().unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    out.push((String::from_utf8(p.stdout).unwrap(), "s6-tlsclient"));
    // s6-ucspitlsd: prog talks cleartext on the socket.
    let (mut peer, sock) = tcp_pair();
    let mut c = cmd("s6-ucspitlsd");
    configure(&pki, &mut c);
    c.args([flag, "env"])
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock.try_clone().unwrap()));
    let mut p = start(&mut c, sock);
    drop(c);
    assert_eq!(code_of(p.wait(LIMIT)), 0);
    let mut dump = String::new();
    peer.set_read_timeout(Some(LIMIT)).unwrap();
    peer.read_to_string(&mut dump).unwrap();
    out.push((dump, "s6-ucspitlsd"));
    // s6-ucspitlsc: the network on 6/7, prog's stdout is ours.
    let (cs, _peer) = tcp_pair();
    let mut c = cmd("s6-ucspitlsc");
    configure(&pki, &mut c);
    c.args([flag, "env"]).stdout(Stdio::piped());
    with_fds(&mut c, &[(raw(&cs), 6), (raw(&cs), 7)]);
    let p = c.output().unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    out.push((String::from_utf8(p.stdout).unwrap(), "s6-ucspitlsc"));
    out.try_into().unwrap()
}

#[test]
fn no_prog_sees_the_tls_configuration_unless_asked() {
    for (dump, what) in four_environments("-z") {
        check_env(&dump, false, what);
        for k in ["SSLCTLFD", "SSLREADFD", "SSLWRITEFD"] {
            assert_eq!(
                parse_env(&dump).contains_key(k),
                what.starts_with("s6-ucspi"),
                "{what}: {k}"
            );
        }
    }
    for (dump, what) in four_environments("-Z") {
        check_env(&dump, true, what);
    }
}

/// The fds of a `ls -l /proc/self/fd` listing (minus the one ls opened to
/// list them), with what each points to.
fn listed_fds(listing: &str) -> Vec<(u32, String)> {
    listing
        .lines()
        .filter_map(|l| {
            let (left, target) = l.split_once(" -> ")?;
            let n = left.split_whitespace().last()?.parse().ok()?;
            let own = target.starts_with("/proc/") && target.ends_with("/fd");
            (!own).then(|| (n, target.to_string()))
        })
        .collect()
}

fn assert_fds(listing: &str, want: &[u32], what: &str) {
    let fds = listed_fds(listing);
    let got: BTreeSet<u32> = fds.iter().map(|f| f.0).collect();
    let want: BTreeSet<u32> = want.iter().copied().collect();
    assert_eq!(got, want, "{what} holds {fds:?}\n{listing}");
}

/// The value of `KEY=n` in prog's first line `SSLCTLFD=3 SSLREADFD=4 ...`.
fn ucspi_fds(first_line: &str) -> Vec<u32> {
    first_line
        .split_whitespace()
        .map(|kv| kv.split_once('=').unwrap().1.parse().unwrap())
        .collect()
}

const LIST_UCSPI: &str =
    "echo SSLCTLFD=$SSLCTLFD SSLREADFD=$SSLREADFD SSLWRITEFD=$SSLWRITEFD; exec ls -l /proc/self/fd";

#[test]
fn progs_inherit_only_their_documented_fds() {
    let pki = Pki::new();
    // s6-tlsserver's prog: 0, 1, 2. Its listing comes over TLS.
    let mut c = tls_server_cmd(&pki, &[], &["sh", "-c", "exec ls -l /proc/self/fd"]);
    only_fds(&mut c, &[]);
    let srv = Server::start(&mut c, &pki.path("server.log"));
    let out = pki.path("client.out");
    let mut c = tls_client(
        &pki,
        "127.0.0.1",
        srv.port,
        &[],
        &[
            "sh",
            "-c",
            &format!(
                "ls -l /proc/self/fd > {}; exec 7>&-; exec cat <&6",
                out.display()
            ),
        ],
    );
    only_fds(&mut c, &[]);
    let p = c.output().unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let server_listing = String::from_utf8(p.stdout).unwrap();
    assert_fds(&server_listing, &[0, 1, 2], "s6-tlsserver's prog");
    // s6-tlsclient's prog: 0, 1, 2 and the cleartext 6/7. (Its listing
    // went to a file: 1 is that file.)
    assert_fds(&read(&out), &[0, 1, 2, 6, 7], "s6-tlsclient's prog");

    // The UCSPI-TLS progs, under the real super-server and client: the
    // network fds and the three announced ones.
    let mut c = cmd("s6-tcpserver");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args([
            "-1",
            "127.0.0.1",
            "0",
            "s6-ucspitlsd",
            "sh",
            "-c",
            LIST_UCSPI,
        ]);
    only_fds(&mut c, &[]);
    let usrv = Server::start(&mut c, &pki.path("ucspi-server.log"));
    let mut s = std::net::TcpStream::connect(usrv.addr("127.0.0.1")).unwrap();
    let listing = read_to_eof(&mut s, LIMIT).expect("no listing");
    let listing = String::from_utf8(listing).unwrap();
    let (first, rest) = listing.split_once('\n').unwrap();
    let mut want = vec![0, 1, 2];
    want.extend(ucspi_fds(first));
    assert_fds(rest, &want, "s6-ucspitlsd's prog");

    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port().to_string();
    let mut c = cmd("s6-tcpclient");
    c.env("CAFILE", &pki.ca_file)
        .args([
            "-H",
            "127.0.0.1",
            &port,
            "s6-ucspitlsc",
            "sh",
            "-c",
            LIST_UCSPI,
        ])
        .stdout(Stdio::piped());
    only_fds(&mut c, &[]);
    let p = c.output().unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    drop(l);
    let listing = String::from_utf8(p.stdout).unwrap();
    let (first, rest) = listing.split_once('\n').unwrap();
    let mut want = vec![0, 1, 2, 6, 7];
    want.extend(ucspi_fds(first));
    assert_fds(rest, &want, "s6-ucspitlsc's prog");
}

/// The fds of a live process, by number.
fn fds_of(pid: u32) -> BTreeSet<u32> {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// The last two arguments of a process: an engine's two fds.
fn fd_args(pid: u32) -> [u32; 2] {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let args: Vec<&[u8]> = cmdline
        .split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .collect();
    let n = |a: &[u8]| std::str::from_utf8(a).unwrap().parse().unwrap();
    [n(args[args.len() - 2]), n(args[args.len() - 1])]
}

#[test]
fn engines_hold_only_their_four_fds_and_stderr() {
    // Once the handshake is done (the notification fd closed), each engine
    // holds its two cleartext and two network fds, and stderr: nothing of
    // the listening socket, of the other pipe ends, or of the wrapper.
    let pki = Pki::new();
    let mark = pki.path("up");
    let mut c = tls_server_cmd(&pki, &[], &["sh", "-c", "echo up; exec cat"]);
    only_fds(&mut c, &[]);
    let srv = Server::start(&mut c, &pki.path("server.log"));
    let mut c = tls_client(
        &pki,
        "127.0.0.1",
        srv.port,
        &[],
        &[
            "sh",
            "-c",
            &format!("read x <&6; touch {}; exec sleep 30", mark.display()),
        ],
    );
    c.stderr(Stdio::null());
    only_fds(&mut c, &[]);
    let client = Proc::spawn(&mut c);
    wait_for_file(&mark, LIMIT);
    let conn = *srv.children().first().expect("no connection");
    let sengine = find_in_tree(conn, "s6-tlsd-io", LIMIT);
    let cengine = find_in_tree(client.pid(), "s6-tlsc-io", LIMIT);
    let [r, w] = fd_args(sengine.pid);
    assert_eq!(
        fds_of(sengine.pid),
        BTreeSet::from([0, 1, 2, r, w]),
        "s6-tlsd-io"
    );
    assert_eq!(
        fds_of(cengine.pid),
        BTreeSet::from([0, 1, 2, 6, 7]),
        "s6-tlsc-io"
    );
    // And s6-tcpserverd holds no socket but the listening one.
    let sockets: Vec<u32> = fds_of(srv.pid())
        .into_iter()
        .filter(|fd| {
            std::fs::read_link(format!("/proc/{}/fd/{fd}", srv.pid()))
                .is_ok_and(|t| t.to_string_lossy().starts_with("socket:"))
        })
        .collect();
    assert_eq!(sockets, [0], "s6-tcpserverd's sockets");
    drop(client);
}

/// The writable mappings of `pid` that hold `needle`.
fn memory_holding(pid: u32, needle: &[u8]) -> Vec<String> {
    let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).unwrap();
    let mut hits = Vec::new();
    for l in maps.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if !f[1].starts_with("rw") {
            continue;
        }
        let (a, b) = f[0].split_once('-').unwrap();
        let a = u64::from_str_radix(a, 16).unwrap();
        let b = u64::from_str_radix(b, 16).unwrap();
        let mut buf = vec![0u8; (b - a) as usize];
        if mem.read_at(&mut buf, a).is_ok() && buf.windows(needle.len()).any(|w| w == needle) {
            hits.push(l.to_string());
        }
    }
    hits
}

/// The secret parts of a key as the files hold them: every base64 line of
/// the PEM file, the PKCS#8 DER past its first 16 bytes (which the
/// allocator overwrites when it frees a buffer), and the EC private
/// scalar itself (the 32 bytes after `02 01 01 04 20`).
fn secrets(key: &CertFiles) -> Vec<(String, Vec<u8>)> {
    let pem = std::fs::read_to_string(&key.key_pem).unwrap();
    let der = std::fs::read(&key.key_der).unwrap();
    let mut v: Vec<(String, Vec<u8>)> = pem
        .lines()
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .map(|l| (format!("PEM line {l}"), l.as_bytes().to_vec()))
        .collect();
    v.push(("DER".into(), der[16..].to_vec()));
    let at = der
        .windows(5)
        .position(|w| w == [2, 1, 1, 4, 32])
        .expect("an EC private key");
    v.push(("private scalar".into(), der[at + 5..at + 37].to_vec()));
    v
}

fn assert_no_secret(pid: u32, key: &CertFiles, what: &str) {
    for (name, bytes) in secrets(key) {
        let hits = memory_holding(pid, &bytes);
        assert!(
            hits.is_empty(),
            "{what} still holds the key's {name} in {hits:?}"
        );
    }
}

#[test]
fn no_copy_of_a_private_key_is_left_in_an_engines_memory() {
    // Once the connection is up, the key file's bytes and the decoded key
    // have been wiped: only the backend's own signing key remains, in its
    // internal form.
    let pki = Pki::new();
    for der in [false, true] {
        let (skey, ckey) = if der {
            (&pki.server.key_der, &pki.client.key_der)
        } else {
            (&pki.server.key_pem, &pki.client.key_pem)
        };
        let (c, s) = tcp_pair();
        let mut srv = Engine::server(
            &pki,
            s,
            &["-Y"],
            &[("KEYFILE", skey), ("CAFILE", &pki.ca_file)],
        );
        let mut cli = Engine::client(
            &pki,
            c,
            &["-k", "localhost", "-y"],
            &[("KEYFILE", ckey), ("CERTFILE", &pki.client.cert_pem)],
        );
        let mut out = srv.output.take().unwrap();
        cli.input.as_mut().unwrap().write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        out.read_exact(&mut b).unwrap();
        let form = if der { "DER" } else { "PEM" };
        assert_no_secret(srv.pid(), &pki.server, &format!("s6-tlsd-io ({form} key)"));
        assert_no_secret(cli.pid(), &pki.client, &format!("s6-tlsc-io ({form} key)"));
        drop(cli.input.take());
        drop(srv.input.take());
        assert_eq!(cli.finish().0, 0);
        assert_eq!(srv.finish().0, 0);
    }
}

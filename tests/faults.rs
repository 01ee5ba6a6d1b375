//! Hard faults with real processes over loopback: resets in the middle of
//! a transfer, peers that stall, progs that die, close one side or never
//! read, floods past the connection limits, a slowloris, writes to closed
//! fds, and the death of an engine's parent. Each case is bounded in time
//! and checks the exit code, that no process of the chain is left behind,
//! and that the long-lived server keeps its fd count.

mod common;
mod fault_support;
mod tcp_support;
use common::*;
use fault_support::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tcp_support::*;

const SIGPIPE_DEATH: i32 = 128 + libc::SIGPIPE;

/// Reads from `r` until at least `n` bytes came, then returns them and `r`.
fn read_at_least(mut r: Box<dyn Read + Send>, n: usize) -> (Vec<u8>, Box<dyn Read + Send>) {
    let h = std::thread::spawn(move || {
        let mut v = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while v.len() < n {
            match r.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(k) => v.extend_from_slice(&buf[..k]),
            }
        }
        (v, r)
    });
    join(h, LIMIT)
}

fn read_rest(mut r: Box<dyn Read + Send>, mut v: Vec<u8>) -> Vec<u8> {
    let h = std::thread::spawn(move || {
        let _ = r.read_to_end(&mut v);
        v
    });
    join(h, LIMIT)
}

fn assert_prefix(got: &[u8], sent: &[u8], what: &str) {
    assert!(got.len() <= sent.len(), "{what}: more than was sent");
    assert_same(got, &sent[..got.len()], what);
}

/// Both engines stream 32 MiB at each other; once the subject's app has
/// received 1 MiB, the peer engine dies with SO_LINGER {on, 0} on its
/// socket, so the kernel resets the connection. The subject must deliver
/// a prefix of what was sent and exit 111, by code, not by signal.
fn reset_mid_transfer(subject_is_client: bool) {
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    if subject_is_client {
        reset_on_close(&s);
    } else {
        reset_on_close(&c);
    }
    let mut srv = Engine::server(&pki, s, &[], &[]);
    let mut cli = Engine::client(&pki, c, &["-k", "localhost"], &[]);
    let (subject, peer) = if subject_is_client {
        (&mut cli, &mut srv)
    } else {
        (&mut srv, &mut cli)
    };
    let to_subject = data(32 << 20, 1);
    let from_subject = data(32 << 20, 2);
    let _peer_sends = peer.send(to_subject.clone());
    let _subject_sends = subject.send(from_subject);
    let (got, rest) = read_at_least(subject.output.take().unwrap(), 1 << 20);
    assert!(
        got.len() >= 1 << 20,
        "only {} bytes before the reset",
        got.len()
    );
    let t0 = Instant::now();
    kill(peer.pid(), libc::SIGKILL);
    let got = read_rest(rest, got);
    let (code, err) = subject.proc.finish(Duration::from_secs(10));
    let name = if subject_is_client {
        "s6-tlsc-io"
    } else {
        "s6-tlsd-io"
    };
    assert_ne!(code, SIGPIPE_DEATH, "{name} died of SIGPIPE");
    assert_eq!(code, 111, "{name}: {err}");
    assert_clean_failure(&err, name, "network");
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
    assert_prefix(&got, &to_subject, "delivered before the reset");
    assert!(got.len() < to_subject.len(), "the reset cut nothing");
}

#[test]
fn a_reset_from_the_server_mid_transfer_ends_the_client_engine_with_111() {
    reset_mid_transfer(true);
}

#[test]
fn a_reset_from_the_client_mid_transfer_ends_the_server_engine_with_111() {
    reset_mid_transfer(false);
}

/// A server engine with `opts` that got only the first half of a real
/// ClientHello, and the socket the test keeps to stall with.
fn server_stalled_in_the_client_hello(
    pki: &Pki,
    opts: &[&str],
) -> (Engine, std::net::TcpStream, Instant) {
    let hello = client_hello(pki);
    let (mut c, s) = tcp_pair();
    let srv = Engine::server(pki, s, opts, &[]);
    c.write_all(&hello[..hello.len() / 2]).unwrap();
    (srv, c, Instant::now())
}

/// A client engine with `opts` whose ClientHello got only the first bytes
/// of a record header in reply.
fn client_stalled_in_the_server_hello(
    pki: &Pki,
    opts: &[&str],
) -> (Engine, std::net::TcpStream, Instant) {
    let (c, mut s) = tcp_pair();
    let mut o = vec!["-k", "localhost"];
    o.extend_from_slice(opts);
    let cli = Engine::client(pki, c, &o, &[]);
    let mut hdr = [0u8; 5];
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.read_exact(&mut hdr).unwrap();
    s.write_all(&[22, 3, 3]).unwrap();
    (cli, s, Instant::now())
}

fn assert_timed_out(e: &mut Engine, name: &str, since: Instant) {
    let (code, err) = e.proc.finish(Duration::from_secs(10));
    let took = since.elapsed();
    assert_eq!(code, 98, "{name}: {err}");
    assert_clean_failure(&err, name, "handshake timed out");
    assert!(
        took >= Duration::from_millis(900),
        "{name} gave up after {took:?}"
    );
    assert!(took < Duration::from_secs(4), "{name} took {took:?}");
}

#[test]
fn a_peer_stalling_mid_handshake_is_cut_by_the_handshake_timeout() {
    let pki = Pki::new();
    let (mut srv, _c, t0) = server_stalled_in_the_client_hello(&pki, &["-K", "1000"]);
    let (mut cli, _s, t1) = client_stalled_in_the_server_hello(&pki, &["-K", "1000"]);
    assert_timed_out(&mut srv, "s6-tlsd-io", t0);
    assert_timed_out(&mut cli, "s6-tlsc-io", t1);
}

#[test]
fn without_a_timeout_a_stalled_handshake_waits_idle_and_dies_cleanly() {
    let pki = Pki::new();
    let (mut srv, _c, _) = server_stalled_in_the_client_hello(&pki, &[]);
    let (mut cli, _s, _) = client_stalled_in_the_server_hello(&pki, &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert_idle_for(srv.pid(), Duration::from_secs(1), "stalled s6-tlsd-io");
    assert_idle_for(cli.pid(), Duration::from_millis(500), "stalled s6-tlsc-io");
    for (e, name) in [(&mut srv, "s6-tlsd-io"), (&mut cli, "s6-tlsc-io")] {
        assert!(e.proc.try_wait(Duration::ZERO).is_none(), "{name} ended");
        kill(e.pid(), libc::SIGTERM);
        let (code, err) = e.proc.finish(Duration::from_secs(5));
        assert_eq!(code, 128 + libc::SIGTERM, "{name}: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // Through s6-tlsd: the wrapper waits for the notification, the engine
    // for the peer; the peer stalls; TERM to both ends both.
    let hello = client_hello(&pki);
    let (mut c, s) = tcp_pair();
    let mut wrapper = start(&mut tlsd(&pki, &s, &[], "echo never"), s);
    c.write_all(&hello[..10]).unwrap();
    let engine = find_in_tree(wrapper.pid(), "s6-tlsd-io", LIMIT);
    let chain = tree(wrapper.pid());
    assert_idle_for(engine.pid, Duration::from_millis(500), "s6-tlsd-io");
    for p in &chain {
        kill(p.pid, libc::SIGTERM);
    }
    assert_eq!(code_of(wrapper.wait(Duration::from_secs(5))), 143);
    assert_gone(&chain, Duration::from_secs(5), "s6-tlsd chain after TERM");
}

#[test]
fn no_timeout_after_the_handshake_a_paused_peer_is_waited_for() {
    // -K on both sides bounds the handshake only: a pause in the middle
    // of the stream, longer than -K, is waited out, idle.
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let mut srv = Engine::server(&pki, s, &["-K", "300"], &[]);
    let mut cli = Engine::client(&pki, c, &["-k", "localhost", "-K", "300"], &[]);
    let part1 = data(100_000, 3);
    let part2 = data(300_000, 4);
    let mut w = srv.input.take().unwrap();
    w.write_all(&part1).unwrap();
    let (got, rest) = read_at_least(cli.output.take().unwrap(), part1.len());
    assert_same(&got, &part1, "before the pause");
    assert_idle_for(cli.pid(), Duration::from_millis(800), "client engine");
    assert_idle_for(srv.pid(), Duration::from_millis(400), "server engine");
    assert!(
        cli.proc.try_wait(Duration::ZERO).is_none(),
        "client gave up"
    );
    w.write_all(&part2).unwrap();
    drop(w);
    let got = read_rest(rest, got);
    assert_same(&got[part1.len()..], &part2, "after the pause");
    drop(cli.input.take());
    assert_eq!(cli.finish().0, 0);
    assert_eq!(srv.finish().0, 0);
}

/// s6-tcpserverd's fd count once it is done setting up (it closes a
/// /dev/null fd just after announcing its port).
fn steady_fds(srv: &Server) -> usize {
    let mut n = srv.fds();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let m = srv.fds();
        if m == n {
            return n;
        }
        n = m;
    }
}

/// s6-tlsserver's connection processes, once the connection ended, must
/// all be gone, and the server's fds back where they were.
fn settle(srv: &Server, fds0: usize, t: &str) {
    let end = Instant::now() + T;
    while !srv.children().is_empty() {
        assert!(Instant::now() < end, "children left: {:?}", srv.children());
        std::thread::sleep(Duration::from_millis(10));
    }
    // The engines are grandchildren: reparented when prog ends, so
    // only the tag finds one left behind.
    assert_none_tagged(t, &[srv.pid()], Duration::from_secs(5), "chain");
    assert_eq!(srv.fds(), fds0, "s6-tcpserverd fd leak");
}

/// s6-tlsclient to the server, tagged `t` as the server's processes.
fn client(t: &str, pki: &Pki, port: u16, extra: &[&str], prog: &[&str]) -> std::process::Command {
    let mut c = tls_client(pki, "127.0.0.1", port, extra, prog);
    c.env(TAG, t);
    c
}

/// Runs s6-tlsclient with `script` as prog (its stdin from `input`), and
/// returns its exit code, stderr and what it printed.
fn client_run(t: &str, pki: &Pki, port: u16, script: &str, input: &[u8]) -> (i32, String, Vec<u8>) {
    let n = unique();
    let out = pki.path(&format!("client{n}.out"));
    let mut c = client(t, pki, port, &[], &shell(script));
    c.stdin(stdin_file(pki.dir.path(), &format!("client{n}.in"), input))
        .stdout(stdout_file(&out))
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut c);
    let (code, err) = p.finish(T);
    (code, err, std::fs::read(&out).unwrap())
}

#[test]
fn a_prog_that_exits_at_once_gives_the_peer_eof() {
    let pki = Pki::new();
    let (srv, t) = tagged_tls_server(&pki, &[], &["true"]);
    let fds0 = steady_fds(&srv);
    let t0 = Instant::now();
    let (code, err, out) = client_run(
        &t,
        &pki,
        srv.port,
        "cat >&7; exec 7>&-; cat <&6",
        b"request\n",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.is_empty(), "{out:?}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    settle(&srv, fds0, &t);
    assert!(!srv.log().contains("fatal"), "{}", srv.log());
}

#[test]
fn a_prog_that_closes_only_its_input_still_replies() {
    let pki = Pki::new();
    let (srv, t) = tagged_tls_server(&pki, &[], &shell("exec 0<&-; sleep 0.3; echo reply"));
    let fds0 = steady_fds(&srv);
    // The client sends 1 MiB nobody reads, then reads the reply.
    let (code, err, out) = client_run(
        &t,
        &pki,
        srv.port,
        "cat >&7; exec 7>&-; cat <&6",
        &data(1 << 20, 5),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, b"reply\n");
    settle(&srv, fds0, &t);
}

#[test]
fn a_client_prog_that_exits_early_ends_its_engine() {
    // The server streams 8 MiB; the client prog takes 1000 bytes and
    // exits. Its engine drops the rest and goes, within the linger bound.
    let pki = Pki::new();
    let big = file(pki.dir.path(), "big", &data(8 << 20, 6));
    let (srv, t) = tagged_tls_server(&pki, &[], &["cat", big.to_str().unwrap()]);
    let fds0 = steady_fds(&srv);
    // The prog waits to be told to read: once it has exited, its engine is
    // no longer in its tree to be found, and a fast build gets there
    // within one look.
    let go = pki.path("go");
    let prog = format!(
        "while [ ! -e {} ]; do sleep 0.01; done; exec head -c 1000 <&6",
        go.display()
    );
    let mut c = client(&t, &pki, srv.port, &[], &shell(&prog));
    c.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut c);
    let mut out = p.child.as_mut().unwrap().stdout.take().unwrap();
    let engine = find_in_tree(p.pid(), "s6-tlsc-io", LIMIT);
    std::fs::write(&go, b"").unwrap();
    let mut got = Vec::new();
    out.read_to_end(&mut got).unwrap();
    assert_same(&got, &data(8 << 20, 6)[..1000], "the first 1000 bytes");
    let (code, err) = p.finish(T);
    assert_eq!(code, 0, "{err}");
    assert_gone(&[engine], Duration::from_secs(5), "client engine");
    settle(&srv, fds0, &t);
}

#[test]
fn a_prog_that_never_reads_blocks_only_its_own_direction() {
    // The server prog never reads its input; the client pushes 64 MiB.
    // The server engine must not buffer it (bounded memory), and the
    // server's own lines still reach the client meanwhile. When the prog
    // finally closes its input, the rest is drained and all ends with 0.
    let pki = Pki::new();
    let go = pki.path("go");
    let (srv, t) = tagged_tls_server(
        &pki,
        &[],
        &shell(&format!(
            "echo first; while [ ! -e {} ]; do sleep 0.05; done; echo second; exec 0<&-; echo bye",
            go.display()
        )),
    );
    let fds0 = steady_fds(&srv);
    let push = data(64 << 20, 7);
    let mut c = client(&t, &pki, srv.port, &[], &["s6-ioconnect"]);
    c.stdin(stdin_file(pki.dir.path(), "push", &push))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut c);
    let mut lines = BufReader::new(p.child.as_mut().unwrap().stdout.take().unwrap());
    let mut l = String::new();
    lines.read_line(&mut l).unwrap();
    assert_eq!(l, "first\n");
    let conn = *srv.children().first().expect("no connection");
    let engine = find_in_tree(conn, "s6-tlsd-io", LIMIT);
    // The push is stuck on the full pipe and sockets: engines idle.
    std::thread::sleep(Duration::from_millis(500));
    assert_idle_for(engine.pid, Duration::from_millis(500), "server engine");
    assert!(
        p.try_wait(Duration::ZERO).is_none(),
        "the push did not block"
    );
    let rss = peak_rss_kib(engine.pid);
    assert!(rss < 16 * 1024, "server engine peak RSS {rss} KiB");
    std::fs::write(&go, b"").unwrap();
    let mut rest = String::new();
    lines.read_to_string(&mut rest).unwrap();
    assert_eq!(rest, "second\nbye\n");
    let (code, err) = p.finish(T);
    assert_eq!(code, 0, "{err}");
    settle(&srv, fds0, &t);
}

/// A TLS client holding a connection open: it prints what the server's
/// first line was, and ends when killed.
fn holder(t: &str, pki: &Pki, port: u16) -> (Proc, String) {
    let mut c = client(t, pki, port, &[], &shell("exec cat <&6"));
    c.stdout(Stdio::piped()).stderr(Stdio::null());
    let mut p = Proc::spawn(&mut c);
    let mut r = BufReader::new(p.child.as_mut().unwrap().stdout.take().unwrap());
    let mut l = String::new();
    r.read_line(&mut l).unwrap();
    (p, l)
}

#[test]
fn a_flood_past_the_per_ip_limit_is_turned_away_at_once() {
    let pki = Pki::new();
    let (srv, t) = tagged_tls_server(&pki, &["-C", "2", "-c", "10"], &shell("echo up; exec cat"));
    let fds0 = steady_fds(&srv);
    let holders: Vec<_> = (0..2).map(|_| holder(&t, &pki, srv.port)).collect();
    for (_, l) in &holders {
        assert_eq!(l, "up\n");
    }
    let t0 = Instant::now();
    let mut flood: Vec<_> = (0..30)
        .map(|_| connect_from("127.0.0.1", srv.addr("127.0.0.1")))
        .collect();
    for s in &mut flood {
        assert_eq!(read_to_eof(s, T), Some(vec![]), "closed without a word");
    }
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    srv.wait_log("reject 127.0.0.1", 30);
    // Another address is still served meanwhile.
    let mut other = connect_from("127.0.0.2", srv.addr("127.0.0.1"));
    other.write_all(&client_hello(&pki)).unwrap();
    let mut b = [0u8; 1];
    other.set_read_timeout(Some(T)).unwrap();
    other.read_exact(&mut b).unwrap();
    assert_eq!(b[0], 22, "a ServerHello");
    drop((other, flood, holders));
    settle(&srv, fds0, &t);
    let (code, err, out) = client_run(&t, &pki, srv.port, "exec 7>&-; cat <&6", b"");
    assert_eq!((code, out.as_slice()), (0, &b"up\n"[..]), "{err}");
    settle(&srv, fds0, &t);
    assert!(
        Pid::of(srv.pid()).is_some_and(|p| p.alive()),
        "the server died"
    );
}

#[test]
fn a_flood_past_the_global_limit_waits_its_turn() {
    let pki = Pki::new();
    let (srv, t) = tagged_tls_server(&pki, &["-c", "2"], &shell("echo up; exec cat"));
    let fds0 = steady_fds(&srv);
    let holders: Vec<_> = (0..2).map(|_| holder(&t, &pki, srv.port)).collect();
    let mut waiting = Vec::new();
    for i in 0..6 {
        let out = pki.path(&format!("wait{i}.out"));
        let mut c = client(
            &t,
            &pki,
            srv.port,
            &[],
            &shell("echo hi >&7; exec 7>&-; exec cat <&6"),
        );
        c.stdout(stdout_file(&out)).stderr(Stdio::piped());
        waiting.push((Proc::spawn(&mut c), out));
    }
    std::thread::sleep(Duration::from_millis(700));
    for (p, _) in &mut waiting {
        assert!(p.try_wait(Duration::ZERO).is_none(), "served past -c 2");
    }
    assert_eq!(srv.children().len(), 2);
    drop(holders);
    for (mut p, out) in waiting {
        let (code, err) = p.finish(T);
        assert_eq!(code, 0, "{err}");
        assert_eq!(read(&out), "up\nhi\n");
    }
    settle(&srv, fds0, &t);
}

#[test]
fn a_slowloris_is_cut_by_the_handshake_timeout_while_others_are_served() {
    let pki = Pki::new();
    let (srv, t) = tagged_tls_server(&pki, &["-v", "-K", "2000"], &shell("echo up; exec cat"));
    let fds0 = steady_fds(&srv);
    let hello = client_hello(&pki);
    let mut slow = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
    let t0 = Instant::now();
    let mut w = slow.try_clone().unwrap();
    let _dripper = std::thread::spawn(move || {
        for b in hello {
            if w.write_all(&[b]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    // Meanwhile a normal client is served.
    let (code, err, out) = client_run(&t, &pki, srv.port, "exec 7>&-; cat <&6", b"");
    assert_eq!((code, out.as_slice()), (0, &b"up\n"[..]), "{err}");
    // The slow one is cut after about 2 s (an alert may come first).
    let got = read_to_eof(&mut slow, Duration::from_secs(10));
    let took = t0.elapsed();
    assert!(got.is_some(), "the slowloris was not cut");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(4500),
        "cut after {took:?}"
    );
    srv.wait_log("exitcode 98", 1);
    drop(slow);
    settle(&srv, fds0, &t);
}

#[test]
fn writes_to_closed_fds_end_in_exit_codes_not_sigpipe() {
    let pki = Pki::new();
    // The notification fd's reader is gone before the handshake: both
    // engines write the block into a broken pipe, and still serve.
    let (c, s) = tcp_pair();
    let (nr, nw) = std::io::pipe().unwrap();
    drop(nr);
    let (app_r, mut app_w) = std::io::pipe().unwrap();
    let (mut out_r, out_w) = std::io::pipe().unwrap();
    let mut sc = cmd("s6-tlsd-io");
    sc.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(["-d", "5", "3", "4"])
        .stdin(owned(s.try_clone().unwrap()))
        .stdout(owned(s.try_clone().unwrap()))
        .stderr(Stdio::piped());
    with_fds(
        &mut sc,
        &[(raw(&app_r), 3), (raw(&out_w), 4), (raw(&nw), 5)],
    );
    let mut server = start(&mut sc, (s, app_r, out_w, nw));
    let (nr, nw) = std::io::pipe().unwrap();
    drop(nr);
    let mut cc = cmd("s6-tlsc-io");
    cc.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "-d", "3", "6", "7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    with_fds(&mut cc, &[(raw(&c), 6), (raw(&c), 7), (raw(&nw), 3)]);
    let mut client = start(&mut cc, (c, nw));
    let mut cin = client.child.as_mut().unwrap().stdin.take().unwrap();
    let cout = client.child.as_mut().unwrap().stdout.take().unwrap();
    cin.write_all(b"up\n").unwrap();
    let mut b = [0u8; 3];
    out_r.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"up\n");
    // Then the server app stops reading (its fd 4 reader closes) while the
    // client keeps sending: EPIPE on the server engine's app side.
    drop(out_r);
    let up = std::thread::spawn(move || {
        let chunk = vec![b'x'; 64 * 1024];
        for _ in 0..64 {
            if cin.write_all(&chunk).is_err() {
                break;
            }
        }
    });
    join(up, LIMIT);
    // And the client app has gone too: EPIPE on the client's app side.
    drop(cout);
    app_w.write_all(b"down\n").unwrap();
    drop(app_w);
    let (code, err) = server.finish(LIMIT);
    assert_ne!(code, SIGPIPE_DEATH);
    assert_eq!(code, 0, "s6-tlsd-io: {err}");
    let (code, err) = client.finish(LIMIT);
    assert_ne!(code, SIGPIPE_DEATH);
    assert_eq!(code, 0, "s6-tlsc-io: {err}");

    // s6-ioconnect copying into a closed stdout.
    let (c, mut s) = tcp_pair();
    let (r, w) = std::io::pipe().unwrap();
    drop(r);
    let mut io = cmd("s6-ioconnect");
    io.stdin(Stdio::null())
        .stdout(Stdio::from(owned(w)))
        .stderr(Stdio::piped());
    with_fds(&mut io, &[(raw(&c), 6), (raw(&c), 7)]);
    let mut io = start(&mut io, c);
    let _ = s.write_all(&data(1 << 20, 8));
    drop(s);
    let (code, _) = io.finish(LIMIT);
    assert_ne!(code, SIGPIPE_DEATH, "s6-ioconnect died of SIGPIPE");

    // s6-tcpserver-access writing its banner to a client that reset.
    let (c, s) = tcp_pair();
    reset_on_close(&c);
    drop(c);
    std::thread::sleep(Duration::from_millis(50));
    let mut acc = cmd("s6-tcpserver-access");
    acc.env("TCPREMOTEIP", "127.0.0.1")
        .env("TCPLOCALIP", "127.0.0.1")
        .env("TCPLOCALPORT", "1")
        .env("TCPREMOTEPORT", "2")
        .env("PROTO", "TCP")
        .args(["-H", "-B", &"banner\n".repeat(60), "true"])
        .stdin(owned(s.try_clone().unwrap()))
        .stdout(owned(s.try_clone().unwrap()))
        .stderr(Stdio::piped());
    let mut acc = start(&mut acc, s);
    let (code, err) = acc.finish(LIMIT);
    assert_ne!(code, SIGPIPE_DEATH, "s6-tcpserver-access died of SIGPIPE");
    assert_eq!(code, 111, "{err}");
}

/// The engine's parent (prog, after s6-tlsc/s6-tlsd exec'd into it) is
/// killed while the peer holds the connection open and idle: the engine
/// must notice that its app is gone and end, not stay as an orphan.
fn engine_ends_with_its_killed_prog(kill_client_prog: bool) {
    let pki = Pki::new();
    let d = pki.dir.path();
    let smark = d.join("server-up");
    let cmark = d.join("client-up");
    let (c, s) = tcp_pair();
    let mut server = start(
        &mut tlsd(
            &pki,
            &s,
            &[],
            &format!("echo hi; touch {}; exec sleep 30", smark.display()),
        ),
        s,
    );
    let mut client = start(
        &mut tlsc(
            &pki,
            &c,
            &["-k", "localhost"],
            &format!("read x <&6 && touch {} && exec sleep 30", cmark.display()),
        ),
        c,
    );
    wait_for_file(&smark, LIMIT);
    wait_for_file(&cmark, LIMIT);
    let (victim, name) = if kill_client_prog {
        (&mut client, "s6-tlsc-io")
    } else {
        (&mut server, "s6-tlsd-io")
    };
    let engine = find_in_tree(victim.pid(), name, LIMIT);
    kill(victim.pid(), libc::SIGKILL);
    let _ = victim.wait(LIMIT);
    let t0 = Instant::now();
    assert_gone(&[engine], Duration::from_secs(6), name);
    eprintln!("{name} ended {:?} after its prog was killed", t0.elapsed());
}

#[test]
fn the_client_engine_ends_when_its_prog_is_killed() {
    engine_ends_with_its_killed_prog(true);
}

#[test]
fn the_server_engine_ends_when_its_prog_is_killed() {
    engine_ends_with_its_killed_prog(false);
}

#[test]
fn connections_outlive_a_killed_s6_tcpserverd_and_then_leave_nothing() {
    let pki = Pki::new();
    let go = pki.path("go");
    let mark = pki.path("mark");
    let (srv, t) = tagged_tls_server(&pki, &[], &["cat"]);
    let script = format!(
        "echo one >&7; read a <&6; echo \"$a\" > {m}; \
         while [ ! -e {g} ]; do sleep 0.05; done; \
         echo two >&7; exec 7>&-; cat <&6",
        m = mark.display(),
        g = go.display()
    );
    let out = pki.path("out");
    let mut c = client(&t, &pki, srv.port, &[], &shell(&script));
    c.stdout(stdout_file(&out)).stderr(Stdio::piped());
    let mut client = Proc::spawn(&mut c);
    wait_for_file(&mark, LIMIT);
    let conn = *srv.children().first().expect("no connection");
    find_in_tree(conn, "s6-tlsd-io", LIMIT);
    // The tag reaches the engines on both sides (so the orphan checks
    // of the other tests see them).
    let names: Vec<String> = tagged(&t).iter().map(Pid::comm).collect();
    for n in ["s6-tcpserverd", "s6-tlsd-io", "s6-tlsc-io"] {
        assert!(names.iter().any(|m| m == n), "{n} not tagged: {names:?}");
    }
    let server_side = tree(srv.pid());
    let client_side = tree(client.pid());
    assert!(server_side.len() >= 3, "{server_side:?}");
    kill(srv.pid(), libc::SIGKILL);
    std::fs::write(&go, b"").unwrap();
    let (code, err) = client.finish(T);
    assert_eq!(code, 0, "{err}");
    assert_eq!(read(&mark), "one\n");
    assert_eq!(read(&out), "two\n");
    assert_gone(&server_side, Duration::from_secs(5), "server side");
    assert_gone(&client_side, Duration::from_secs(5), "client side");
    assert_none_tagged(&t, &[], Duration::from_secs(5), "both chains");
}

/// `sh -c script` as a prog for the wrappers' `&[&str]` arguments.
fn shell(script: &str) -> [&str; 3] {
    ["sh", "-c", script]
}

#[test]
fn a_wrapper_killed_mid_handshake_leaves_an_engine_bounded_by_k_or_its_peer() {
    // s6-tlsd dies (SIGKILL) while its engine waits for the rest of a
    // ClientHello. Nothing can tell the engine that no prog will ever
    // come but the peer: with -K it ends at the timeout; without, it
    // waits, idle, and ends as soon as the peer goes.
    let pki = Pki::new();
    let hello = client_hello(&pki);
    for k in [true, false] {
        let opts: &[&str] = if k { &["-K", "1000"] } else { &[] };
        let (mut c, s) = tcp_pair();
        let mut wrapper = start(&mut tlsd(&pki, &s, opts, "echo never"), s);
        c.write_all(&hello[..10]).unwrap();
        let engine = find_in_tree(wrapper.pid(), "s6-tlsd-io", LIMIT);
        kill(wrapper.pid(), libc::SIGKILL);
        let _ = wrapper.wait(LIMIT);
        if k {
            assert_gone(&[engine], Duration::from_secs(4), "engine under -K");
        } else {
            assert_idle_for(engine.pid, Duration::from_secs(1), "orphaned engine");
            assert!(engine.alive(), "the engine went without its peer closing");
            drop(c);
            assert_gone(
                &[engine],
                Duration::from_secs(2),
                "engine after its peer closed",
            );
        }
    }
}

#[test]
fn ucspi_engines_end_when_their_prog_is_killed() {
    // After STARTTLS the engine is the forked child of the program that
    // exec'd into prog: prog killed while the peer idles, it must go too.
    let pki = Pki::new();
    let d = pki.dir.path();
    // s6-ucspitlsd: prog starts TLS, says hi through it, then sleeps.
    let (peer, sock) = tcp_pair();
    let mut c = cmd("s6-ucspitlsd");
    c.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(sh(
            "printf y >&$SSLCTLFD; echo hi >&$SSLWRITEFD; exec sleep 30",
        ))
        .stdin(owned(sock.try_clone().unwrap()))
        .stdout(owned(sock.try_clone().unwrap()))
        .stderr(Stdio::null());
    let mut server = start(&mut c, sock);
    drop(c);
    let mut cli = Engine::client(&pki, peer, &["-k", "localhost"], &[]);
    let (got, _rest) = read_at_least(cli.output.take().unwrap(), 3);
    assert_eq!(got, b"hi\n");
    let engine = find_in_tree(server.pid(), "s6-tlsd-io", LIMIT);
    kill(server.pid(), libc::SIGKILL);
    let _ = server.wait(LIMIT);
    assert_gone(&[engine], Duration::from_secs(6), "s6-ucspitlsd's engine");

    // s6-ucspitlsc: prog starts TLS, reads the server's line, then sleeps.
    let mark = d.join("read");
    let (cs, ss) = tcp_pair();
    let mut srv = Engine::server(&pki, ss, &[], &[]);
    let mut c = cmd("s6-ucspitlsc");
    c.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost"])
        .args(sh(&format!(
            "printf y >&$SSLCTLFD; read x <&$SSLREADFD; touch {}; exec sleep 30",
            mark.display()
        )))
        .stderr(Stdio::null());
    with_fds(&mut c, &[(raw(&cs), 6), (raw(&cs), 7)]);
    let mut client = start(&mut c, cs);
    srv.input.as_mut().unwrap().write_all(b"hello\n").unwrap();
    wait_for_file(&mark, LIMIT);
    let engine = find_in_tree(client.pid(), "s6-tlsc-io", LIMIT);
    kill(client.pid(), libc::SIGKILL);
    let _ = client.wait(LIMIT);
    assert_gone(&[engine], Duration::from_secs(6), "s6-ucspitlsc's engine");
}

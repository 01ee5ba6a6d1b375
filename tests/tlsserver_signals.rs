//! The super-server's signals on s6-tlsserver, whose children are not the
//! prog of a plain s6-tcpserver: each connection is s6-tlsd exec'd into
//! prog, with the s6-tlsd-io engine as prog's child. With a live TLS
//! connection open, each signal's effect on prog, its engine and the
//! server, and that no process is left once the client is gone.

mod common;
mod tcp_support;
use common::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};
use tcp_support::*;

/// A TLS connection to the server, driven through a client engine: lines
/// written to it, lines read from it (None at EOF).
struct Conn {
    engine: Engine,
    input: Box<dyn Write + Send>,
    lines: mpsc::Receiver<Option<String>>,
}

impl Conn {
    fn open(pki: &Pki, srv: &Server) -> Conn {
        let sock = TcpStream::connect(srv.addr("127.0.0.1")).unwrap();
        let mut engine = Engine::client(pki, sock, &["-k", "localhost"], &[]);
        let input = engine.input.take().unwrap();
        let output = engine.output.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in BufReader::new(output).lines() {
                match l {
                    Ok(l) => {
                        let _ = tx.send(Some(l));
                    }
                    Err(_) => break,
                }
            }
            let _ = tx.send(None);
        });
        Conn {
            engine,
            input,
            lines,
        }
    }

    fn line(&self) -> Option<String> {
        self.lines
            .recv_timeout(T)
            .unwrap_or_else(|_| panic!("nothing from the server in {T:?}"))
    }

    fn say(&mut self, l: &str) {
        self.input.write_all(format!("{l}\n").as_bytes()).unwrap();
        self.input.flush().unwrap();
    }

    /// The client ends the connection; its engine must then exit cleanly.
    fn close(mut self) {
        drop(self.input);
        let _ = self.engine.finish();
    }
}

/// prog: logs the SIGTERM it gets, says "up", echoes lines.
fn trap_prog(log: &Path) -> Vec<String> {
    sh(&format!(
        "trap 'echo TERM >> {}; exit 0' TERM; echo up; \
         while read -r x; do echo \"got $x\"; done",
        log.display()
    ))
    .to_vec()
}

/// A connection's processes: prog (the server's child) and its engine.
struct Tree {
    prog: u32,
    engine: u32,
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Running, as opposed to gone or a zombie waiting for its reaper.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|st| !st[st.rfind(')').unwrap()..].starts_with(") Z"))
}

fn wait_gone(pid: u32, what: &str) {
    let end = Instant::now() + T;
    while alive(pid) {
        assert!(Instant::now() < end, "{what} ({pid}) still running");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Starts s6-tlsserver -v with the trap prog and opens `n` connections,
/// each answered "up" then echoing; returns their process trees too.
fn start(pki: &Pki, log: &Path, n: usize) -> (Server, Vec<Conn>, Vec<Tree>) {
    let prog = trap_prog(log);
    let prog: Vec<&str> = prog.iter().map(String::as_str).collect();
    let srv = tls_server(pki, "127.0.0.1", &["-v"], &prog);
    let mut conns = Vec::new();
    for _ in 0..n {
        let mut c = Conn::open(pki, &srv);
        assert_eq!(c.line().as_deref(), Some("up"));
        c.say("hello");
        assert_eq!(c.line().as_deref(), Some("got hello"));
        conns.push(c);
    }
    let mut trees = Vec::new();
    for prog in srv.children() {
        let kids = children(prog);
        assert_eq!(
            kids.len(),
            1,
            "prog {prog} should have one child, its engine"
        );
        let engine = kids[0];
        assert_eq!(comm(engine), "s6-tlsd-io");
        trees.push(Tree { prog, engine });
    }
    assert_eq!(trees.len(), n);
    (srv, conns, trees)
}

/// The client sees its connection end: EOF after the engine's shutdown.
fn ends(c: &Conn) {
    assert_eq!(c.line(), None, "the connection should end");
}

#[test]
fn sigterm_leaves_the_tls_connections_running() {
    let pki = Pki::new();
    let log = pki.path("traps");
    let (mut srv, mut conns, trees) = start(&pki, &log, 2);
    srv.signal(libc::SIGTERM);
    assert_eq!(code_of(srv.proc.wait(T)), 0, "{}", srv.log());
    // No new connections: the socket is closed.
    assert!(TcpStream::connect(srv.addr("127.0.0.1")).is_err());
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(read(&log), "", "prog untouched");
    // The TLS connections still carry data both ways.
    for c in &mut conns {
        c.say("still there");
        assert_eq!(c.line().as_deref(), Some("got still there"));
    }
    // Each ends when its client does, prog and engine alike.
    for (c, t) in conns.into_iter().zip(&trees) {
        assert!(alive(t.prog) && alive(t.engine));
        c.close();
        wait_gone(t.prog, "prog");
        wait_gone(t.engine, "engine");
    }
    let log = srv.log();
    assert!(!log.contains("fatal"), "{log}");
}

#[test]
fn sighup_ends_the_tls_connections_and_keeps_serving() {
    let pki = Pki::new();
    let log = pki.path("traps");
    let (srv, conns, trees) = start(&pki, &log, 2);
    srv.signal(libc::SIGHUP);
    // prog gets SIGTERM; its engine sees prog's end and closes the
    // connection, so the client sees EOF.
    let end = Instant::now() + T;
    while read(&log).lines().count() < 2 {
        assert!(Instant::now() < end, "traps: {:?}", read(&log));
        std::thread::sleep(Duration::from_millis(10));
    }
    for c in &conns {
        ends(c);
    }
    for (c, t) in conns.into_iter().zip(&trees) {
        c.close();
        wait_gone(t.prog, "prog");
        wait_gone(t.engine, "engine");
    }
    srv.wait_log("end pid", 2);
    // Still serving, with nothing left of the old connections.
    assert!(srv.children().is_empty(), "{:?}", srv.children());
    let mut c = Conn::open(&pki, &srv);
    assert_eq!(c.line().as_deref(), Some("up"));
    c.say("again");
    assert_eq!(c.line().as_deref(), Some("got again"));
    c.close();
    let log = srv.log();
    assert!(!log.contains("fatal"), "{log}");
}

#[test]
fn sigquit_ends_the_tls_connections_and_exits() {
    let pki = Pki::new();
    let log = pki.path("traps");
    let (mut srv, conns, trees) = start(&pki, &log, 2);
    srv.signal(libc::SIGQUIT);
    assert_eq!(code_of(srv.proc.wait(T)), 0, "{}", srv.log());
    assert!(TcpStream::connect(srv.addr("127.0.0.1")).is_err());
    for c in &conns {
        ends(c);
    }
    assert_eq!(read(&log), "TERM\nTERM\n");
    for (c, t) in conns.into_iter().zip(&trees) {
        c.close();
        wait_gone(t.prog, "prog");
        wait_gone(t.engine, "engine");
    }
}

#[test]
fn sigabrt_kills_the_progs_and_exits() {
    let pki = Pki::new();
    let log = pki.path("traps");
    let (mut srv, conns, trees) = start(&pki, &log, 2);
    srv.signal(libc::SIGABRT);
    assert_eq!(code_of(srv.proc.wait(T)), 0, "{}", srv.log());
    assert!(TcpStream::connect(srv.addr("127.0.0.1")).is_err());
    // prog is SIGKILLed (no trap runs); its engine, which the server does
    // not know about, sees prog's pipes close and ends the connection.
    for t in &trees {
        wait_gone(t.prog, "prog");
    }
    for c in &conns {
        ends(c);
    }
    assert_eq!(read(&log), "", "SIGKILL leaves no chance to trap");
    for (c, t) in conns.into_iter().zip(&trees) {
        c.close();
        wait_gone(t.engine, "engine");
    }
}

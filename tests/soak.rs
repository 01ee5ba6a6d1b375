//! Soak: thousands of sequential TLS connections through one s6-tlsserver
//! must leave s6-tcpserverd's fds and memory where they were, and 50
//! concurrent connections moving 4 MiB each way must all arrive intact.
//! Figures are printed (run with --nocapture to see them).

mod common;
mod tcp_support;
use common::*;
use std::time::{Duration, Instant};
use tcp_support::*;

const SEQUENTIAL: usize = 2000;
const CONCURRENT: usize = 50;
const EACH: usize = 4 << 20;

fn one_connection(pki: &Pki, port: u16, i: usize) {
    let msg = format!("connection {i}\n");
    let out = pki.path("seq.out");
    let mut c = tls_client(pki, "127.0.0.1", port, &[], &["s6-ioconnect"]);
    c.stdin(stdin_file(pki.dir.path(), "seq.in", msg.as_bytes()))
        .stdout(stdout_file(&out));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0, "connection {i}");
    assert_eq!(read(&out), msg, "connection {i}");
}

fn settle(srv: &Server) {
    let end = Instant::now() + T;
    while !srv.children().is_empty() {
        assert!(Instant::now() < end, "children left: {:?}", srv.children());
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn thousands_of_connections_leave_no_trace() {
    let pki = Pki::new();
    let srv = tls_server(&pki, "127.0.0.1", &["-c", "64", "-C", "64"], &["cat"]);
    for i in 0..20 {
        one_connection(&pki, srv.port, i);
    }
    settle(&srv);
    let (fds0, rss0) = (srv.fds(), srv.rss_kib());

    let start = Instant::now();
    for i in 0..SEQUENTIAL {
        one_connection(&pki, srv.port, i);
    }
    let seq_time = start.elapsed();
    settle(&srv);
    let (fds1, rss1) = (srv.fds(), srv.rss_kib());
    eprintln!(
        "soak: {SEQUENTIAL} sequential connections in {seq_time:?}; \
         s6-tcpserverd fds {fds0} -> {fds1}, VmRSS {rss0} -> {rss1} KiB"
    );
    assert_eq!(fds0, fds1, "fd leak");
    assert!(rss1 <= rss0 + 256, "memory grew: {rss0} -> {rss1} KiB");

    // 50 at once, 4 MiB each way, each with its own bytes.
    let start = Instant::now();
    let mut clients = Vec::new();
    for i in 0..CONCURRENT {
        let up = data(EACH, 100 + i as u64);
        let out = pki.path(&format!("conc{i}.out"));
        let mut c = tls_client(&pki, "127.0.0.1", srv.port, &[], &["s6-ioconnect"]);
        c.stdin(stdin_file(pki.dir.path(), &format!("conc{i}.in"), &up))
            .stdout(stdout_file(&out));
        clients.push((Proc::spawn(&mut c), up, out));
    }
    for (i, (mut p, up, out)) in clients.into_iter().enumerate() {
        assert_eq!(code_of(p.wait(Duration::from_secs(300))), 0, "client {i}");
        assert_same(&std::fs::read(&out).unwrap(), &up, &format!("client {i}"));
    }
    let conc_time = start.elapsed();
    settle(&srv);
    let (fds2, rss2) = (srv.fds(), srv.rss_kib());
    eprintln!(
        "soak: {CONCURRENT} concurrent x {} MiB each way in {conc_time:?}; \
         s6-tcpserverd fds {fds2}, VmRSS {rss2} KiB",
        EACH >> 20
    );
    assert_eq!(fds0, fds2, "fd leak after the concurrent run");
    // The concurrent run held 50 children in the server's maps at once,
    // which it gives back when they end: its memory must come back to
    // where the sequential run left it, within the same noise margin
    // (measured here: 2288 -> 2288 KiB). A leak per concurrent connection
    // (a buffer, a connection record) times 50 would show above that.
    assert!(
        rss2 <= rss1 + 256,
        "memory grew over the concurrent run: {rss0} -> {rss1} -> {rss2} KiB"
    );
    assert!(!srv.log().contains("warning"), "{}", srv.log());
}

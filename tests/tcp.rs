//! The TCP side end to end over loopback: s6-tcpclient, the s6-tcpserver
//! chain (socket binder, s6-tcpserverd), s6-applyuidgid, s6-ioconnect.

mod common;
mod tcp_support;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tcp_support::*;

fn tcp_server(dir: &std::path::Path, ip: &str, extra: &[&str], prog: &[&str]) -> Server {
    // -u/-g: s6-tcpserverd is exec'd after the privileges are dropped.
    let mut c = cmd_at(&runnable_by_others("s6-tcpserver"));
    c.arg("-1").args(extra).args([ip, "0"]).args(prog);
    Server::start(&mut c, &dir.join(format!("tcpserver-{}.log", unique())))
}

/// A prog that announces itself, then echoes.
const UP_THEN_CAT: &[&str] = &["sh", "-c", "echo up $TCPCONNNUM; exec cat"];

#[test]
fn server_environment_and_client_environment() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &["-v"], &["env"]);
    let out = dir.path().join("out");
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "127.0.0.1", &srv.port.to_string(), "sh", "-c"])
        .arg(format!(
            "env > {0}.client; cat <&6 > {0}.server",
            out.display()
        ));
    let mut c = Proc::spawn(&mut c);
    assert_eq!(code_of(c.wait(T)), 0);
    let client = env_of(&read(&out.with_extension("client")));
    let server = env_of(&read(&out.with_extension("server")));
    let port = srv.port.to_string();
    assert_eq!(server["PROTO"], "TCP");
    assert_eq!(server["TCPLOCALIP"], "127.0.0.1");
    assert_eq!(server["TCPLOCALPORT"], port);
    assert_eq!(server["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(server["TCPREMOTEPORT"], client["TCPLOCALPORT"]);
    assert_eq!(server["TCPCONNNUM"], "0");
    assert_eq!(client["PROTO"], "TCP");
    assert_eq!(client["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(client["TCPREMOTEPORT"], port);
    assert_eq!(client["TCPLOCALIP"], "127.0.0.1");
    assert!(!client.contains_key("TCPREMOTEHOST"), "-H: no lookups");
    assert!(!client.contains_key("TCPLOCALHOST"));
    // -v: one line per accept and per end.
    srv.wait_log("end pid", 1);
    let log = srv.log();
    assert!(
        log.contains("s6-tcpserverd: info: accept 127.0.0.1 port"),
        "{log}"
    );
    assert!(log.contains("exitcode 0"), "{log}");
}

#[test]
fn client_local_options_and_names() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &[], &["env"]);
    let out = dir.path().join("env");
    // -i/-p choose the local address; -l names it; -D sets TCP_NODELAY.
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "-D", "-i", "127.0.0.2", "-l", "me.test", "-T", "3+0"])
        .args(["127.0.0.1", &srv.port.to_string(), "sh", "-c"])
        .arg(format!("env > {}", out.display()));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0);
    let e = env_of(&read(&out));
    assert_eq!(e["TCPLOCALIP"], "127.0.0.2");
    assert_eq!(e["TCPLOCALHOST"], "me.test");
    // IDENT is not supported: -r warns and goes on without TCPREMOTEINFO.
    let mut c = cmd("s6-tcpclient");
    c.env("TCPREMOTEINFO", "stale")
        .args(["-H", "-r", "127.0.0.1", &srv.port.to_string(), "sh", "-c"])
        .arg(format!("env > {}", out.display()));
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("s6-tcpclient: warning: IDENT lookups (-r) are not supported"),
        "{err}"
    );
    assert!(!env_of(&read(&out)).contains_key("TCPREMOTEINFO"));
    // Without -H the names come from the hosts file (127.0.0.1 is
    // localhost there), so no query leaves the machine.
    let mut c = cmd("s6-tcpclient");
    c.args(["127.0.0.1", &srv.port.to_string(), "sh", "-c"])
        .arg(format!("env > {}", out.display()));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0);
    let e = env_of(&read(&out));
    assert_eq!(
        e.get("TCPREMOTEHOST").map(String::as_str),
        Some("localhost")
    );
}

#[test]
fn connection_numbers_count_per_ip() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &[], UP_THEN_CAT);
    let to = srv.addr("127.0.0.1");
    let mut a = connect_from("127.0.0.1", to);
    assert_eq!(read_line(&mut a, T).unwrap(), "up 0");
    let mut b = connect_from("127.0.0.1", to);
    assert_eq!(read_line(&mut b, T).unwrap(), "up 1");
    let mut c = connect_from("127.0.0.3", to);
    assert_eq!(read_line(&mut c, T).unwrap(), "up 0");
    b.write_all(b"echo\n").unwrap();
    assert_eq!(read_line(&mut b, T).unwrap(), "echo");
}

#[test]
fn local_limit_closes_the_extra_connection_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &["-C", "1"], UP_THEN_CAT);
    let to = srv.addr("127.0.0.1");
    let mut a = connect_from("127.0.0.1", to);
    assert_eq!(read_line(&mut a, T).unwrap(), "up 0");
    let start = Instant::now();
    let mut b = connect_from("127.0.0.1", to);
    assert_eq!(
        read_to_eof(&mut b, T),
        Some(vec![]),
        "closed without a word"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    srv.wait_log("warning: reject 127.0.0.1", 1);
    // Another address is not limited by this one.
    let mut other = connect_from("127.0.0.2", to);
    assert_eq!(read_line(&mut other, T).unwrap(), "up 0");
    // Once the first connection ends, the address may connect again.
    drop(a);
    let end = Instant::now() + T;
    loop {
        let mut c = connect_from("127.0.0.1", to);
        if let Some(l) = read_line(&mut c, T) {
            assert_eq!(l, "up 0");
            break;
        }
        assert!(Instant::now() < end, "never accepted again");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn global_limit_leaves_new_clients_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &["-c", "1"], UP_THEN_CAT);
    let to = srv.addr("127.0.0.1");
    let mut a = connect_from("127.0.0.1", to);
    assert_eq!(read_line(&mut a, T).unwrap(), "up 0");
    let mut b = connect_from("127.0.0.2", to);
    assert_eq!(
        read_line(&mut b, Duration::from_millis(500)),
        None,
        "not accepted while at the limit"
    );
    drop(a);
    assert_eq!(
        read_line(&mut b, T).unwrap(),
        "up 0",
        "accepted once a slot frees"
    );
}

fn trap_prog(log: &std::path::Path) -> Vec<String> {
    vec![
        "sh".into(),
        "-c".into(),
        format!(
            "trap 'echo TERM >> {}; exit 0' TERM; echo up $TCPCONNNUM; while read -r x; do :; done",
            log.display()
        ),
    ]
}

fn start_trapped(dir: &std::path::Path, log: &std::path::Path) -> (Server, Vec<TcpStream>) {
    let prog = trap_prog(log);
    let prog: Vec<&str> = prog.iter().map(String::as_str).collect();
    let srv = tcp_server(dir, "127.0.0.1", &["-v"], &prog);
    let mut conns = Vec::new();
    for i in 0..2 {
        let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
        assert_eq!(read_line(&mut s, T).unwrap(), format!("up {i}"));
        conns.push(s);
    }
    (srv, conns)
}

fn wait_lines(p: &std::path::Path, n: usize) {
    let end = Instant::now() + T;
    while read(p).lines().count() < n {
        assert!(Instant::now() < end, "only {:?}", read(p));
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn sigterm_stops_accepting_and_leaves_children_alone() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traps");
    let (mut srv, mut conns) = start_trapped(dir.path(), &log);
    let kids = srv.children();
    assert_eq!(kids.len(), 2);
    srv.signal(libc::SIGTERM);
    assert_eq!(code_of(srv.proc.wait(T)), 0);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(read(&log), "", "children untouched");
    // They still hold their connections: ending them is up to the client.
    for s in &mut conns {
        assert_eq!(read_line(s, Duration::from_millis(200)), None);
    }
    // Ending them is up to the clients: the children see EOF and exit.
    drop(conns);
    let end = Instant::now() + T;
    for pid in kids {
        while std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .is_ok_and(|st| !st.contains(") Z "))
        {
            assert!(Instant::now() < end, "child {pid} still running");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

#[test]
fn sighup_terminates_children_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traps");
    let (srv, mut conns) = start_trapped(dir.path(), &log);
    srv.signal(libc::SIGHUP);
    wait_lines(&log, 2);
    for s in &mut conns {
        assert_eq!(read_to_eof(s, T), Some(vec![]));
    }
    srv.wait_log("end pid", 2);
    let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
    assert_eq!(read_line(&mut s, T).unwrap(), "up 0");
}

#[test]
fn sigquit_terminates_children_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traps");
    let (mut srv, _conns) = start_trapped(dir.path(), &log);
    srv.signal(libc::SIGQUIT);
    assert_eq!(code_of(srv.proc.wait(T)), 0);
    wait_lines(&log, 2);
}

#[test]
fn sigabrt_kills_children_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("traps");
    let (mut srv, mut conns) = start_trapped(dir.path(), &log);
    srv.signal(libc::SIGABRT);
    assert_eq!(code_of(srv.proc.wait(T)), 0);
    for s in &mut conns {
        assert_eq!(read_to_eof(s, T), Some(vec![]), "connection dropped");
    }
    assert_eq!(read(&log), "", "SIGKILL leaves no chance to trap");
}

#[test]
fn ipv6_and_mapped_addresses() {
    if !have_ipv6() {
        eprintln!("no IPv6 loopback here: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "::1", &[], &["env"]);
    let out = dir.path().join("env");
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "-6", "::1", &srv.port.to_string(), "sh", "-c"])
        .arg(format!("cat <&6 > {}", out.display()));
    assert_eq!(code_of(Proc::spawn(&mut c).wait(T)), 0);
    let e = env_of(&read(&out));
    assert_eq!(e["TCPREMOTEIP"], "::1");
    assert_eq!(e["TCPLOCALIP"], "::1");
    // A dual-stack server sees IPv4 clients as IPv4.
    let srv = tcp_server(dir.path(), "::", &[], &["env"]);
    let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
    let e = env_of(&String::from_utf8(read_to_eof(&mut s, T).unwrap()).unwrap());
    assert_eq!(e["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(e["TCPLOCALIP"], "127.0.0.1");
}

fn expect_fail(name: &str, args: &[&str], code: i32, msg: &str) {
    let mut c = cmd(name);
    c.args(args).stdin(Stdio::null());
    let (got, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    assert_eq!(got, code, "{name} {args:?}: {err}");
    let first = err.lines().next().unwrap_or("");
    assert!(
        first.starts_with(&format!("{name}: ")) && err.contains(msg),
        "{name} {args:?}: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn client_bad_input() {
    expect_fail(
        "s6-tcpclient",
        &["-X", "h", "1", "true"],
        100,
        "unknown option -X",
    );
    expect_fail(
        "s6-tcpclient",
        &["127.0.0.1", "70000", "true"],
        100,
        "invalid port number: 70000",
    );
    expect_fail(
        "s6-tcpclient",
        &["127.0.0.1", "x", "true"],
        100,
        "invalid port number",
    );
    expect_fail(
        "s6-tcpclient",
        &["-i", "1.2.3", "127.0.0.1", "1", "true"],
        100,
        "invalid local IP",
    );
    expect_fail(
        "s6-tcpclient",
        &["-T", "2+", "127.0.0.1", "1", "true"],
        100,
        "-T needs x+y",
    );
    expect_fail(
        "s6-tcpclient",
        &["-t", "soon", "127.0.0.1", "1", "true"],
        100,
        "invalid number",
    );
    expect_fail("s6-tcpclient", &["127.0.0.1", "1"], 100, "usage:");
    expect_fail(
        "s6-tcpclient",
        &["-H", "localhost", "1", "true"],
        100,
        "must be an IP address",
    );
    expect_fail(
        "s6-tcpclient",
        &["-4", "::1", "1", "true"],
        100,
        "no suitable IP address",
    );
    // A label over 63 characters: the resolver refuses it without
    // sending any query.
    let name = format!("{}.invalid", "a".repeat(70));
    expect_fail(
        "s6-tcpclient",
        &[&name, "443", "true"],
        111,
        "unable to resolve",
    );
}

#[test]
fn client_refused_and_timed_out() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let p = port.to_string();
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "127.0.0.1", &p, "true"]);
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    assert_eq!(code, 111, "{err}");
    assert!(
        err.contains(&format!(
            "unable to connect to 127.0.0.1 port {p}: Connection refused"
        )),
        "{err}"
    );
    assert!(
        err.contains("s6-tcpclient: fatal: unable to connect to a suitable IP address"),
        "{err}"
    );

    // A server at its -c limit with a full accept queue (-b 1): the
    // kernel drops new SYNs, so the connect hangs until the timeout.
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(
        dir.path(),
        "127.0.0.1",
        &["-c", "1", "-b", "1"],
        &["sleep", "60"],
    );
    let to = srv.addr("127.0.0.1");
    let _held = connect_from("127.0.0.1", to);
    let mut fill = Vec::new();
    for _ in 0..4 {
        if let Ok(s) = TcpStream::connect_timeout(&to, Duration::from_millis(300)) {
            fill.push(s);
        }
    }
    let port = srv.port;
    let start = Instant::now();
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "-T", "1+0", "127.0.0.1", &port.to_string(), "true"]);
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    let took = start.elapsed();
    assert_eq!(code, 111, "{err}");
    assert!(err.contains("timed out"), "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // The global -t caps the connection timeouts.
    let start = Instant::now();
    let mut c = cmd("s6-tcpclient");
    c.args([
        "-H",
        "-t",
        "1",
        "-T",
        "30+30",
        "127.0.0.1",
        &port.to_string(),
        "true",
    ]);
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    let took = start.elapsed();
    assert_eq!(code, 111, "{err}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn server_bad_input() {
    expect_fail(
        "s6-tcpserver",
        &["-X", "127.0.0.1", "0", "true"],
        100,
        "unknown option -X",
    );
    expect_fail(
        "s6-tcpserver",
        &["1.2.3", "0", "true"],
        100,
        "invalid IP address: 1.2.3",
    );
    expect_fail(
        "s6-tcpserver",
        &["localhost", "0", "true"],
        100,
        "invalid IP address",
    );
    expect_fail(
        "s6-tcpserver",
        &["127.0.0.1", "65536", "true"],
        100,
        "invalid port number",
    );
    expect_fail("s6-tcpserver", &["127.0.0.1", "0"], 100, "usage:");
    expect_fail(
        "s6-tcpserver",
        &["-c", "many", "127.0.0.1", "0", "true"],
        100,
        "invalid number",
    );
    expect_fail(
        "s6-tcpserver",
        &["-G", "1,x", "127.0.0.1", "0", "true"],
        100,
        "invalid group list",
    );
    expect_fail("s6-tcpserverd", &["true"], 100, "stdin is not a socket");
    expect_fail("s6-tcpserverd", &[], 100, "usage:");
    expect_fail(
        "s6-tcpserver-socketbinder",
        &["::1", "x", "true"],
        100,
        "invalid port number",
    );
    // A port already taken, without SO_REUSEADDR.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let p = l.local_addr().unwrap().port().to_string();
    expect_fail(
        "s6-tcpserver-socketbinder",
        &["-D", "127.0.0.1", &p, "true"],
        111,
        &format!("unable to bind to 127.0.0.1 port {p}"),
    );
    // A prog that cannot run: the server warns and goes on serving.
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &[], &["/nonexistent/prog"]);
    for _ in 0..2 {
        let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
        assert_eq!(read_to_eof(&mut s, T), Some(vec![]));
    }
    srv.wait_log("unable to spawn /nonexistent/prog", 2);
}

#[test]
fn applyuidgid_drops_privileges_in_order() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: skipped");
        return;
    }
    let out = |c: &mut std::process::Command| {
        let o = c.output().unwrap();
        (
            code_of(o.status),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let mut c = cmd("s6-applyuidgid");
    c.args([
        "-u",
        "65534",
        "-g",
        "65533",
        "-G",
        "65530,65531",
        "sh",
        "-c",
        "id -u; id -g; id -G",
    ]);
    let (code, o, e) = out(&mut c);
    assert_eq!(code, 0, "{e}");
    assert_eq!(o, "65534\n65533\n65533 65530 65531\n");
    let mut c = cmd("s6-applyuidgid");
    c.env("UID", "65534")
        .env("GID", "65534")
        .env("GIDLIST", "")
        .args([
            "-Uz",
            "sh",
            "-c",
            "id -u; id -G; echo ${UID-unset} ${GID-unset} ${GIDLIST-unset}",
        ]);
    let (code, o, e) = out(&mut c);
    assert_eq!(code, 0, "{e}");
    assert_eq!(o, "65534\n65534\nunset unset unset\n");
    expect_fail("s6-applyuidgid", &["-U", "true"], 100, "UID not set");
    expect_fail(
        "s6-applyuidgid",
        &["-u", "x", "true"],
        100,
        "invalid number",
    );
    expect_fail("s6-applyuidgid", &[], 100, "usage:");
}

#[test]
fn server_drops_privileges_before_serving() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(
        dir.path(),
        "127.0.0.1",
        &["-u", "65534", "-g", "65534"],
        &["sh", "-c", "id -u; id -g"],
    );
    let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
    assert_eq!(read_to_eof(&mut s, T).unwrap(), b"65534\n65534\n");
    let status = std::fs::read_to_string(format!("/proc/{}/status", srv.pid())).unwrap();
    assert!(
        status
            .lines()
            .any(|l| l.starts_with("Uid:") && l.contains("65534")),
        "{status}"
    );
}

#[test]
fn ioconnect_copies_both_ways_and_half_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (mine, theirs) = tcp_pair();
    let up = data(3 << 20, 1);
    let down = data(5 << 20, 2);
    let out = dir.path().join("out");
    let mut c = cmd("s6-ioconnect");
    c.stdin(stdin_file(dir.path(), "in", &up))
        .stdout(stdout_file(&out));
    with_fds(&mut c, &[(raw(&theirs), 6), (raw(&theirs), 7)]);
    let mut c = Proc::spawn(&mut c);
    drop(theirs);
    // Our side reads everything up to EOF (the half-close), then answers.
    let mut got = Vec::new();
    let mut r = mine.try_clone().unwrap();
    r.read_to_end(&mut got).unwrap();
    assert_same(&got, &up, "stdin to fd 7");
    send_all_then_shutdown(mine, down.clone()).join().unwrap();
    assert_eq!(code_of(c.wait(T)), 0);
    assert_same(&std::fs::read(&out).unwrap(), &down, "fd 6 to stdout");
    // -t: nothing moves for that long, it gives up.
    let (_keep, idle) = tcp_pair();
    let (r, w) = rustix::pipe::pipe().unwrap();
    let mut c = cmd("s6-ioconnect");
    c.args(["-t", "300"])
        .stdin(Stdio::from(r))
        .stdout(Stdio::null());
    with_fds(&mut c, &[(raw(&idle), 6), (raw(&idle), 7)]);
    let start = Instant::now();
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("s6-ioconnect: fatal: timed out"), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(250));
    drop(w);
    expect_fail("s6-ioconnect", &["-r", "1"], 100, "3 or more");
    expect_fail("s6-ioconnect", &["extra"], 100, "usage:");
}

fn set_nofile(pid: u32, n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: 4096.max(n),
    };
    // SAFETY: prlimit(2) on our own child, reading one live rlimit.
    let r = unsafe { libc::prlimit(pid as i32, libc::RLIMIT_NOFILE, &lim, std::ptr::null_mut()) };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
}

#[test]
fn out_of_fds_pauses_accepting_instead_of_spinning() {
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &[], UP_THEN_CAT);
    // No fd left for a new connection.
    set_nofile(srv.pid(), srv.lowest_free_fd());
    let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
    srv.wait_log("unable to accept", 1);
    std::thread::sleep(Duration::from_millis(2500));
    let tries = srv.log().matches("unable to accept").count();
    assert!(
        tries <= 4,
        "{tries} accept attempts in 2.5 s: {}",
        srv.log()
    );
    // Once fds are back, the waiting client is served.
    set_nofile(srv.pid(), 1024);
    assert_eq!(read_line(&mut s, T).unwrap(), "up 0");
}

#[test]
fn client_connects_to_a_host_name() {
    // Without -H, host may be a name: localhost, from /etc/hosts, so no
    // query leaves the machine. The names of both ends are looked up too.
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &[], &["env"]);
    let out = dir.path().join("env");
    let mut c = cmd("s6-tcpclient");
    c.args(["localhost", &srv.port.to_string(), "sh", "-c"])
        .arg(format!(
            "env > {0}.client; cat <&6 > {0}.server",
            out.display()
        ));
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    assert_eq!(code, 0, "{err}");
    let client = env_of(&read(&out.with_extension("client")));
    let server = env_of(&read(&out.with_extension("server")));
    let port = srv.port.to_string();
    assert_eq!(client["PROTO"], "TCP");
    assert_eq!(client["TCPREMOTEIP"], "127.0.0.1");
    assert_eq!(client["TCPREMOTEPORT"], port);
    assert_eq!(client["TCPREMOTEHOST"], "localhost");
    assert_eq!(client["TCPLOCALIP"], "127.0.0.1");
    assert_eq!(client["TCPLOCALHOST"], "localhost");
    assert_eq!(client["TCPLOCALPORT"], server["TCPREMOTEPORT"]);
    assert!(!client.contains_key("TCPREMOTEINFO"));
    // -4 with a name works the same; -6 finds no address for it when the
    // hosts file has only the IPv4 one.
    let mut c = cmd("s6-tcpclient");
    c.args(["-4", "localhost", &port, "true"]);
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    assert_eq!(code, 0, "{err}");
    if !read(std::path::Path::new("/etc/hosts"))
        .lines()
        .any(|l| l.starts_with("::1") && l.contains("localhost"))
    {
        expect_fail(
            "s6-tcpclient",
            &["-6", "localhost", &port, "true"],
            100,
            "no suitable IP address for localhost",
        );
    }
}

#[test]
fn client_local_port() {
    // -p chooses the local port: the client's TCPLOCALPORT and the
    // server's TCPREMOTEPORT are that port.
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(dir.path(), "127.0.0.1", &[], &["env"]);
    let out = dir.path().join("env");
    for with_ip in [false, true] {
        let local = free_port();
        let mut c = cmd("s6-tcpclient");
        c.arg("-H");
        if with_ip {
            c.args(["-i", "127.0.0.2"]);
        }
        c.args(["-p", &local.to_string(), "127.0.0.1", &srv.port.to_string()])
            .args(["sh", "-c"])
            .arg(format!(
                "env > {0}.client; cat <&6 > {0}.server",
                out.display()
            ));
        let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
        assert_eq!(code, 0, "{err}");
        let client = env_of(&read(&out.with_extension("client")));
        let server = env_of(&read(&out.with_extension("server")));
        let ip = if with_ip { "127.0.0.2" } else { "127.0.0.1" };
        assert_eq!(client["TCPLOCALPORT"], local.to_string());
        assert_eq!(client["TCPLOCALIP"], ip);
        assert_eq!(server["TCPREMOTEPORT"], local.to_string());
        assert_eq!(server["TCPREMOTEIP"], ip);
    }
    // A local port that is taken (listening, no SO_REUSEPORT): 111.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = l.local_addr().unwrap().port().to_string();
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "-i", "127.0.0.1", "-p", &taken, "127.0.0.1"])
        .args([&srv.port.to_string(), "true"]);
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    assert_eq!(code, 111, "{err}");
    assert!(err.contains("Address"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

/// A listener on `ip`:`port` with a backlog of 0 whose one queue slot is
/// taken and never accepted: the kernel drops every further SYN, so a
/// connect to it hangs, all on loopback. None if that does not hold here.
fn hanging_listener(ip: &str, port: u16) -> Option<(std::net::TcpListener, Vec<TcpStream>)> {
    use rustix::net::{AddressFamily, SocketType, bind, listen, socket};
    let addr = std::net::SocketAddr::new(ip.parse().unwrap(), port);
    let s = socket(AddressFamily::INET, SocketType::STREAM, None).ok()?;
    bind(&s, &addr).ok()?;
    listen(&s, 0).ok()?;
    let mut fill = Vec::new();
    for _ in 0..3 {
        if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            fill.push(c);
        }
    }
    // It hangs if a probe now times out.
    match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => Some((s.into(), fill)),
        _ => None,
    }
}

#[test]
fn client_two_pass_timeouts() {
    // Two addresses, the same port: 127.0.0.1 hangs, 127.0.0.2 refuses.
    let port = free_port();
    let Some((l, fill)) = hanging_listener("127.0.0.1", port) else {
        eprintln!("skipped: no connect hangs on a full loopback listener here");
        return;
    };
    let hosts = "127.0.0.1,127.0.0.2";
    let p = port.to_string();

    // -T 1+1, both passes fail: 1 s on 127.0.0.1 and a refusal, then the
    // second pass tries both again (another 1 s), and only then are the
    // failures reported, one line per address.
    let start = Instant::now();
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "-T", "1+1", hosts, &p, "true"]);
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    let took = start.elapsed();
    assert_eq!(code, 111, "{err}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "two passes of 1 s took {took:?}"
    );
    assert!(
        err.contains(&format!("unable to connect to 127.0.0.1 port {p}: ")),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "unable to connect to 127.0.0.2 port {p}: Connection refused"
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 3, "{err}");

    // One address: x and y add up to one timeout of x+y.
    let start = Instant::now();
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "-T", "1+1", "127.0.0.1", &p, "true"]);
    let (code, err) = Proc::spawn(piped_stderr(&mut c)).finish(T);
    let took = start.elapsed();
    assert_eq!(code, 111, "{err}");
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(4),
        "1+1 on one address took {took:?}"
    );

    // The second pass can succeed: the listener frees its queue after the
    // first pass gave up on it, and the client connects on its second try.
    let mut c = cmd("s6-tcpclient");
    c.args(["-H", "-T", "1+3", hosts, &p, "sh", "-c"])
        .arg("echo $TCPREMOTEIP >&7");
    let start = Instant::now();
    let mut client = Proc::spawn(piped_stderr(&mut c));
    std::thread::sleep(Duration::from_millis(1300));
    drop(fill);
    let mut queued = Vec::new();
    l.set_nonblocking(true).unwrap();
    while let Ok((s, _)) = l.accept() {
        queued.push(s);
    }
    let mut s = accept_within(&l, T);
    let (code, err) = client.finish(T);
    let took = start.elapsed();
    assert_eq!(code, 0, "{err}");
    assert_eq!(err, "", "a success in the second pass reports nothing");
    assert_eq!(read_line(&mut s, T).unwrap(), "127.0.0.1");
    assert!(took >= Duration::from_millis(1300), "{took:?}");
    assert!(took < Duration::from_secs(4), "{took:?}");
}

#[test]
fn server_supplementary_groups() {
    // -u/-g/-G as root: prog runs with exactly that uid, gid and group list.
    if !rustix::process::geteuid().is_root() {
        eprintln!("not root: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let srv = tcp_server(
        dir.path(),
        "127.0.0.1",
        &["-u", "65534", "-g", "65533", "-G", "1001,1002"],
        &["cat", "/proc/self/status"],
    );
    let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
    let status = String::from_utf8(read_to_eof(&mut s, T).unwrap()).unwrap();
    let field = |st: &str, name: &str| -> Vec<String> {
        st.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in {st}"))
            .split_whitespace()
            .map(String::from)
            .collect()
    };
    // Real, effective, saved and filesystem ids alike; the primary group
    // leads the supplementary list, as skalibs' setgroups_and_gid does (the
    // kernel shows the list sorted).
    assert_eq!(field(&status, "Uid:"), ["65534"; 4], "{status}");
    assert_eq!(field(&status, "Gid:"), ["65533"; 4], "{status}");
    assert_eq!(
        field(&status, "Groups:"),
        ["1001", "1002", "65533"],
        "{status}"
    );
    // The super-server itself runs as the same, unprivileged.
    let own = std::fs::read_to_string(format!("/proc/{}/status", srv.pid())).unwrap();
    assert_eq!(field(&own, "Uid:"), ["65534"; 4], "{own}");
    assert_eq!(field(&own, "Groups:"), ["1001", "1002", "65533"], "{own}");
    // -G with an empty list leaves only the primary group of what root had.
    let srv = tcp_server(
        dir.path(),
        "127.0.0.1",
        &["-u", "65534", "-g", "65534", "-G", ""],
        &["cat", "/proc/self/status"],
    );
    let mut s = connect_from("127.0.0.1", srv.addr("127.0.0.1"));
    let status = String::from_utf8(read_to_eof(&mut s, T).unwrap()).unwrap();
    assert_eq!(field(&status, "Groups:"), ["65534"], "{status}");
}

#[test]
fn server_quiet_and_verbose() {
    // What the log holds after one accepted connection and one rejected
    // by -C 1, for each verbosity flag (the last one wins).
    let dir = tempfile::tempdir().unwrap();
    let log_of = |flags: &[&str]| -> String {
        let mut extra = vec!["-C", "1"];
        extra.extend_from_slice(flags);
        let srv = tcp_server(dir.path(), "127.0.0.1", &extra, UP_THEN_CAT);
        let to = srv.addr("127.0.0.1");
        let mut a = connect_from("127.0.0.1", to);
        assert_eq!(read_line(&mut a, T).unwrap(), "up 0");
        let mut b = connect_from("127.0.0.1", to);
        assert_eq!(read_to_eof(&mut b, T), Some(vec![]), "{flags:?}: rejected");
        // The rejection is done (b was closed), so its warning, if any, is
        // written; end a and wait for the server to reap it.
        drop(a);
        let end = Instant::now() + T;
        while !srv.children().is_empty() {
            assert!(Instant::now() < end, "child never reaped");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        srv.log()
    };
    let reject = "s6-tcpserverd: warning: reject 127.0.0.1 port ";
    let accept = "s6-tcpserverd: info: accept 127.0.0.1 port ";
    // -q: nothing at all, not even the warning.
    for flags in [&["-q"][..], &["-v", "-q"]] {
        let log = log_of(flags);
        assert_eq!(log, "", "{flags:?}");
    }
    // Default and -Q: the warning only.
    for flags in [&[][..], &["-Q"], &["-q", "-Q"], &["-v", "-Q"]] {
        let log = log_of(flags);
        assert!(log.contains(reject), "{flags:?}: {log}");
        assert_eq!(log.lines().count(), 1, "{flags:?}: {log}");
    }
    // -v: also one line per accept and per end.
    let log = log_of(&["-q", "-v"]);
    assert!(log.contains(reject), "{log}");
    assert!(log.contains(accept), "{log}");
    assert!(log.contains("s6-tcpserverd: info: end pid "), "{log}");
}

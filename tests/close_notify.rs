//! -S/-s and -J/-j at the engine level: s6-tlsc-io and s6-tlsd-io run
//! directly, the test acting as both applications.

mod common;
use common::*;
use std::time::Duration;

/// The client app sends `up` then closes; once the server app has it all,
/// it sends `down` and closes. Returns (client code, client stderr, server
/// code, server stderr) after checking the bytes that did arrive.
fn exchange(client_opts: &[&str], server_opts: &[&str]) -> (i32, String, i32, String) {
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let mut srv = Engine::server(&pki, s, server_opts, &[]);
    let mut copts = vec!["-k", "localhost"];
    copts.extend_from_slice(client_opts);
    let mut cli = Engine::client(&pki, c, &copts, &[]);
    let up = data(50_000, 3);
    let down = data(70_000, 4);
    let srv_got = srv.receive();
    let cli_got = cli.receive();
    cli.send(up.clone());
    let got = join(srv_got, LIMIT);
    srv.send(down.clone());
    let got_back = join(cli_got, LIMIT);
    let (ccode, cerr) = cli.finish();
    let (scode, serr) = srv.finish();
    assert!(!cerr.contains("panicked") && !serr.contains("panicked"));
    // Whatever the verdict on the ending, no byte before it is lost.
    assert_same(&got, &up, "client to server");
    if scode == 0 {
        assert_same(&got_back, &down, "server to client");
    }
    (ccode, cerr, scode, serr)
}

#[test]
fn close_notify_from_the_client_satisfies_an_enforcing_server() {
    let (c, cerr, s, serr) = exchange(&["-S"], &["-J"]);
    assert_eq!(s, 0, "server: {serr}");
    assert_eq!(c, 0, "client: {cerr}");
}

#[test]
fn close_notify_from_the_server_satisfies_an_enforcing_client() {
    let (c, cerr, s, serr) = exchange(&["-J"], &["-S"]);
    assert_eq!(c, 0, "client: {cerr}");
    assert_eq!(s, 0, "server: {serr}");
}

#[test]
fn close_notify_both_ways_with_both_enforcing() {
    let (c, cerr, s, serr) = exchange(&["-SJ"], &["-SJ"]);
    assert_eq!(c, 0, "client: {cerr}");
    assert_eq!(s, 0, "server: {serr}");
}

#[test]
fn a_bare_tcp_close_from_the_client_is_fatal_under_server_j() {
    let (_, _, s, serr) = exchange(&["-s"], &["-J"]);
    assert_eq!(s, 98, "server: {serr}");
    assert_clean_failure(
        &serr,
        "s6-tlsd-io",
        "remote closed connection without a close_notify",
    );
}

#[test]
fn a_bare_tcp_close_from_the_server_is_fatal_under_client_j() {
    let (c, cerr, s, serr) = exchange(&["-J"], &["-s"]);
    assert_eq!(s, 0, "server: {serr}");
    assert_eq!(c, 98, "client: {cerr}");
    assert_clean_failure(
        &cerr,
        "s6-tlsc-io",
        "remote closed connection without a close_notify",
    );
}

#[test]
fn without_j_a_bare_tcp_close_is_a_normal_end() {
    let (c, cerr, s, serr) = exchange(&["-s", "-j"], &["-s", "-j"]);
    assert_eq!(c, 0, "client: {cerr}");
    assert_eq!(s, 0, "server: {serr}");
}

#[test]
fn long_options_mean_the_same() {
    let (c, cerr, s, serr) = exchange(
        &["--close-notify", "--enforce-close-notify"],
        &["--close-notify", "--enforce-close-notify"],
    );
    assert_eq!((c, s), (0, 0), "{cerr}{serr}");
    let (_, _, s, serr) = exchange(&["--no-close-notify"], &["--enforce-close-notify"]);
    assert_eq!(s, 98, "{serr}");
}

#[test]
fn the_last_of_two_contradicting_flags_wins() {
    let (_, _, s, serr) = exchange(&["-S", "-s"], &["-j", "-J"]);
    assert_eq!(s, 98, "{serr}");
}

/// A peer that closes the TCP connection right after the handshake,
/// without close_notify: `openssl s_server` whose stdin ends.
#[test]
fn openssl_server_closing_without_close_notify_is_fatal_under_j() {
    let pki = Pki::new();
    for (opts, want) in [(&["-J"][..], 98), (&["-j"][..], 0)] {
        let port = free_port();
        // Without -quiet, s_server reads stdin; at its EOF it closes the
        // socket with no close_notify. Delay the EOF until after the
        // handshake by feeding stdin from a pipe closed later.
        let mut srv = s_server(&pki, port, &[]);
        srv.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null());
        let mut srv = start_s_server(&mut srv, port);
        let sock = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut copts = vec!["-k", "localhost"];
        copts.extend_from_slice(opts);
        let mut cli = Engine::client(&pki, sock, &copts, &[]);
        let got = cli.receive();
        // The handshake is done once the client engine could be written to
        // and the server said something; s_server sends nothing, so wait a
        // moment, then end its stdin.
        std::thread::sleep(Duration::from_millis(500));
        drop(srv.child.as_mut().unwrap().stdin.take());
        let out = join(got, LIMIT);
        assert!(out.is_empty());
        // The app ends its side too (the engine waits for that under -j).
        drop(cli.input.take());
        let (code, err) = cli.finish();
        assert_eq!(code, want, "{opts:?}: {err}");
        if want == 98 {
            assert_clean_failure(
                &err,
                "s6-tlsc-io",
                "remote closed connection without a close_notify",
            );
        }
        srv.wait(LIMIT);
    }
}

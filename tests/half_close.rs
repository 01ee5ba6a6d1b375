//! Each direction ends on its own: a client that half-closes still gets the
//! whole reply; an app that stops reading does not stop its own sending;
//! an engine with nothing to do uses no CPU.

mod common;
use common::*;
use std::io::{Read, Write};
use std::time::Duration;

/// The client sends a request and half-closes; the server reads it to EOF
/// and only then sends a large reply, which must arrive whole.
fn request_then_reply(client_opts: &[&str], server_opts: &[&str]) {
    let pki = Pki::new();
    let d = pki.dir.path();
    let request = data(3000, 5);
    let reply = data(5 * 1024 * 1024 + 3, 6);
    let req_in = file(d, "req.in", &request);
    let rep_in = file(d, "rep.in", &reply);
    let req_out = d.join("req.out");
    let rep_out = d.join("rep.out");
    let (c, s) = tcp_pair();
    let mut server = start(
        &mut tlsd(
            &pki,
            &s,
            server_opts,
            &format!("cat > {} && cat {}", req_out.display(), rep_in.display()),
        ),
        s,
    );
    let mut copts = vec!["-k", "localhost"];
    copts.extend_from_slice(client_opts);
    let mut client = start(
        &mut tlsc(
            &pki,
            &c,
            &copts,
            &format!(
                "cat {} >&7 && exec 7>&- && cat <&6 > {}",
                req_in.display(),
                rep_out.display()
            ),
        ),
        c,
    );
    let (code, err) = client.finish(LIMIT);
    assert_eq!(code, 0, "client: {err}");
    let (code, err) = server.finish(LIMIT);
    assert_eq!(code, 0, "server: {err}");
    assert_same(&std::fs::read(&req_out).unwrap(), &request, "request");
    assert_same(&std::fs::read(&rep_out).unwrap(), &reply, "reply");
}

#[test]
fn reply_after_a_tcp_half_close() {
    request_then_reply(&[], &[]);
}

#[test]
fn reply_after_a_close_notify() {
    // TLS 1.3: a close_notify ends one direction only.
    request_then_reply(&["-S"], &["-S"]);
}

#[test]
fn reply_after_half_close_with_the_server_enforcing_close_notify() {
    request_then_reply(&["-S"], &["-J"]);
}

/// Connects a client and a server engine and waits until one byte went
/// through (so the handshake is over).
fn connected_engines(pki: &Pki) -> (Engine, Engine, Box<dyn Read + Send>) {
    let (c, s) = tcp_pair();
    let srv = Engine::server(pki, s, &[], &[]);
    let mut cli = Engine::client(pki, c, &["-k", "localhost"], &[]);
    let mut srv = srv;
    let mut out = srv.output.take().unwrap();
    cli.input.as_mut().unwrap().write_all(b"x").unwrap();
    cli.input.as_mut().unwrap().flush().unwrap();
    let mut b = [0u8; 1];
    out.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"x");
    (cli, srv, out)
}

fn assert_idle(pid: u32, what: &str) {
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    // A clock tick is 10 ms; a busy loop would use about 100 of them.
    assert!(used <= 2, "{what}: {used} ticks of CPU in 1 s of idling");
}

#[test]
fn idle_engines_use_no_cpu() {
    let pki = Pki::new();
    let (mut cli, mut srv, _out) = connected_engines(&pki);
    assert_idle(cli.pid(), "client engine");
    assert_idle(srv.pid(), "server engine");
    // And after the client half-closed: the server engine waits for its app.
    drop(cli.input.take());
    std::thread::sleep(Duration::from_millis(200));
    assert_idle(cli.pid(), "client engine after half-close");
    assert_idle(srv.pid(), "server engine after peer half-close");
    drop(srv.input.take());
    assert_eq!(cli.finish().0, 0);
    assert_eq!(srv.finish().0, 0);
}

#[test]
fn an_app_that_does_not_read_blocks_nothing_but_its_direction() {
    // The server floods the client app, which reads nothing: the engine
    // must wait (no spinning) and still carry the app's own data up.
    let pki = Pki::new();
    let (mut cli, mut srv, mut out) = connected_engines(&pki);
    let flood = srv.send(data(8 * 1024 * 1024, 7));
    std::thread::sleep(Duration::from_millis(500));
    assert_idle(cli.pid(), "client engine with its app not reading");
    assert_idle(srv.pid(), "server engine with the network full");
    let request = data(100_000, 8);
    let up = cli.send(request.clone());
    let mut got = vec![0u8; request.len()];
    out.read_exact(&mut got).unwrap();
    assert_same(&got, &request, "request while the reply is stuck");
    join(up, LIMIT);
    // Now the client app reads everything: nothing was lost meanwhile.
    let down = cli.receive();
    join(flood, LIMIT);
    let got = join(down, LIMIT);
    assert_same(&got, &data(8 * 1024 * 1024, 7), "flood");
    assert_eq!(cli.finish().0, 0);
    let mut rest = Vec::new();
    out.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
    assert_eq!(srv.finish().0, 0);
}

#[test]
fn an_app_that_closes_its_read_side_can_still_send() {
    // Our choice where the spec says "stop": a write to the app failing
    // with EPIPE ends the network-to-app direction for the app, but the
    // engine keeps draining (and dropping) what the peer sends, so that
    // closing the socket with unread data does not reset the connection
    // and destroy the app's own data still in flight. The engine ends
    // normally once both sides are done.
    let pki = Pki::new();
    let (mut cli, mut srv, mut out) = connected_engines(&pki);
    drop(cli.output.take()); // the client app will read nothing more
    let flood = srv.send(data(4 * 1024 * 1024, 9));
    // Once the flood is all in (and dropped), the engine must be idle.
    join(flood, LIMIT);
    std::thread::sleep(Duration::from_millis(300));
    assert_idle(cli.pid(), "client engine after EPIPE");
    let request = data(200_000, 10);
    let up = cli.send(request.clone());
    let mut got = Vec::new();
    out.read_to_end(&mut got).unwrap();
    assert_same(&got, &request, "request after the app stopped reading");
    join(up, LIMIT);
    let (code, err) = cli.finish();
    assert_eq!(code, 0, "client engine: {err}");
    let (code, err) = srv.finish();
    assert_eq!(code, 0, "server engine: {err}");
}

#[test]
fn a_gone_app_does_not_keep_its_engine_alive_forever() {
    // The peer streams without end: once the app has closed both sides,
    // the engine drains for a bounded time (2 s), then closes.
    let pki = Pki::new();
    let (mut cli, mut srv, _out) = connected_engines(&pki);
    drop(cli.output.take());
    let mut w = srv.input.take().unwrap();
    let _stream = std::thread::spawn(move || {
        let chunk = vec![b'z'; 64 * 1024];
        while w.write_all(&chunk).is_ok() {}
    });
    std::thread::sleep(Duration::from_millis(300));
    let t0 = std::time::Instant::now();
    drop(cli.input.take());
    let (code, err) = cli.finish();
    let took = t0.elapsed();
    assert_eq!(code, 0, "{err}");
    assert!(took < Duration::from_secs(5), "engine lingered {took:?}");
    assert!(
        took >= Duration::from_millis(1500),
        "engine lingered only {took:?}"
    );
    // The streaming server finds its peer gone.
    let (code, err) = srv.finish();
    assert_eq!(code, 111, "{err}");
}

#[test]
fn engines_waiting_for_a_silent_peer_use_no_cpu() {
    let pki = Pki::new();
    let (c, _silent_server) = tcp_pair();
    let mut cli = Engine::client(&pki, c, &["-k", "localhost"], &[]);
    let (_silent_client, s) = tcp_pair();
    let srv = Engine::server(&pki, s, &[], &[]);
    std::thread::sleep(Duration::from_millis(200));
    assert_idle(cli.pid(), "client engine waiting for a ServerHello");
    assert_idle(srv.pid(), "server engine waiting for a ClientHello");
    // The app closing its side during the handshake changes nothing.
    drop(cli.input.take());
    std::thread::sleep(Duration::from_millis(100));
    assert_idle(cli.pid(), "client engine with app EOF during the handshake");
    drop(cli);
    drop(srv);
}

//! Byte-exact transfers between s6-tlsc and s6-tlsd over loopback TCP, in
//! each direction and both at once, from nothing to 64 MiB.

mod common;
use common::*;
use std::io::Write;

const BIG: usize = 64 * 1024 * 1024;

/// The client sends `up` bytes while the server sends `down` bytes; each
/// side half-closes when done. Both must receive exactly what was sent.
fn transfer(up: usize, down: usize, client_opts: &[&str], server_opts: &[&str]) {
    let pki = Pki::new();
    let d = pki.dir.path();
    let up_data = data(up, 1);
    let down_data = data(down, 2);
    let cin = file(d, "cin", &up_data);
    let sin = file(d, "sin", &down_data);
    let cout = d.join("cout");
    let sout = d.join("sout");
    let (c, s) = tcp_pair();
    // Each prog sends from a background cat and closes its own copy of the
    // sending fd, so the engine sees EOF as soon as the sending is done.
    let mut server = start(
        &mut tlsd(
            &pki,
            &s,
            server_opts,
            &format!(
                "cat {} & exec 1>&-; cat > {}; wait",
                sin.display(),
                sout.display()
            ),
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
                "cat {} >&7 & exec 7>&-; cat <&6 > {}; wait",
                cin.display(),
                cout.display()
            ),
        ),
        c,
    );
    let (code, err) = client.finish(LIMIT);
    assert_eq!(code, 0, "client: {err}");
    let (code, err2) = server.finish(LIMIT);
    assert_eq!(code, 0, "server: {err2}");
    assert!(
        !err.contains("fatal") && !err2.contains("fatal"),
        "{err}{err2}"
    );
    assert_same(
        &std::fs::read(&cout).unwrap(),
        &down_data,
        "server to client",
    );
    assert_same(&std::fs::read(&sout).unwrap(), &up_data, "client to server");
}

#[test]
fn nothing_either_way() {
    transfer(0, 0, &[], &[]);
}

#[test]
fn one_byte_up() {
    transfer(1, 0, &[], &[]);
}

#[test]
fn one_byte_down() {
    transfer(0, 1, &[], &[]);
}

#[test]
fn just_over_one_record_up() {
    transfer(16 * 1024 + 1, 0, &[], &[]);
}

#[test]
fn just_over_one_record_down() {
    transfer(0, 16 * 1024 + 1, &[], &[]);
}

/// One byte past what the engine reads or writes at once (64 KiB), and
/// exactly that much each way at once.
#[test]
fn just_over_one_engine_buffer_up() {
    transfer(64 * 1024 + 1, 0, &[], &[]);
}

#[test]
fn just_over_one_engine_buffer_down() {
    transfer(0, 64 * 1024 + 1, &[], &[]);
}

#[test]
fn one_engine_buffer_both_ways() {
    transfer(64 * 1024, 64 * 1024, &[], &[]);
}

#[test]
fn sixty_four_mib_up() {
    transfer(BIG, 0, &[], &[]);
}

#[test]
fn sixty_four_mib_down() {
    transfer(0, BIG, &[], &[]);
}

#[test]
fn sixty_four_mib_both_ways_at_once() {
    transfer(BIG, BIG + 7, &[], &[]);
}

#[test]
fn both_ways_with_close_notify_enforced() {
    // -S on both sides sends close_notify, so -J on both sides is satisfied.
    transfer(100_000, 200_001, &["-S", "-J"], &["-S", "-J"]);
}

#[test]
fn custom_fds_for_s6_tlsc() {
    // -6 8 -7 9: the network is on fds 8/9, and prog then reads and
    // writes cleartext on those same numbers (as upstream).
    let pki = Pki::new();
    let up = data(300_000, 11);
    upload_on_fds_8_and_9(&pki, &["-k", "localhost", "-6", "8", "-7", "9"], "", &up);
}

#[test]
fn one_fd_for_both_network_directions() {
    // s6-tlsc-io 6 6: reading and writing the same socket fd, which must
    // be half-closed, not closed, when the app is done sending.
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let mut srv = Engine::server(&pki, s, &[], &[]);
    let mut cc = cmd("s6-tlsc-io");
    cc.env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "6", "6"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    with_fds(&mut cc, &[(raw(&c), 6)]);
    let mut cli = start(&mut cc, c);
    let child = cli.child.as_mut().unwrap();
    let mut input = child.stdin.take().unwrap();
    let output = child.stdout.take().unwrap();
    let got_reply = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut { output }, &mut v);
        v
    });
    let req = data(50_000, 12);
    std::io::Write::write_all(&mut input, &req).unwrap();
    drop(input);
    let got = join(srv.receive(), LIMIT);
    assert_same(&got, &req, "request");
    let reply = data(70_000, 13);
    join(srv.send(reply.clone()), LIMIT);
    assert_same(&join(got_reply, LIMIT), &reply, "reply after half-close");
    assert_eq!(cli.finish(LIMIT).0, 0);
    assert_eq!(srv.finish().0, 0);
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn engines_memory_stays_bounded_through_64_mib_each_way() {
    // Fixed buffers: moving 64 MiB each way must not grow the engines.
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let mut srv = Engine::server(&pki, s, &[], &[]);
    let mut cli = Engine::client(&pki, c, &["-k", "localhost"], &[]);
    let up = data(BIG, 14);
    let down = data(BIG, 15);
    let t0 = std::time::Instant::now();
    let got_s = srv.receive();
    let got_c = cli.receive();
    // Keep each input open until the transfer is over, to measure the
    // engines while they are still running.
    let mut si = srv.input.take().unwrap();
    let mut ci = cli.input.take().unwrap();
    let (up2, down2) = (up.clone(), down.clone());
    let wc = std::thread::spawn(move || {
        ci.write_all(&up2).unwrap();
        ci
    });
    let ws = std::thread::spawn(move || {
        si.write_all(&down2).unwrap();
        si
    });
    let ci = join(wc, LIMIT);
    let si = join(ws, LIMIT);
    // Everything written has been read by the engines; wait for delivery.
    std::thread::sleep(std::time::Duration::from_millis(200));
    let (rc, rs) = (peak_rss_kib(cli.pid()), peak_rss_kib(srv.pid()));
    drop(ci);
    drop(si);
    assert_same(&join(got_s, LIMIT), &up, "up");
    assert_same(&join(got_c, LIMIT), &down, "down");
    let took = t0.elapsed();
    assert_eq!(cli.finish().0, 0);
    assert_eq!(srv.finish().0, 0);
    eprintln!("64 MiB each way in {took:?}; peak RSS client {rc} KiB, server {rs} KiB");
    assert!(rc < 16 * 1024 && rs < 16 * 1024, "peak RSS {rc} / {rs} KiB");
}

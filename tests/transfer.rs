//! Byte-exact transfers between s6-tlsc and s6-tlsd over loopback TCP, in
//! each direction and both at once, from nothing to 64 MiB.

mod common;
use common::*;

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

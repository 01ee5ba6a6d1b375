//! The shortest end-to-end path: s6-tlsc and s6-tlsd over a loopback TCP
//! connection, one small request each way.

mod common;
use common::*;
use std::time::Duration;

#[test]
fn client_and_server_exchange_a_line() {
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let mut server = cmd("s6-tlsd");
    server
        .env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .args(["sh", "-c", "read line; echo \"got $line\""])
        .stdin(owned(s.try_clone().unwrap()))
        .stdout(owned(s));
    let mut server = Proc::spawn(&mut server);
    let out = pki.path("client.out");
    let mut client = cmd("s6-tlsc");
    client
        .env("CAFILE", &pki.ca_file)
        .args(["-k", "localhost", "sh", "-c"])
        .arg(format!(
            "echo hello >&7; exec 7>&-; cat <&6 > {}",
            out.display()
        ));
    with_fds(&mut client, &[(raw(&c), 6), (raw(&c), 7)]);
    let mut client = Proc::spawn(&mut client);
    drop(c);
    assert_eq!(code_of(client.wait(Duration::from_secs(20))), 0);
    assert_eq!(code_of(server.wait(Duration::from_secs(20))), 0);
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "got hello\n");
}

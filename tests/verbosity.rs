//! -v: 0 silences warnings, 1 (default) warns, 2 also reports the
//! handshake. Messages are single `prog: level: text` lines.

mod common;
use common::*;

fn stderr_of_client(opts: &[&str]) -> String {
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    let mut srv = Engine::server(&pki, s, &[], &[]);
    let mut cli = Engine::client(&pki, c, opts, &[]);
    let got = cli.receive();
    drop(cli.input.take());
    let _ = srv.send(b"bye".to_vec());
    assert_eq!(join(got, LIMIT), b"bye");
    let (code, err) = cli.finish();
    assert_eq!(code, 0, "{err}");
    assert_eq!(srv.finish().0, 0);
    for l in err.lines() {
        assert!(l.starts_with("s6-tlsc-io: "), "stray line {l:?}");
    }
    err
}

#[test]
fn verbosity_levels() {
    let warning = "s6-tlsc-io: warning: no server name given";
    // Without -k the client warns, unless -v 0.
    assert!(stderr_of_client(&["--no-verify-cert"]).contains(warning));
    assert_eq!(stderr_of_client(&["-v", "0", "--no-verify-cert"]), "");
    let loud = stderr_of_client(&["-v2", "-k", "localhost"]);
    assert!(
        loud.contains("s6-tlsc-io: info: handshake done: TLSv1.3 TLS_"),
        "{loud}"
    );
    assert_eq!(stderr_of_client(&["-k", "localhost"]), "");
    assert_eq!(stderr_of_client(&["--verbosity=0", "-k", "localhost"]), "");
}

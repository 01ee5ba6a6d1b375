//! What prog sees: the handshake's variables on both sides, the TLS
//! configuration variables removed unless -Z; and the notification block
//! an engine writes on its -d fd.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::io::Read;
use std::process::Stdio;

const CONFIG: [&str; 6] = [
    "CADIR", "CAFILE", "KEYFILE", "CERTFILE", "TLS_UID", "TLS_GID",
];

/// Runs s6-tlsc -y against s6-tlsd -Y -k1 with every configuration
/// variable set (and stale SSL_* ones), and returns both progs'
/// environments. `env` must be exec'd directly by the wrapper: a shell in
/// between would drop `KEYFILE:name` (not a valid shell name), so each side
/// is dumped in its own run.
fn environments(
    keep: bool,
    client_name: Option<&str>,
    client_cert: bool,
) -> (Pki, BTreeMap<String, String>, BTreeMap<String, String>) {
    let pki = Pki::new();
    let d = pki.dir.path();
    let senv = d.join("senv");
    let cenv = d.join("cenv");
    for server_dumps in [true, false] {
        let (c, s) = tcp_pair();
        let z = if keep { "-Z" } else { "-z" };
        // The server's dump travels to the client prog over TLS.
        let mut sc = tlsd(&pki, &s, &[z, "-Y", "-k", "1"], "cat > /dev/null");
        if server_dumps {
            let args: Vec<_> = sc.get_args().map(|a| a.to_owned()).collect();
            let mut fresh = cmd("s6-tlsd");
            for (k, v) in sc.get_envs() {
                if let Some(v) = v {
                    fresh.env(k, v);
                }
            }
            fresh
                .args(&args[..args.len() - 3])
                .arg("env")
                .stdin(owned(s.try_clone().unwrap()))
                .stdout(owned(s.try_clone().unwrap()))
                .stderr(Stdio::piped());
            sc = fresh;
        }
        sc.env("CAFILE", &pki.ca_file)
            .env("CADIR", &pki.ca_dir)
            .env("KEYFILE:other.test", &pki.other.key_pem)
            .env("CERTFILE:other.test", &pki.other.cert_pem)
            .env("TLS_UID", "0")
            .env("TLS_GID", "0")
            .env("SSL_PEER_CERT_HASH", "stale")
            .env("SSL_TLS_SNI_SERVERNAME", "stale")
            .env("UNRELATED", "kept");
        let mut server = start(&mut sc, s);
        let mut copts = vec![z];
        if let Some(n) = client_name {
            copts.extend(["-k", n]);
        }
        if client_cert {
            copts.push("-y");
        }
        let mut cc = if server_dumps {
            tlsc(&pki, &c, &copts, &format!("cat <&6 > {}", senv.display()))
        } else {
            let mut cc = cmd("s6-tlsc");
            cc.env("CAFILE", &pki.ca_file)
                .args(&copts)
                .arg("env")
                .stdout(std::fs::File::create(&cenv).unwrap())
                .stderr(Stdio::piped());
            with_fds(&mut cc, &[(raw(&c), 6), (raw(&c), 7)]);
            cc
        };
        cc.env("CADIR", &pki.ca_dir)
            .env("KEYFILE", &pki.client.key_pem)
            .env("CERTFILE", &pki.client.cert_pem)
            .env("KEYFILE:x.test", &pki.other.key_pem)
            .env("TLS_UID", "0")
            .env("TLS_GID", "0")
            .env("SSL_TLS_SNI_SERVERNAME", "stale")
            .env("SSL_PEER_CERT_SUBJECT", "stale")
            .env("UNRELATED", "kept");
        let mut client = start(&mut cc, c);
        let (code, err) = client.finish(LIMIT);
        assert_eq!(code, 0, "client: {err}");
        let (code, err) = server.finish(LIMIT);
        assert_eq!(code, 0, "server: {err}");
    }
    let senv = parse_env(&std::fs::read_to_string(senv).unwrap());
    let cenv = parse_env(&std::fs::read_to_string(cenv).unwrap());
    (pki, cenv, senv)
}

fn check_handshake_vars(
    pki: &Pki,
    cenv: &BTreeMap<String, String>,
    senv: &BTreeMap<String, String>,
) {
    for env in [cenv, senv] {
        assert_eq!(env["SSL_PROTOCOL"], "TLSv1.3");
        assert!(
            [
                "TLS_AES_128_GCM_SHA256",
                "TLS_AES_256_GCM_SHA384",
                "TLS_CHACHA20_POLY1305_SHA256"
            ]
            .contains(&env["SSL_CIPHER"].as_str()),
            "{}",
            env["SSL_CIPHER"]
        );
        assert_eq!(env["SSL_CIPHER"], cenv["SSL_CIPHER"]);
        assert_eq!(env["UNRELATED"], "kept");
    }
    assert_eq!(cenv["SSL_PEER_CERT_HASH"], cert_hash(&pki.server.cert_der));
    assert_eq!(
        cenv["SSL_PEER_CERT_SUBJECT"],
        "C=FR, O=s6-tls test, CN=localhost"
    );
}

#[test]
fn without_z_prog_sees_the_handshake_and_no_configuration() {
    let (pki, cenv, senv) = environments(false, Some("localhost"), true);
    check_handshake_vars(&pki, &cenv, &senv);
    for env in [&cenv, &senv] {
        assert_eq!(env["SSL_TLS_SNI_SERVERNAME"], "localhost");
        for k in CONFIG {
            assert!(!env.contains_key(k), "{k} leaked into prog's environment");
        }
        assert!(
            !env.keys()
                .any(|k| k.starts_with("KEYFILE:") || k.starts_with("CERTFILE:")),
            "{env:?}"
        );
    }
    assert_eq!(senv["SSL_PEER_CERT_HASH"], cert_hash(&pki.client.cert_der));
    assert_eq!(
        senv["SSL_PEER_CERT_SUBJECT"],
        "C=FR, O=s6-tls test, CN=client.test"
    );
}

#[test]
fn with_z_prog_keeps_the_configuration() {
    let (pki, cenv, senv) = environments(true, Some("localhost"), true);
    check_handshake_vars(&pki, &cenv, &senv);
    for k in [
        "CAFILE", "CADIR", "KEYFILE", "CERTFILE", "TLS_UID", "TLS_GID",
    ] {
        assert!(senv.contains_key(k), "server lost {k}");
    }
    assert_eq!(
        senv["KEYFILE:other.test"],
        pki.other.key_pem.to_str().unwrap()
    );
    assert_eq!(
        senv["CERTFILE:other.test"],
        pki.other.cert_pem.to_str().unwrap()
    );
    for k in [
        "CADIR",
        "KEYFILE",
        "CERTFILE",
        "TLS_UID",
        "TLS_GID",
        "KEYFILE:x.test",
    ] {
        assert!(cenv.contains_key(k), "client lost {k}");
    }
}

#[test]
fn absent_values_are_unset_not_inherited() {
    // No -k: no SNI on either side; no client certificate: no peer
    // variables on the server side. The stale values must be gone.
    let (pki, cenv, senv) = environments(false, None, false);
    check_handshake_vars(&pki, &cenv, &senv);
    for env in [&cenv, &senv] {
        assert!(!env.contains_key("SSL_TLS_SNI_SERVERNAME"), "{env:?}");
    }
    assert!(!senv.contains_key("SSL_PEER_CERT_HASH"));
    assert!(!senv.contains_key("SSL_PEER_CERT_SUBJECT"));
}

/// Splits a notification block into its strings, checking its framing:
/// `KEY=value\0` ... then one more `\0`, and nothing after.
fn parse_block(block: &[u8]) -> BTreeMap<String, String> {
    assert!(block.len() >= 2, "block too short: {block:?}");
    assert_eq!(
        &block[block.len() - 2..],
        b"\0\0",
        "block must end with an empty string"
    );
    let body = &block[..block.len() - 1];
    let mut vars = BTreeMap::new();
    for s in body.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let s = std::str::from_utf8(s).unwrap();
        let (k, v) = s.split_once('=').unwrap_or_else(|| panic!("no = in {s:?}"));
        assert!(
            vars.insert(k.to_string(), v.to_string()).is_none(),
            "{k} twice"
        );
    }
    // Every string but the terminator is non-empty.
    assert!(!body[..body.len() - 1].windows(2).any(|w| w == b"\0\0"));
    vars
}

#[test]
fn notification_blocks_of_both_engines() {
    let pki = Pki::new();
    let (c, s) = tcp_pair();
    // The server engine: -d 5, with a client certificate asked for.
    let (mut snotif_r, snotif_w) = std::io::pipe().unwrap();
    let mut sc = cmd("s6-tlsd-io");
    let (app_r, _app_w) = std::io::pipe().unwrap();
    let (_out_r, out_w) = std::io::pipe().unwrap();
    sc.env("KEYFILE", &pki.server.key_pem)
        .env("CERTFILE", &pki.server.cert_pem)
        .env("CAFILE", &pki.ca_file)
        .args(["-Y", "-d", "5", "3", "4"])
        .stdin(owned(s.try_clone().unwrap()))
        .stdout(owned(s.try_clone().unwrap()))
        .stderr(Stdio::piped());
    with_fds(
        &mut sc,
        &[(raw(&app_r), 3), (raw(&out_w), 4), (raw(&snotif_w), 5)],
    );
    let mut server = start(&mut sc, (s, snotif_w, app_r, out_w));
    // The client engine: -d 3.
    let (mut cnotif_r, cnotif_w) = std::io::pipe().unwrap();
    let mut cc = cmd("s6-tlsc-io");
    cc.env("CAFILE", &pki.ca_file)
        .env("KEYFILE", &pki.client.key_der)
        .env("CERTFILE", &pki.client.cert_der)
        .args(["-y", "-k", "localhost", "-d", "3", "6", "7"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    with_fds(&mut cc, &[(raw(&c), 6), (raw(&c), 7), (raw(&cnotif_w), 3)]);
    let mut client = start(&mut cc, (c, cnotif_w));

    // Each block arrives then the fd is closed: read to EOF.
    let read = |r: &mut std::io::PipeReader| {
        let mut v = Vec::new();
        r.read_to_end(&mut v).unwrap();
        v
    };
    let cblock = read(&mut cnotif_r);
    let sblock = read(&mut snotif_r);
    let cvars = parse_block(&cblock);
    let svars = parse_block(&sblock);
    // The order is fixed: protocol and cipher first.
    assert!(
        cblock.starts_with(b"SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER="),
        "{cblock:?}"
    );
    assert!(
        sblock.starts_with(b"SSL_PROTOCOL=TLSv1.3\0SSL_CIPHER="),
        "{sblock:?}"
    );
    let keys = |m: &BTreeMap<String, String>| m.keys().cloned().collect::<Vec<_>>();
    let all = [
        "SSL_CIPHER",
        "SSL_PEER_CERT_HASH",
        "SSL_PEER_CERT_SUBJECT",
        "SSL_PROTOCOL",
        "SSL_TLS_SNI_SERVERNAME",
    ];
    assert_eq!(keys(&cvars), all);
    assert_eq!(keys(&svars), all);
    assert_eq!(cvars["SSL_TLS_SNI_SERVERNAME"], "localhost");
    assert_eq!(svars["SSL_TLS_SNI_SERVERNAME"], "localhost");
    assert_eq!(cvars["SSL_CIPHER"], svars["SSL_CIPHER"]);
    assert_eq!(cvars["SSL_PEER_CERT_HASH"], cert_hash(&pki.server.cert_der));
    assert_eq!(svars["SSL_PEER_CERT_HASH"], cert_hash(&pki.client.cert_der));
    let hex = cvars["SSL_PEER_CERT_HASH"].strip_prefix("SHA256:").unwrap();
    assert_eq!(hex.len(), 64);
    assert!(
        hex.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(
        svars["SSL_PEER_CERT_SUBJECT"],
        "C=FR, O=s6-tls test, CN=client.test"
    );

    // Both engines are still running the connection; end it.
    drop(client.child.as_mut().unwrap().stdin.take());
    drop(_app_w);
    assert_eq!(client.finish(LIMIT).0, 0);
    assert_eq!(server.finish(LIMIT).0, 0);
}

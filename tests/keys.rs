//! Key and certificate formats: PEM and DER, PKCS#8, PKCS#1 and SEC1 keys,
//! RSA and ECDSA, a PEM chain file with an intermediate CA, CADIR holding
//! DER and non-certificate files, CAFILE bundles. The RSA chain is made by
//! `openssl` itself, not by our test PKI library.

mod common;
use common::*;
use std::path::{Path, PathBuf};

fn ossl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// root CA (RSA) -> intermediate CA (ECDSA) -> localhost (RSA 2048), made
/// by openssl in `dir`, plus every encoding of the leaf key.
fn openssl_chain(dir: &Path) {
    std::fs::write(
        dir.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    for args in [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.pem",
            "-subj",
            "/CN=openssl root",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ][..],
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "inter.key",
            "-out",
            "inter.csr",
            "-subj",
            "/CN=openssl intermediate",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "inter.csr",
            "-CA",
            "root.pem",
            "-CAkey",
            "root.key",
            "-CAcreateserial",
            "-out",
            "inter.pem",
            "-days",
            "2",
            "-extfile",
            "ca.ext",
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.p8.pem",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=localhost",
        ],
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "inter.pem",
            "-CAkey",
            "inter.key",
            "-CAcreateserial",
            "-out",
            "leaf.pem",
            "-days",
            "2",
            "-extfile",
            "leaf.ext",
        ],
        &[
            "x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der",
        ],
        &[
            "pkey",
            "-in",
            "leaf.p8.pem",
            "-outform",
            "DER",
            "-out",
            "leaf.p8.der",
        ],
        &[
            "rsa",
            "-in",
            "leaf.p8.pem",
            "-traditional",
            "-out",
            "leaf.p1.pem",
        ],
        &[
            "rsa",
            "-in",
            "leaf.p8.pem",
            "-traditional",
            "-outform",
            "DER",
            "-out",
            "leaf.p1.der",
        ],
        &["ec", "-in", "inter.key", "-out", "inter.sec1.pem"],
    ] {
        ossl(dir, args);
    }
    let mut chain = std::fs::read(dir.join("leaf.pem")).unwrap();
    chain.extend(std::fs::read(dir.join("inter.pem")).unwrap());
    std::fs::write(dir.join("chain.pem"), chain).unwrap();
    let head = std::fs::read_to_string(dir.join("leaf.p1.pem")).unwrap();
    assert!(
        head.starts_with("-----BEGIN RSA PRIVATE KEY-----"),
        "not PKCS#1: {head}"
    );
    let head = std::fs::read_to_string(dir.join("leaf.p8.pem")).unwrap();
    assert!(
        head.starts_with("-----BEGIN PRIVATE KEY-----"),
        "not PKCS#8: {head}"
    );
}

/// Runs s6-tlsc against s6-tlsd with the given files; returns the client
/// code, the peer certificate hash and cipher the client prog saw, and
/// the stderrs.
fn serve(pki: &Pki, key: &Path, cert: &Path, trust: (&str, &Path)) -> (i32, String, String) {
    let d = pki.dir.path();
    let seen = d.join("seen");
    let _ = std::fs::remove_file(&seen);
    let (c, s) = tcp_pair();
    let mut sc = tlsd(pki, &s, &[], "echo hi");
    sc.env("KEYFILE", key).env("CERTFILE", cert);
    let mut server = start(&mut sc, s);
    let mut cc = tlsc(
        pki,
        &c,
        &["-k", "localhost"],
        &format!(
            "read x <&6 && [ \"$x\" = hi ] && printf '%s' \"$SSL_PEER_CERT_HASH\" > {}",
            seen.display()
        ),
    );
    cc.env_remove("CAFILE").env(trust.0, trust.1);
    let mut client = start(&mut cc, c);
    let (code, cerr) = client.finish(LIMIT);
    let (_, serr) = server.finish(LIMIT);
    let err = format!("{cerr}{serr}");
    assert!(!err.contains("panicked"), "{err}");
    (
        code,
        std::fs::read_to_string(&seen).unwrap_or_default(),
        err,
    )
}

#[test]
fn rsa_keys_in_every_encoding_with_a_pem_chain() {
    let pki = Pki::new();
    let d: PathBuf = pki.dir.path().join("ossl");
    std::fs::create_dir(&d).unwrap();
    openssl_chain(&d);
    let root = d.join("root.pem");
    let want = cert_hash(&d.join("leaf.der"));
    for key in ["leaf.p8.pem", "leaf.p8.der", "leaf.p1.pem", "leaf.p1.der"] {
        let (code, hash, err) = serve(&pki, &d.join(key), &d.join("chain.pem"), ("CAFILE", &root));
        assert_eq!(code, 0, "{key}: {err}");
        assert_eq!(hash, want, "{key}");
    }
    // Without the intermediate in CERTFILE the client cannot build a path.
    for cert in ["leaf.pem", "leaf.der"] {
        let (code, hash, err) = serve(
            &pki,
            &d.join("leaf.p1.pem"),
            &d.join(cert),
            ("CAFILE", &root),
        );
        assert_eq!(code, 98, "{cert}: {err}");
        assert!(hash.is_empty());
        assert!(err.contains("UnknownIssuer"), "{err}");
    }
    // The root as a DER file in a CADIR full of other things.
    let cadir = d.join("cadir");
    std::fs::create_dir(&cadir).unwrap();
    ossl(
        &d,
        &[
            "x509",
            "-in",
            "root.pem",
            "-outform",
            "DER",
            "-out",
            "cadir/root.der",
        ],
    );
    std::fs::write(cadir.join("notes.txt"), "not a certificate").unwrap();
    std::fs::copy(d.join("leaf.p8.pem"), cadir.join("a-key.pem")).unwrap();
    std::fs::create_dir(cadir.join("subdir")).unwrap();
    let (code, hash, err) = serve(
        &pki,
        &d.join("leaf.p8.pem"),
        &d.join("chain.pem"),
        ("CADIR", &cadir),
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash, want);
}

#[test]
fn ecdsa_keys_and_certificates_in_pem_and_der() {
    let pki = Pki::new();
    let s = &pki.server;
    let want = cert_hash(&s.cert_der);
    for (key, cert) in [
        (&s.key_pem, &s.cert_pem),
        (&s.key_der, &s.cert_pem),
        (&s.key_pem, &s.cert_der),
        (&s.key_der, &s.cert_der),
    ] {
        let (code, hash, err) = serve(&pki, key, cert, ("CAFILE", &pki.ca_file));
        assert_eq!(code, 0, "{key:?} {cert:?}: {err}");
        assert_eq!(hash, want);
    }
    // SEC1 ("EC PRIVATE KEY") too.
    let sec1 = pki.path("server.sec1.pem");
    ossl(
        pki.dir.path(),
        &[
            "ec",
            "-in",
            s.key_pem.to_str().unwrap(),
            "-out",
            sec1.to_str().unwrap(),
        ],
    );
    assert!(
        std::fs::read_to_string(&sec1)
            .unwrap()
            .starts_with("-----BEGIN EC PRIVATE KEY-----")
    );
    let (code, hash, err) = serve(&pki, &sec1, &s.cert_pem, ("CAFILE", &pki.ca_file));
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash, want);
}

#[test]
fn trust_anchor_sources() {
    let pki = Pki::new();
    let s = &pki.server;
    // CADIR with a DER certificate and a README (the test PKI's).
    let (code, _, err) = serve(&pki, &s.key_pem, &s.cert_pem, ("CADIR", &pki.ca_dir));
    assert_eq!(code, 0, "{err}");
    // A CAFILE bundle where the right CA is not first.
    let mut bundle = std::fs::read(&pki.untrusted.cert_pem).unwrap();
    bundle.extend(std::fs::read(&pki.ca_file).unwrap());
    let bundle = file(pki.dir.path(), "bundle.pem", &bundle);
    let (code, _, err) = serve(&pki, &s.key_pem, &s.cert_pem, ("CAFILE", &bundle));
    assert_eq!(code, 0, "{err}");
    // CADIR wins over CAFILE when both are set.
    let (c, sock) = tcp_pair();
    let mut server = start(&mut tlsd(&pki, &sock, &[], "echo hi"), sock);
    let mut cc = tlsc(&pki, &c, &["-k", "localhost"], "cat <&6");
    let wrong = pki.dir.path().join("wrongdir");
    std::fs::create_dir(&wrong).unwrap();
    std::fs::copy(&pki.untrusted.cert_der, wrong.join("u.der")).unwrap();
    cc.env("CADIR", &wrong);
    let mut client = start(&mut cc, c);
    let (code, err) = client.finish(LIMIT);
    assert_eq!(code, 98, "CAFILE was used although CADIR is set: {err}");
    let _ = server.finish(LIMIT);
}

#[test]
fn a_der_cafile() {
    // CAFILE may hold one DER certificate instead of PEM, as CADIR files do.
    let pki = Pki::new();
    let s = &pki.server;
    let der = pki.ca_dir.join("ca.der");
    assert_ne!(std::fs::read(&der).unwrap()[0], b'-', "not DER");
    let (code, hash, err) = serve(&pki, &s.key_pem, &s.cert_pem, ("CAFILE", &der));
    assert_eq!(code, 0, "{err}");
    assert_eq!(hash, cert_hash(&s.cert_der));
    // And it is really used as the trust anchor: a DER CAFILE holding some
    // other certificate makes the same server untrusted.
    let (code, _, err) = serve(
        &pki,
        &s.key_pem,
        &s.cert_pem,
        ("CAFILE", &pki.untrusted.cert_der),
    );
    assert_eq!(code, 98, "{err}");
    assert!(err.contains("s6-tlsc-io: fatal: "), "{err}");
}

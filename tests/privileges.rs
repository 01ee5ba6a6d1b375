//! TLS_UID/TLS_GID: run as root, the engines drop to that uid and gid (and
//! lose root's supplementary groups) after reading their keys, before any
//! network byte. Checked on the live engine processes in /proc.

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

const NOBODY: u32 = 65534;

fn status_line(pid: u32, key: &str) -> Vec<u32> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(&format!("{key}:")))
        .unwrap_or_else(|| panic!("no {key} in {status}"));
    line[key.len() + 1..]
        .split_whitespace()
        .map(|n| n.parse().unwrap())
        .collect()
}

/// The only child of `pid` (the engine under a prog that exec'd into sleep).
fn engine_of(pid: u32) -> u32 {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let kids = children(pid);
        if kids.len() == 1 {
            return kids[0];
        }
        assert!(Instant::now() < end, "children of {pid}: {kids:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn assert_dropped(pid: u32, what: &str) {
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert!(comm.starts_with("s6-tls"), "{what}: pid {pid} is {comm}");
    assert_eq!(status_line(pid, "Uid"), [NOBODY; 4], "{what} uid");
    assert_eq!(status_line(pid, "Gid"), [NOBODY; 4], "{what} gid");
    let groups = status_line(pid, "Groups");
    assert!(
        groups.iter().all(|&g| g == NOBODY),
        "{what} kept supplementary groups {groups:?}"
    );
}

#[test]
fn both_engines_drop_privileges_after_reading_root_only_keys() {
    if !rustix_is_root() {
        eprintln!("not root: privilege drop cannot be tested");
        return;
    }
    let pki = Pki::new();
    // Keys readable by root only: the engines must read them before the drop.
    for k in [&pki.server.key_pem, &pki.client.key_pem, &pki.ca_file] {
        std::fs::set_permissions(k, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::set_permissions(pki.dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let (c, s) = tcp_pair();
    let mut sc = tlsd(&pki, &s, &["-Y"], "echo ready; exec sleep 60");
    sc.env("TLS_UID", NOBODY.to_string())
        .env("TLS_GID", NOBODY.to_string())
        .env("CAFILE", &pki.ca_file);
    let server = start(&mut sc, s);
    let mark = pki.path("ready");
    let mut cc = tlsc(
        &pki,
        &c,
        &["-k", "localhost", "-y"],
        &format!(
            // Written aside then renamed, so that the file is whole
            // once it exists.
            "read x <&6 && echo \"$x\" > {m}.part && mv {m}.part {m} && exec sleep 60",
            m = mark.display()
        ),
    );
    cc.env("TLS_UID", NOBODY.to_string())
        .env("TLS_GID", NOBODY.to_string())
        .env("KEYFILE", &pki.client.key_pem)
        .env("CERTFILE", &pki.client.cert_pem);
    let client = start(&mut cc, c);
    // Data went through both engines: the connection is up.
    wait_for_file(&mark, LIMIT);
    assert_eq!(std::fs::read_to_string(&mark).unwrap(), "ready\n");
    assert_dropped(engine_of(server.pid()), "s6-tlsd-io");
    assert_dropped(engine_of(client.pid()), "s6-tlsc-io");
    // The progs themselves are not the wrappers' business: still root.
    assert_eq!(status_line(server.pid(), "Uid"), [0; 4]);
    drop((server, client));
}

#[test]
fn invalid_ids_are_refused() {
    let pki = Pki::new();
    let (c, _s) = tcp_pair();
    let mut cm = cmd("s6-tlsc-io");
    cm.env("CAFILE", &pki.ca_file)
        .env("TLS_UID", "nobody")
        .args(["-k", "localhost", "6", "7"])
        .stderr(std::process::Stdio::piped());
    with_fds(&mut cm, &[(raw(&c), 6), (raw(&c), 7)]);
    let mut p = start(&mut cm, c);
    let (code, err) = p.finish(LIMIT);
    if rustix_is_root() {
        assert_eq!(code, 100, "{err}");
        assert_clean_failure(&err, "s6-tlsc-io", "TLS_UID");
    }
}

fn rustix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .any(|l| l.starts_with("Uid:\t0\t"))
}

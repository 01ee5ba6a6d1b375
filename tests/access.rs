//! s6-tcpserver-access, s6-accessrules-cdb-from-fs and
//! s6-accessrules-fs-from-cdb, run as built. s6-tcpserver-access is started
//! the way s6-tcpserverd would start it: PROTO and the TCP* variables in
//! its environment, the client on fds 0/1. No test sends a DNS query off
//! the machine: most use -H, the reverse-DNS ones ask only for 127.0.0.1
//! (answered from /etc/hosts), and the DNS timeout one runs in a private
//! network namespace whose only name server is a silent socket on its own
//! loopback.

mod common;
use common::*;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(20);

/// Prints what prog sees, one `NAME=value` (or `NAME unset`) per line.
const SHOW: &str = r#"for v in FOO GONE SIX WHO TCPREMOTEIP TCPLOCALIP TCPREMOTEHOST TCPLOCALHOST TCPREMOTEINFO; do eval "if [ \"\${$v+x}\" = x ]; then echo \"$v=\$$v\"; else echo \"$v unset\"; fi"; done"#;

struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Out {
    fn var(&self, name: &str) -> Option<&str> {
        for line in self.stdout.lines() {
            if line == format!("{name} unset") {
                return None;
            }
            if let Some(v) = line.strip_prefix(&format!("{name}=")) {
                return Some(v);
            }
        }
        panic!("{name} not shown in {:?}", self.stdout)
    }
}

/// s6-tcpserver-access as s6-tcpserverd runs it, for a client at `remote`.
fn access(remote: &str, local: &str, args: &[&str]) -> Command {
    let mut c = cmd("s6-tcpserver-access");
    c.env("PROTO", "TCP")
        .env("TCPREMOTEIP", remote)
        .env("TCPREMOTEPORT", "40000")
        .env("TCPLOCALIP", local)
        .env("TCPLOCALPORT", "4000")
        .env("GONE", "present")
        .env_remove("FOO")
        .env_remove("SIX")
        .env_remove("WHO")
        .env_remove("TCPREMOTEHOST")
        .env_remove("TCPLOCALHOST")
        .env_remove("TCPREMOTEINFO")
        .args(args);
    c
}

fn run(c: &mut Command) -> Out {
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(c);
    let mut so = p.child.as_mut().unwrap().stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let (code, stderr) = p.finish(LIMIT);
    Out {
        code,
        stdout: reader.join().unwrap(),
        stderr,
    }
}

/// Runs s6-tcpserver-access with `SHOW` as prog.
fn show(remote: &str, args: &[&str]) -> Out {
    let mut a = args.to_vec();
    a.extend(["sh", "-c", SHOW]);
    run(&mut access(remote, "127.0.0.1", &a))
}

fn put(root: &Path, rel: &str, bytes: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, bytes).unwrap();
}

/// The rules most tests use.
fn rules_tree(root: &Path) {
    put(root, "ip4/127.0.0.1_32/allow", b"");
    put(
        root,
        "ip4/127.0.0.1_32/env/FOO",
        b"bar\nsecond line ignored\n",
    );
    put(root, "ip4/127.0.0.1_32/env/GONE", b"");
    put(root, "ip4/127.0.0.0_8/deny", b"");
    put(root, "ip4/10.0.0.0_8/allow", b"");
    put(root, "ip4/10.0.0.0_8/exec", b"echo \"exec ran $0\"\n");
    put(root, "ip4/10.1.0.0_16/deny", b"");
    put(root, "ip6/::1_128/allow", b"");
    put(root, "ip6/::1_128/env/SIX", b"yes  \t\n");
    put(root, "ip6/2001:db8::_32/allow", b"");
    put(root, "ip6/::_0/deny", b"");
}

fn compile(cdb: &Path, dir: &Path) -> Out {
    run(cmd("s6-accessrules-cdb-from-fs").arg(cdb).arg(dir))
}

fn have_execlineb() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("execlineb").is_file()))
}

#[test]
fn rules_from_a_directory_and_from_its_cdb_decide_the_same() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rules");
    rules_tree(&dir);
    let cdb = t.path().join("rules.cdb");
    let c = compile(&cdb, &dir);
    assert_eq!(c.code, 0, "{}", c.stderr);
    let d = dir.to_str().unwrap();
    let x = cdb.to_str().unwrap();
    for opt in [["-i", d], ["-x", x]] {
        let how = opt[0];
        // Most specific wins: 127.0.0.1_32 allows though 127.0.0.0_8 denies.
        let o = show("127.0.0.1", &["-H", opt[0], opt[1]]);
        assert_eq!(o.code, 0, "{how}: {}", o.stderr);
        assert_eq!(o.var("FOO"), Some("bar"), "{how}");
        assert_eq!(o.var("GONE"), None, "{how}: an empty env file unsets");
        assert_eq!(o.var("TCPREMOTEHOST"), None);
        assert_eq!(o.var("TCPLOCALHOST"), None);
        assert_eq!(o.var("TCPREMOTEINFO"), None);
        assert!(o.stderr.contains("info: allow pid"), "{}", o.stderr);
        assert!(o.stderr.contains(" ip 127.0.0.1"), "{}", o.stderr);

        // An IPv4-mapped client is checked, and shown, as IPv4.
        let o = show("::ffff:127.0.0.1", &["-H", opt[0], opt[1]]);
        assert_eq!(o.code, 0, "{how}: {}", o.stderr);
        assert_eq!(o.var("FOO"), Some("bar"));
        assert_eq!(o.var("TCPREMOTEIP"), Some("127.0.0.1"));

        // Denied by 127.0.0.0_8: exit 1, prog never runs.
        let o = show("127.0.0.2", &["-H", "-v2", opt[0], opt[1]]);
        assert_eq!(o.code, 1, "{how}");
        assert_eq!(o.stdout, "");
        assert!(o.stderr.contains("deny pid"), "{}", o.stderr);
        let o = show("10.1.2.3", &["-H", opt[0], opt[1]]);
        assert_eq!(
            (o.code, o.stdout.as_str()),
            (1, ""),
            "{how}: 10.1/16 denies"
        );

        // No rule at all, and no DNS to fall back on: denied.
        let o = show("192.0.2.7", &["-H", opt[0], opt[1]]);
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{how}");

        // IPv6.
        let o = show("::1", &["-H", opt[0], opt[1]]);
        assert_eq!(o.code, 0, "{how}: {}", o.stderr);
        assert_eq!(o.var("SIX"), Some("yes"), "trailing blanks trimmed");
        assert_eq!(o.var("FOO"), None);
        let o = show("2001:db8:ffff::1", &["-H", opt[0], opt[1]]);
        assert_eq!(o.code, 0, "{how}: 2001:db8::/32 allows");
        let o = show("2001:db9::1", &["-H", opt[0], opt[1]]);
        assert_eq!((o.code, o.stdout.as_str()), (1, ""), "{how}: ::/0 denies");

        // exec replaces prog.
        let o = show("10.2.3.4", &["-H", opt[0], opt[1]]);
        assert_eq!(o.code, 0, "{how}: {}", o.stderr);
        let want = if have_execlineb() {
            "exec ran $0\n"
        } else {
            "exec ran /bin/sh\n"
        };
        assert_eq!(o.stdout, want, "{how}");
    }
}

#[test]
fn exec_falls_back_to_sh_without_execlineb() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rules");
    rules_tree(&dir);
    let mut c = access(
        "10.2.3.4",
        "127.0.0.1",
        &["-H", "-i", dir.to_str().unwrap(), "false"],
    );
    c.env("PATH", t.path());
    let o = run(&mut c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.stdout, "exec ran /bin/sh\n");
}

#[test]
fn no_rules_allows() {
    let o = show("192.0.2.9", &["-H", "-l", "me.example"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("TCPLOCALHOST"), Some("me.example"));
    assert_eq!(o.var("TCPREMOTEHOST"), None);
    assert_eq!(o.var("GONE"), Some("present"));
    let o = show("192.0.2.9", &["-H", "-v2"]);
    assert!(
        o.stderr.contains("invoked without a ruleset"),
        "{}",
        o.stderr
    );
}

#[test]
fn ident_is_refused_with_a_warning() {
    let o = show("127.0.0.1", &["-H", "-r"]);
    assert_eq!(o.code, 0);
    assert!(
        o.stderr
            .contains("warning: IDENT lookups (-r) are not supported"),
        "{}",
        o.stderr
    );
    assert_eq!(o.var("TCPREMOTEINFO"), None);
}

/// A cdb written here byte by byte from the documented layout, not by our
/// writer: 2048-byte header, records, hash tables of twice as many slots
/// as entries.
fn hand_made_cdb(records: &[(&[u8], &[u8])]) -> Vec<u8> {
    fn h(k: &[u8]) -> u32 {
        let mut h: u32 = 5381;
        for &c in k {
            h = (h << 5).wrapping_add(h) ^ c as u32;
        }
        h
    }
    let mut body = Vec::new();
    let mut entries: Vec<Vec<(u32, u32)>> = vec![vec![]; 256];
    for (k, d) in records {
        let pos = 2048 + body.len() as u32;
        body.extend_from_slice(&(k.len() as u32).to_le_bytes());
        body.extend_from_slice(&(d.len() as u32).to_le_bytes());
        body.extend_from_slice(k);
        body.extend_from_slice(d);
        entries[(h(k) & 0xff) as usize].push((h(k), pos));
    }
    let mut head = Vec::new();
    let mut tables = Vec::new();
    for e in &entries {
        let n = e.len() * 2;
        head.extend_from_slice(&((2048 + body.len() + tables.len()) as u32).to_le_bytes());
        head.extend_from_slice(&(n as u32).to_le_bytes());
        let mut slots = vec![(0u32, 0u32); n];
        for &(hash, pos) in e {
            let mut i = (hash >> 8) as usize % n;
            while slots[i].1 != 0 {
                i = (i + 1) % n;
            }
            slots[i] = (hash, pos);
        }
        for (hash, pos) in slots {
            tables.extend_from_slice(&hash.to_le_bytes());
            tables.extend_from_slice(&pos.to_le_bytes());
        }
    }
    [head, body, tables].concat()
}

#[test]
fn a_cdb_made_by_hand_from_the_layout_is_read() {
    let t = tempfile::tempdir().unwrap();
    let f = t.path().join("hand.cdb");
    // allow with FOO=hey, GONE unset, and exec "echo hand"; deny for ::1;
    // allow, nothing else, for 10.0.0.0/8.
    let env = b"FOO=hey\0GONE\0";
    let exec = b"echo hand";
    let mut allow = vec![b'A', 0, env.len() as u8];
    allow.extend_from_slice(env);
    allow.extend_from_slice(&[0, exec.len() as u8]);
    allow.extend_from_slice(exec);
    std::fs::write(
        &f,
        hand_made_cdb(&[
            (b"ip4/127.0.0.1_32", &allow),
            (b"ip6/::1_128", b"D"),
            (b"ip4/10.0.0.0_8", b"A\0\0\0\0"),
        ]),
    )
    .unwrap();
    let x = f.to_str().unwrap();
    let o = show("127.0.0.1", &["-H", "-x", x]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "hand\n"), "{}", o.stderr);
    let o = show("10.9.9.9", &["-H", "-x", x]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("GONE"), Some("present"));
    let o = show("::1", &["-H", "-x", x]);
    assert_eq!((o.code, o.stdout.as_str()), (1, ""));

    // And it decompiles to the tree it stands for.
    let out = t.path().join("tree");
    let o = run(cmd("s6-accessrules-fs-from-cdb").arg(&out).arg(&f));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(
        tree(&out),
        vec![
            ("ip4/".into(), None),
            ("ip4/10.0.0.0_8/".into(), None),
            ("ip4/10.0.0.0_8/allow".into(), Some(vec![])),
            ("ip4/127.0.0.1_32/".into(), None),
            ("ip4/127.0.0.1_32/allow".into(), Some(vec![])),
            ("ip4/127.0.0.1_32/env/".into(), None),
            ("ip4/127.0.0.1_32/env/FOO".into(), Some(b"hey\n".to_vec())),
            ("ip4/127.0.0.1_32/env/GONE".into(), Some(vec![])),
            ("ip4/127.0.0.1_32/exec".into(), Some(b"echo hand".to_vec())),
            ("ip6/".into(), None),
            ("ip6/::1_128/".into(), None),
            ("ip6/::1_128/deny".into(), Some(vec![])),
        ]
    );

    // Our compiler lays out the same rules byte for byte the same.
    let src = t.path().join("src");
    put(&src, "ip4/127.0.0.1_32/allow", b"");
    put(&src, "ip4/127.0.0.1_32/env/FOO", b"hey\n");
    put(&src, "ip4/127.0.0.1_32/env/GONE", b"");
    put(&src, "ip4/127.0.0.1_32/exec", b"echo hand");
    let ours = t.path().join("ours.cdb");
    assert_eq!(compile(&ours, &src).code, 0);
    assert_eq!(
        std::fs::read(&ours).unwrap(),
        hand_made_cdb(&[(b"ip4/127.0.0.1_32", &allow)])
    );
}

/// Every path under `root` (directories end in `/`) with file contents.
fn tree(root: &Path) -> Vec<(String, Option<Vec<u8>>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Option<Vec<u8>>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_str().unwrap().to_string();
            if p.is_dir() {
                out.push((format!("{rel}/"), None));
                walk(root, &p, out);
            } else {
                out.push((rel, Some(std::fs::read(&p).unwrap())));
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

#[test]
fn round_trip_fs_cdb_fs_gives_the_same_tree() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    put(&src, "ip4/127.0.0.1_32/allow", b"");
    put(&src, "ip4/127.0.0.1_32/env/FOO", b"bar\n");
    put(&src, "ip4/127.0.0.1_32/env/EMPTY", b"");
    put(&src, "ip4/127.0.0.1_32/exec", b"fdmove -c 2 1 prog arg\n");
    put(&src, "ip4/0.0.0.0_0/deny", b"");
    put(&src, "ip6/::1_128/allow", b"");
    put(&src, "ip6/fe80::_10/deny", b"");
    put(&src, "reversedns/example.com/allow", b"");
    put(&src, "reversedns/example.com/env/WHO", b"example\n");
    put(&src, "reversedns/@/deny", b"");
    let cdb = t.path().join("rules.cdb");
    let o = compile(&cdb, &src);
    assert_eq!(o.code, 0, "{}", o.stderr);
    let first = std::fs::read(&cdb).unwrap();
    let back = t.path().join("back");
    let o = run(cmd("s6-accessrules-fs-from-cdb").arg(&back).arg(&cdb));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(tree(&back), tree(&src));
    // Compiling again replaces the file and gives the same bytes; no
    // temporary file is left beside it.
    assert_eq!(compile(&cdb, &back).code, 0);
    assert_eq!(std::fs::read(&cdb).unwrap(), first);
    let names: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.iter().all(|n| !n.contains(':')), "{names:?}");
}

/// Looks for `127.0.0.1 <name>` in /etc/hosts; the reverse-DNS tests need
/// it, so that no query leaves the machine.
fn hosts_name_of_loopback() -> Option<String> {
    let hosts = std::fs::read_to_string("/etc/hosts").ok()?;
    let nss = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let files_first = nss
        .lines()
        .find(|l| l.trim_start().starts_with("hosts:"))
        .is_none_or(|l| l.split_whitespace().nth(1) == Some("files"));
    if !files_first {
        return None;
    }
    hosts.lines().find_map(|l| {
        let mut w = l.split('#').next()?.split_whitespace();
        (w.next()? == "127.0.0.1").then(|| w.next().map(str::to_string))?
    })
}

#[test]
fn reverse_dns_sets_names_and_matches_name_rules() {
    let Some(name) = hosts_name_of_loopback() else {
        eprintln!("skipped: /etc/hosts does not name 127.0.0.1 (files first)");
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rules");
    // No IP rule for 127.0.0.1: only its name can let it in.
    put(&dir, "ip4/192.0.2.0_24/deny", b"");
    put(&dir, &format!("reversedns/{name}/allow"), b"");
    put(&dir, &format!("reversedns/{name}/env/WHO"), b"by name\n");
    put(&dir, "reversedns/@/deny", b"");
    let d = dir.to_str().unwrap();
    let o = show("127.0.0.1", &["-i", d]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("TCPREMOTEHOST"), Some(name.as_str()));
    assert_eq!(o.var("TCPLOCALHOST"), Some(name.as_str()));
    assert_eq!(o.var("WHO"), Some("by name"));
    // -l names the local end without a lookup; -p checks the name maps back.
    let o = show("127.0.0.1", &["-p", "-l", "here.example", "-i", d]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("TCPLOCALHOST"), Some("here.example"));
    assert_eq!(o.var("TCPREMOTEHOST"), Some(name.as_str()));
    // The same from a cdb.
    let cdb = t.path().join("r.cdb");
    assert_eq!(compile(&cdb, &dir).code, 0);
    let o = show("127.0.0.1", &["-x", cdb.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("WHO"), Some("by name"));
    // With -H the name is never looked up, so nothing matches.
    let o = show("127.0.0.1", &["-H", "-i", d]);
    assert_eq!((o.code, o.stdout.as_str()), (1, ""));
}

#[test]
fn banner_reaches_the_client_before_prog_output() {
    let (client, server) = tcp_pair();
    let mut c = access(
        "127.0.0.1",
        "127.0.0.1",
        &[
            "-H",
            "-D",
            "-B",
            "220 hello\r\n",
            "sh",
            "-c",
            "printf 'from prog'",
        ],
    );
    c.stdin(owned(server.try_clone().unwrap()))
        .stdout(owned(server))
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut c);
    drop(c);
    let mut client = client;
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    let (code, err) = p.finish(LIMIT);
    assert_eq!(code, 0, "{err}");
    assert_eq!(got, b"220 hello\r\nfrom prog");

    // The banner goes out before the rules are checked, as upstream.
    let t = tempfile::tempdir().unwrap();
    put(t.path(), "ip4/0.0.0.0_0/deny", b"");
    let (mut client, server) = tcp_pair();
    let mut c = access(
        "127.0.0.1",
        "127.0.0.1",
        &["-H", "-B", "hi", "-i", t.path().to_str().unwrap(), "true"],
    );
    c.stdin(owned(server.try_clone().unwrap()))
        .stdout(owned(server))
        .stderr(Stdio::piped());
    let mut p = Proc::spawn(&mut c);
    drop(c);
    let (code, _) = p.finish(LIMIT);
    assert_eq!(code, 1);
    client.set_read_timeout(Some(LIMIT)).unwrap();
    let mut got = Vec::new();
    client.read_to_end(&mut got).unwrap();
    assert_eq!(got, b"hi");
}

#[test]
fn banner_that_cannot_be_written_times_out_with_99() {
    // A pipe that is already full: the banner write blocks for real.
    let (r, mut w) = std::io::pipe().unwrap();
    let w2 = w.try_clone().unwrap();
    let mut fill = w2;
    set_nonblocking_for_test(&fill);
    let chunk = vec![b'x'; 65536];
    while fill.write(&chunk).is_ok() {}
    let mut c = access(
        "127.0.0.1",
        "127.0.0.1",
        &["-H", "-t", "300", "-B", "banner", "true"],
    );
    c.stdout(owned(fill)).stderr(Stdio::piped());
    let start = Instant::now();
    let mut p = Proc::spawn(&mut c);
    let (code, err) = p.finish(LIMIT);
    assert_eq!(code, 99, "{err}");
    assert!(err.contains("fatal: timed out writing banner"), "{err}");
    assert!(start.elapsed() >= Duration::from_millis(250));
    assert!(start.elapsed() < Duration::from_secs(10));
    let _ = w.flush();
    drop(r);
}

fn set_nonblocking_for_test(w: &std::io::PipeWriter) {
    use std::os::fd::AsRawFd;
    // SAFETY: fcntl on an fd we own, no memory involved.
    unsafe {
        let fl = libc::fcntl(w.as_raw_fd(), libc::F_GETFL);
        libc::fcntl(w.as_raw_fd(), libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
}

/// Can we run a command in a private network and mount namespace with a
/// silent name server on its own loopback? (Needs root, unshare and python3.)
fn private_dns_sandbox() -> Option<PathBuf> {
    let probe = Command::new("unshare")
        .args(["-mn", "sh", "-c", "ip link set lo up && command -v python3"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    if !probe.success() {
        return None;
    }
    let t = std::env::temp_dir().join(format!("s6-access-resolv-{}", std::process::id()));
    std::fs::write(&t, "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n").ok()?;
    Some(t)
}

#[test]
fn reverse_lookup_that_hangs_times_out_with_99() {
    let Some(resolv) = private_dns_sandbox() else {
        eprintln!("skipped: no unshare/python3 to build a private DNS sandbox");
        return;
    };
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    if hosts.contains("127.0.0.2") {
        eprintln!("skipped: 127.0.0.2 is in /etc/hosts, its lookup would not hang");
        return;
    }
    // Inside the sandbox: loopback up, resolv.conf pointing at a UDP socket
    // on 127.0.0.1:53 that never answers (waited for until it is bound: a
    // python3 slow to start under load let the query be refused, 111), then
    // s6-tcpserver-access asked
    // for the name of 127.0.0.2 (not in /etc/hosts, so DNS is asked).
    let script = format!(
        "ip link set lo up && mount --bind {} /etc/resolv.conf || exit 97
         python3 -c 'import socket,time; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.bind((\"127.0.0.1\",53)); time.sleep(8)' >/dev/null 2>&1 &
         i=0; while ! grep -q ' 0100007F:0035 ' /proc/net/udp && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
         exec \"$@\"",
        resolv.display()
    );
    let bin = bin("s6-tcpserver-access");
    let run_in = |extra: &[&str]| {
        let mut c = Command::new("unshare");
        c.args(["-mn", "sh", "-c", &script, "sh"])
            .arg(&bin)
            .args(extra)
            .args(["-l", "here", "sh", "-c", SHOW])
            .env("PROTO", "TCP")
            .env("TCPREMOTEIP", "127.0.0.2")
            .env("TCPREMOTEPORT", "1")
            .env("TCPLOCALIP", "127.0.0.1")
            .env("TCPLOCALPORT", "2");
        let start = Instant::now();
        (run(&mut c), start.elapsed())
    };
    let (o, took) = run_in(&["-t", "700"]);
    assert_eq!(o.code, 99, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("timed out looking up the name of 127.0.0.2"),
        "{}",
        o.stderr
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    // -W: a lookup that times out leaves the name unset, the client goes on.
    let (o, _) = run_in(&["-W", "-t", "700"]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("TCPREMOTEHOST"), None);
    assert_eq!(o.var("TCPLOCALHOST"), Some("here"));
    let _ = std::fs::remove_file(resolv);
}

// ---- bad input ----

fn assert_fatal(o: &Out, code: i32, needle: &str) {
    assert_eq!(o.code, code, "stderr: {}", o.stderr);
    assert!(
        o.stderr.contains(needle),
        "wanted {needle:?} in {:?}",
        o.stderr
    );
    let most = if o.stderr.contains("usage:") { 2 } else { 1 };
    let lines = o.stderr.lines().count();
    assert!((1..=most).contains(&lines), "{:?}", o.stderr);
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}

#[test]
fn bad_command_lines_and_environment() {
    let o = show("127.0.0.1", &["-Z"]);
    assert_fatal(&o, 100, "unknown option -Z");
    assert!(o.stderr.contains("usage: s6-tcpserver-access"));
    let o = run(&mut access("127.0.0.1", "127.0.0.1", &["-H"]));
    assert_fatal(&o, 100, "usage: s6-tcpserver-access");
    let o = show("127.0.0.1", &["-t", "soon"]);
    assert_fatal(&o, 100, "invalid number for -t");
    let long = "x".repeat(600);
    let o = show("127.0.0.1", &["-B", &long]);
    assert_fatal(&o, 100, "banner too long");
    let mut c = access("127.0.0.1", "127.0.0.1", &["-H", "true"]);
    c.env_remove("PROTO");
    assert_fatal(&run(&mut c), 100, "fatal: PROTO not set");
    let mut c = access("not-an-ip", "127.0.0.1", &["-H", "true"]);
    assert_fatal(&run(&mut c), 100, "fatal: invalid TCPREMOTEIP: not-an-ip");
    let mut c = access("127.0.0.1", "127.0.0.1", &["-H", "true"]);
    c.env("TCPREMOTEPORT", "70000");
    assert_fatal(&run(&mut c), 100, "invalid TCPREMOTEPORT");
    let mut c = access(
        "127.0.0.1",
        "127.0.0.1",
        &["-H", "-v0", "/nonexistent/prog"],
    );
    assert_fatal(&run(&mut c), 111, "unable to exec /nonexistent/prog");

    for (prog, args) in [
        ("s6-accessrules-cdb-from-fs", &["onlyone"][..]),
        ("s6-accessrules-fs-from-cdb", &[][..]),
        ("s6-accessrules-cdb-from-fs", &["-q", "a", "b"][..]),
    ] {
        let o = run(cmd(prog).args(args));
        assert_eq!(o.code, 100, "{prog} {args:?}: {}", o.stderr);
        assert!(o.stderr.contains(&format!("usage: {prog}")), "{}", o.stderr);
    }
}

#[test]
fn broken_rule_directories_are_errors_111() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    // The rules directory is missing, or is a file.
    let o = show(
        "127.0.0.1",
        &["-H", "-i", root.join("nope").to_str().unwrap()],
    );
    assert_fatal(&o, 111, "unable to open rules directory");
    put(root, "plainfile", b"");
    let o = show(
        "127.0.0.1",
        &["-H", "-i", root.join("plainfile").to_str().unwrap()],
    );
    assert_fatal(&o, 111, "Not a directory");

    // A key that is a file where a directory is expected.
    let bad = root.join("filekey");
    put(&bad, "ip4/127.0.0.1_32", b"allow");
    let o = show("127.0.0.1", &["-H", "-i", bad.to_str().unwrap()]);
    assert_fatal(&o, 111, "unable to check fs ruleset for IP");
    let o = compile(&root.join("x.cdb"), &bad);
    assert_fatal(&o, 111, "Not a directory");

    // A class (ip4) that is a file.
    let bad = root.join("fileclass");
    put(&bad, "ip4", b"");
    let o = compile(&root.join("x.cdb"), &bad);
    assert_fatal(&o, 111, "opendir");

    // An env entry that cannot be read (a directory: root reads anything
    // else).
    let bad = root.join("badenv");
    put(&bad, "ip4/127.0.0.1_32/allow", b"");
    std::fs::create_dir_all(bad.join("ip4/127.0.0.1_32/env/FOO")).unwrap();
    let o = show("127.0.0.1", &["-H", "-i", bad.to_str().unwrap()]);
    assert_fatal(&o, 111, "env/FOO");
    let o = compile(&root.join("x.cdb"), &bad);
    assert_fatal(&o, 111, "env/FOO");

    // Too much environment for the cdb format.
    let big = root.join("bigenv");
    put(&big, "ip4/127.0.0.1_32/allow", b"");
    for i in 0..3 {
        put(&big, &format!("ip4/127.0.0.1_32/env/V{i}"), &[b'v'; 2000]);
    }
    let o = compile(&root.join("x.cdb"), &big);
    assert_fatal(&o, 100, "environment too big");

    // Nothing was left behind by the failed compilations.
    assert!(!root.join("x.cdb").exists());
    let leftovers: Vec<_> = std::fs::read_dir(root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains(':'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let o = compile(&root.join("x.cdb"), &root.join("missing"));
    assert_fatal(&o, 111, "opendir");
}

#[test]
fn a_key_with_neither_allow_nor_deny_is_no_rule() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rules");
    std::fs::create_dir_all(dir.join("ip4/127.0.0.1_32/env")).unwrap();
    put(&dir, "ip4/127.0.0.0_8/allow", b"");
    put(&dir, "ip4/127.0.0.0_8/env/WHO", b"wider\n");
    let o = show("127.0.0.1", &["-H", "-i", dir.to_str().unwrap()]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("WHO"), Some("wider"));
    let cdb = t.path().join("r.cdb");
    let o = compile(&cdb, &dir);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(
        o.stderr
            .contains("warning: ignoring ip4/127.0.0.1_32: it holds neither allow nor deny"),
        "{}",
        o.stderr
    );
    let o = show("127.0.0.1", &["-H", "-x", cdb.to_str().unwrap()]);
    assert_eq!(o.var("WHO"), Some("wider"));
}

#[test]
fn broken_cdb_files_are_errors_111() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rules");
    rules_tree(&dir);
    let good = t.path().join("good.cdb");
    assert_eq!(compile(&good, &dir).code, 0);
    let bytes = std::fs::read(&good).unwrap();

    let missing = t.path().join("missing.cdb");
    let o = show("127.0.0.1", &["-H", "-x", missing.to_str().unwrap()]);
    assert_fatal(&o, 111, "unable to read rules file");

    let short = t.path().join("short.cdb");
    std::fs::write(&short, &bytes[..100]).unwrap();
    let o = show("127.0.0.1", &["-H", "-x", short.to_str().unwrap()]);
    assert_fatal(&o, 111, "invalid cdb");

    // Cut anywhere: noticed when the file is opened, whoever connects.
    let cut = t.path().join("cut.cdb");
    for len in [2100, bytes.len() / 2, bytes.len() - 8, bytes.len() - 1] {
        std::fs::write(&cut, &bytes[..len]).unwrap();
        for ip in ["127.0.0.1", "192.0.2.1"] {
            let o = show(ip, &["-H", "-x", cut.to_str().unwrap()]);
            assert_fatal(&o, 111, "invalid cdb");
        }
    }

    // A record whose length runs off the end.
    let mut bad = hand_made_cdb(&[(b"ip4/127.0.0.1_32", b"A\0\0\0\0")]);
    bad[2052..2056].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let corrupt = t.path().join("corrupt.cdb");
    std::fs::write(&corrupt, &bad).unwrap();
    let o = show("127.0.0.1", &["-H", "-x", corrupt.to_str().unwrap()]);
    assert_fatal(&o, 111, "unable to check cdb ruleset for IP");
    assert!(o.stderr.contains("out of bounds"), "{}", o.stderr);

    // A well-formed cdb with a malformed rule.
    let badrule = t.path().join("badrule.cdb");
    std::fs::write(
        &badrule,
        hand_made_cdb(&[(b"ip4/127.0.0.1_32", b"A\0\x09FOO\0")]),
    )
    .unwrap();
    let o = show("127.0.0.1", &["-H", "-x", badrule.to_str().unwrap()]);
    assert_fatal(&o, 111, "bad environment length");

    // The decompiler refuses all of them and leaves no directory behind.
    for (f, what) in [
        (&short, "invalid cdb"),
        (&corrupt, "out of bounds"),
        (&badrule, "does not contain valid accessrules data"),
        (&missing, "unable to read rules file"),
    ] {
        let out = t.path().join("out");
        let o = run(cmd("s6-accessrules-fs-from-cdb").arg(&out).arg(f));
        assert_fatal(&o, 111, what);
        assert!(!out.exists(), "{}", f.display());
    }
    // A key that would escape the directory.
    let evil = t.path().join("evil.cdb");
    std::fs::write(&evil, hand_made_cdb(&[(b"../escaped", b"D")])).unwrap();
    let out = t.path().join("out");
    let o = run(cmd("s6-accessrules-fs-from-cdb").arg(&out).arg(&evil));
    assert_fatal(&o, 111, "bad key");
    assert!(!t.path().join("escaped").exists() && !out.exists());
    // An existing directory is not overwritten.
    std::fs::create_dir(&out).unwrap();
    let o = run(cmd("s6-accessrules-fs-from-cdb").arg(&out).arg(&good));
    assert_fatal(&o, 111, "unable to mkdir");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

// ---- interoperability with skarnet's own compilers (Debian's s6) ----

const UPSTREAM_CDB_FROM_FS: &str = "/usr/bin/s6-accessrules-cdb-from-fs";
const UPSTREAM_FS_FROM_CDB: &str = "/usr/bin/s6-accessrules-fs-from-cdb";

/// The rules of a cdb, by key, each env sorted by name (upstream lists
/// them in readdir order).
fn sorted_records(path: &Path) -> Vec<(Vec<u8>, String)> {
    use s6_tls::accessrules::{Rule, decode_rule};
    let bytes = std::fs::read(path).unwrap();
    let r = s6_tls::cdb::Reader::new(&bytes[..]).unwrap();
    let mut v: Vec<_> = r
        .records()
        .unwrap()
        .into_iter()
        .map(|(k, d)| {
            let mut rule = decode_rule(d).unwrap();
            if let Some(Rule::Allow(a)) = &mut rule {
                a.env.sort_by(|x, y| x.name.cmp(&y.name));
            }
            (k.to_vec(), format!("{rule:?}"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn rules_files_are_interchangeable_with_upstreams() {
    if !Path::new(UPSTREAM_CDB_FROM_FS).exists() || !Path::new(UPSTREAM_FS_FROM_CDB).exists() {
        eprintln!("skipped: skarnet's s6 (Debian package s6) is not installed");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("rules");
    rules_tree(&dir);
    // Canonical env files, so that a round trip gives them back as they are.
    put(&dir, "ip4/127.0.0.1_32/env/FOO", b"bar\n");
    put(&dir, "ip6/::1_128/env/SIX", b"yes\n");
    put(&dir, "reversedns/example.com/allow", b"");
    put(&dir, "reversedns/@/deny", b"");

    // Upstream compiles, we read.
    let theirs = t.path().join("theirs.cdb");
    let o = run(Command::new(UPSTREAM_CDB_FROM_FS).arg(&theirs).arg(&dir));
    assert_eq!(o.code, 0, "{}", o.stderr);
    let x = theirs.to_str().unwrap();
    let o = show("127.0.0.1", &["-H", "-x", x]);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(o.var("FOO"), Some("bar"));
    assert_eq!(o.var("GONE"), None);
    let o = show("::1", &["-H", "-x", x]);
    assert_eq!(o.var("SIX"), Some("yes"));
    assert_eq!(show("127.0.0.2", &["-H", "-x", x]).code, 1);
    let o = show("10.2.3.4", &["-H", "-x", x]);
    assert!(o.stdout.starts_with("exec ran"), "{}", o.stdout);
    let back = t.path().join("ours-from-theirs");
    let o = run(cmd("s6-accessrules-fs-from-cdb").arg(&back).arg(&theirs));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(tree(&back), tree(&dir));

    // We compile, upstream reads: the same records, and the same tree back.
    let ours = t.path().join("ours.cdb");
    assert_eq!(compile(&ours, &dir).code, 0);
    assert_eq!(sorted_records(&ours), sorted_records(&theirs));
    let back = t.path().join("theirs-from-ours");
    let o = run(Command::new(UPSTREAM_FS_FROM_CDB).arg(&back).arg(&ours));
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert_eq!(tree(&back), tree(&dir));
}

/// Runs `c` as nobody (uid/gid 65534), where permissions bite.

#[test]
fn unreadable_rules_are_errors_111() {
    if !Path::new("/usr/bin/setpriv").exists() || !is_root() {
        eprintln!("skipped: needs root and setpriv to run as nobody");
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let mode =
        |p: &Path, m: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    mode(root, 0o755);
    let show_as_nobody = |args: &[&str]| {
        let mut a = args.to_vec();
        a.extend(["sh", "-c", SHOW]);
        run(&mut as_nobody(&access("127.0.0.1", "127.0.0.1", &a)))
    };

    // A rules directory nobody may enter.
    let closed = root.join("closed");
    put(&closed, "ip4/127.0.0.1_32/allow", b"");
    mode(&closed, 0o000);
    let o = show_as_nobody(&["-H", "-i", closed.to_str().unwrap()]);
    assert_fatal(&o, 111, "unable to open rules directory");
    assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);

    // An env file nobody may read.
    let env = root.join("env");
    put(&env, "ip4/127.0.0.1_32/allow", b"");
    put(&env, "ip4/127.0.0.1_32/env/FOO", b"secret\n");
    mode(&env.join("ip4/127.0.0.1_32/env/FOO"), 0o000);
    let o = show_as_nobody(&["-H", "-i", env.to_str().unwrap()]);
    assert_fatal(&o, 111, "env/FOO");
    let out = root.join("out.cdb");
    let o = run(&mut as_nobody(
        cmd("s6-accessrules-cdb-from-fs").arg(&out).arg(&env),
    ));
    assert_fatal(&o, 111, "env/FOO");

    // A rules file nobody may read.
    let ok = root.join("ok");
    put(&ok, "ip4/127.0.0.1_32/allow", b"");
    let cdb = root.join("r.cdb");
    assert_eq!(compile(&cdb, &ok).code, 0);
    mode(&cdb, 0o000);
    let o = show_as_nobody(&["-H", "-x", cdb.to_str().unwrap()]);
    assert_fatal(&o, 111, "unable to read rules file");
    assert!(o.stderr.contains("Permission denied"), "{}", o.stderr);
    mode(&closed, 0o755);
}

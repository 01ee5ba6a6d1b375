//! Nothing lost: 200 connections through s6-tlsclient → s6-tlsserver, a
//! few at a time, each moving a payload of random size (0 B to 8 MiB,
//! mostly small) each way, of random content, ending in a random order:
//! the client half-closes first, the server first, or both at once. Each
//! receiving prog hashes what it got with sha256sum; the test compares it
//! with the SHA-256 of the file that was sent. The seed is printed, and can be set
//! with NOTHING_LOST_SEED to replay a failure.

mod common;
mod fault_support;
mod tcp_support;
use common::*;
use fault_support::*;
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tcp_support::*;

const CONNECTIONS: usize = 200;
const AT_ONCE: usize = 4;
const MAX: usize = 8 << 20;
/// The random sizes stop growing past this much in each direction, so
/// that the run stays short whatever the seed.
const BUDGET: usize = 96 << 20;

/// xorshift64*: small, seeded, good enough to pick sizes and orders.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// A size skewed to the small: a fifth empty or tiny, most under
    /// 64 KiB, a few up to 1 MiB, one in fifteen up to 8 MiB.
    fn size(&mut self) -> usize {
        let r = self.below(100);
        let top = match r {
            0..5 => return 0,
            5..40 => 1 << 10,
            40..75 => 64 << 10,
            75..93 => 1 << 20,
            _ => MAX,
        };
        self.below(top as u64 + 1) as usize
    }
}

#[derive(Debug, Clone, Copy)]
enum Order {
    ClientFirst,
    ServerFirst,
    Both,
}

impl Order {
    fn letter(self) -> char {
        match self {
            Order::ClientFirst => 'c',
            Order::ServerFirst => 's',
            Order::Both => 'b',
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    up: usize,
    down: usize,
    order: Order,
    content: u64,
}

fn plans(seed: u64) -> Vec<Plan> {
    let mut rng = Rng(seed | 1);
    let (mut up_total, mut down_total) = (0, 0);
    let mut v: Vec<Plan> = (0..CONNECTIONS)
        .map(|_| {
            let mut up = rng.size();
            let mut down = rng.size();
            if up_total + up > BUDGET {
                up %= 64 << 10;
            }
            if down_total + down > BUDGET {
                down %= 64 << 10;
            }
            up_total += up;
            down_total += down;
            let order =
                [Order::ClientFirst, Order::ServerFirst, Order::Both][rng.below(3) as usize];
            Plan {
                up,
                down,
                order,
                content: rng.next(),
            }
        })
        .collect();
    // The edges, whatever the seed: nothing at all, and the most each way.
    v[0].up = 0;
    v[0].down = 0;
    v[1].up = MAX;
    v[1].down = MAX;
    v[1].order = Order::Both;
    v
}

/// The SHA-256 of each file, by sha256sum (what the receivers run too).
fn sha256sums(files: &[&std::path::Path]) -> Vec<String> {
    let out = std::process::Command::new("sha256sum")
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "sha256sum failed");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().next().unwrap().to_string())
        .collect()
}

/// What sha256sum wrote: the hex digest of its input.
fn digest_file(p: &std::path::Path) -> String {
    read(p).split_whitespace().next().unwrap_or("").to_string()
}

/// The server prog: reads the client's header line (`n order`), then
/// sends `down.n` and hashes what comes in, ending in that order.
fn server_script(dir: &std::path::Path) -> String {
    format!(
        "cd {} || exit 1; read n o || exit 1; case $o in \
         c) sha256sum > up.$n.got && exec cat down.$n ;; \
         s) cat down.$n; exec 1>&-; exec sha256sum > up.$n.got ;; \
         b) cat down.$n & exec 1>&-; sha256sum > up.$n.got; wait $! ;; \
         *) exit 1 ;; esac",
        dir.display()
    )
}

/// The client prog for connection `n`.
fn client_script(n: usize, order: Order) -> String {
    let head = format!("printf '{n} {}\\n' >&7", order.letter());
    match order {
        Order::ClientFirst => {
            format!("{head} && cat up.{n} >&7 && exec 7>&- && exec sha256sum <&6 > down.{n}.got")
        }
        Order::ServerFirst => {
            format!("{head} && sha256sum <&6 > down.{n}.got && cat up.{n} >&7")
        }
        Order::Both => format!(
            "{head} && {{ cat up.{n} >&7 & }} && exec 7>&- && sha256sum <&6 > down.{n}.got && wait $!"
        ),
    }
}

#[test]
fn two_hundred_random_connections_lose_nothing() {
    let seed: u64 = std::env::var("NOTHING_LOST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("nothing_lost: seed {seed} (NOTHING_LOST_SEED={seed} replays it)");
    let plans = plans(seed);
    let pki = Pki::new();
    let dir = pki.path("work");
    std::fs::create_dir(&dir).unwrap();
    let script = server_script(&dir);
    let (srv, t) = tagged_tls_server(&pki, &["-v", "-c", "16"], &["sh", "-c", &script]);

    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::<String>::new());
    let moved = AtomicUsize::new(0);
    let t0 = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..AT_ONCE {
            scope.spawn(|| {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= plans.len() || !failures.lock().unwrap().is_empty() {
                        return;
                    }
                    if let Err(e) = one_connection(&pki, &dir, srv.port, &t, n, plans[n]) {
                        failures
                            .lock()
                            .unwrap()
                            .push(format!("seed {seed}: connection {n} {:?}: {e}", plans[n]));
                    }
                    moved.fetch_add(plans[n].up + plans[n].down, Ordering::Relaxed);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let took = t0.elapsed();
    eprintln!(
        "nothing_lost: {CONNECTIONS} connections, {} MiB in all, in {took:?}",
        moved.load(Ordering::Relaxed) >> 20
    );
    // Every server-side chain ended well, and left nothing behind.
    srv.wait_log("end pid", CONNECTIONS);
    let log = srv.log();
    let bad: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("end pid") && !l.contains("exitcode 0"))
        .collect();
    assert!(bad.is_empty(), "seed {seed}: {bad:?}");
    assert_none_tagged(&t, &[srv.pid()], Duration::from_secs(10), "chains");
}

fn one_connection(
    pki: &Pki,
    dir: &std::path::Path,
    port: u16,
    t: &str,
    n: usize,
    p: Plan,
) -> Result<(), String> {
    let up = data(p.up, p.content);
    let down = data(p.down, p.content.rotate_left(17));
    let upf = file(dir, &format!("up.{n}"), &up);
    let downf = file(dir, &format!("down.{n}"), &down);
    drop((up, down));
    let sums = sha256sums(&[&upf, &downf]);
    let (want_up, want_down) = (&sums[0], &sums[1]);
    let mut c = tls_client(
        pki,
        "127.0.0.1",
        port,
        &[],
        &["sh", "-c", &client_script(n, p.order)],
    );
    c.current_dir(dir)
        .env(TAG, t)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut proc = Proc::spawn(&mut c);
    let (code, err) = proc.finish(Duration::from_secs(60));
    if code != 0 {
        return Err(format!("client exit {code}: {err}"));
    }
    let got_down = digest_file(&dir.join(format!("down.{n}.got")));
    if got_down != *want_down {
        return Err(format!(
            "client got digest {got_down:?}, the server sent {want_down}"
        ));
    }
    // The server prog may still be hashing what came last.
    let upgot = dir.join(format!("up.{n}.got"));
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let got = digest_file(&upgot);
        if got == *want_up {
            break;
        }
        if Instant::now() > end {
            return Err(format!(
                "server got digest {got:?}, the client sent {want_up}"
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for f in [upf, downf, upgot, dir.join(format!("down.{n}.got"))] {
        let _ = std::fs::remove_file(f);
    }
    Ok(())
}

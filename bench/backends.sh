#!/usr/bin/env bash
# Compares the two TLS backends side by side on the same workload:
#   - bulk throughput each way: s6-tlsc -> s6-tlsd (and back) over one
#     loopback TCP connection, MiB bytes from /dev/zero, counted at the far
#     end (the count must match, or the run fails);
#   - handshakes per second: N connections one after the other, each a full
#     s6-tlsc + s6-tlsd handshake (process start-up included) and nothing
#     else.
# Beside wall-clock rates it reports the CPU time (user + system, all the
# processes of both ends) per unit of work, which holds up better than the
# rates on a machine shared with other jobs.
# Each backend talks to itself and negotiates its own preferred TLS 1.3
# suite (printed at the end): AES-128-GCM for both on a CPU with AES
# instructions; BoringSSL also offers the X25519MLKEM768 hybrid key exchange.
# Release builds: target/release (rustls) and target/boring/release.
# Loopback only; every process is bounded in time and killed on exit.
#
# Usage: bench/backends.sh [MiB (512)] [handshakes (200)]
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-512}
n=${2:-200}

cargo build --release -q
cargo build --release -q --no-default-features --features boring --target-dir target/boring

exec python3 - "$mib" "$n" "$PWD/target/release" "$PWD/target/boring/release" <<'EOF'
import fcntl, os, resource, shutil, signal, socket, subprocess, sys, tempfile, time

mib, count = int(sys.argv[1]), int(sys.argv[2])
backends = [("rustls", sys.argv[3]), ("boring", sys.argv[4])]
size = mib << 20
tmp = tempfile.mkdtemp(prefix="s6tls-bench.")
live = []

# A CA and a P-256 server certificate for localhost.
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
import pki
pki.make(tmp)

def env(bindir, **extra):
    e = {"PATH": bindir + ":/usr/bin:/bin"}
    e.update(extra)
    return e

def tcp_pair():
    """A connected loopback TCP pair, both fds numbered 10 and up."""
    l = socket.socket()
    l.bind(("127.0.0.1", 0))
    l.listen(1)
    c = socket.create_connection(l.getsockname())
    s, _ = l.accept()
    l.close()
    fds = [fcntl.fcntl(x.fileno(), fcntl.F_DUPFD_CLOEXEC, 10) for x in (c, s)]
    c.close()
    s.close()
    return fds

def start(bindir, cfd, sfd, client_app, server_app):
    """s6-tlsd on sfd (as its stdin/stdout), s6-tlsc on cfd (as fds 6/7)."""
    server = subprocess.Popen(
        ["s6-tlsd", "--"] + server_app, stdin=sfd, stdout=sfd, close_fds=False,
        env=env(bindir, KEYFILE=tmp + "/server.key", CERTFILE=tmp + "/server.pem"), cwd=tmp)
    live.append(server)
    def to_6_7():
        os.dup2(cfd, 6)
        os.dup2(cfd, 7)
    client = subprocess.Popen(
        ["s6-tlsc", "-k", "localhost", "--"] + client_app, stdin=subprocess.DEVNULL,
        env=env(bindir, CAFILE=tmp + "/ca.pem"), cwd=tmp, preexec_fn=to_6_7,
        # Every fd of ours is close-on-exec (PEP 446): only 0-2, 6, 7 pass.
        close_fds=False)
    live.append(client)
    os.close(cfd)
    os.close(sfd)
    return client, server

class Overdue(Exception):
    pass

def overdue(*_):
    raise Overdue()

signal.signal(signal.SIGALRM, overdue)

def finish(procs, limit, what):
    # A blocking wait under an alarm: Popen.wait(timeout) polls with
    # growing sleeps, which would quantise the times measured.
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        for p in procs:
            code = p.wait()
            live.remove(p)
            if code != 0:
                sys.exit(f"{what}: exit code {code}")
    except Overdue:
        sys.exit(f"{what}: still running after {limit}s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)

def read_count(name, what):
    with open(os.path.join(tmp, name)) as f:
        got = int(f.read().split()[0])
    if got != size:
        sys.exit(f"{what}: {got} bytes arrived, {size} sent")

def cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime

def bulk(bindir, up):
    cfd, sfd = tcp_pair()
    for f in ("count", "cipher"):
        if os.path.exists(os.path.join(tmp, f)):
            os.unlink(os.path.join(tmp, f))
    gen = f"head -c {size} /dev/zero"
    if up:
        client_app = ["sh", "-c", f"{gen} >&7; exec 7>&-; cat <&6 >/dev/null"]
        server_app = ["sh", "-c", 'echo "$SSL_PROTOCOL $SSL_CIPHER" > cipher; wc -c > count']
    else:
        client_app = ["sh", "-c", "exec 7>&-; wc -c <&6 > count"]
        server_app = ["sh", "-c", f'echo "$SSL_PROTOCOL $SSL_CIPHER" > cipher; {gen}; exec >&-; cat >/dev/null']
    t, c = time.monotonic(), cpu()
    procs = start(bindir, cfd, sfd, client_app, server_app)
    finish(procs, 600, "bulk")
    dt, dc = time.monotonic() - t, cpu() - c
    read_count("count", "bulk")
    with open(os.path.join(tmp, "cipher")) as f:
        cipher = f.read().strip()
    return size / (1 << 20) / dt, dc / (size / (1 << 30)), cipher

def handshakes(bindir):
    t, c = time.monotonic(), cpu()
    each = []
    for _ in range(count):
        t1 = time.monotonic()
        cfd, sfd = tcp_pair()
        finish(start(bindir, cfd, sfd, ["true"], ["true"]), 20, "handshake")
        each.append(time.monotonic() - t1)
    each.sort()
    rate = count / (time.monotonic() - t)
    return rate, each[len(each) // 2] * 1000, (cpu() - c) * 1000 / count

try:
    for _, bindir in backends:
        handshakes(bindir)  # warm the page cache
    rows = []
    ciphers = None
    for way, up in (("client -> server", True), ("server -> client", False)):
        r = [bulk(d, up) for _, d in backends]
        rows.append((f"{way}, {mib} MiB: MiB/s", [x[0] for x in r]))
        rows.append((f"{way}: CPU s per GiB", [x[1] for x in r]))
        ciphers = [x[2] for x in r]
    r = [handshakes(d) for _, d in backends]
    rows.append((f"handshakes/s ({count} sequential)", [x[0] for x in r]))
    rows.append(("median ms per connection", [x[1] for x in r]))
    rows.append(("CPU ms per connection", [x[2] for x in r]))
    print(f"{'':40} {'rustls':>10} {'boring':>10}")
    for label, vals in rows:
        print(f"{label:40} " + " ".join(f"{v:10.2f}" for v in vals))
    for (name, _), c in zip(backends, ciphers):
        print(f"{name} negotiated: {c}")
finally:
    for p in live:
        p.kill()
        p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
EOF

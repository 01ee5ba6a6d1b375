#!/usr/bin/env python3
"""Side-by-side benchmark of our TLS tunnels against stunnel, socat and
plain TCP, in one run on one machine (loopback only, every process bounded
in time and killed on exit). Called by bench/run.sh, which builds the
binaries; see there for the usage.

What it measures, for each subject:
  - bulk MiB/s each way through a whole client chain -> server chain, the
    byte count checked at the far end (a short count fails the run);
  - connections per second, sequential and concurrent, with p50/p99 of one
    connection (connect, handshake, 5-byte echo, close), from one rustls
    client process that reuses its config (examples/conn_bench.rs), so
    that the server side is what is timed;
  - our own client chain against our own server, sequential, each run
    started from a small Rust spawner (examples/spawn_bench.rs) with p50/p99;
  - the engines' peak RSS (VmHWM) during the bulk transfer;
  - the server's memory per idle connection (RSS and PSS, every process
    the connection costs);
  - binary sizes.
Rates vary with whatever else the machine runs: read the ratios between
columns of one run, not the absolute figures.
"""
import argparse, json, os, shutil, signal, socket, ssl, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402
from loopback import free_port, wait_listening  # noqa: E402
from sessions import in_sessions  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("--mib", type=int, default=1024, help="bulk transfer size each way")
p.add_argument("--conns", type=int, default=300, help="sequential connections per subject")
p.add_argument("--concurrency", type=int, default=4)
p.add_argument("--idle", type=int, default=20, help="idle connections for the memory figure")
p.add_argument("--subjects", default="", help="comma-separated subset of subjects")
p.add_argument("--rounds", type=int, default=3,
               help="bulk rounds, every subject once a round: the table has the medians")
p.add_argument("--ab", type=int, metavar="ROUNDS", default=0,
               help="only bulk, for our builds alone, in ROUNDS rounds alternating them (bench/ab.sh)")
p.add_argument("--refs", action="store_true",
               help="with --ab: stunnel and socat take their turns in every round too")
p.add_argument("--conn-bench", help="the examples/conn_bench binary")
p.add_argument("--spawn-bench", help="the examples/spawn_bench binary")
p.add_argument("--null-engine", help="the examples/null_engine binary: adds the no-cipher and "
               "relay-only columns, the first build's chain with engines that do not encrypt")
p.add_argument("dirs", nargs="+", help="name=bindir for each build of ours, first is the reference")
args = p.parse_args()
if not args.ab and not (args.conn_bench and args.spawn_bench):
    p.error("--conn-bench and --spawn-bench are needed, except with --ab")

size = args.mib << 20
CONN_BENCH = args.conn_bench and os.path.abspath(args.conn_bench)
SPAWN_BENCH = args.spawn_bench and os.path.abspath(args.spawn_bench)
tmp = tempfile.mkdtemp(prefix="s6tls-compare.")
live = []  # processes to kill at the end, whatever happens


# A CA and a P-256 certificate for localhost, used by every subject.
pki.make(tmp)
KEY, CERT, CA = (os.path.join(tmp, n) for n in ("server.key", "server.pem", "ca.pem"))


def spawn(argv, env=None, **kw):
    proc = subprocess.Popen(argv, env=env, cwd=tmp, start_new_session=True, **kw)
    live.append(proc)
    return proc


def killpg(proc, sig):
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def stop(proc):
    killpg(proc, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        pass
    # The leader if it is still there, and what it left behind in its group:
    # a socat child once outlived its listener, spinning on a core for the
    # rest of the run.
    killpg(proc, signal.SIGKILL)
    proc.wait()
    live.remove(proc)


def run(argv, env, limit, stdin=subprocess.DEVNULL):
    """Runs argv to its end, which is timed: a plain wait() returns the
    moment it exits, where wait(timeout) polls in sleeps of up to 50 ms, an
    error of up to 6% on a 1 GiB transfer at 1.2 GiB/s. A watchdog kills
    it after `limit` seconds instead."""
    proc = spawn(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL)
    overdue = threading.Event()

    def kill():
        overdue.set()
        killpg(proc, signal.SIGKILL)

    watchdog = threading.Timer(limit, kill)
    watchdog.start()
    code = proc.wait()
    watchdog.cancel()
    if overdue.is_set():
        sys.exit(f"{argv[0]}: still running after {limit}s")
    live.remove(proc)
    if code != 0:
        sys.exit(f"{' '.join(argv[:3])}...: exit code {code}")


# The applications at both ends of a bulk transfer: dd in 1 MiB blocks, so
# that they cost little next to the tunnel, with dd's own count checked.
def sender(wfd):
    return f"dd if=/dev/zero bs=1M count={args.mib} 2>/dev/null >&{wfd}; exec {wfd}>&-"


def counter(rfd, name):
    # It stops after exactly the bytes expected rather than at EOF: stunnel
    # passes no half-close on to the app it execs.
    return f"dd bs=1M count={args.mib} iflag=fullblock of=/dev/null <&{rfd} 2>{tmp}/{name}"


# The echo prog of the connection and memory figures, exec'd directly by
# every server: a shell in front of it would add a dynamic exec to each
# connection, which is the prog's cost, not the server's.
CAT = ["cat"]


def app_argv(prog):
    """A prog given as a list is exec'd as is, a string through sh -c."""
    return prog if isinstance(prog, list) else ["sh", "-c", prog]


def counted(name):
    with open(os.path.join(tmp, name)) as f:
        for line in f:
            if "bytes" in line:
                return int(line.split()[0])
    return -1


class Ours:
    """s6-tlsclient -> s6-tlsserver, default options (no -D), from bindir."""

    def __init__(self, name, bindir, tls=True):
        self.name, self.bindir, self.tls = name, bindir, tls

    def env(self, **extra):
        e = {"PATH": self.bindir + ":/usr/bin:/bin"}
        e.update(extra)
        return e

    def serve(self, prog):
        port = free_port()
        if self.tls:
            argv = ["s6-tlsserver", "-H", "127.0.0.1", str(port), *app_argv(prog)]
            env = self.env(KEYFILE=KEY, CERTFILE=CERT)
        else:
            argv = ["s6-tcpserver", "127.0.0.1", str(port), *app_argv(prog)]
            env = self.env()
        proc = spawn(argv, env=env, stderr=subprocess.DEVNULL)
        wait_listening(port)
        return proc, port

    def client(self, port, prog, limit=600, stdin=subprocess.DEVNULL):
        if self.tls:
            argv = ["s6-tlsclient", "-H", "-k", "localhost", "127.0.0.1", str(port), "sh", "-c", prog]
            env = self.env(CAFILE=CA)
        else:
            argv = ["s6-tcpclient", "-H", "127.0.0.1", str(port), "sh", "-c", prog]
            env = self.env()
        run(argv, env, limit, stdin)

    # fds of the client app and of the server app
    cfd = (6, 7)
    sfd = (0, 1)


class NoCipher(Ours):
    """The ceilings: the first build's s6-tlsclient -> s6-tlsserver chain
    with examples/null_engine as both engines. no-cipher: the same loop,
    buffers and copies, records framed as rustls does, nothing encrypted.
    relay-only (NULL_ENGINE=relay): each engine only reads into a buffer
    and writes from it, the least any engine in this chain does. What the
    tunnel's shape, four processes, two pipes and one TCP connection,
    allows on this machine. Bulk only. The programs are copied, not
    linked: they find their engines next to their own executable."""

    bulk_only = True

    def __init__(self, ref, engine, relay=False):
        name = "relay-only" if relay else "no-cipher"
        bindir = os.path.join(tmp, name)
        os.mkdir(bindir)
        for n in os.listdir(ref.bindir):
            src = os.path.join(ref.bindir, n)
            if n.startswith("s6-") and "." not in n and os.path.isfile(src) and os.access(src, os.X_OK):
                shutil.copy(src, bindir)
        for n in ("s6-tlsc-io", "s6-tlsd-io"):
            shutil.copy(engine, os.path.join(bindir, n))
        super().__init__(name, bindir)
        self.relay = relay

    def env(self, **extra):
        e = super().env(**extra)
        if self.relay:
            e["NULL_ENGINE"] = "relay"
        return e


class Stunnel:
    """stunnel at both ends: the server execs the app per connection (as
    inetd does); the client app reaches the client stunnel over one more
    plain loopback hop, through our s6-tcpclient."""

    name = "stunnel"
    cfd = (6, 7)
    sfd = (0, 1)

    def __init__(self, ref):
        self.ref = ref

    def conf(self, text):
        path = os.path.join(tmp, f"stunnel-{free_port()}.conf")
        with open(path, "w") as f:
            f.write("foreground = yes\npid =\ndebug = 0\n" + text)
        return path

    def serve(self, prog):
        port = free_port()
        if isinstance(prog, list):
            app = f"exec = {shutil.which(prog[0])}\nexecArgs = {' '.join(prog)}\n"
        else:
            with open(os.path.join(tmp, f"app-{port}.sh"), "w") as f:
                f.write(prog + "\n")
            app = f"exec = /bin/sh\nexecArgs = sh {tmp}/app-{port}.sh\n"
        conf = self.conf(f"[s]\naccept = 127.0.0.1:{port}\ncert = {CERT}\nkey = {KEY}\n" + app)
        proc = spawn(["stunnel4", conf], stderr=subprocess.DEVNULL)
        wait_listening(port)
        return proc, port

    def client(self, port, prog, limit=600, stdin=subprocess.DEVNULL):
        local = free_port()
        conf = self.conf(f"[c]\nclient = yes\naccept = 127.0.0.1:{local}\nconnect = 127.0.0.1:{port}\n"
                         f"CAfile = {CA}\nverifyChain = yes\ncheckHost = localhost\n")
        tunnel = spawn(["stunnel4", conf], stderr=subprocess.DEVNULL)
        try:
            wait_listening(local)
            run(["s6-tcpclient", "-H", "127.0.0.1", str(local), "sh", "-c", prog],
                self.ref.env(), limit, stdin)
        finally:
            stop(tunnel)


class Socat:
    """socat OPENSSL-LISTEN,fork with the app as SYSTEM at both ends."""

    name = "socat"
    cfd = (0, 1)
    sfd = (0, 1)

    def serve(self, prog):
        port = free_port()
        proc = spawn(["socat", f"OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,"
                      f"cert={CERT},key={KEY},verify=0",
                      f"EXEC:{' '.join(prog)}" if isinstance(prog, list) else f"SYSTEM:{prog}"],
                     stderr=subprocess.DEVNULL)
        wait_listening(port)
        return proc, port

    def client(self, port, prog, limit=600, stdin=subprocess.DEVNULL):
        run(["socat", "-t", "10", f"SYSTEM:{prog}",
             f"OPENSSL:127.0.0.1:{port},cafile={CA},commonname=localhost"],
            None, limit, stdin)


# --- engine memory: the high-water mark of every engine process seen ------

class EngineWatch(threading.Thread):
    """Samples the VmHWM of the engines this run started (found by their
    session: every process here is started in a session of its own), which
    only grows, so the last sample is the peak. /proc is scanned only until
    both engines are found; then only their own status is read, so that
    the watching takes next to no CPU from the transfer it watches (a scan
    of /proc every 20 ms took about a fifth of the tunnel's throughput)."""

    names = ("s6-tlsc-io", "s6-tlsd-io")

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = {}
        self.found = {}  # pid -> comm
        self.done = threading.Event()

    def scan(self):
        self.found.update(in_sessions({p.pid for p in list(live)}, self.names))

    def sample(self):
        for pid, comm in list(self.found.items()):
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            kib = int(line.split()[1])
                            self.peak[comm] = max(self.peak.get(comm, 0), kib)
            except OSError:
                pass

    def run(self):
        while not self.done.wait(0.02 if len(self.found) < 2 else 0.1):
            if len(self.found) < 2:
                self.scan()
            self.sample()


def bulk(subject, up):
    """MiB/s client -> server (up) or server -> client; the engines' peaks."""
    tag = f"{subject.name}-{'up' if up else 'down'}"
    cr, cw = subject.cfd
    sr, sw = subject.sfd
    if up:
        server_app = f"exec {sw}>&-; {counter(sr, tag)}"
        client_app = f"{sender(cw)}; cat <&{cr} >/dev/null"
    else:
        server_app = f"{sender(sw)}; cat <&{sr} >/dev/null"
        client_app = f"exec {cw}>&-; {counter(cr, tag)}"
    server, port = subject.serve(server_app)
    watch = EngineWatch()
    watch.start()
    try:
        t = time.monotonic()
        subject.client(port, client_app)
        if up:  # the server's count is written when its app ends
            end = time.monotonic() + 30
            while counted(tag) < 0 and time.monotonic() < end:
                time.sleep(0.005)
        dt = time.monotonic() - t
    finally:
        watch.done.set()
        watch.join()
        stop(server)
    got = counted(tag)
    if got != size:
        sys.exit(f"{tag}: {got} bytes arrived, {size} sent")
    return size / (1 << 20) / dt, watch.peak


# --- connections ------------------------------------------------------------

def timer(argv, env=None, limit=300):
    """Runs one of the Rust timers (examples/) in a session of its own, so
    that anything it left behind is killed: its JSON line of rate, p50,
    p99."""
    proc = spawn(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    name = os.path.basename(argv[0])
    try:
        out, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        sys.exit(f"{name}: still running after {limit}s")
    live.remove(proc)
    if proc.returncode != 0:
        sys.exit(f"{name}: exit code {proc.returncode}: {err.strip()}")
    return json.loads(out)


def conn_bench(port, count, clients):
    """Runs the Rust client (examples/conn_bench.rs): rate, p50, p99."""
    return timer([CONN_BENCH, str(port), CA, "localhost", str(count), str(clients)])


def connections(subject):
    server, port = subject.serve(CAT)
    try:
        conn_bench(port, 10, 1)  # warm the page cache and the server
        seq = conn_bench(port, args.conns, 1)
        conc = conn_bench(port, max(1, args.conns // args.concurrency), args.concurrency)
    finally:
        stop(server)
    return dict(seq=seq["rate"], seq_p50=seq["p50"], seq_p99=seq["p99"],
                conc=conc["rate"], conc_p50=conc["p50"], conc_p99=conc["p99"])


def own_client_rate(subject, n):
    """Our s6-tlsclient -> s6-tlsserver, a 5-byte echo each through our
    s6-ioconnect, sequential, started by examples/spawn_bench.rs (a Python
    Popen per connection cost a quarter of each one): rate, p50, p99."""
    server, port = subject.serve(CAT)
    try:
        return timer([SPAWN_BENCH, str(n), os.path.join(subject.bindir, "s6-tlsclient"),
                      "-H", "-k", "localhost", "127.0.0.1", str(port), "s6-ioconnect"],
                     env=subject.env(CAFILE=CA))
    finally:
        stop(server)


def exec_cost(subject, n=300):
    """ms to start s6-tlsd-io and have it exit (a usage error): what every
    connection pays for each program of the chain it execs."""
    path = os.path.join(subject.bindir, "s6-tlsd-io")
    t = time.monotonic()
    for _ in range(n):
        pid = os.posix_spawn(path, [path, "--no-such-option"], {},
                             file_actions=[(os.POSIX_SPAWN_OPEN, 2, "/dev/null", os.O_WRONLY, 0)])
        os.waitpid(pid, 0)
    return (time.monotonic() - t) * 1000 / n


# --- memory per idle connection ---------------------------------------------

def tree(root):
    """Pids of root's descendants."""
    kids = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(pid))
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def rss_pss(pid):
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss, pss


def total(pids):
    r = p = 0
    for pid in pids:
        try:
            a, b = rss_pss(pid)
            r, p = r + a, p + b
        except OSError:
            pass
    return r, p


def idle_memory(subject):
    server, port = subject.serve(CAT)
    held = []
    try:
        conn_bench(port, 1, 1)  # the server's first connection costs more
        time.sleep(0.2)
        base = total(tree(server.pid))
        ctx = ssl.create_default_context(cafile=CA)
        for _ in range(args.idle):
            s = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=10),
                                server_hostname="localhost")
            s.sendall(b"ping\n")
            s.recv(5)
            held.append(s)
        time.sleep(0.3)
        now = total(tree(server.pid))
        return tuple((b - a) / args.idle for a, b in zip(base, now))
    finally:
        for s in held:
            s.close()
        stop(server)


# --- the run ------------------------------------------------------------------

def binary_sizes(name, bindir):
    """Each program's own binary, stripped; a directory of symlinks to one
    multicall binary counts that binary once."""
    rows, seen = [], set()
    for prog in ("s6-tlsc-io", "s6-tlsd-io", "s6-tlsc", "s6-tlsd", "s6-tlsclient", "s6-tlsserver",
                 "s6-tcpserverd", "s6-networking"):
        path = os.path.realpath(os.path.join(bindir, prog))
        if not os.path.exists(path) or path in seen:
            continue
        seen.add(path)
        stripped = os.path.join(tmp, "strip-" + prog)
        shutil.copy(path, stripped)
        subprocess.run(["strip", stripped], check=True)
        rows.append((f"{name} {os.path.basename(path)}", os.path.getsize(stripped)))
    return rows


def busy_ticks():
    """The whole machine's busy clock ticks (steal and iowait left out)."""
    with open("/proc/stat") as f:
        user, nice, system, _idle, _iowait, irq, softirq = map(int, f.readline().split()[1:8])
    return user + nice + system + irq + softirq


def round_ratios(ours, ref):
    """Each round's rate over the reference's rate in the same round."""
    return [a / b for a, b in zip(ours, ref)]


def ab(ours):
    """Bulk alone, the subjects alternating round by round, so that a noisy
    machine's drift falls on every one alike: medians of MiB/s and of the
    machine's busy CPU-seconds per GiB, which hold up better than rates.
    With --refs, each round's ratio to stunnel and socat too: ratios of one
    round's neighbours drift less than either rate."""
    runs = {(s.name, way): [] for s in ours for way in ("up", "down")}
    peaks = {(s.name, way): {} for s in ours for way in ("up", "down")}
    hz = os.sysconf("SC_CLK_TCK")
    for _ in range(args.ab):
        for s in ours:
            for up in (True, False):
                before = busy_ticks()
                rate, peak = bulk(s, up)
                cpu = (busy_ticks() - before) / hz / (args.mib / 1024)
                way = "up" if up else "down"
                runs[(s.name, way)].append((rate, cpu))
                for comm, kib in peak.items():
                    peaks[(s.name, way)].setdefault(comm, []).append(kib)
    for (name, way), v in runs.items():
        hwm = "".join(f", {comm} peak KiB {kib}" for comm, kib in sorted(peaks[(name, way)].items()))
        print(f"{name} {way}: median {statistics.median(r for r, _ in v):.0f} MiB/s, "
              f"{statistics.median(c for _, c in v):.2f} CPU-s/GiB, runs {[round(r) for r, _ in v]}{hwm}")
    refs = [s.name for s in ours if not isinstance(s, Ours)]
    for s in ours:
        if not isinstance(s, Ours):
            continue
        for ref in refs:
            for way in ("up", "down"):
                ratios = round_ratios([r for r, _ in runs[(s.name, way)]],
                                      [r for r, _ in runs[(ref, way)]])
                print(f"{s.name} / {ref} {way}: median {statistics.median(ratios):.2f}x, "
                      f"rounds {[round(r, 2) for r in ratios]}")


def main():
    ours = [Ours(*d.split("=", 1)) for d in args.dirs]
    ceiling = [NoCipher(ours[0], args.null_engine, relay) for relay in (False, True)] if args.null_engine else []
    if args.ab:
        return ab(ours + ceiling + ([Stunnel(ours[0]), Socat()] if args.refs else []))
    ref = ours[0]
    subjects = ours + [Stunnel(ref), Socat(), Ours("plain-tcp", ref.bindir, tls=False)] + ceiling
    if args.subjects:
        keep = args.subjects.split(",")
        subjects = [s for s in subjects if s.name in keep]
    tls_subjects = [s for s in subjects if getattr(s, "tls", True) and not getattr(s, "bulk_only", False)]
    res = {s.name: {} for s in subjects}
    # Rounds of every subject in turn, so that a noisy machine's drift
    # falls on all of them alike; peaks are the highest of any round.
    rates = {(s.name, up): [] for s in subjects for up in (True, False)}
    for _ in range(args.rounds):
        for up in (True, False):
            for s in subjects:
                rate, peak = bulk(s, up)
                rates[(s.name, up)].append(rate)
                for comm, kib in peak.items():
                    res[s.name][f"hwm_{comm}"] = max(res[s.name].get(f"hwm_{comm}", 0), kib)
    for (name, up), v in rates.items():
        res[name][f"bulk_{'up' if up else 'down'}"] = statistics.median(v)
        res[name][f"bulk_{'up' if up else 'down'}_runs"] = v
    # Each build's ratio to stunnel and to socat in the same round: the
    # median of those drifts less than the ratio of two medians.
    for s in subjects:
        if not (isinstance(s, Ours) and s.tls):
            continue
        for ref in ("stunnel", "socat"):
            if ref in res:
                for up in (True, False):
                    ratios = round_ratios(rates[(s.name, up)], rates[(ref, up)])
                    res[s.name][f"x_{ref}_{'up' if up else 'down'}"] = statistics.median(ratios)
    for s in tls_subjects:
        res[s.name].update(connections(s))
        res[s.name]["idle_rss"], res[s.name]["idle_pss"] = idle_memory(s)
    for s in ours:
        if s.name in res:
            own = own_client_rate(s, max(50, args.conns // 3))
            res[s.name].update(own_client=own["rate"], own_p50=own["p50"], own_p99=own["p99"])
            res[s.name]["exec_ms"] = exec_cost(s)

    names = [s.name for s in subjects]
    rows = [
        (f"bulk client->server MiB/s ({args.mib} MiB)", "bulk_up", "{:.0f}"),
        (f"bulk server->client MiB/s ({args.mib} MiB)", "bulk_down", "{:.0f}"),
        ("  / stunnel, client->server", "x_stunnel_up", "{:.2f}x"),
        ("  / stunnel, server->client", "x_stunnel_down", "{:.2f}x"),
        ("  / socat, client->server", "x_socat_up", "{:.2f}x"),
        ("  / socat, server->client", "x_socat_down", "{:.2f}x"),
        (f"conn/s sequential ({args.conns})", "seq", "{:.0f}"),
        ("  p50 ms", "seq_p50", "{:.2f}"),
        ("  p99 ms", "seq_p99", "{:.2f}"),
        (f"conn/s, {args.concurrency} clients at once", "conc", "{:.0f}"),
        ("  p50 ms", "conc_p50", "{:.2f}"),
        ("  p99 ms", "conc_p99", "{:.2f}"),
        ("own s6-tlsclient conn/s sequential", "own_client", "{:.0f}"),
        ("  p50 ms", "own_p50", "{:.2f}"),
        ("  p99 ms", "own_p99", "{:.2f}"),
        ("start+exit of s6-tlsd-io, ms", "exec_ms", "{:.2f}"),
        ("peak RSS s6-tlsc-io KiB", "hwm_s6-tlsc-io", "{:.0f}"),
        ("peak RSS s6-tlsd-io KiB", "hwm_s6-tlsd-io", "{:.0f}"),
        ("idle conn, server RSS KiB", "idle_rss", "{:.0f}"),
        ("idle conn, server PSS KiB", "idle_pss", "{:.0f}"),
    ]
    width = max(12, *(len(n) + 1 for n in names))
    print(f"{'':40}" + "".join(f"{n:>{width}}" for n in names))
    for label, key, fmt in rows:
        cells = [fmt.format(res[n][key]) if key in res[n] else "-" for n in names]
        print(f"{label:40}" + "".join(f"{c:>{width}}" for c in cells))
    print(f"bulk: medians of {args.rounds} rounds, every subject once a round; "
          "the ratios are medians of each round's ratio")
    print()
    for s in ours:
        for label, n in binary_sizes(s.name, s.bindir):
            print(f"{label:40}{n:>12} bytes stripped")
    with open(os.environ.get("BENCH_JSON", os.devnull), "w") as f:
        json.dump(res, f, indent=1)


try:
    main()
finally:
    for proc in list(live):
        killpg(proc, signal.SIGKILL)
        proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)

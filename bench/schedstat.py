#!/usr/bin/env python3
"""Where a bulk transfer's CPU time goes between running, waiting to run
and idling: over a window in the middle of one s6-tlsclient -> s6-tlsserver
transfer (dd at both ends), each engine's and dd's time on a CPU and time
runnable in a run queue (/proc/PID/schedstat), their context switches,
and the machine's idle and busy CPUs (/proc/stat). Loopback only, bounded,
cleans up.

Usage: bench/schedstat.py BINDIR [--mib N] [--window S] [--down]
  e.g. bench/schedstat.py target/release
"""
import argparse, os, signal, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pki  # noqa: E402
from loopback import free_port, wait_listening  # noqa: E402
from sessions import in_sessions  # noqa: E402

p = argparse.ArgumentParser()
p.add_argument("bindir")
p.add_argument("--mib", type=int, default=8192, help="transfer size; it must outlast the window")
p.add_argument("--window", type=float, default=1.5, help="seconds sampled, after 0.6 s of warm-up")
p.add_argument("--down", action="store_true", help="server -> client instead of client -> server")
args = p.parse_args()
bindir = os.path.abspath(args.bindir)
tmp = tempfile.mkdtemp(prefix="s6tls-schedstat.")
pki.make(tmp)
env = {"PATH": bindir + ":/usr/bin:/bin", "KEYFILE": f"{tmp}/server.key",
       "CERTFILE": f"{tmp}/server.pem", "CAFILE": f"{tmp}/ca.pem"}

port = free_port()
send = f"dd if=/dev/zero bs=1M count={args.mib} 2>/dev/null"
if args.down:
    server_app, client_app = f"{send}; exec 1>&-; cat >/dev/null", "exec 7>&-; exec dd bs=1M of=/dev/null <&6 2>/dev/null"
else:
    server_app, client_app = "exec 1>&-; exec dd bs=1M of=/dev/null 2>/dev/null", f"{send} >&7; exec 7>&-; cat <&6 >/dev/null"
procs = []


def spawn(argv):
    proc = subprocess.Popen(argv, env=env, cwd=tmp, start_new_session=True, stderr=subprocess.DEVNULL)
    procs.append(proc)
    return proc


def members():
    """pid -> comm of the engines and dds in our sessions."""
    return in_sessions({pr.pid for pr in procs}, ("s6-tlsc-io", "s6-tlsd-io", "dd"))


def snapshot(pids):
    per = {}
    for pid in pids:
        with open(f"/proc/{pid}/schedstat") as f:
            on_cpu, waiting, _ = map(int, f.read().split())
        with open(f"/proc/{pid}/status") as f:
            sw = {k: int(v) for k, v in (l.split(":") for l in f if "ctxt_switches" in l)}
        per[pid] = (on_cpu, waiting, sw["voluntary_ctxt_switches"], sw["nonvoluntary_ctxt_switches"])
    with open("/proc/stat") as f:
        cpu = list(map(int, f.readline().split()[1:]))
    return time.monotonic(), per, cpu


try:
    spawn(["s6-tlsserver", "-H", "127.0.0.1", str(port), "sh", "-c", server_app])
    wait_listening(port)
    client = spawn(["s6-tlsclient", "-H", "-k", "localhost", "127.0.0.1", str(port), "sh", "-c", client_app])
    time.sleep(0.6)
    pids = members()
    if len(pids) < 4:
        sys.exit(f"found {sorted(pids.values())}, not two engines and two dds: a larger --mib?")
    t0, a, c0 = snapshot(pids)
    time.sleep(args.window)
    t1, b, c1 = snapshot(pids)
    if client.poll() is not None:
        sys.exit("the transfer ended inside the window: a larger --mib")
    dt = t1 - t0
    ncpu = os.cpu_count()
    print(f"{'process':12s} {'on CPU':>7s} {'runnable':>9s} {'sleeps/s':>9s} {'preempted/s':>12s}")
    total_on = total_wait = 0.0
    for pid, comm in sorted(pids.items(), key=lambda kv: kv[1]):
        on = (b[pid][0] - a[pid][0]) / 1e9 / dt
        wait = (b[pid][1] - a[pid][1]) / 1e9 / dt
        total_on += on
        total_wait += wait
        print(f"{comm:12s} {on:7.2f} {wait:9.2f} {(b[pid][2] - a[pid][2]) / dt:9.0f} {(b[pid][3] - a[pid][3]) / dt:12.0f}")
    d = [y - x for x, y in zip(c0, c1)]
    share = lambda i: d[i] / sum(d) * ncpu  # noqa: E731
    print(f"{'all four':12s} {total_on:7.2f} {total_wait:9.2f}   (CPU-equivalents over {dt:.2f} s)")
    print(f"machine: {ncpu} CPUs, idle {share(3):.2f}, user {share(0):.2f}, system {share(2):.2f}, softirq {share(6):.2f}")
finally:  # the rest of the transfer is not needed
    for pr in procs:
        try:
            os.killpg(pr.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pr.wait()

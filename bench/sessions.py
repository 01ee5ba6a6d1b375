"""The processes a benchmark started, found by session: each command it
runs starts a session of its own, which everything it execs and forks
stays in."""
import os


def in_sessions(sids, comms):
    """pid -> comm of the processes called one of `comms` in one of the
    sessions `sids`."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
            if comm not in comms:
                continue
            with open(f"/proc/{pid}/stat") as f:
                sid = int(f.read().rsplit(")", 1)[1].split()[3])
        except OSError:
            continue
        if sid in sids:
            found[pid] = comm
    return found

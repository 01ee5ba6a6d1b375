#!/usr/bin/env python3
"""A UCSPI-TLS prog for the error paths, to run under s6-ucspitlsd.

Usage: ucspi_probe.py OUTFILE close|byte X|start y|Y

close:   close $SSLCTLFD without a command, say "cleartext" on stdout
         (still the network), wait for the waiting child, exit 7.
byte X:  send X on the control socket and wait for the child.
start C: send C (y or Y), with Y read the notification block, read
         $SSLREADFD to its end, wait for the child.
OUTFILE receives "child=<exit code>", and what was read.
"""
import os
import sys

out, action = sys.argv[1], sys.argv[2]
ctl = int(os.environ["SSLCTLFD"])
report = []
code = 0
if action == "close":
    os.close(ctl)
    os.write(1, b"cleartext\n")
    code = 7
else:
    os.write(ctl, sys.argv[3].encode())
    if action == "start":
        if sys.argv[3] == "Y":
            block = bytearray()
            while True:
                chunk = os.read(ctl, 4096)
                if not chunk:
                    break
                block += chunk
            report.append(f"block={bytes(block)!r}")
        data = bytearray()
        rfd = int(os.environ["SSLREADFD"])
        while True:
            chunk = os.read(rfd, 4096)
            if not chunk:
                break
            data += chunk
        report.append(f"read={bytes(data)!r}")
    os.close(ctl)
# The child is ours: prog is the process s6-ucspitlsd forked it from.
os.close(int(os.environ["SSLWRITEFD"]))
_, status = os.wait()
report.insert(0, f"child={os.waitstatus_to_exitcode(status)}")
with open(out, "w") as f:
    f.write("\n".join(report) + "\n")
sys.exit(code)

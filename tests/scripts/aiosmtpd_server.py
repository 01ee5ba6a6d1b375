#!/usr/bin/env python3
"""A real STARTTLS server (aiosmtpd: Debian's python3-aiosmtpd or PyPI) for the tests.

Usage: aiosmtpd_server.py PORT CERTFILE KEYFILE OUTDIR

Listens on 127.0.0.1:PORT, requires STARTTLS before mail, writes each
message's content to OUTDIR/message, prints "ready" once it listens, and
stops when its stdin closes.
"""
import os
import ssl
import sys

from aiosmtpd.controller import Controller

port, certfile, keyfile, outdir = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler:
    async def handle_DATA(self, server, session, envelope):
        with open(os.path.join(outdir, "message"), "wb") as f:
            f.write(envelope.original_content)
        with open(os.path.join(outdir, "server_tls"), "w") as f:
            f.write(repr(session.ssl is not None) + "\n")
        return "250 2.0.0 message accepted"


ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(certfile, keyfile)
controller = Controller(
    Handler(),
    hostname="127.0.0.1",
    port=port,
    tls_context=ctx,
    require_starttls=True,
    decode_data=False,
)
controller.start()
print("ready", flush=True)
sys.stdin.read()
controller.stop()

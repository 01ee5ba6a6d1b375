#!/usr/bin/env python3
"""A small SMTP client for UCSPI-TLS, to run under s6-ucspitlsc.

Usage: smtp_client.py OUTDIR BODYFILE y|Y

It talks cleartext on fds 6/7 until the server accepts STARTTLS, then
writes the command byte to $SSLCTLFD (reading the notification block back
with Y) and sends one message over $SSLREADFD/$SSLWRITEFD. The replies
and the notification block land in OUTDIR.
"""
import os
import sys

outdir, bodyfile, mode = sys.argv[1], sys.argv[2], sys.argv[3]
rfd, wfd = 6, 7
replies = bytearray()


def save(name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def reply():
    # Byte by byte, up to the last line of the reply ("xyz text").
    lines = []
    while True:
        line = bytearray()
        while not line.endswith(b"\r\n"):
            c = os.read(rfd, 1)
            if not c:
                sys.exit("smtp_client: connection closed")
            line += c
        lines.append(bytes(line))
        replies.extend(line)
        if line[3:4] == b" ":
            return lines


def send(data):
    while data:
        data = data[os.write(wfd, data):]


def command(data, code):
    send(data)
    lines = reply()
    if not lines[-1].startswith(code):
        save("replies", bytes(replies))
        sys.exit(f"smtp_client: {data!r} got {lines!r}")
    return lines


reply()
lines = command(b"EHLO client.test\r\n", b"250")
if not any(b"STARTTLS" in l for l in lines):
    sys.exit("smtp_client: no STARTTLS offered")
command(b"STARTTLS\r\n", b"220")
ctl = int(os.environ["SSLCTLFD"])
os.write(ctl, mode.encode())
if mode == "Y":
    block = bytearray()
    while True:
        chunk = os.read(ctl, 4096)
        if not chunk:
            break
        block += chunk
    save("notification", bytes(block))
os.close(ctl)
rfd, wfd = int(os.environ["SSLREADFD"]), int(os.environ["SSLWRITEFD"])
lines = command(b"EHLO client.test\r\n", b"250")
if any(b"STARTTLS" in l for l in lines):
    sys.exit("smtp_client: STARTTLS still offered after the upgrade")
command(b"MAIL FROM:<a@client.test>\r\n", b"250")
command(b"RCPT TO:<b@server.test>\r\n", b"250")
command(b"DATA\r\n", b"354")
with open(bodyfile, "rb") as f:
    send(f.read())
command(b".\r\n", b"250")
command(b"QUIT\r\n", b"221")
save("replies", bytes(replies))

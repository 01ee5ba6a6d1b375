#!/usr/bin/env python3
"""A small SMTP server for UCSPI-TLS, to run under s6-ucspitlsd.

Usage: smtp_server.py OUTDIR y|Y

It talks cleartext on stdin/stdout (the network), advertises STARTTLS,
and on STARTTLS answers 220 then writes the command byte to $SSLCTLFD;
with Y it reads the handshake notification block back from $SSLCTLFD.
The dialogue then goes on over $SSLREADFD/$SSLWRITEFD. What the test
checks lands in OUTDIR: the environment seen, the notification block,
every byte sent after the upgrade, and the body of the DATA command.
"""
import os
import sys

outdir, mode = sys.argv[1], sys.argv[2]
rfd, wfd = 0, 1
tls = False
sent_after_tls = bytearray()


def save(name, data):
    with open(os.path.join(outdir, name), "wb") as f:
        f.write(data)


def readline():
    # Byte by byte: nothing past the line leaves the socket, so the
    # client's TLS handshake is all left for the engine.
    line = bytearray()
    while not line.endswith(b"\r\n"):
        c = os.read(rfd, 1)
        if not c:
            return None
        line += c
    return bytes(line)


def send(data):
    if tls:
        sent_after_tls.extend(data)
    while data:
        data = data[os.write(wfd, data):]


env = "".join(
    f"{k}={os.environ.get(k, '<unset>')}\n"
    for k in ["SSLCTLFD", "SSLREADFD", "SSLWRITEFD", "CERTFILE", "KEYFILE", "SSL_PROTOCOL",
              "PROTO", "TCPREMOTEIP", "TCPLOCALPORT"]
)
save("env", env.encode())
send(b"220 localhost ESMTP ucspi-tls test\r\n")
while True:
    line = readline()
    if line is None:
        sys.exit(3)
    verb = line.split(b" ", 1)[0].strip().upper()
    if verb in (b"EHLO", b"HELO"):
        send(b"250-localhost\r\n" + (b"" if tls else b"250-STARTTLS\r\n") + b"250 8BITMIME\r\n")
    elif verb == b"STARTTLS" and not tls:
        send(b"220 2.0.0 ready to start TLS\r\n")
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
        tls = True
    elif verb == b"HELP":
        text = b"".join(b"214-%05d %s\r\n" % (i, os.urandom(24).hex().encode()) for i in range(600))
        send(text + b"214 end of help\r\n")
    elif verb == b"DATA":
        send(b"354 go ahead\r\n")
        body = bytearray()
        while True:
            l = readline()
            if l is None:
                sys.exit(4)
            if l == b".\r\n":
                break
            body += l[1:] if l.startswith(b"..") else l
        save("body", bytes(body))
        send(b"250 2.0.0 got %d bytes\r\n" % len(body))
    elif verb == b"QUIT":
        send(b"221 2.0.0 bye\r\n")
        break
    else:
        send(b"250 2.0.0 ok\r\n")
save("sent_after_tls", bytes(sent_after_tls))

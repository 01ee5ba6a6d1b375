"""The benchmarks' test PKI: a CA and a P-256 certificate for localhost
(CA:FALSE, as rustls insists), made with openssl in a directory."""
import os
import subprocess


def make(tmp):
    """Writes ca.pem, server.key and server.pem under tmp."""
    def sh(*argv):
        subprocess.run(argv, check=True, cwd=tmp, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)

    sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", "ca.key", "-out", "ca.pem", "-subj", "/CN=bench CA", "-days", "2")
    sh("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
       "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    with open(os.path.join(tmp, "ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost\nbasicConstraints=critical,CA:FALSE\n")
    sh("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
       "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext")

//! The benchmark's TLS client (bench/compare.py): `clients` threads each
//! make `count` connections one after the other to 127.0.0.1:`port`, each
//! a full TCP connect, TLS handshake (chain and name verified against
//! `cafile`), a 5-byte echo checked byte for byte, and a close. Prints one
//! JSON line: connections/s over the whole run and p50/p99 of one
//! connection in ms.
//!
//! One client config serves every connection, so that what is timed is
//! the server, not the client's set-up: Python's ssl module (OpenSSL 3)
//! spent about 2 ms of CPU per handshake here, as much as the server.
//!
//! Usage: conn_bench PORT CAFILE SERVERNAME COUNT CLIENTS

#[path = "support/report.rs"]
mod report;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [port, cafile, name, count, clients] = &args[..] else {
        eprintln!("usage: conn_bench PORT CAFILE SERVERNAME COUNT CLIENTS");
        std::process::exit(100);
    };
    let port: u16 = port.parse().expect("PORT");
    let count: usize = count.parse().expect("COUNT");
    let clients: usize = clients.parse().expect("CLIENTS");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(cafile).expect("CAFILE") {
        roots.add(cert.expect("CAFILE")).expect("CAFILE");
    }
    let config = Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    );
    let name = ServerName::try_from(name.clone()).expect("SERVERNAME");

    let start = Instant::now();
    let workers: Vec<_> = (0..clients)
        .map(|_| {
            let (config, name) = (config.clone(), name.clone());
            std::thread::spawn(move || {
                (0..count)
                    .map(|_| one(port, &config, &name))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut times: Vec<Duration> = Vec::with_capacity(count * clients);
    for w in workers {
        match w.join() {
            Ok(t) => times.extend(t),
            Err(_) => std::process::exit(1),
        }
    }
    let total = start.elapsed();
    report::print(times, total);
}

/// One connection; any failure ends the run with a message and exit 1.
fn one(port: u16, config: &Arc<rustls::ClientConfig>, name: &ServerName<'static>) -> Duration {
    let fail = |what: &str, e: &dyn std::fmt::Display| -> ! {
        eprintln!("conn_bench: {what}: {e}");
        std::process::exit(1)
    };
    let t = Instant::now();
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| fail("connect", &e));
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| fail("set a timeout", &e));
    let conn = rustls::ClientConnection::new(config.clone(), name.clone())
        .unwrap_or_else(|e| fail("set up TLS", &e));
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    tls.write_all(b"ping\n")
        .unwrap_or_else(|e| fail("handshake and send", &e));
    let mut got = [0u8; 5];
    tls.read_exact(&mut got)
        .unwrap_or_else(|e| fail("read the echo", &e));
    if &got != b"ping\n" {
        fail("echo", &format!("{got:?}"));
    }
    tls.conn.send_close_notify();
    let _ = tls.flush();
    t.elapsed()
}

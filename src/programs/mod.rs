//! One module per program; each `main` reads like its man page.

pub mod applyuidgid;
pub mod ioconnect;
pub mod tcpclient;
pub mod tcpserver;
pub mod tcpserver_socketbinder;
pub mod tcpserverd;
pub mod tlsc;
pub mod tlsc_io;
pub mod tlsclient;
pub mod tlsd;
pub mod tlsd_io;
pub mod tlsserver;

/// Every program by name, for the multicall binary.
pub const ALL: &[(&str, fn() -> !)] = &[
    ("s6-applyuidgid", applyuidgid::main),
    ("s6-ioconnect", ioconnect::main),
    ("s6-tcpclient", tcpclient::main),
    ("s6-tcpserver", tcpserver::main),
    ("s6-tcpserver-socketbinder", tcpserver_socketbinder::main),
    ("s6-tcpserverd", tcpserverd::main),
    ("s6-tlsc", tlsc::main),
    ("s6-tlsc-io", tlsc_io::main),
    ("s6-tlsclient", tlsclient::main),
    ("s6-tlsd", tlsd::main),
    ("s6-tlsd-io", tlsd_io::main),
    ("s6-tlsserver", tlsserver::main),
];

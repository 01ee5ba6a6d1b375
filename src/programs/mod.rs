//! One module per program; each `main` reads like its man page.

pub mod accessrules_cdb_from_fs;
pub mod accessrules_fs_from_cdb;
pub mod applyuidgid;
pub mod ioconnect;
pub mod proxy_server;
pub mod tcpclient;
pub mod tcpserver;
pub mod tcpserver_access;
pub mod tcpserver_socketbinder;
pub mod tcpserverd;
pub mod tlsc;
pub mod tlsc_io;
pub mod tlsclient;
pub mod tlsd;
pub mod tlsd_io;
pub mod tlsserver;
pub mod ucspitlsc;
pub mod ucspitlsd;

/// Every program by name, for the multicall binary.
pub const ALL: &[(&str, fn() -> !)] = &[
    ("proxy-server", proxy_server::main),
    ("s6-accessrules-cdb-from-fs", accessrules_cdb_from_fs::main),
    ("s6-accessrules-fs-from-cdb", accessrules_fs_from_cdb::main),
    ("s6-applyuidgid", applyuidgid::main),
    ("s6-ioconnect", ioconnect::main),
    ("s6-tcpclient", tcpclient::main),
    ("s6-tcpserver", tcpserver::main),
    ("s6-tcpserver-access", tcpserver_access::main),
    ("s6-tcpserver-socketbinder", tcpserver_socketbinder::main),
    ("s6-tcpserverd", tcpserverd::main),
    ("s6-tlsc", tlsc::main),
    ("s6-tlsc-io", tlsc_io::main),
    ("s6-tlsclient", tlsclient::main),
    ("s6-tlsd", tlsd::main),
    ("s6-tlsd-io", tlsd_io::main),
    ("s6-tlsserver", tlsserver::main),
    ("s6-ucspitlsc", ucspitlsc::main),
    ("s6-ucspitlsd", ucspitlsd::main),
];

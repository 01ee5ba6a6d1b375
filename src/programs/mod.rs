//! One module per program; each `main` reads like its man page.

pub mod proxy_server;
pub mod tlsc;
pub mod tlsc_io;
pub mod tlsd;
pub mod tlsd_io;
pub mod ucspitlsc;
pub mod ucspitlsd;

/// Every program by name, for the multicall binary.
pub const ALL: &[(&str, fn() -> !)] = &[
    ("proxy-server", proxy_server::main),
    ("s6-tlsc", tlsc::main),
    ("s6-tlsc-io", tlsc_io::main),
    ("s6-tlsd", tlsd::main),
    ("s6-tlsd-io", tlsd_io::main),
    ("s6-ucspitlsc", ucspitlsc::main),
    ("s6-ucspitlsd", ucspitlsd::main),
];

//! One module per program; each `main` reads like its man page.

pub mod tlsc;
pub mod tlsc_io;
pub mod tlsd;
pub mod tlsd_io;

/// Every program by name, for the multicall binary.
pub const ALL: &[(&str, fn() -> !)] = &[
    ("s6-tlsc", tlsc::main),
    ("s6-tlsc-io", tlsc_io::main),
    ("s6-tlsd", tlsd::main),
    ("s6-tlsd-io", tlsd_io::main),
];

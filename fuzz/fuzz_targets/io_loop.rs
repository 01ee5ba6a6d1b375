//! The engine loop driven by a mock TLS session and scripted fds: short
//! reads and writes, EAGAIN, EPIPE, every kind of peer ending. The checker
//! asserts no byte is lost or invented, no spin, and the right exit code.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s6_tls::testing::loop_check::{Case, check};

fuzz_target!(|data: &[u8]| {
    if let Some(case) = Case::from_bytes(data) {
        check(&case);
    }
});

//! Pieces for driving the engine loop without a network or a TLS library:
//! a mock [`TlsSession`](crate::backend::TlsSession) and scripted fds. The
//! unit tests and the fuzz targets use them to check, step by step, that
//! the loop loses no byte, never spins and always ends with the right code.

pub mod loop_check;
pub mod mock_session;
pub mod scripted_ports;

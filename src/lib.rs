//! s6-tls: skarnet's s6-networking TLS suite, in Rust.
//!
//! Every program is a small chain-loader living in [`programs`]; the
//! plumbing they share lives once here: the option grammar
//! ([`options`]), messages and exit codes ([`fatal`]), spawning and
//! exec'ing ([`spawn`]), the syscall edge ([`sys`]). Only the engines
//! ([`engine`], [`io_loop`]) touch cryptography, through the
//! [`backend::TlsSession`] trait.

pub mod accessrules;
#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
mod aligned_alloc;
pub mod backend;
// The global allocator of musl builds; its tests run on every target.
#[cfg(any(test, all(target_os = "linux", target_env = "musl")))]
mod block_cache;
pub mod cdb;
pub mod cert_subject;
pub mod chain;
pub mod cipher_names;
pub mod creds;
pub mod engine;
pub mod fatal;
pub mod io_loop;
pub mod multicall;
pub mod net;
pub mod notify_block;
pub mod options;
pub mod programs;
pub mod proxy_header;
pub mod record_framing;
pub mod resolve;
pub mod selfpipe;
pub mod sni;
pub mod spawn;
pub mod sys;
pub mod testing;
pub mod tls_options;
pub mod tls_wrapper;
pub mod ucspi_tls;

#[cfg(all(target_os = "linux", target_env = "gnu", target_arch = "x86_64"))]
#[global_allocator]
static ALLOCATOR: aligned_alloc::PageAlignedBig = aligned_alloc::PageAlignedBig;

#[cfg(all(target_os = "linux", target_env = "musl"))]
#[global_allocator]
static ALLOCATOR: block_cache::BlockCache = block_cache::BlockCache::new();

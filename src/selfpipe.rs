//! Signals as bytes on a pipe (the self-pipe trick): the handler writes
//! the signal number, and the poll loop sees one more readable fd, so that
//! signals are handled in the loop, never inside a handler.

use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

static WRITE_END: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = WRITE_END.load(Ordering::Relaxed);
    if fd < 0 {
        return;
    }
    let byte = sig as u8;
    // SAFETY: write(2) and errno access are async-signal-safe; `byte` is
    // a live local. errno is saved and restored so that the interrupted
    // code never sees ours.
    unsafe {
        let errno = *libc::__errno_location();
        libc::write(fd, (&byte as *const u8).cast(), 1);
        *libc::__errno_location() = errno;
    }
}

/// The pipe; only one per process (the handler has one place to write).
pub struct SelfPipe {
    read: OwnedFd,
    _write: OwnedFd,
}

impl SelfPipe {
    /// Creates the pipe and routes `signals` to it.
    pub fn new(signals: &[libc::c_int]) -> io::Result<SelfPipe> {
        use rustix::pipe::{PipeFlags, pipe_with};
        let (read, write) = pipe_with(PipeFlags::CLOEXEC | PipeFlags::NONBLOCK)?;
        WRITE_END.store(write.as_raw_fd(), Ordering::Relaxed);
        for &sig in signals {
            // SAFETY: `sa` is fully initialised before use (zeroed, then
            // the handler, an empty mask and flags set); `on_signal` only
            // makes async-signal-safe calls.
            let r = unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as *const () as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                sa.sa_flags = libc::SA_RESTART
                    | if sig == libc::SIGCHLD {
                        libc::SA_NOCLDSTOP
                    } else {
                        0
                    };
                libc::sigaction(sig, &sa, std::ptr::null_mut())
            };
            if r < 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(SelfPipe {
            read,
            _write: write,
        })
    }

    pub fn fd(&self) -> BorrowedFd<'_> {
        self.read.as_fd()
    }

    /// The signals received since the last call, in order.
    pub fn drain(&self) -> io::Result<Vec<libc::c_int>> {
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&self.read, &mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend(buf[..n].iter().map(|&b| libc::c_int::from(b))),
                Err(rustix::io::Errno::AGAIN) => break,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(out)
    }
}

//! The syscall edge: fds known by number (the UCSPI contract hands us fds
//! 0, 1, 6, 7 and friends by convention, not as owned handles), signals and
//! privileges. rustix covers what it can; `libc` covers what rustix lacks
//! (signals, setuid/setgid/setgroups).

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

/// The page size that matters for copies (x86_64's, and the unit glibc's
/// slow `memcpy` case counts in): see `aligned_alloc` and the io_loop's
/// buffers.
pub(crate) const PAGE: usize = 4096;

/// Borrows an fd that the process was handed by number.
pub fn fd(n: RawFd) -> BorrowedFd<'static> {
    // SAFETY: the numbered fds of the UCSPI contract stay open for the life
    // of the process (we never close one while it is still used). Were one
    // closed, the kernel answers EBADF: no memory is touched through it.
    unsafe { BorrowedFd::borrow_raw(n) }
}

/// Is `n` an open fd?
pub fn is_open(n: RawFd) -> bool {
    n >= 0 && rustix::io::fcntl_getfd(fd(n)).is_ok()
}

pub fn set_nonblocking(n: RawFd) -> io::Result<()> {
    let flags = rustix::fs::fcntl_getfl(fd(n))?;
    rustix::fs::fcntl_setfl(fd(n), flags | rustix::fs::OFlags::NONBLOCK)?;
    Ok(())
}

pub fn set_cloexec(n: RawFd, on: bool) -> io::Result<()> {
    let flags = if on {
        rustix::io::FdFlags::CLOEXEC
    } else {
        rustix::io::FdFlags::empty()
    };
    rustix::io::fcntl_setfd(fd(n), flags)?;
    Ok(())
}

/// Makes `to` a copy of `from` (and leaves `from` open): a no-op when they
/// are the same fd, except that the close-on-exec flag is cleared.
pub fn dup_to(from: RawFd, to: RawFd) -> io::Result<()> {
    if from == to {
        return set_cloexec(to, false);
    }
    // SAFETY: dup2 on integers touches no memory; `to` is a number this
    // process decided to overwrite, by the UCSPI contract.
    let r = unsafe { libc::dup2(from, to) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

pub fn close(n: RawFd) {
    // SAFETY: closing a numbered fd the caller owns and will not use again.
    unsafe {
        libc::close(n);
    }
}

/// Writes are checked for errors instead of killing us: an app or a peer
/// that went away is an event the loops handle.
pub fn ignore_sigpipe() {
    // SAFETY: installing SIG_IGN has no handler code and no memory effects.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Drops to `uid`/`gid` for good, supplementary groups first (a process
/// that sets its uid first can no longer change its groups).
pub fn drop_privileges(
    uid: Option<u32>,
    gid: Option<u32>,
    groups: Option<&[u32]>,
) -> io::Result<()> {
    if let Some(list) = groups.or(gid.as_ref().map(std::slice::from_ref)) {
        let list: Vec<libc::gid_t> = list.to_vec();
        // SAFETY: `list` is a live slice of gid_t and we pass its exact length.
        if unsafe { libc::setgroups(list.len(), list.as_ptr()) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(g) = gid {
        // SAFETY: plain integer syscall.
        if unsafe { libc::setgid(g) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(u) = uid {
        // SAFETY: plain integer syscall.
        if unsafe { libc::setuid(u) } < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Which side of a [`fork`] we are on.
pub enum Forked {
    Parent,
    Child,
}

/// Splits the process in two. Only call it while the process has a single
/// thread (every program of the suite is single-threaded): the child then
/// owns a full copy of a consistent address space and may do anything.
pub fn fork() -> io::Result<Forked> {
    // SAFETY: fork has no memory effects on this process; the child is
    // sound because the suite's programs never start threads, so no lock
    // or allocator state can be left half-taken by another thread.
    match unsafe { libc::fork() } {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(Forked::Child),
        _ => Ok(Forked::Parent),
    }
}

/// Puts each `(from, to)` source onto fd number `to`, with close-on-exec
/// cleared, whatever the overlaps between sources and targets: every
/// source is first copied above all the targets, then moved down.
pub fn move_fds(moves: &[(RawFd, RawFd)]) -> io::Result<()> {
    let floor = moves.iter().map(|&(_, to)| to).max().unwrap_or(0) + 1;
    let mut tmp = Vec::with_capacity(moves.len());
    for &(from, _) in moves {
        let t = rustix::io::fcntl_dupfd_cloexec(fd(from), floor)?;
        tmp.push(t);
    }
    for (t, &(_, to)) in tmp.iter().zip(moves) {
        dup_to(std::os::fd::AsRawFd::as_raw_fd(t), to)?;
    }
    Ok(())
}

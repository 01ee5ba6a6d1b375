//! The global allocator of musl builds: musl's `malloc`, with the last few
//! freed blocks of record size kept for the next request of that size.
//!
//! Why: musl's allocator (mallocng) gives a group of blocks back to the
//! kernel as soon as its last block is freed. rustls allocates a block per
//! record (the sealed record on the way out, the plaintext on the way in)
//! and frees it a moment later, so in a bulk transfer about one record in
//! ten cost an `mmap`, a `munmap` and five page faults on fresh zeroed
//! pages: 1,000 to 1,800 pairs per GiB per engine (`strace -c`), and 4% of
//! the machine's samples (`perf`). A kept block costs no peak memory: it
//! was resident while in use a moment before. Only blocks of record size
//! are kept, a few at most, so that no large block freed once (a
//! certificate, a handshake buffer) stays resident for nothing.
//!
//! Its tests run on every target; it is the global allocator only on
//! musl (`lib.rs`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// How many freed blocks are kept at most.
const SLOTS: usize = 4;

/// The sizes kept: a TLS record's plaintext (16 KiB) and its sealed form
/// (header and tag added), and rustls's receive buffer, with a margin.
const SMALLEST: usize = 16 * 1024;
const LARGEST: usize = 20 * 1024;

#[derive(Clone, Copy)]
struct Kept {
    ptr: *mut u8,
    layout: Layout,
}

pub struct BlockCache {
    busy: AtomicBool,
    kept: UnsafeCell<[Option<Kept>; SLOTS]>,
}

// SAFETY: `kept` is only touched by whoever set `busy` (see `with_kept`);
// the pointers in it are blocks no one else holds.
unsafe impl Sync for BlockCache {}

impl BlockCache {
    pub const fn new() -> Self {
        BlockCache {
            busy: AtomicBool::new(false),
            kept: UnsafeCell::new([None; SLOTS]),
        }
    }

    /// Runs `f` on the kept blocks, or returns `None` without waiting if
    /// another thread is at them (the caller then goes to `System`).
    fn with_kept<R>(&self, f: impl FnOnce(&mut [Option<Kept>; SLOTS]) -> R) -> Option<R> {
        if self.busy.swap(true, Ordering::Acquire) {
            return None;
        }
        // SAFETY: `busy` was false and is now ours, so no other reference
        // to `kept` exists until it is released below.
        let r = f(unsafe { &mut *self.kept.get() });
        self.busy.store(false, Ordering::Release);
        Some(r)
    }
}

impl Default for BlockCache {
    fn default() -> Self {
        Self::new()
    }
}

fn kept_size(layout: &Layout) -> bool {
    (SMALLEST..=LARGEST).contains(&layout.size())
}

// SAFETY (for the impl): every block handed out is a `System` block of
// the layout asked for, either fresh or one freed with that same layout
// and not handed out since; `System` frees each one once.
unsafe impl GlobalAlloc for BlockCache {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if kept_size(&layout) {
            let hit = self.with_kept(|kept| {
                kept.iter_mut()
                    .find(|k| matches!(k, Some(k) if k.layout == layout))
                    .and_then(Option::take)
            });
            if let Some(k) = hit.flatten() {
                return k.ptr;
            }
        }
        // SAFETY: the caller's non-zero layout, passed on.
        unsafe { System.alloc(layout) }
    }

    // `alloc_zeroed` stays `System`'s (the default would go through
    // `alloc` and clear a kept block): `calloc` leaves fresh memory
    // untouched, so the engines' big zeroed buffers stay out of the
    // resident set until data flows.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's non-zero layout, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if kept_size(&layout) {
            let stored = self.with_kept(|kept| match kept.iter_mut().find(|k| k.is_none()) {
                Some(slot) => {
                    *slot = Some(Kept { ptr, layout });
                    true
                }
                None => false,
            });
            if stored == Some(true) {
                return;
            }
        }
        // SAFETY: a `System` block of this layout (see the impl), not kept.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Every block is `System`'s with its layout, kept or not, so
        // `System` can resize it (in place when it can).
        // SAFETY: the caller's block, layout and non-zero size, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 1).unwrap()
    }

    #[test]
    fn a_freed_record_block_comes_back_for_the_same_layout() {
        let cache = BlockCache::new();
        let l = layout(16 * 1024 + 22);
        // SAFETY: non-zero layouts; every block is freed once with its own.
        unsafe {
            let a = cache.alloc(l);
            assert!(!a.is_null());
            a.write_bytes(0xab, l.size());
            cache.dealloc(a, l);
            // Another size does not get it.
            let other = cache.alloc(layout(16 * 1024));
            assert_ne!(other, a);
            let b = cache.alloc(l);
            assert_eq!(b, a);
            // Every byte is usable.
            b.write_bytes(0xcd, l.size());
            cache.dealloc(b, l);
            cache.dealloc(other, layout(16 * 1024));
        }
    }

    #[test]
    fn only_record_sizes_are_kept_and_only_a_few() {
        let cache = BlockCache::new();
        // SAFETY: as above.
        unsafe {
            for size in [64, 4096, 64 * 1024] {
                let l = layout(size);
                let a = cache.alloc(l);
                cache.dealloc(a, l);
                assert!(cache.with_kept(|k| k.iter().all(Option::is_none)).unwrap());
            }
            let l = layout(16 * 1024);
            let blocks: Vec<_> = (0..SLOTS + 2).map(|_| cache.alloc(l)).collect();
            for &p in &blocks {
                cache.dealloc(p, l);
            }
            let kept = cache.with_kept(|k| k.iter().flatten().count()).unwrap();
            assert_eq!(kept, SLOTS);
            // They all come back, each once.
            let again: Vec<_> = (0..SLOTS).map(|_| cache.alloc(l)).collect();
            for p in &again {
                assert!(blocks[..SLOTS].contains(p));
            }
            let mut sorted = again.clone();
            sorted.sort();
            sorted.dedup();
            assert_eq!(sorted.len(), SLOTS);
            for p in again {
                cache.dealloc(p, l);
            }
        }
    }

    #[test]
    fn zeroed_blocks_are_zero_even_after_a_dirty_one_was_kept() {
        let cache = BlockCache::new();
        let l = layout(16 * 1024);
        // SAFETY: as above.
        unsafe {
            let a = cache.alloc(l);
            a.write_bytes(0xff, l.size());
            cache.dealloc(a, l);
            let z = cache.alloc_zeroed(l);
            assert!(
                std::slice::from_raw_parts(z, l.size())
                    .iter()
                    .all(|&b| b == 0)
            );
            cache.dealloc(z, l);
        }
    }

    #[test]
    fn a_kept_block_grows_and_keeps_its_bytes() {
        let cache = BlockCache::new();
        let l = layout(16 * 1024);
        // SAFETY: as above; `realloc` returns the block freed afterwards.
        unsafe {
            let a = cache.alloc(l);
            cache.dealloc(a, l);
            let b = cache.alloc(l);
            for i in 0..l.size() {
                b.add(i).write(i as u8);
            }
            let c = cache.realloc(b, l, 40 * 1024);
            assert!(!c.is_null());
            for i in 0..l.size() {
                assert_eq!(c.add(i).read(), i as u8);
            }
            cache.dealloc(c, layout(40 * 1024));
        }
    }
}

//! The global allocator of glibc x86_64 builds: glibc's `malloc`, with
//! every block of a page or more (and no stricter alignment asked for)
//! starting on a page boundary.
//!
//! Why: glibc's `memcpy` copies large blocks with `rep movsb`, which on
//! AMD CPUs runs about 20 times slower when the destination is 1 to 31
//! bytes past the source modulo 4 KiB. rustls copies every decrypted record
//! out of its receive buffer, from 5 bytes past that buffer's start (the
//! record header) into a fresh block of the record's size. Where glibc
//! happens to place those two blocks decides whether every record hits the
//! slow case; here it did, and the copy took a third of the client
//! engine's time. With both blocks on page boundaries the destination is
//! always 5 bytes *before* the source modulo 4 KiB, whatever the heap
//! looks like. musl's `memcpy` has no such case, so musl builds do not
//! place blocks (they keep freed record blocks instead: `block_cache`).
//!
//! Each big block sits inside a `malloc` (or `calloc`) block a page
//! larger, which is how a block of one size keeps being reused; zeroed
//! ones still come from `calloc`, which leaves fresh memory untouched, so
//! the engines' 64 KiB buffers stay out of the resident set until data
//! flows.

use std::alloc::{GlobalAlloc, Layout, System};

// Blocks at least a page large (and asking for no more than a page's
// alignment) are page-aligned.
use crate::sys::PAGE;

/// Below a page-aligned block: the pointer `malloc` returned for it.
const HEADER: usize = size_of::<*mut u8>();

pub struct PageAlignedBig;

fn is_big(layout: &Layout) -> bool {
    layout.size() >= PAGE && layout.align() <= PAGE
}

/// What a big block of `size` bytes takes from `malloc`: a page more, so
/// that a page boundary with room for the header below it falls inside.
/// `malloc`'s own blocks of one size are reused as they are freed, where
/// `posix_memalign` splits them and left the heap three times its size.
fn raw_layout(size: usize) -> Option<Layout> {
    Layout::from_size_align(size.checked_add(PAGE)?, 16).ok()
}

/// The page boundary inside `raw`, with `raw` recorded just below it.
///
/// # Safety
/// `raw` is null or a live block of [`raw_layout`] for the caller's size.
unsafe fn place(raw: *mut u8) -> *mut u8 {
    if raw.is_null() {
        return raw;
    }
    let skip = (raw as usize + HEADER).next_multiple_of(PAGE) - raw as usize;
    // SAFETY: `raw` is 16-aligned, so `skip` is between HEADER and PAGE:
    // the block (PAGE more than the size) holds the header and the size
    // after it, and the header's address, a page boundary less 8, is
    // aligned for a pointer.
    unsafe {
        let block = raw.add(skip);
        block.sub(HEADER).cast::<*mut u8>().write(raw);
        block
    }
}

/// The block `malloc` returned for a big block.
///
/// # Safety
/// `block` came from [`place`].
unsafe fn raw_of(block: *mut u8) -> *mut u8 {
    // SAFETY: `place` wrote the pointer there.
    unsafe { block.sub(HEADER).cast::<*mut u8>().read() }
}

/// A block for `layout` from `get` (`System`'s `alloc` or
/// `alloc_zeroed`): as it is when small, placed on a page inside a larger
/// one when big.
///
/// # Safety
/// `layout` has a non-zero size.
unsafe fn from_system(layout: Layout, get: unsafe fn(&System, Layout) -> *mut u8) -> *mut u8 {
    if !is_big(&layout) {
        // SAFETY: the caller's layout, passed on.
        return unsafe { get(&System, layout) };
    }
    match raw_layout(layout.size()) {
        // SAFETY: a non-zero layout; `place` gets what `System` gave.
        Some(raw) => unsafe { place(get(&System, raw)) },
        None => std::ptr::null_mut(),
    }
}

// SAFETY (for the impl): small blocks are `System`'s, with the caller's
// layout. A big block lies inside a `System` block of `raw_layout(size)`,
// page-aligned, valid for `size` bytes; the caller's layout (which says
// whether a block is big) finds the `System` block again to free it.
unsafe impl GlobalAlloc for PageAlignedBig {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's layout, non-zero as `alloc` requires.
        unsafe { from_system(layout, System::alloc) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // `calloc` hands out fresh memory without touching it: of the
        // engines' untouched buffers only the header's page is resident.
        // SAFETY: as in `alloc`.
        unsafe { from_system(layout, System::alloc_zeroed) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !is_big(&layout) {
            // SAFETY: a small block is `System`'s, with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        if let Some(raw) = raw_layout(layout.size()) {
            // SAFETY: a big block came from `place`, inside a `System`
            // block of this layout.
            unsafe { System.dealloc(raw_of(ptr), raw) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        if !is_big(&layout) && !is_big(&new_layout) {
            // SAFETY: a small block of `System`'s, staying small.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        // SAFETY: `new_layout` is non-zero (it is big, or the old one was
        // and shrinks to a non-zero size, as `realloc` requires); both
        // blocks are live and distinct, and the old one is freed once,
        // after the copy.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::PAGE;

    fn aligned(p: *const u8) -> bool {
        (p as usize).is_multiple_of(PAGE)
    }

    #[test]
    fn blocks_of_a_page_or_more_start_on_a_page() {
        for size in [PAGE, PAGE + 1, 16 * 1024 + 5, 1 << 20] {
            let v: Vec<u8> = Vec::with_capacity(size);
            assert!(aligned(v.as_ptr()), "{size} bytes at {:p}", v.as_ptr());
        }
    }

    #[test]
    fn growing_past_a_page_moves_the_bytes_onto_a_page() {
        let mut v: Vec<u8> = (0..100u8).collect();
        v.reserve_exact(3 * PAGE);
        assert!(aligned(v.as_ptr()));
        assert_eq!(v, (0..100u8).collect::<Vec<_>>());
        v.extend((0..4 * PAGE).map(|i| i as u8));
        v.shrink_to(200);
        assert_eq!(&v[..100], &(0..100u8).collect::<Vec<_>>()[..]);
        assert_eq!(&v[100..200], &(0..100u8).collect::<Vec<_>>()[..]);
    }

    #[test]
    fn zeroed_blocks_are_zero_and_on_a_page() {
        for _ in 0..3 {
            let mut v = vec![0u8; 64 * 1024];
            assert!(aligned(v.as_ptr()));
            assert!(v.iter().all(|&b| b == 0));
            v.fill(0xff); // the next round may get this block back
        }
    }

    #[test]
    fn stricter_alignments_are_kept() {
        let layout = std::alloc::Layout::from_size_align(8 * PAGE, 2 * PAGE).unwrap();
        // SAFETY: a valid non-zero layout, freed with the same layout.
        unsafe {
            let p = std::alloc::alloc(layout);
            assert!(!p.is_null());
            assert!((p as usize).is_multiple_of(2 * PAGE));
            std::alloc::dealloc(p, layout);
        }
    }
}

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
//! looks like. musl's `memcpy` has no such case, so musl builds keep
//! musl's allocator as it is.
//!
//! Zeroed blocks are left where `calloc` puts them: it hands out fresh
//! memory without touching it, and the engines' 64 KiB buffers stay out of
//! the resident set until data flows. Those buffers are the other side of
//! rustls's copies, at an offset glibc chooses, as before.

use std::alloc::{GlobalAlloc, Layout, System};

/// Blocks at least this large (and asking for no more than this
/// alignment) are page-aligned.
const PAGE: usize = 4096;

pub struct PageAlignedBig;

fn big(layout: Layout) -> Option<Layout> {
    (layout.size() >= PAGE && layout.align() <= PAGE)
        .then(|| Layout::from_size_align(layout.size(), PAGE).ok())
        .flatten()
}

// SAFETY (for the impl): every method hands the layout it was given, or
// the same size with a larger power-of-two alignment, to `System`, which
// returns memory valid for that layout, hence for the caller's. `System`'s
// `dealloc` is `free` whatever the alignment, so a block may be freed with
// either layout.
unsafe impl GlobalAlloc for PageAlignedBig {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let layout = big(layout).unwrap_or(layout);
        // SAFETY: the layout has a non-zero size, as the caller's had.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's own layout, passed on unchanged.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` (through this allocator), and
        // `System` frees any of its blocks with `free`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = match Layout::from_size_align(new_size, layout.align()) {
            Ok(l) => l,
            Err(_) => return std::ptr::null_mut(),
        };
        let Some(new_big) = big(new_layout) else {
            // SAFETY: a small result may sit anywhere, and `realloc`
            // handles any block `System` gave out.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // `realloc` would not keep the page alignment: move the block.
        // SAFETY: `new_big` has a non-zero size.
        let new = unsafe { System.alloc(new_big) };
        if !new.is_null() {
            // SAFETY: both blocks are live, distinct, and at least this
            // long; the old one is freed once, after the copy.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                System.dealloc(ptr, layout);
            }
        }
        new
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
    fn zeroed_blocks_are_zero() {
        let v = vec![0u8; 64 * 1024];
        assert!(v.iter().all(|&b| b == 0));
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

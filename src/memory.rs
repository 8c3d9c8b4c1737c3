//! The allocator and what it tells us about memory use.
//!
//! Redistill uses jemalloc, like Redis, for three reasons: its size classes
//! keep fragmentation low under cache churn (many same-sized values freed
//! and reallocated), it reports the bytes the program really holds
//! (`stats.allocated`), which is what `max_memory` is measured against, and
//! it can hand freed pages back to the operating system on demand, so RSS
//! drops after FLUSHDB or a wave of expiry instead of staying at the peak.

use std::sync::atomic::{AtomicU64, Ordering};

use tikv_jemalloc_ctl::{epoch, stats};

// Not under loom: its model threads run on stacks jemalloc does not expect
// and crash, and the loom tests need no particular allocator.
#[cfg(not(loom))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options (it reads this symbol before `main`):
///
/// - background threads return freed pages to the OS within about 200 ms
///   (the default is ten seconds), so RSS follows the data down after a
///   FLUSHDB, a wave of expiry or eviction, and stays within a few percent
///   of `max_memory` while eviction churns through memory at full speed,
///   without any work on the request path;
/// - `cache_oblivious:false`: by default every allocation over 16 KiB gets
///   an extra page so that its start can be offset at random (against
///   cache-set aliasing of page-aligned buffers). Almost all of our memory
///   is 64 KiB log segments, read at scattered record offsets, so that page
///   bought nothing and cost 6% of RSS (17 MB of 311 with a million keys).
#[allow(non_upper_case_globals)]
#[export_name = "_rjem_malloc_conf"]
pub static malloc_conf: Option<&'static u8> = Some(&MALLOC_CONF[0]);

const MALLOC_CONF: &[u8] = b"background_thread:true,dirty_decay_ms:200,muzzy_decay_ms:0,cache_oblivious:false\0";

/// The highest `allocated()` seen by [`refresh`].
static PEAK: AtomicU64 = AtomicU64::new(0);

/// Refresh jemalloc's statistics (they are cached until the epoch moves)
/// and return the bytes allocated by the program.
pub fn refresh() -> u64 {
    let _ = epoch::advance();
    let allocated = stats::allocated::read().unwrap_or(0) as u64;
    PEAK.fetch_max(allocated, Ordering::Relaxed);
    allocated
}

/// Bytes allocated as of the last refresh.
pub fn allocated() -> u64 {
    stats::allocated::read().unwrap_or(0) as u64
}

/// Bytes in the pages that hold allocations (allocated plus the unused
/// parts of those pages), as of the last refresh.
pub fn active() -> u64 {
    stats::active::read().unwrap_or(0) as u64
}

/// Bytes of jemalloc's own bookkeeping, as of the last refresh.
pub fn metadata() -> u64 {
    stats::metadata::read().unwrap_or(0) as u64
}

/// Bytes in pages jemalloc has mapped and are resident, as of the last
/// refresh.
pub fn resident() -> u64 {
    stats::resident::read().unwrap_or(0) as u64
}

/// The peak of `allocated()`.
pub fn peak() -> u64 {
    PEAK.load(Ordering::Relaxed)
}

/// The bytes jemalloc really reserves for an allocation of `bytes` (its
/// size class), so that collections can count their memory exactly
/// rather than by the sizes they asked for.
///
/// Collections ask this twice per write, so the classes up to
/// [`COMPUTED_CLASSES`] are computed here rather than asked of jemalloc
/// (`nallocx` costs a call and a table walk): 8 bytes, then four classes
/// per doubling up to 16 KiB (jemalloc's layout with its default 16-byte
/// quantum), then whole pages, as this build of jemalloc answers. A test
/// compares every size with `nallocx`.
pub fn size_class(bytes: usize) -> usize {
    match bytes {
        0 => 0,
        ..=COMPUTED_CLASSES if classes_are_computable() => computed_size_class(bytes),
        _ => jemalloc_size_class(bytes),
    }
}

/// The class of 1 to [`COMPUTED_CLASSES`] bytes.
fn computed_size_class(bytes: usize) -> usize {
    if bytes <= 8 {
        8
    } else if bytes <= SMALL_CLASSES {
        let step = (bytes.next_power_of_two() / 8).max(16);
        bytes.next_multiple_of(step)
    } else {
        bytes.next_multiple_of(PAGE)
    }
}

/// The sizes whose class [`size_class`] computes, and the end of the
/// four-per-doubling classes.
const COMPUTED_CLASSES: usize = 4 << 20;
const SMALL_CLASSES: usize = 16 << 10;
const PAGE: usize = 4096;

/// Whether jemalloc's classes are the ones [`computed_size_class`]
/// assumes (a build with other pages or quantum falls back to asking),
/// checked once on a sample of sizes.
fn classes_are_computable() -> bool {
    static COMPUTABLE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *COMPUTABLE.get_or_init(|| {
        let mut samples =
            (1..=SMALL_CLASSES + 2 * PAGE).step_by(7).chain((0..64).map(|i| COMPUTED_CLASSES - i * 65_537));
        samples.all(|bytes| computed_size_class(bytes) == jemalloc_size_class(bytes))
    })
}

fn jemalloc_size_class(bytes: usize) -> usize {
    // SAFETY: nallocx only computes a size class; it touches no memory
    // and accepts any size (0 is answered above, where it is undefined).
    let class = unsafe { tikv_jemalloc_sys::nallocx(bytes, 0) };
    if class == 0 {
        bytes
    } else {
        class
    }
}

/// Return all unused dirty pages to the operating system now.
pub fn purge() {
    // "arena.<MALLCTL_ARENAS_ALL>.purge"; 4096 is MALLCTL_ARENAS_ALL.
    const NAME: &[u8] = b"arena.4096.purge\0";
    // SAFETY: NAME is NUL-terminated, and this mallctl neither reads nor
    // writes a value, so null pointers with zero lengths are what it takes.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            NAME.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn start_up_options_are_applied() {
        // SAFETY: opt.dirty_decay_ms is a read-only ssize_t.
        let decay: isize = unsafe { tikv_jemalloc_ctl::raw::read(b"opt.dirty_decay_ms\0") }.unwrap_or(-2);
        assert_eq!(decay, 200);
        // SAFETY: opt.cache_oblivious is a read-only bool.
        let cache_oblivious: bool = unsafe { tikv_jemalloc_ctl::raw::read(b"opt.cache_oblivious\0") }.unwrap_or(true);
        assert!(!cache_oblivious);
    }

    #[test]
    fn computed_size_classes_are_jemallocs() {
        assert!(super::classes_are_computable());
        for bytes in 1..=super::COMPUTED_CLASSES + 4096 {
            assert_eq!(super::size_class(bytes), super::jemalloc_size_class(bytes), "{bytes} bytes");
        }
    }
}

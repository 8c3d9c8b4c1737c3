//! Freeing large values off the worker threads, like Redis's lazy free.
//!
//! Dropping a collection of a million elements takes milliseconds; done
//! under a shard lock on a worker thread, every client of that worker (and
//! of that shard) would wait. Values past [`THRESHOLD`] elements are
//! instead handed to one background thread that drops them. The memory
//! accounting of the shard forgets them at once; the allocator's counters
//! (and so `used_memory`) follow when the thread has freed them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::OnceLock;

/// Values with more elements than this are freed in the background
/// (Redis's `LAZYFREE_THRESHOLD`).
pub const THRESHOLD: usize = 64;

/// A value to drop, and how many objects it counts for in INFO.
type Garbage = (Box<dyn Send>, usize);

/// Values handed over and not yet freed (INFO's `lazyfree_pending_objects`).
static PENDING: AtomicUsize = AtomicUsize::new(0);
/// Values freed in the background (INFO's `lazyfreed_objects`).
static FREED: AtomicUsize = AtomicUsize::new(0);

/// The channel to the background thread, started on first use (None if
/// the thread could not be started: values are then freed in place).
fn sender() -> Option<&'static Sender<Garbage>> {
    static SENDER: OnceLock<Option<Sender<Garbage>>> = OnceLock::new();
    let sender = SENDER.get_or_init(|| {
        let (tx, rx) = channel::<Garbage>();
        let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
            for (garbage, objects) in rx {
                drop(garbage);
                PENDING.fetch_sub(objects, Ordering::Relaxed);
                FREED.fetch_add(objects, Ordering::Relaxed);
            }
        });
        spawned.ok().map(|_| tx)
    });
    sender.as_ref()
}

/// Drop `value` on the background thread if `elements` says it is large,
/// else here and now.
pub fn free<T: Send + 'static>(value: T, elements: usize) {
    if elements > THRESHOLD {
        hand_over(value, 1);
    } else {
        drop(value);
    }
}

/// Like [`free`] for a value that INFO counts as `objects` objects once
/// freed (FUNCTION FLUSH ASYNC: each function and the engine, as Redis).
pub fn free_objects<T: Send + 'static>(value: T, objects: usize) {
    if objects > THRESHOLD {
        hand_over(value, objects);
    } else {
        drop(value);
    }
}

fn hand_over<T: Send + 'static>(value: T, objects: usize) {
    let Some(tx) = sender() else { return drop(value) };
    PENDING.fetch_add(objects, Ordering::Relaxed);
    if let Err(returned) = tx.send((Box::new(value), objects)) {
        // The thread is gone (it never panics, but be safe): free here.
        PENDING.fetch_sub(objects, Ordering::Relaxed);
        drop(returned);
    }
}

/// Values handed to the background thread and not yet freed.
pub fn pending() -> usize {
    PENDING.load(Ordering::Relaxed)
}

/// Values the background thread has freed.
pub fn freed() -> usize {
    FREED.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT.
pub fn reset_freed() {
    FREED.store(0, Ordering::Relaxed);
}

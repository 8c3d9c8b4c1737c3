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
use std::sync::{Mutex, OnceLock};

/// Values with more elements than this are freed in the background
/// (Redis's `LAZYFREE_THRESHOLD`).
pub const THRESHOLD: usize = 64;

type Garbage = Box<dyn Send>;

/// Values handed over and not yet freed (INFO's `lazyfree_pending_objects`).
static PENDING: AtomicUsize = AtomicUsize::new(0);
/// Values freed in the background (INFO's `lazyfreed_objects`).
static FREED: AtomicUsize = AtomicUsize::new(0);

fn sender() -> Option<Sender<Garbage>> {
    static SENDER: OnceLock<Option<Mutex<Sender<Garbage>>>> = OnceLock::new();
    let sender = SENDER.get_or_init(|| {
        let (tx, rx) = channel::<Garbage>();
        let spawned = std::thread::Builder::new().name("lazyfree".into()).spawn(move || {
            for garbage in rx {
                drop(garbage);
                PENDING.fetch_sub(1, Ordering::Relaxed);
                FREED.fetch_add(1, Ordering::Relaxed);
            }
        });
        spawned.ok().map(|_| Mutex::new(tx))
    });
    sender.as_ref().map(|tx| tx.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone())
}

/// Drop `value` on the background thread if `elements` says it is large,
/// else here and now.
pub fn free<T: Send + 'static>(value: T, elements: usize) {
    if elements <= THRESHOLD {
        return drop(value);
    }
    PENDING.fetch_add(1, Ordering::Relaxed);
    if let Some(tx) = sender() {
        if let Err(returned) = tx.send(Box::new(value)) {
            // The thread is gone (it never panics, but be safe): free here.
            PENDING.fetch_sub(1, Ordering::Relaxed);
            drop(returned);
        }
    } else {
        PENDING.fetch_sub(1, Ordering::Relaxed);
    }
}

pub fn pending() -> usize {
    PENDING.load(Ordering::Relaxed)
}

pub fn freed() -> usize {
    FREED.load(Ordering::Relaxed)
}

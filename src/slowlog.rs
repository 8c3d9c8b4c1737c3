//! SLOWLOG: the last commands that ran longer than
//! `slowlog-log-slower-than` microseconds, as Redis keeps them.
//!
//! Every command compares its duration with the threshold (one relaxed
//! load); only a slow one takes the log's lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::protocol::Args;

/// Redis keeps at most 32 arguments and 128 bytes of each.
const MAX_ARGS: usize = 32;
const MAX_ARG_LEN: usize = 128;

pub struct Entry {
    pub id: u64,
    pub unix_seconds: u64,
    pub micros: u64,
    pub args: Vec<Vec<u8>>,
    pub client_addr: String,
    pub client_name: String,
}

pub struct SlowLog {
    /// Microseconds; negative disables the log, 0 logs every command.
    threshold: AtomicI64,
    max_len: AtomicUsize,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        Self {
            threshold: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl SlowLog {
    pub fn threshold(&self) -> i64 {
        self.threshold.load(Ordering::Relaxed)
    }

    pub fn set_threshold(&self, micros: i64) {
        self.threshold.store(micros, Ordering::Relaxed);
    }

    pub fn max_len(&self) -> usize {
        self.max_len.load(Ordering::Relaxed)
    }

    pub fn set_max_len(&self, len: usize) {
        self.max_len.store(len, Ordering::Relaxed);
        let mut entries = self.entries();
        entries.truncate(len);
    }

    fn entries(&self) -> MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Log a command if it took at least the threshold.
    pub fn record(&self, elapsed_ns: u64, args: &Args<'_>, client_addr: impl FnOnce() -> (String, String)) {
        let threshold = self.threshold();
        let micros = elapsed_ns / 1000;
        if threshold < 0 || (micros as i64) < threshold {
            return;
        }
        let (client_addr, client_name) = client_addr();
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            unix_seconds: crate::clock::now_ms() / 1000,
            micros,
            args: trimmed_args(args),
            client_addr,
            client_name,
        };
        let mut entries = self.entries();
        entries.push_front(entry);
        entries.truncate(self.max_len());
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries().clear();
    }

    /// Run `f` over the newest `count` entries.
    pub fn newest(&self, count: usize, f: impl FnOnce(&mut dyn Iterator<Item = &Entry>)) {
        let entries = self.entries();
        f(&mut entries.iter().take(count));
    }
}

/// Arguments as Redis logs them: at most 32 (the last saying how many more
/// there were), each cut to 128 bytes with a note of what was left out.
fn trimmed_args(args: &Args<'_>) -> Vec<Vec<u8>> {
    let total = args.len();
    let shown = if total > MAX_ARGS { MAX_ARGS - 1 } else { total };
    let mut out: Vec<Vec<u8>> = args
        .iter()
        .take(shown)
        .map(|arg| {
            if arg.len() > MAX_ARG_LEN {
                let mut cut = arg[..MAX_ARG_LEN].to_vec();
                cut.extend_from_slice(format!("... ({} more bytes)", arg.len() - MAX_ARG_LEN).as_bytes());
                cut
            } else {
                arg.to_vec()
            }
        })
        .collect();
    if total > MAX_ARGS {
        out.push(format!("... ({} more arguments)", total - shown).into_bytes());
    }
    out
}

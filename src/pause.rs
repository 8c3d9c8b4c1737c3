//! CLIENT PAUSE / UNPAUSE: the pause every worker consults before it runs
//! a command.
//!
//! Redis holds a paused client's command, it does not refuse it: the
//! client waits, its command and whatever it pipelined behind it stay
//! buffered, and it runs once the pause ends (by CLIENT UNPAUSE or its
//! deadline). A `WRITE` pause holds only commands that may change the
//! dataset (the table's `WRITE` and `MAY_REPLICATE` flags, and an EXEC
//! whose queue holds one); an `ALL` pause holds every command, CLIENT
//! UNPAUSE from the pausing client included, as in Redis.
//!
//! The state is two atomics read on every command while a pause is set
//! (one atomic load otherwise); changes go through a mutex so that two
//! CLIENT PAUSE calls combine as Redis combines them: the later deadline
//! and the more restrictive mode win. Workers that hold connections sleep
//! in their poll until the deadline, and CLIENT UNPAUSE wakes them (see
//! `net::worker`), so a paused server spends no CPU waiting.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};

/// What a pause holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseMode {
    /// Commands that may write.
    Write = 1,
    /// Every command.
    All = 2,
}

const NONE: u8 = 0;

#[derive(Default)]
pub struct Pause {
    /// [`NONE`] or a [`PauseMode`] as u8.
    mode: AtomicU8,
    /// Unix ms at which the pause ends.
    end_ms: AtomicU64,
    /// Serialises changes (reads take no lock).
    change: Mutex<()>,
    /// Connections whose command is held now (INFO's `blocked_clients`,
    /// which counts them in Redis too).
    held: AtomicUsize,
}

impl Pause {
    /// CLIENT PAUSE: hold commands until `end_ms`. A pause already in
    /// force keeps its later deadline and its more restrictive mode.
    pub fn pause(&self, end_ms: u64, mode: PauseMode, now: u64) {
        let _change = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        let current = self.mode_at(now);
        let mode = current.map_or(mode, |current| current.max(mode));
        let end = self.end_ms.load(Ordering::Acquire).max(end_ms);
        self.end_ms.store(end, Ordering::Release);
        self.mode.store(mode as u8, Ordering::Release);
    }

    /// CLIENT UNPAUSE. The caller wakes the workers holding connections.
    pub fn unpause(&self) {
        let _change = self.change.lock().unwrap_or_else(PoisonError::into_inner);
        self.mode.store(NONE, Ordering::Release);
        self.end_ms.store(0, Ordering::Release);
    }

    /// The mode in force at `now`, if any.
    fn mode_at(&self, now: u64) -> Option<PauseMode> {
        let mode = match self.mode.load(Ordering::Acquire) {
            NONE => return None,
            m if m == PauseMode::Write as u8 => PauseMode::Write,
            _ => PauseMode::All,
        };
        (now < self.end_ms.load(Ordering::Acquire)).then_some(mode)
    }

    /// Whether a command must wait at `now`; `may_write`: whether it may
    /// change the dataset. One atomic load while no pause is set.
    pub fn holds(&self, may_write: bool, now: u64) -> bool {
        match self.mode_at(now) {
            None => false,
            Some(PauseMode::All) => true,
            Some(PauseMode::Write) => may_write,
        }
    }

    /// Milliseconds until the pause ends (None when none is in force).
    pub fn remaining_ms(&self, now: u64) -> Option<u64> {
        self.mode_at(now).map(|_| self.end_ms.load(Ordering::Acquire).saturating_sub(now))
    }

    /// A connection's command started (true) or stopped (false) waiting.
    pub fn count_held(&self, held: bool) {
        if held {
            self.held.fetch_add(1, Ordering::Relaxed);
        } else {
            self.held.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Connections waiting for the pause to end.
    pub fn held_clients(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_deadline_and_stricter_mode_win_until_it_ends() {
        let pause = Pause::default();
        assert!(!pause.holds(true, 0));
        pause.pause(200, PauseMode::All, 0);
        pause.pause(20, PauseMode::Write, 10);
        assert!(pause.holds(false, 50), "ALL is kept over a later WRITE");
        assert_eq!(pause.remaining_ms(50), Some(150));
        assert!(!pause.holds(true, 200), "over at its deadline");
        pause.pause(300, PauseMode::Write, 250);
        assert!(pause.holds(true, 260) && !pause.holds(false, 260), "an expired ALL no longer counts");
        pause.unpause();
        assert!(!pause.holds(true, 260));
        assert_eq!(pause.remaining_ms(260), None);
    }
}

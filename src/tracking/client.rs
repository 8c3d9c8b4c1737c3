//! One client's CLIENT TRACKING state: its options, where its
//! invalidations go, and a count of those it was sent.
//!
//! It lives in the client's shared record (`crate::clients::ClientInfo`)
//! because other threads read it: a writer on another worker decides from
//! it whether and where to send an invalidation, and CLIENT LIST shows it.
//! The client's own connection changes it, except for the broken
//! redirection flag, which whoever finds the redirection gone sets.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

/// CLIENT TRACKING's state bits (Redis's `CLIENT_TRACKING*` flags).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flags(u8);

impl Flags {
    pub const ON: Flags = Flags(1);
    pub const BCAST: Flags = Flags(1 << 1);
    pub const OPTIN: Flags = Flags(1 << 2);
    pub const OPTOUT: Flags = Flags(1 << 3);
    pub const NOLOOP: Flags = Flags(1 << 4);
    /// CLIENT CACHING YES (under OPTIN) or NO (under OPTOUT) was given for
    /// the next command.
    pub const CACHING: Flags = Flags(1 << 5);
    /// The client its invalidations are redirected to is gone.
    pub const BROKEN_REDIRECT: Flags = Flags(1 << 6);
    pub const NONE: Flags = Flags(0);
    /// What CLIENT TRACKING ON sets from its options.
    pub const OPTIONS: Flags = Flags(Self::BCAST.0 | Self::OPTIN.0 | Self::OPTOUT.0 | Self::NOLOOP.0);
    /// Everything CLIENT TRACKING OFF clears.
    pub const ALL: Flags = Flags(u8::MAX);

    pub const fn with(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    pub const fn without(self, other: Flags) -> Flags {
        Flags(self.0 & !other.0)
    }

    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn intersects(self, other: Flags) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether a key this client reads now is remembered for it: tracking
    /// is on in the default (not BCAST) mode and, under OPTIN, CLIENT
    /// CACHING YES came before, or under OPTOUT, CLIENT CACHING NO did not.
    pub fn remembers_reads(self) -> bool {
        let caching = self.contains(Flags::CACHING);
        let opted_out = if self.contains(Flags::OPTIN) { !caching } else { self.contains(Flags::OPTOUT) && caching };
        self.contains(Flags::ON) && !self.contains(Flags::BCAST) && !opted_out
    }
}

/// One client's tracking state (see the module documentation).
#[derive(Debug, Default)]
pub struct ClientTracking {
    flags: AtomicU8,
    /// The client its invalidations go to (0: itself).
    redirect: AtomicU64,
    /// Invalidations sent for it: a read that sees this move while it ran
    /// may have lost its entry in the tracking table (see
    /// `crate::commands::tracking`).
    invalidations: AtomicU64,
}

impl ClientTracking {
    pub fn flags(&self) -> Flags {
        Flags(self.flags.load(Ordering::Acquire))
    }

    pub fn is_on(&self) -> bool {
        self.flags().contains(Flags::ON)
    }

    /// Change the flags as `change` says (atomically, since another
    /// thread may mark the redirection broken meanwhile).
    pub fn update(&self, change: impl Fn(Flags) -> Flags) {
        let _ = self.flags.fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| Some(change(Flags(bits)).0));
    }

    pub fn redirect(&self) -> u64 {
        self.redirect.load(Ordering::Acquire)
    }

    pub fn set_redirect(&self, id: u64) {
        self.redirect.store(id, Ordering::Release);
    }

    pub fn invalidations(&self) -> u64 {
        self.invalidations.load(Ordering::SeqCst)
    }

    pub fn note_invalidation(&self) {
        self.invalidations.fetch_add(1, Ordering::SeqCst);
    }

    /// CLIENT LIST's tracking flags (`t`, `R`, `B`), in Redis's order.
    pub fn list_flags(&self) -> String {
        let flags = self.flags();
        [(Flags::ON, 't'), (Flags::BROKEN_REDIRECT, 'R'), (Flags::BCAST, 'B')]
            .into_iter()
            .filter(|(flag, _)| flags.contains(*flag))
            .map(|(_, letter)| letter)
            .collect()
    }

    /// CLIENT GETREDIR and CLIENT LIST's `redir`: the redirection while
    /// tracking is on (0: none), -1 while it is off.
    pub fn redirect_shown(&self) -> i64 {
        if self.is_on() {
            i64::try_from(self.redirect()).unwrap_or(i64::MAX)
        } else {
            -1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optin_and_optout_decide_with_caching() {
        let on = Flags::ON;
        assert!(on.remembers_reads());
        assert!(!on.with(Flags::BCAST).remembers_reads());
        assert!(!on.with(Flags::OPTIN).remembers_reads());
        assert!(on.with(Flags::OPTIN).with(Flags::CACHING).remembers_reads());
        assert!(on.with(Flags::OPTOUT).remembers_reads());
        assert!(!on.with(Flags::OPTOUT).with(Flags::CACHING).remembers_reads());
        assert!(!Flags::NONE.remembers_reads());
    }

    #[test]
    fn client_list_shows_flags_and_redirect() {
        let tracking = ClientTracking::default();
        assert_eq!((tracking.list_flags(), tracking.redirect_shown()), (String::new(), -1));
        tracking.set_redirect(7);
        tracking.update(|f| f.with(Flags::ON).with(Flags::BCAST).with(Flags::BROKEN_REDIRECT));
        assert_eq!((tracking.list_flags(), tracking.redirect_shown()), ("tRB".to_string(), 7));
        tracking.update(|f| f.without(Flags::ALL));
        assert_eq!(tracking.redirect_shown(), -1);
    }
}

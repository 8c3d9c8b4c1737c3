//! The ghost queue of S3-FIFO: which keys were evicted from probation
//! recently, without their data.
//!
//! A key that comes back soon after it was evicted (a miss and a SET) is
//! one the small queue was too short to judge, so it goes straight to the
//! main queue. Remembering a key costs 2 bytes: a direct-mapped table of
//! 16-bit fingerprints of its hash, with about one slot per key in the
//! shard. A newer key landing on the same slot overwrites an older one,
//! which is how the ghost forgets (close to FIFO order, at no cost); a
//! fingerprint collision only admits a key to the main queue early.

/// Never fewer slots than this once the ghost is in use.
const MIN_SLOTS: usize = 64;

#[derive(Default)]
pub struct Ghost {
    slots: Vec<u16>,
}

impl Ghost {
    /// Remember a key evicted from probation. `keys` is the shard's key
    /// count: the table grows (forgetting what it held) to keep a slot per
    /// key, so it remembers about as many keys as the shard holds.
    pub fn remember(&mut self, hash: u64, keys: usize) {
        let wanted = keys.max(MIN_SLOTS).next_power_of_two();
        if self.slots.len() < wanted {
            self.slots = vec![0; wanted];
        }
        let (slot, fingerprint) = self.place(hash);
        self.slots[slot] = fingerprint;
    }

    /// Whether a key with this hash was evicted from probation recently.
    pub fn recalls(&self, hash: u64) -> bool {
        if self.slots.is_empty() {
            return false;
        }
        let (slot, fingerprint) = self.place(hash);
        self.slots[slot] == fingerprint
    }

    /// Bytes of memory held.
    pub fn footprint(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<u16>()
    }

    /// The slot (from the hash's low bits) and a never-zero fingerprint
    /// (from its bits 48-63: independent of the slot and of the shard,
    /// which is picked by bits 32 and up).
    fn place(&self, hash: u64) -> (usize, u16) {
        let slot = hash as usize & (self.slots.len() - 1);
        (slot, (hash >> 48) as u16 | 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recalls_what_it_was_told_until_overwritten() {
        let mut ghost = Ghost::default();
        assert!(!ghost.recalls(42));
        ghost.remember(0xabcd_0000_0000_0005, 10);
        assert!(ghost.recalls(0xabcd_0000_0000_0005));
        assert!(!ghost.recalls(0xabce_0000_0000_0005), "another fingerprint on the same slot");
        assert!(!ghost.recalls(0xabcd_0000_0000_0006), "another slot");
        ghost.remember(0x1234_0000_0000_0005, 10);
        assert!(!ghost.recalls(0xabcd_0000_0000_0005), "a newer key on the slot makes it forget");
        assert_eq!(ghost.footprint(), MIN_SLOTS * 2);
    }

    #[test]
    fn grows_with_the_shard() {
        let mut ghost = Ghost::default();
        ghost.remember(1, 1000);
        assert_eq!(ghost.footprint(), 1024 * 2);
        assert!(ghost.recalls(1));
        ghost.remember(2, 10);
        assert_eq!(ghost.footprint(), 1024 * 2, "it does not shrink");
    }
}

//! Hash slots: which of Redis Cluster's 16384 slots a key belongs to
//! (CRC16/XMODEM of the key, or of its `{hash tag}`, modulo 16384), and a
//! set of slots.

use crc::{Crc, Table, CRC_16_XMODEM};

/// The number of hash slots, as in Redis Cluster.
pub const SLOTS: usize = 16384;

/// The mask that takes a CRC16 to a slot (16384 is a power of two).
const SLOT_MASK: u16 = (SLOTS - 1) as u16;

/// Slice-by-16 tables (8 KiB): every key of every command is hashed in
/// cluster mode, and a byte at a time cost about 9 instructions a byte.
const CRC16: Crc<u16, Table<16>> = Crc::<u16, Table<16>>::new(&CRC_16_XMODEM);

/// The slot of `key`, as Redis's `keyHashSlot`: if the key holds a `{`
/// followed later by a `}` with at least one byte between them, only the
/// bytes between the first `{` and the first `}` after it are hashed, so
/// keys sharing that tag share a slot.
pub fn key_slot(key: &[u8]) -> u16 {
    CRC16.checksum(hash_tag(key)) & SLOT_MASK
}

/// The part of `key` that is hashed.
fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = key.iter().position(|&b| b == b'{') else { return key };
    let tail = &key[open + 1..];
    match tail.iter().position(|&b| b == b'}') {
        Some(close) if close > 0 => &tail[..close],
        _ => key,
    }
}

/// The one slot every key a glob-style `pattern` can match is in, if
/// there is one (Redis's `patternHashSlot`): the slot of its hash tag, or
/// of the whole pattern when it matches a single key. None when a wildcard
/// or an escape comes before a complete tag.
pub fn pattern_slot(pattern: &[u8]) -> Option<u16> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &byte) in pattern.iter().enumerate() {
        match byte {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' if open == Some(i.wrapping_sub(1)) => {
                open = None;
                empty_tag = true;
            }
            b'}' if open.is_some() => {
                let start = open.map_or(0, |at| at + 1);
                return Some(CRC16.checksum(&pattern[start..i]) & SLOT_MASK);
            }
            _ => {}
        }
    }
    Some(CRC16.checksum(pattern) & SLOT_MASK)
}

/// A set of slots, one bit each.
#[derive(Clone, PartialEq, Eq)]
pub struct SlotSet(Box<[u64]>);

impl Default for SlotSet {
    fn default() -> Self {
        Self(vec![0; SLOTS / 64].into_boxed_slice())
    }
}

impl SlotSet {
    pub fn insert(&mut self, slot: u16) {
        self.0[usize::from(slot) / 64] |= 1 << (slot % 64);
    }

    pub fn remove(&mut self, slot: u16) {
        self.0[usize::from(slot) / 64] &= !(1 << (slot % 64));
    }

    pub fn contains(&self, slot: u16) -> bool {
        self.0[usize::from(slot) / 64] & (1 << (slot % 64)) != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&word| word == 0)
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|word| word.count_ones() as usize).sum()
    }

    /// The slots in the set, in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..SLOTS as u16).filter(|&slot| self.contains(slot))
    }
}

impl std::fmt::Debug for SlotSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SlotSet({} slots)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_test_vectors() {
        for (key, slot) in [
            ("foo", 12182),
            ("bar", 5061),
            ("{user1000}.following", 3443),
            ("{user1000}.followers", 3443),
            ("foo{}{bar}", 8363),
            ("foo{{bar}}zap", 4015),
            ("foo{bar}{zap}", 5061),
            ("", 0),
            ("{", 4092),
        ] {
            assert_eq!(key_slot(key.as_bytes()), slot, "{key:?}");
        }
    }

    #[test]
    fn hash_tags() {
        assert_eq!(hash_tag(b"a{b}c"), b"b");
        assert_eq!(hash_tag(b"a{}c"), b"a{}c");
        assert_eq!(hash_tag(b"a{b"), b"a{b");
        assert_eq!(hash_tag(b"a}b{"), b"a}b{");
        assert_eq!(hash_tag(b"{{x}}"), b"{x");
    }

    #[test]
    fn pattern_slots() {
        assert_eq!(pattern_slot(b"foo"), Some(12182));
        assert_eq!(pattern_slot(b"w_{user1000}_*"), Some(3443));
        assert_eq!(pattern_slot(b"w_*_{user1000}"), None);
        assert_eq!(pattern_slot(b"a?{b}"), None);
        assert_eq!(pattern_slot(b"a\\{b}"), None);
        assert_eq!(pattern_slot(b"foo{}{bar}"), Some(key_slot(b"foo{}{bar}")));
        assert_eq!(pattern_slot(b"{bar}"), Some(5061));
    }

    #[test]
    fn slot_sets() {
        let mut set = SlotSet::default();
        assert!(set.is_empty());
        for slot in [0, 63, 64, 16383] {
            set.insert(slot);
        }
        assert!(set.contains(64) && !set.contains(65));
        assert_eq!(set.len(), 4);
        set.remove(63);
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![0, 64, 16383]);
    }
}

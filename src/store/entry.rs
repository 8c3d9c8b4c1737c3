//! One cached value and its metadata.

use bytes::Bytes;

/// A value in the cache with its optional deadline.
#[derive(Debug, Clone)]
pub struct Entry {
    value: Bytes,
    /// Unix milliseconds after which the entry is gone; 0 means never.
    expires_at: u64,
}

impl Entry {
    pub fn new(value: Bytes, expires_at: Option<u64>) -> Self {
        Self { value, expires_at: expires_at.unwrap_or(0) }
    }

    pub fn value(&self) -> &Bytes {
        &self.value
    }

    pub fn set_value(&mut self, value: Bytes) {
        self.value = value;
    }

    pub fn expires_at(&self) -> Option<u64> {
        (self.expires_at != 0).then_some(self.expires_at)
    }

    pub fn set_expires_at(&mut self, at: Option<u64>) {
        self.expires_at = at.unwrap_or(0);
    }

    /// Redis treats a key as expired once the clock is strictly past its
    /// deadline, so a key set with PX 100 is still readable at exactly +100.
    pub fn is_expired(&self, now: u64) -> bool {
        self.expires_at != 0 && now > self.expires_at
    }
}

/// A key and its entry, as stored in a shard's table.
#[derive(Debug)]
pub struct Slot {
    pub key: Box<[u8]>,
    pub entry: Entry,
}

impl Slot {
    /// Approximate bytes this slot costs: its table cell (plus control
    /// byte) and the two heap blocks behind it.
    pub fn memory(&self) -> usize {
        std::mem::size_of::<Slot>() + 1 + self.key.len() + self.entry.value.len()
    }
}

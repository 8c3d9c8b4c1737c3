//! Eviction policies: which keys may go when memory passes `max_memory`.
//! The names and meanings are Redis's `maxmemory-policy`, so existing Redis
//! configurations carry over; how each is carried out is in `evict.rs`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;

/// What to evict when `max_memory` is reached. Names and meaning follow
/// Redis's `maxmemory-policy`, so existing Redis configs carry over.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum EvictionPolicy {
    /// Evict nothing; writes that need memory fail with an OOM error.
    NoEviction,
    /// Evict the least recently used key.
    AllKeysLru,
    /// Evict the least frequently used key (S3-FIFO: see `store/evict.rs`).
    /// The default: the best hit ratio on cache traces.
    #[default]
    AllKeysLfu,
    /// Evict a random key.
    AllKeysRandom,
    /// Evict the least recently used key among keys with a TTL.
    VolatileLru,
    /// Evict the least frequently used key among keys with a TTL.
    VolatileLfu,
    /// Evict a random key among keys with a TTL.
    VolatileRandom,
    /// Evict the key with a TTL that expires soonest.
    VolatileTtl,
}

impl EvictionPolicy {
    /// Every policy, in the order Redis documents them.
    pub const ALL: [EvictionPolicy; 8] = [
        EvictionPolicy::NoEviction,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::AllKeysLfu,
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileLfu,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
    ];

    /// The Redis name of the policy, e.g. `"allkeys-lru"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::AllKeysLfu => "allkeys-lfu",
            EvictionPolicy::AllKeysRandom => "allkeys-random",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::VolatileLfu => "volatile-lfu",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }

    /// The LFU policies, under which new keys start on probation (S3-FIFO's
    /// small queue; see `store/evict.rs`).
    pub fn is_lfu(&self) -> bool {
        matches!(self, EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu)
    }

    /// True when only keys with a TTL may be evicted.
    pub fn is_volatile(&self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }
}

impl FromStr for EvictionPolicy {
    type Err = String;

    /// Case-insensitive, like Redis's `CONFIG SET maxmemory-policy`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|policy| policy.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown eviction policy '{s}' (expected one of: {})", names.join(", "))
        })
    }
}

impl TryFrom<String> for EvictionPolicy {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

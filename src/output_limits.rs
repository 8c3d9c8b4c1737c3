//! `client-output-buffer-limit`: how much unsent output a client may pile
//! up before it is disconnected, per client class, as in Redis.
//!
//! Each class (normal, replica, pubsub) has a hard limit, a soft limit and
//! the seconds the soft limit may stay exceeded. A client over its hard
//! limit, or over its soft limit for longer than those seconds, is closed:
//! a subscriber that stops reading must not make the server buffer every
//! message published meanwhile. A limit of 0 is no limit.
//!
//! The normal class's hard limit starts at `server.client_output_buffer_limit`
//! and the pubsub class at `server.client_output_buffer_limit_pubsub`
//! (Redis's `32mb 8mb 60`); CONFIG SET changes any class while the server
//! runs. The replica class is kept for CONFIG's sake: Redistill has no
//! replicas.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::config::parse_memory;

/// A class of clients, each with its own limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientClass {
    Normal,
    Replica,
    /// Clients subscribed to a channel, pattern or shard channel.
    Pubsub,
}

impl ClientClass {
    /// In CONFIG GET's order.
    const ALL: [ClientClass; 3] = [ClientClass::Normal, ClientClass::Replica, ClientClass::Pubsub];

    /// The name CONFIG GET shows.
    fn name(self) -> &'static str {
        match self {
            ClientClass::Normal => "normal",
            ClientClass::Replica => "slave",
            ClientClass::Pubsub => "pubsub",
        }
    }

    /// A class named in CONFIG SET (Redis's `getClientTypeByName`, less
    /// `master`, which has no limits of its own).
    fn parse(name: &str) -> Option<ClientClass> {
        match name.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "slave" | "replica" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::Pubsub),
            _ => None,
        }
    }
}

/// One class's limits, in bytes and seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct BufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

impl BufferLimit {
    pub const NONE: BufferLimit = BufferLimit { hard: 0, soft: 0, soft_seconds: 0 };
    /// Redis's default for subscribers.
    pub const PUBSUB: BufferLimit = BufferLimit { hard: 32 << 20, soft: 8 << 20, soft_seconds: 60 };
    /// Redis's default for replicas.
    pub const REPLICA: BufferLimit = BufferLimit { hard: 256 << 20, soft: 64 << 20, soft_seconds: 60 };

    /// `<hard> <soft> <soft seconds>`, the sizes with Redis's units
    /// (`32mb`), as the config file writes a class's limits.
    pub fn parse(text: &str) -> Result<BufferLimit, String> {
        let invalid = || format!("invalid output buffer limit '{text}': expected \"<hard> <soft> <soft seconds>\"");
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [hard, soft, seconds] = fields[..] else { return Err(invalid()) };
        Self::from_fields(hard, soft, seconds).ok_or_else(invalid)
    }

    fn from_fields(hard: &str, soft: &str, seconds: &str) -> Option<BufferLimit> {
        let size = |s: &str| parse_memory(s).ok();
        // Redis keeps the seconds in an int: a larger number wraps, and is
        // taken if that leaves it non-negative.
        let seconds = u64::try_from(seconds.parse::<i64>().ok()? as i32).ok()?;
        Some(BufferLimit { hard: size(hard)?, soft: size(soft)?, soft_seconds: seconds })
    }

    /// Whether a client with `used` bytes of output waiting is over these
    /// limits (Redis's `checkClientOutputBufferLimits`): at or over the hard
    /// limit, or at or over the soft limit continuously for more than
    /// `soft_seconds`. `soft_since` is the client's clock of when it
    /// reached the soft limit, started and reset here.
    pub fn exceeded(&self, used: u64, soft_since: &mut Option<Instant>, now: Instant) -> bool {
        let hard = self.hard > 0 && used >= self.hard;
        if self.soft == 0 || used < self.soft {
            *soft_since = None;
            return hard;
        }
        let since = *soft_since.get_or_insert(now);
        hard || now.duration_since(since).as_secs() > self.soft_seconds
    }
}

impl fmt::Display for BufferLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.hard, self.soft, self.soft_seconds)
    }
}

impl TryFrom<String> for BufferLimit {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Self::parse(&text)
    }
}

/// The limits in force, by class, changed by CONFIG SET while the server
/// runs; and how many clients they disconnected.
pub struct OutputLimits {
    limits: [[AtomicU64; 3]; 3],
    disconnections: AtomicU64,
}

/// What CONFIG SET client-output-buffer-limit asks for: the classes it
/// names, with their new limits.
pub type LimitChanges = Vec<(ClientClass, BufferLimit)>;

impl OutputLimits {
    pub fn new(normal: BufferLimit, pubsub: BufferLimit) -> Self {
        let limits = Self { limits: Default::default(), disconnections: AtomicU64::new(0) };
        limits.set(ClientClass::Normal, normal);
        limits.set(ClientClass::Replica, BufferLimit::REPLICA);
        limits.set(ClientClass::Pubsub, pubsub);
        limits
    }

    pub fn get(&self, class: ClientClass) -> BufferLimit {
        let [hard, soft, seconds] = &self.limits[class as usize];
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        BufferLimit { hard: load(hard), soft: load(soft), soft_seconds: load(seconds) }
    }

    /// The hard limit of `class` alone (0: none).
    pub fn hard(&self, class: ClientClass) -> u64 {
        self.limits[class as usize][0].load(Ordering::Relaxed)
    }

    pub fn set(&self, class: ClientClass, limit: BufferLimit) {
        let [hard, soft, seconds] = &self.limits[class as usize];
        hard.store(limit.hard, Ordering::Relaxed);
        soft.store(limit.soft, Ordering::Relaxed);
        seconds.store(limit.soft_seconds, Ordering::Relaxed);
    }

    /// CONFIG GET's value: `normal 0 0 0 slave 268435456 67108864 60 pubsub ...`.
    pub fn config_text(&self) -> String {
        let classes = ClientClass::ALL.iter().map(|&class| format!("{} {}", class.name(), self.get(class)));
        classes.collect::<Vec<_>>().join(" ")
    }

    /// CONFIG SET's value: any number of `<class> <hard> <soft> <seconds>`
    /// groups, checked whole before any is applied, with Redis's errors.
    pub fn parse_config(value: &str) -> Result<LimitChanges, &'static str> {
        let fields: Vec<&str> = value.split_whitespace().collect();
        if fields.len() % 4 != 0 {
            return Err("Wrong number of arguments in buffer limit configuration.");
        }
        fields
            .chunks(4)
            .map(|group| {
                let class = ClientClass::parse(group[0])
                    .ok_or("Invalid client class specified in buffer limit configuration.")?;
                let limit = BufferLimit::from_fields(group[1], group[2], group[3])
                    .ok_or("Error in hard, soft or soft_seconds setting in buffer limit configuration.")?;
                Ok((class, limit))
            })
            .collect()
    }

    /// Count a client closed for going over its limits.
    pub fn count_disconnection(&self) {
        self.disconnections.fetch_add(1, Ordering::Relaxed);
    }

    /// Clients closed for going over their limits (INFO's
    /// `client_output_buffer_limit_disconnections`).
    pub fn disconnections(&self) -> u64 {
        self.disconnections.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn config_text_and_changes_use_redis_format() {
        let limits = OutputLimits::new(BufferLimit::NONE, BufferLimit::PUBSUB);
        assert_eq!(limits.config_text(), "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60");
        let changes = OutputLimits::parse_config("pubsub 1mb 2kb 3 Replica 1 2 0").unwrap();
        for (class, limit) in changes {
            limits.set(class, limit);
        }
        assert_eq!(limits.config_text(), "normal 0 0 0 slave 1 2 0 pubsub 1048576 2048 3");
        assert_eq!(OutputLimits::parse_config(""), Ok(Vec::new()));
        let class = "Invalid client class specified in buffer limit configuration.";
        assert_eq!(OutputLimits::parse_config("master 1 2 3"), Err(class));
        let number = "Error in hard, soft or soft_seconds setting in buffer limit configuration.";
        for bad in ["normal -1 2 3", "normal 1 2 -3", "normal 1x 2 3", "normal 1 2 3s", "normal 1 2 2147483648"] {
            assert_eq!(OutputLimits::parse_config(bad), Err(number), "{bad}");
        }
        assert!(OutputLimits::parse_config("normal 1 2").is_err());
        assert_eq!(BufferLimit::parse("32mb 8mb 60"), Ok(BufferLimit::PUBSUB));
        assert!(BufferLimit::parse("32mb 8mb").is_err());
    }

    #[test]
    fn hard_limit_at_once_soft_limit_after_its_seconds() {
        let limit = BufferLimit { hard: 100, soft: 10, soft_seconds: 2 };
        let start = Instant::now();
        let mut since = None;
        assert!(!limit.exceeded(9, &mut since, start));
        assert!(limit.exceeded(100, &mut since, start), "the hard limit");
        since = None;
        assert!(!limit.exceeded(10, &mut since, start), "the soft limit starts its clock");
        assert!(!limit.exceeded(50, &mut since, start + Duration::from_secs(2)));
        assert!(limit.exceeded(50, &mut since, start + Duration::from_secs(3)));
        assert!(!limit.exceeded(5, &mut since, start + Duration::from_secs(3)), "under it, the clock stops");
        assert!(!limit.exceeded(50, &mut since, start + Duration::from_secs(4)), "and starts again");
        assert!(!BufferLimit::NONE.exceeded(u64::MAX, &mut None, start));
    }
}

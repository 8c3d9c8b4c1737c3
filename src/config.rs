//! Server configuration: its schema, its defaults, and how it is assembled.
//!
//! This module owns everything between "the process started" and "here is a
//! validated [`Config`]": the TOML schema (sections `[server]`, `[security]`,
//! `[performance]`, `[memory]`, and `[cluster]`, whose schema lives in
//! `crate::cluster::config`), the built-in defaults, the choice of config
//! file, the environment-variable overrides, the merge with command-line
//! flags, and range checks. The rest of the server can then trust every
//! value it reads from a [`Config`].
//!
//! Precedence, highest first: command-line flag, environment variable,
//! config file, built-in default.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::cli::CliArgs;
pub use crate::cluster::config::ClusterConfig;
pub use crate::store::EvictionPolicy;

/// File looked up in the working directory when no file is named explicitly.
pub const DEFAULT_CONFIG_FILE: &str = "redistill.toml";

/// Environment variable naming the config file when `--config` is absent.
pub const ENV_CONFIG: &str = "REDISTILL_CONFIG";
/// Overrides `security.password`. The name matches what Redis images use.
pub const ENV_PASSWORD: &str = "REDIS_PASSWORD";
/// Overrides `memory.max_memory`; accepts the same units as the file.
pub const ENV_MAX_MEMORY: &str = "REDIS_MAX_MEMORY";
/// Overrides `server.port`.
pub const ENV_PORT: &str = "REDIS_PORT";
/// Overrides `server.bind`.
pub const ENV_BIND: &str = "REDIS_BIND";
/// Overrides `server.threads`.
pub const ENV_THREADS: &str = "REDISTILL_THREADS";
/// Overrides `cluster.enabled` (`yes`/`no`, `true`/`false`, `1`/`0`).
pub const ENV_CLUSTER_ENABLED: &str = "REDISTILL_CLUSTER_ENABLED";
/// Overrides `cluster.node_id`.
pub const ENV_CLUSTER_NODE_ID: &str = "REDISTILL_CLUSTER_NODE_ID";
/// Overrides `cluster.announce_ip`.
pub const ENV_CLUSTER_ANNOUNCE_IP: &str = "REDISTILL_CLUSTER_ANNOUNCE_IP";
/// Overrides `cluster.announce_port`.
pub const ENV_CLUSTER_ANNOUNCE_PORT: &str = "REDISTILL_CLUSTER_ANNOUNCE_PORT";

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// The complete, merged configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Listener, threading and protocol limits.
    pub server: ServerConfig,
    /// Authentication and transport security.
    pub security: SecurityConfig,
    /// Socket options applied to every client connection.
    pub performance: PerformanceConfig,
    /// Memory limit and what to do when it is reached.
    pub memory: MemoryConfig,
    /// Redis Cluster mode and the slot map.
    pub cluster: ClusterConfig,
}

/// The `[server]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// IP address to listen on. Loopback by default so a fresh install is
    /// not reachable from the network before a password is set.
    pub bind: String,
    /// TCP port for plain (unencrypted) clients. 0 disables plain TCP, which
    /// is only allowed with TLS enabled, as Redis's `port 0` with `tls-port`.
    pub port: u16,
    /// Worker threads; 0 means one per CPU. See [`ServerConfig::worker_threads`].
    pub threads: usize,
    /// Connections accepted at once; further ones are refused. 1..=1_000_000.
    pub max_connections: usize,
    /// Lock stripes in the key space. More shards mean less contention but
    /// more fixed memory. 1..=65536; see [`ServerConfig::shard_count`].
    pub num_shards: usize,
    /// Most commands run for one connection per event-loop turn before its
    /// replies are flushed, so a deep pipeline cannot starve other clients.
    /// 1..=65536.
    pub batch_size: usize,
    /// Size in bytes of each pooled I/O buffer. 512..=16 MiB.
    pub buffer_size: usize,
    /// I/O buffers allocated up front and shared out between workers, so
    /// that connection bursts do not hit the allocator. 0..=1_000_000.
    pub buffer_pool_size: usize,
    /// Port of the HTTP health endpoint on the same bind address; 0 disables it.
    pub health_check_port: u16,
    /// Number of logical databases reachable with `SELECT`. 1..=1024.
    pub databases: usize,
    /// Seconds a client may stay idle before it is disconnected; 0 = never.
    pub timeout: u64,
    /// Largest single bulk string a client may send, in bytes. 1 MiB..=4 GiB.
    /// In the file: an integer or a size such as `"512mb"`.
    #[serde(deserialize_with = "deserialize_size")]
    pub proto_max_bulk_len: u64,
    /// Most unparsed input buffered per client before it is disconnected,
    /// in bytes. 1 MiB..=4 GiB. Integer or size string.
    #[serde(deserialize_with = "deserialize_size")]
    pub client_query_buffer_limit: u64,
    /// Most pending output per client before it is disconnected, in bytes;
    /// 0 = unlimited. Integer or size string.
    #[serde(deserialize_with = "deserialize_size")]
    pub client_output_buffer_limit: u64,
    /// Output limits of subscribed clients, as Redis's
    /// `client-output-buffer-limit pubsub`: a hard limit, a soft limit and
    /// the seconds a client may stay over the soft one
    /// (see [`crate::output_limits`]).
    pub client_output_buffer_limit_pubsub: crate::output_limits::BufferLimit,
    /// Least severe message that gets logged.
    pub log_level: LogLevel,
    /// Seconds a graceful shutdown (SIGTERM, SIGINT, SHUTDOWN) may spend
    /// answering what clients already sent before closing them. 1..=3600.
    pub shutdown_timeout: u64,
    /// Length of the kernel's queue of connections not yet accepted, as
    /// Redis's `tcp-backlog` (the kernel caps it at `somaxconn`). 1..=65535.
    pub tcp_backlog: u32,
    /// New connections admitted per second (a token bucket with one
    /// second's worth of burst); the rest are refused. 0 = unlimited.
    pub max_connections_per_second: u32,
    /// Commands one connection may run per second (same kind of bucket);
    /// the excess get an error reply. 0 = unlimited.
    pub client_commands_per_second: u32,
    /// Which keyspace notifications are published, as Redis's
    /// `notify-keyspace-events` (see [`crate::notify`]); none by default.
    pub notify_keyspace_events: crate::notify::Classes,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1".to_string(),
            port: 6379,
            threads: 0,
            max_connections: 10_000,
            num_shards: 256,
            batch_size: 256,
            buffer_size: 16 * KIB as usize,
            buffer_pool_size: 256,
            health_check_port: 0,
            databases: 16,
            timeout: 0,
            proto_max_bulk_len: 512 * MIB,
            client_query_buffer_limit: GIB,
            client_output_buffer_limit: 64 * MIB,
            client_output_buffer_limit_pubsub: crate::output_limits::BufferLimit::PUBSUB,
            log_level: LogLevel::Info,
            shutdown_timeout: 10,
            tcp_backlog: 511,
            max_connections_per_second: 0,
            client_commands_per_second: 0,
            notify_keyspace_events: crate::notify::Classes::NONE,
        }
    }
}

impl ServerConfig {
    /// Number of worker threads to start: `threads`, or the CPU count when
    /// it is 0. Falls back to 1 when the CPU count cannot be determined
    /// (e.g. restricted `/proc`), since refusing to start would be worse.
    pub fn worker_threads(&self) -> usize {
        if self.threads > 0 {
            return self.threads;
        }
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }

    /// `num_shards` rounded up to a power of two, so a key's shard can be
    /// picked with a mask instead of a division.
    pub fn shard_count(&self) -> usize {
        self.num_shards.max(1).checked_next_power_of_two().unwrap_or(MAX_SHARDS)
    }

    /// The address to listen on for Redis clients.
    pub fn listen_addr(&self) -> Result<SocketAddr, String> {
        parse_ip(&self.bind).map(|ip| SocketAddr::new(ip, self.port))
    }

    /// The address of the HTTP health endpoint, or `None` when disabled.
    pub fn health_check_addr(&self) -> Option<SocketAddr> {
        if self.health_check_port == 0 {
            return None;
        }
        parse_ip(&self.bind).ok().map(|ip| SocketAddr::new(ip, self.health_check_port))
    }
}

/// Largest accepted `num_shards` (a power of two, so `shard_count` never
/// exceeds it).
const MAX_SHARDS: usize = 65_536;

/// The `[security]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Password clients must send with `AUTH`; `None` disables
    /// authentication. An empty string in the file also means `None`, so
    /// `password = ""` cannot accidentally demand an empty password.
    #[serde(deserialize_with = "deserialize_password")]
    pub password: Option<String>,
    /// Serve TLS clients on `tls_port`, beside plain TCP on `server.port`.
    pub tls_enabled: bool,
    /// Port for TLS clients (Redis's `tls-port`).
    pub tls_port: u16,
    /// PEM certificate chain the server presents.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key_file: Option<PathBuf>,
    /// PEM CA certificates that client certificates must chain to; enables
    /// client certificate checks.
    pub tls_ca_file: Option<PathBuf>,
    /// With `tls_ca_file`: require a client certificate (true) or only
    /// verify one when offered (false), like Redis's `tls-auth-clients`.
    pub tls_auth_clients: bool,
    /// Refuse to start when `server.bind` is not a loopback address and no
    /// password is set, like Redis's `protected-mode`.
    pub protected_mode: bool,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            password: None,
            tls_enabled: false,
            tls_port: 6380,
            tls_cert_file: None,
            tls_key_file: None,
            tls_ca_file: None,
            tls_auth_clients: true,
            protected_mode: true,
        }
    }
}

/// The `[performance]` section.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PerformanceConfig {
    /// Disable Nagle's algorithm so small replies are sent at once.
    pub tcp_nodelay: bool,
    /// Seconds of silence before TCP keepalive probes start; 0 = off.
    /// At most 32767, the largest idle time Linux accepts.
    pub tcp_keepalive: u64,
}

impl Default for PerformanceConfig {
    fn default() -> Self {
        PerformanceConfig { tcp_nodelay: true, tcp_keepalive: 300 }
    }
}

/// Linux rejects `TCP_KEEPIDLE` above this (`MAX_TCP_KEEPIDLE`), which
/// would otherwise surface as a setsockopt error on every accepted socket.
const MAX_TCP_KEEPALIVE: u64 = 32_767;

/// The `[memory]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MemoryConfig {
    /// Memory limit for stored data, in bytes; 0 = unlimited. Integer or
    /// size string (`"100mb"`, `"2gb"`), see [`parse_memory`].
    #[serde(deserialize_with = "deserialize_size")]
    pub max_memory: u64,
    /// Which keys to drop once `max_memory` is reached.
    pub eviction_policy: EvictionPolicy,
}

/// Log verbosity, from least to most verbose. The derived ordering follows
/// that, so "should this be logged" is `level <= configured`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "String")]
pub enum LogLevel {
    Error,
    Warn,
    #[default]
    Info,
    Debug,
}

impl LogLevel {
    /// Every level, least verbose first.
    pub const ALL: [LogLevel; 4] = [LogLevel::Error, LogLevel::Warn, LogLevel::Info, LogLevel::Debug];

    /// The lowercase name used in the config file.
    pub fn as_str(&self) -> &'static str {
        match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
        }
    }
}

impl FromStr for LogLevel {
    type Err = String;

    /// Case-insensitive, like Redis's enum config values.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|level| level.as_str().eq_ignore_ascii_case(s)).ok_or_else(|| {
            format!("unknown log level '{s}' (expected one of: {})", names(Self::ALL.map(|l| l.as_str())))
        })
    }
}

impl TryFrom<String> for LogLevel {
    type Error = String;
    // `Self::Error` would be ambiguous with the `LogLevel::Error` variant.
    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn names<const N: usize>(list: [&str; N]) -> String {
    list.join(", ")
}

/// Parses a memory size the way Redis's `memtoll` does: digits followed by
/// an optional case-insensitive unit. `k`, `m`, `g` are powers of 1000 and
/// `kb`, `mb`, `gb` powers of 1024; `b` or no unit means bytes. Unlike
/// Redis, a missing number (`"mb"`) and overflow are errors instead of 0
/// or a wrapped value. Surrounding whitespace is ignored so values pasted
/// into environment variables still parse.
pub fn parse_memory(s: &str) -> Result<u64, String> {
    let invalid = || format!("invalid memory size '{s}'");
    let trimmed = s.trim();
    let split = trimmed.find(|c: char| !c.is_ascii_digit()).unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(split);
    if digits.is_empty() {
        return Err(invalid());
    }
    let multiplier = unit_multiplier(unit).ok_or_else(invalid)?;
    let number: u64 = digits.parse().map_err(|_| invalid())?;
    number.checked_mul(multiplier).ok_or_else(invalid)
}

/// Bytes per unit for [`parse_memory`]; `None` for an unknown unit.
fn unit_multiplier(unit: &str) -> Option<u64> {
    let multiplier = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => KIB,
        "m" => 1000 * 1000,
        "mb" => MIB,
        "g" => 1000 * 1000 * 1000,
        "gb" => GIB,
        _ => return None,
    };
    Some(multiplier)
}

/// Serde adapter for size fields: accepts a non-negative integer (bytes)
/// or a string understood by [`parse_memory`].
fn deserialize_size<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(SizeVisitor)
}

struct SizeVisitor;

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a size in bytes (integer) or a string such as \"512mb\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
        Ok(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
        u64::try_from(v).map_err(|_| E::custom(format!("invalid memory size '{v}'")))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
        parse_memory(v).map_err(E::custom)
    }
}

/// Serde adapter for the password: an empty string means "no password".
fn deserialize_password<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    let password = Option::<String>::deserialize(deserializer)?;
    Ok(password.filter(|p| !p.is_empty()))
}

fn parse_ip(bind: &str) -> Result<IpAddr, String> {
    bind.parse().map_err(|_| format!("'{bind}' is not an IP address"))
}

/// A configuration that could not be loaded. Every variant's message names
/// the file involved and, where one is at fault, the `section.key`.
#[derive(Debug)]
pub enum ConfigError {
    /// The config file could not be read (missing, unreadable, not UTF-8).
    Read { path: PathBuf, error: std::io::Error },
    /// The file is not valid TOML or does not fit the schema (unknown key,
    /// wrong type, malformed size). `message` is toml's own, which points
    /// at the line and names the key.
    Parse { path: Option<PathBuf>, message: String },
    /// A value is malformed or out of range after merging. `key` is the
    /// dotted name, e.g. `server.port`; `file` is the config file in use.
    Invalid { key: &'static str, message: String, file: Option<PathBuf> },
}

impl ConfigError {
    fn invalid(key: &'static str, message: impl Into<String>) -> Self {
        ConfigError::Invalid { key, message: message.into(), file: None }
    }

    /// Records which config file was in use, for the error message.
    fn in_file(self, path: Option<&Path>) -> Self {
        match self {
            ConfigError::Invalid { key, message, .. } => {
                ConfigError::Invalid { key, message, file: path.map(Path::to_path_buf) }
            }
            other => other,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Read { path, error } => {
                write!(f, "cannot read config file '{}': {error}", path.display())
            }
            ConfigError::Parse { path, message } => match path {
                Some(path) => write!(f, "invalid config file '{}': {message}", path.display()),
                None => write!(f, "invalid config: {message}"),
            },
            ConfigError::Invalid { key, message, file } => {
                write!(f, "{key}: {message}")?;
                match file {
                    Some(path) => write!(f, " (config file '{}')", path.display()),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConfigError::Read { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl Config {
    /// Parses TOML text into a config. Missing keys take their defaults;
    /// unknown keys and wrong types are errors. Does not validate ranges.
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: None,
            // toml ends its multi-line report with a newline; drop it so the
            // message composes cleanly into a single log record.
            message: e.to_string().trim_end().to_string(),
        })
    }

    /// Checks every value the type system cannot: numeric ranges, the bind
    /// address, and combinations that could never work. Called by [`load`];
    /// call it again after changing a config at runtime.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_server()?;
        self.validate_security()?;
        self.validate_performance()?;
        let cluster = self.cluster.validate(&self.server.bind, self.server.port);
        cluster.map_err(|(key, message)| ConfigError::invalid(key, message))
    }

    fn validate_server(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        s.listen_addr().map_err(|m| ConfigError::invalid("server.bind", m))?;
        check_range("server.threads", s.threads, 0, MAX_THREADS)?;
        check_range("server.max_connections", s.max_connections, 1, 1_000_000)?;
        check_range("server.num_shards", s.num_shards, 1, MAX_SHARDS)?;
        check_range("server.batch_size", s.batch_size, 1, 65_536)?;
        check_range("server.buffer_size", s.buffer_size, 512, 16 * MIB as usize)?;
        check_range("server.buffer_pool_size", s.buffer_pool_size, 0, 1_000_000)?;
        check_range("server.databases", s.databases, 1, 1024)?;
        check_range("server.proto_max_bulk_len", s.proto_max_bulk_len, MIB, 4 * GIB)?;
        check_range("server.client_query_buffer_limit", s.client_query_buffer_limit, MIB, 4 * GIB)?;
        check_range("server.shutdown_timeout", s.shutdown_timeout, 1, 3600)?;
        check_range("server.tcp_backlog", s.tcp_backlog, 1, 65_535)?;
        check_range("server.max_connections_per_second", s.max_connections_per_second, 0, 1_000_000)?;
        check_range("server.client_commands_per_second", s.client_commands_per_second, 0, 100_000_000)?;
        self.validate_server_combinations()
    }

    /// Checks between keys: each one can be in range while the pair is not.
    fn validate_server_combinations(&self) -> Result<(), ConfigError> {
        let s = &self.server;
        if s.health_check_port != 0 && s.health_check_port == s.port {
            return Err(ConfigError::invalid(
                "server.health_check_port",
                format!("must differ from server.port ({})", s.port),
            ));
        }
        // A bulk string larger than the query buffer could never be received.
        if s.proto_max_bulk_len > s.client_query_buffer_limit {
            return Err(ConfigError::invalid(
                "server.proto_max_bulk_len",
                format!(
                    "{} exceeds server.client_query_buffer_limit ({})",
                    s.proto_max_bulk_len, s.client_query_buffer_limit
                ),
            ));
        }
        Ok(())
    }

    fn validate_security(&self) -> Result<(), ConfigError> {
        let sec = &self.security;
        if !sec.tls_enabled {
            if self.server.port == 0 {
                return Err(ConfigError::invalid("server.port", "0 (no plain TCP) needs security.tls_enabled = true"));
            }
            return Ok(());
        }
        if sec.tls_cert_file.is_none() {
            return Err(ConfigError::invalid("security.tls_cert_file", "required when tls_enabled = true"));
        }
        if sec.tls_key_file.is_none() {
            return Err(ConfigError::invalid("security.tls_key_file", "required when tls_enabled = true"));
        }
        if sec.tls_port == 0 || sec.tls_port == self.server.port {
            return Err(ConfigError::invalid(
                "security.tls_port",
                format!("{} must be non-zero and differ from server.port", sec.tls_port),
            ));
        }
        Ok(())
    }

    /// Protected mode's objection to this configuration, if any: listening
    /// beyond loopback with no password lets anyone on the network in. Not
    /// part of [`Config::validate`], since such a config is well-formed; the
    /// daemon checks it before it starts listening.
    pub fn protected_mode_violation(&self) -> Option<String> {
        let exposed = parse_ip(&self.server.bind).is_ok_and(|ip| !ip.is_loopback());
        if !self.security.protected_mode || !exposed || self.security.password.is_some() {
            return None;
        }
        Some(format!(
            "refusing to start: protected mode is on, server.bind = \"{}\" is not a loopback address and no \
             security.password is set, so anyone who can reach the port could use the server without \
             authenticating. Either 1) set security.password (or REDIS_PASSWORD), 2) set server.bind to a \
             loopback address such as \"127.0.0.1\", or 3) if clients from other hosts really must connect \
             without a password (the port is firewalled, or only published inside a private network), set \
             security.protected_mode = false",
            self.server.bind
        ))
    }

    fn validate_performance(&self) -> Result<(), ConfigError> {
        check_range("performance.tcp_keepalive", self.performance.tcp_keepalive, 0, MAX_TCP_KEEPALIVE)
    }
}

/// Upper bound for `server.threads`: far beyond any real machine, it only
/// catches typos such as an extra zero before they spawn a thread storm.
const MAX_THREADS: usize = 1024;

fn check_range<T: PartialOrd + fmt::Display>(key: &'static str, value: T, min: T, max: T) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError::invalid(key, format!("{value} is out of range (must be between {min} and {max})")));
    }
    Ok(())
}

/// A loaded configuration together with the file it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The merged and validated configuration.
    pub config: Config,
    /// The config file that was read, or `None` when only built-in
    /// defaults (plus environment and flags) were used.
    pub source: Option<PathBuf>,
}

/// Loads the configuration using the real process environment.
/// See [`load_with_env`].
pub fn load(cli: &CliArgs) -> Result<Loaded, ConfigError> {
    load_with_env(cli, &process_env)
}

/// Reads one variable from the process environment. Non-UTF-8 bytes are
/// replaced rather than dropping the variable, so a bad value is reported
/// by validation instead of being silently ignored.
fn process_env(name: &str) -> Option<String> {
    std::env::var_os(name).map(|v| v.to_string_lossy().into_owned())
}

/// Loads, merges and validates the configuration, reading environment
/// variables through `env` so tests need not touch the process environment.
///
/// The file is `--config`, else `$REDISTILL_CONFIG`, else `./redistill.toml`
/// if present, else none (built-in defaults). A file named explicitly must
/// exist. Then environment variables and flags are applied on top, in that
/// order, and the result is validated.
pub fn load_with_env(cli: &CliArgs, env: &dyn Fn(&str) -> Option<String>) -> Result<Loaded, ConfigError> {
    load_with_default_file(cli, env, Path::new(DEFAULT_CONFIG_FILE))
}

/// [`load_with_env`] with the implicit fallback file as a parameter, so
/// tests do not depend on the working directory.
fn load_with_default_file(
    cli: &CliArgs,
    env: &dyn Fn(&str) -> Option<String>,
    default_file: &Path,
) -> Result<Loaded, ConfigError> {
    let env = |name: &str| env(name).filter(|v| !v.is_empty());
    let source = choose_source(cli, &env, default_file);
    let mut config = match &source {
        Some(path) => read_file(path)?,
        None => Config::default(),
    };
    let merged = apply_env(&mut config, &env).and_then(|()| {
        apply_cli(&mut config, cli);
        config.validate()
    });
    merged.map_err(|e| e.in_file(source.as_deref()))?;
    Ok(Loaded { config, source })
}

/// Re-reads `path` for SIGHUP: the file with the environment overrides on
/// top, validated. Command-line flags are not applied again; they only set
/// what cannot change at run time (port, bind, threads, this cluster
/// node's identity), which is kept from `running`, the configuration the
/// server runs with, so the new file is checked against it.
pub fn reload(path: &Path, running: &Config) -> Result<Config, ConfigError> {
    let env = |name: &str| process_env(name).filter(|v| !v.is_empty());
    let mut config = read_file(path)?;
    let merged = apply_env(&mut config, &env).and_then(|()| {
        keep_fixed(&mut config, running);
        config.validate()
    });
    merged.map_err(|e| e.in_file(Some(path)))?;
    Ok(config)
}

/// The settings a reload cannot change, taken from the running config.
fn keep_fixed(config: &mut Config, running: &Config) {
    config.server.port = running.server.port;
    config.server.bind.clone_from(&running.server.bind);
    config.server.threads = running.server.threads;
    let (cluster, fixed) = (&mut config.cluster, &running.cluster);
    cluster.enabled = fixed.enabled;
    cluster.node_id.clone_from(&fixed.node_id);
    cluster.announce_ip.clone_from(&fixed.announce_ip);
    cluster.announce_port = fixed.announce_port;
}

/// Picks the config file: explicit choices first, then the implicit one
/// only if it exists (a missing implicit file just means "use defaults").
fn choose_source(cli: &CliArgs, env: &dyn Fn(&str) -> Option<String>, default_file: &Path) -> Option<PathBuf> {
    cli.config
        .clone()
        .or_else(|| env(ENV_CONFIG).map(PathBuf::from))
        .or_else(|| default_file.is_file().then(|| default_file.to_path_buf()))
}

fn read_file(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read { path: path.to_path_buf(), error })?;
    Config::from_toml(&text).map_err(|e| match e {
        ConfigError::Parse { message, .. } => ConfigError::Parse { path: Some(path.to_path_buf()), message },
        other => other,
    })
}

/// Applies environment overrides. `env` already treats empty as unset, so a
/// blank `REDIS_PASSWORD=` in a compose file cannot wipe a configured password.
fn apply_env(config: &mut Config, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    if let Some(password) = env(ENV_PASSWORD) {
        config.security.password = Some(password);
    }
    if let Some(value) = env(ENV_MAX_MEMORY) {
        config.memory.max_memory =
            parse_memory(&value).map_err(|m| env_error("memory.max_memory", ENV_MAX_MEMORY, m))?;
    }
    if let Some(value) = env(ENV_PORT) {
        config.server.port = parse_env_number("server.port", ENV_PORT, &value)?;
    }
    if let Some(value) = env(ENV_BIND) {
        config.server.bind = value;
    }
    if let Some(value) = env(ENV_THREADS) {
        config.server.threads = parse_env_number("server.threads", ENV_THREADS, &value)?;
    }
    apply_cluster_env(&mut config.cluster, env)
}

/// The `[cluster]` overrides: what differs between the nodes of one
/// cluster, so that they can share one config file.
fn apply_cluster_env(cluster: &mut ClusterConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    if let Some(value) = env(ENV_CLUSTER_ENABLED) {
        cluster.enabled = parse_bool(&value)
            .ok_or_else(|| env_error("cluster.enabled", ENV_CLUSTER_ENABLED, format!("invalid value '{value}'")))?;
    }
    if let Some(value) = env(ENV_CLUSTER_NODE_ID) {
        cluster.node_id = Some(value);
    }
    if let Some(value) = env(ENV_CLUSTER_ANNOUNCE_IP) {
        cluster.announce_ip = Some(value);
    }
    if let Some(value) = env(ENV_CLUSTER_ANNOUNCE_PORT) {
        cluster.announce_port = parse_env_number("cluster.announce_port", ENV_CLUSTER_ANNOUNCE_PORT, &value)?;
    }
    Ok(())
}

/// `yes`/`no`, `true`/`false`, `1`/`0`, in any case (Redis's boolean
/// config values, and TOML's).
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Some(true),
        "no" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn parse_env_number<T: FromStr>(key: &'static str, var: &str, value: &str) -> Result<T, ConfigError> {
    value.trim().parse().map_err(|_| env_error(key, var, format!("invalid value '{value}'")))
}

fn env_error(key: &'static str, var: &str, message: String) -> ConfigError {
    ConfigError::invalid(key, format!("{message} (from environment variable {var})"))
}

/// Applies command-line flags, the highest-precedence source.
fn apply_cli(config: &mut Config, cli: &CliArgs) {
    if let Some(port) = cli.port {
        config.server.port = port;
    }
    if let Some(bind) = &cli.bind {
        config.server.bind = bind.clone();
    }
    if let Some(threads) = cli.threads {
        config.server.threads = threads;
    }
    let cluster = &mut config.cluster;
    if let Some(enabled) = cli.cluster_enabled {
        cluster.enabled = enabled;
    }
    if let Some(id) = &cli.cluster_node_id {
        cluster.node_id = Some(id.clone());
    }
    if let Some(ip) = &cli.cluster_announce_ip {
        cluster.announce_ip = Some(ip.clone());
    }
    if let Some(port) = cli.cluster_announce_port {
        cluster.announce_port = port;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Builds an `env` closure from fixed pairs.
    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    /// Loads with the given flags and env, never looking at the working dir.
    fn load_test(cli: &CliArgs, pairs: &[(&str, &str)]) -> Result<Loaded, ConfigError> {
        let env = env_of(pairs);
        load_with_default_file(cli, &env, Path::new("/nonexistent/redistill.toml"))
    }

    /// A config file in the temp dir, removed on drop.
    struct TempFile(PathBuf);

    impl TempFile {
        fn new(contents: &str) -> TempFile {
            static COUNTER: AtomicUsize = AtomicUsize::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!("redistill-config-test-{}-{n}.toml", std::process::id()));
            std::fs::write(&path, contents).expect("write temp config");
            TempFile(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }

    fn with_file(path: &Path) -> CliArgs {
        CliArgs { config: Some(path.to_path_buf()), ..CliArgs::default() }
    }

    fn parse_err(text: &str) -> String {
        match Config::from_toml(text) {
            Ok(c) => panic!("expected a parse error, got {c:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn validate_err(config: &Config) -> String {
        match config.validate() {
            Ok(()) => panic!("expected a validation error for {config:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.server.bind, "127.0.0.1");
        assert_eq!(c.server.port, 6379);
        assert_eq!(c.server.threads, 0);
        assert_eq!(c.server.max_connections, 10_000);
        assert_eq!(c.server.num_shards, 256);
        assert_eq!(c.server.batch_size, 256);
        assert_eq!(c.server.buffer_size, 16_384);
        assert_eq!(c.server.buffer_pool_size, 256);
        assert_eq!(c.server.health_check_port, 0);
        assert_eq!(c.server.databases, 16);
        assert_eq!(c.server.timeout, 0);
        assert_eq!(c.server.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(c.server.client_query_buffer_limit, 1024 * 1024 * 1024);
        assert_eq!(c.server.client_output_buffer_limit, 64 * 1024 * 1024);
        assert_eq!(c.server.log_level, LogLevel::Info);
        assert_eq!(c.security.password, None);
        assert!(!c.security.tls_enabled);
        assert!(c.performance.tcp_nodelay);
        assert_eq!(c.performance.tcp_keepalive, 300);
        assert_eq!(c.memory.max_memory, 0);
        assert_eq!(c.memory.eviction_policy, EvictionPolicy::AllKeysLfu);
        assert!(c.validate().is_ok());
    }

    #[test]
    fn empty_file_and_empty_sections_give_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
        let sections = "[server]\n[security]\n[performance]\n[memory]\n";
        assert_eq!(Config::from_toml(sections).unwrap(), Config::default());
    }

    #[test]
    fn no_file_no_env_no_flags_gives_defaults() {
        let loaded = load_test(&CliArgs::default(), &[]).unwrap();
        assert_eq!(loaded.config, Config::default());
        assert_eq!(loaded.source, None);
    }

    #[test]
    fn shipped_config_file_loads_and_validates() {
        let shipped = Config::from_toml(include_str!("../redistill.toml")).unwrap();
        shipped.validate().unwrap();
        assert_eq!(shipped, Config::default(), "shipped file drifted from defaults");
    }

    #[test]
    fn shipped_config_file_sets_every_key() {
        let text = include_str!("../redistill.toml");
        let keys = [
            "bind",
            "port",
            "threads",
            "max_connections",
            "num_shards",
            "batch_size",
            "buffer_size",
            "buffer_pool_size",
            "health_check_port",
            "databases",
            "timeout",
            "proto_max_bulk_len",
            "client_query_buffer_limit",
            "client_output_buffer_limit",
            "client_output_buffer_limit_pubsub",
            "log_level",
            "client_commands_per_second",
            "notify_keyspace_events",
            "password",
            "tls_enabled",
            "tls_port",
            "tls_cert_file",
            "tls_key_file",
            "tls_ca_file",
            "tls_auth_clients",
            "tcp_nodelay",
            "tcp_keepalive",
            "max_memory",
            "eviction_policy",
            "enabled",
            "node_id",
            "announce_ip",
            "announce_port",
            "epoch",
            "id",
            "ip",
            "slots",
        ];
        for key in keys {
            let present =
                text.lines().map(|l| l.trim_start_matches(['#', ' '])).any(|l| l.starts_with(&format!("{key} =")));
            assert!(present, "redistill.toml does not mention {key}");
        }
    }

    #[test]
    fn file_values_are_read() {
        let file = TempFile::new(
            "[server]\nport = 7001\nbind = \"0.0.0.0\"\nlog_level = \"debug\"\n\
             proto_max_bulk_len = \"2mb\"\n\
             [security]\npassword = \"s3cret\"\n\
             [performance]\ntcp_nodelay = false\ntcp_keepalive = 0\n\
             [memory]\nmax_memory = \"100mb\"\neviction_policy = \"volatile-ttl\"\n",
        );
        let loaded = load_test(&with_file(&file.0), &[]).unwrap();
        let c = loaded.config;
        assert_eq!(loaded.source.as_deref(), Some(file.0.as_path()));
        assert_eq!(c.server.port, 7001);
        assert_eq!(c.server.bind, "0.0.0.0");
        assert_eq!(c.server.log_level, LogLevel::Debug);
        assert_eq!(c.server.proto_max_bulk_len, 2 * 1024 * 1024);
        assert_eq!(c.security.password.as_deref(), Some("s3cret"));
        assert!(!c.performance.tcp_nodelay);
        assert_eq!(c.performance.tcp_keepalive, 0);
        assert_eq!(c.memory.max_memory, 100 * 1024 * 1024);
        assert_eq!(c.memory.eviction_policy, EvictionPolicy::VolatileTtl);
    }

    #[test]
    fn notify_keyspace_events_is_read_as_redis_reads_it() {
        assert_eq!(Config::default().server.notify_keyspace_events, crate::notify::Classes::NONE);
        let c = Config::from_toml("[server]\nnotify_keyspace_events = \"Elg\"\n").unwrap();
        assert_eq!(c.server.notify_keyspace_events.to_string(), "glE");
        let err = parse_err("[server]\nnotify_keyspace_events = \"KEq\"\n");
        assert!(err.contains("invalid notify_keyspace_events 'KEq'") && err.contains("Ag$lshzxeKEtmdn"), "{err}");
    }

    #[test]
    fn empty_password_in_file_means_none() {
        let c = Config::from_toml("[security]\npassword = \"\"\n").unwrap();
        assert_eq!(c.security.password, None);
    }

    #[test]
    fn env_password() {
        let c = load_test(&CliArgs::default(), &[(ENV_PASSWORD, "pw")]).unwrap();
        assert_eq!(c.config.security.password.as_deref(), Some("pw"));
    }

    #[test]
    fn env_max_memory_accepts_bytes_and_units() {
        let c = load_test(&CliArgs::default(), &[(ENV_MAX_MEMORY, "2147483648")]).unwrap();
        assert_eq!(c.config.memory.max_memory, 2 * GIB);
        let c = load_test(&CliArgs::default(), &[(ENV_MAX_MEMORY, "2gb")]).unwrap();
        assert_eq!(c.config.memory.max_memory, 2 * GIB);
    }

    #[test]
    fn env_max_memory_error_names_key_and_variable() {
        let err = load_test(&CliArgs::default(), &[(ENV_MAX_MEMORY, "abc")]).unwrap_err().to_string();
        assert!(err.starts_with("memory.max_memory: invalid memory size 'abc'"), "{err}");
        assert!(err.contains(ENV_MAX_MEMORY), "{err}");
    }

    #[test]
    fn env_port_bind_threads() {
        let env = [(ENV_PORT, "7777"), (ENV_BIND, "0.0.0.0"), (ENV_THREADS, "3")];
        let c = load_test(&CliArgs::default(), &env).unwrap().config;
        assert_eq!(c.server.port, 7777);
        assert_eq!(c.server.bind, "0.0.0.0");
        assert_eq!(c.server.threads, 3);
        assert_eq!(c.server.worker_threads(), 3);
    }

    #[test]
    fn env_bad_numbers_name_key_and_variable() {
        let err = load_test(&CliArgs::default(), &[(ENV_PORT, "99999")]).unwrap_err().to_string();
        assert!(err.starts_with("server.port: invalid value '99999'"), "{err}");
        assert!(err.contains(ENV_PORT), "{err}");
        let err = load_test(&CliArgs::default(), &[(ENV_THREADS, "many")]).unwrap_err().to_string();
        assert!(err.starts_with("server.threads: invalid value 'many'"), "{err}");
        assert!(err.contains(ENV_THREADS), "{err}");
    }

    #[test]
    fn env_bad_bind_is_rejected() {
        let err = load_test(&CliArgs::default(), &[(ENV_BIND, "nowhere")]).unwrap_err().to_string();
        assert!(err.starts_with("server.bind: 'nowhere' is not an IP address"), "{err}");
    }

    #[test]
    fn empty_env_vars_are_ignored() {
        let file = TempFile::new("[security]\npassword = \"from-file\"\n");
        let env = [(ENV_PASSWORD, ""), (ENV_PORT, ""), (ENV_MAX_MEMORY, "")];
        let c = load_test(&with_file(&file.0), &env).unwrap().config;
        assert_eq!(c.security.password.as_deref(), Some("from-file"));
        assert_eq!(c.server.port, 6379);
    }

    #[test]
    fn precedence_cli_over_env_over_file() {
        let file = TempFile::new(
            "[server]\nport = 1000\nbind = \"10.0.0.1\"\nthreads = 1\n\
             [security]\npassword = \"file\"\n[memory]\nmax_memory = 1\n",
        );
        let env = [(ENV_PORT, "2000"), (ENV_BIND, "10.0.0.2"), (ENV_PASSWORD, "env")];
        let cli = CliArgs { port: Some(3000), ..with_file(&file.0) };
        let c = load_test(&cli, &env).unwrap().config;
        assert_eq!(c.server.port, 3000, "CLI beats env and file");
        assert_eq!(c.server.bind, "10.0.0.2", "env beats file");
        assert_eq!(c.security.password.as_deref(), Some("env"), "env beats file");
        assert_eq!(c.server.threads, 1, "file beats default");
        assert_eq!(c.memory.max_memory, 1, "file beats default");
        assert_eq!(c.server.databases, 16, "default when nobody sets it");

        let cli = CliArgs { bind: Some("::1".into()), threads: Some(5), ..with_file(&file.0) };
        let env = [(ENV_BIND, "10.0.0.2"), (ENV_THREADS, "4")];
        let c = load_test(&cli, &env).unwrap().config;
        assert_eq!(c.server.bind, "::1");
        assert_eq!(c.server.threads, 5);
    }

    #[test]
    fn config_file_from_env_variable() {
        let file = TempFile::new("[server]\nport = 4242\n");
        let path = file.0.to_string_lossy().into_owned();
        let loaded = load_test(&CliArgs::default(), &[(ENV_CONFIG, &path)]).unwrap();
        assert_eq!(loaded.config.server.port, 4242);
        assert_eq!(loaded.source.as_deref(), Some(file.0.as_path()));
    }

    #[test]
    fn cli_config_beats_env_config() {
        let from_cli = TempFile::new("[server]\nport = 1111\n");
        let from_env = TempFile::new("[server]\nport = 2222\n");
        let env_path = from_env.0.to_string_lossy().into_owned();
        let loaded = load_test(&with_file(&from_cli.0), &[(ENV_CONFIG, &env_path)]).unwrap();
        assert_eq!(loaded.config.server.port, 1111);
    }

    #[test]
    fn implicit_default_file_is_used_when_present() {
        let file = TempFile::new("[server]\nport = 5151\n");
        let env = env_of(&[]);
        let loaded = load_with_default_file(&CliArgs::default(), &env, &file.0).unwrap();
        assert_eq!(loaded.config.server.port, 5151);
        assert_eq!(loaded.source.as_deref(), Some(file.0.as_path()));
    }

    #[test]
    fn explicit_missing_file_is_an_error() {
        let cli = with_file(Path::new("/nonexistent/dir/redistill.toml"));
        let err = load_test(&cli, &[]).unwrap_err();
        assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
        assert!(err.to_string().contains("/nonexistent/dir/redistill.toml"));
        let err = load_test(&CliArgs::default(), &[(ENV_CONFIG, "/nonexistent/x.toml")]).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.toml"), "{err}");
    }

    #[test]
    fn unknown_key_error_names_key_and_file() {
        let file = TempFile::new("[server]\nprot = 6379\n");
        let err = load_test(&with_file(&file.0), &[]).unwrap_err().to_string();
        assert!(err.contains("prot"), "{err}");
        assert!(err.contains(&*file.0.to_string_lossy()), "{err}");
        assert!(parse_err("[memory]\nmaxmemory = 1\n").contains("maxmemory"));
        assert!(parse_err("[cluster]\nenable = true\n").contains("enable"));
        assert!(parse_err("port = 1\n").contains("port"));
    }

    #[test]
    fn wrong_type_errors() {
        for (text, key) in [
            ("[server]\nport = \"abc\"\n", "port"),
            ("[server]\nport = 70000\n", "port"),
            ("[server]\nthreads = -1\n", "threads"),
            ("[performance]\ntcp_nodelay = \"yes\"\n", "tcp_nodelay"),
            ("[security]\npassword = 123\n", "password"),
            ("[memory]\nmax_memory = 1.5\n", "max_memory"),
            ("[memory]\nmax_memory = -1\n", "max_memory"),
            ("[memory]\nmax_memory = \"lots\"\n", "max_memory"),
            ("[memory]\neviction_policy = \"lru\"\n", "eviction_policy"),
            ("[server]\nlog_level = \"loud\"\n", "log_level"),
            ("server = 1\n", "server"),
        ] {
            let err = parse_err(text);
            assert!(err.contains(key), "error for {text:?} lacks {key}: {err}");
        }
        assert!(parse_err("[memory]\nmax_memory = \"lots\"\n").contains("invalid memory size 'lots'"));
        assert!(parse_err("[memory]\neviction_policy = \"lru\"\n").contains("allkeys-lru"));
    }

    #[test]
    fn out_of_range_values_name_the_key() {
        type Setter = fn(&mut Config);
        let cases: &[(&str, Setter)] = &[
            ("server.threads", |c| c.server.threads = 1025),
            ("server.max_connections", |c| c.server.max_connections = 0),
            ("server.max_connections", |c| c.server.max_connections = 1_000_001),
            ("server.num_shards", |c| c.server.num_shards = 0),
            ("server.num_shards", |c| c.server.num_shards = 65_537),
            ("server.batch_size", |c| c.server.batch_size = 0),
            ("server.batch_size", |c| c.server.batch_size = 65_537),
            ("server.buffer_size", |c| c.server.buffer_size = 511),
            ("server.buffer_size", |c| c.server.buffer_size = 16 * 1024 * 1024 + 1),
            ("server.buffer_pool_size", |c| c.server.buffer_pool_size = 1_000_001),
            ("server.databases", |c| c.server.databases = 0),
            ("server.databases", |c| c.server.databases = 1025),
            ("server.proto_max_bulk_len", |c| c.server.proto_max_bulk_len = MIB - 1),
            ("server.proto_max_bulk_len", |c| {
                c.server.client_query_buffer_limit = 4 * GIB;
                c.server.proto_max_bulk_len = 4 * GIB + 1;
            }),
            ("server.client_query_buffer_limit", |c| {
                c.server.proto_max_bulk_len = MIB;
                c.server.client_query_buffer_limit = MIB - 1;
            }),
            ("server.client_query_buffer_limit", |c| c.server.client_query_buffer_limit = 4 * GIB + 1),
            ("server.proto_max_bulk_len", |c| {
                c.server.proto_max_bulk_len = 2 * GIB;
                c.server.client_query_buffer_limit = GIB;
            }),
            ("server.health_check_port", |c| c.server.health_check_port = 6379),
            ("server.bind", |c| c.server.bind = "localhost:80".into()),
            ("server.bind", |c| c.server.bind = String::new()),
            ("performance.tcp_keepalive", |c| c.performance.tcp_keepalive = 32_768),
            ("server.shutdown_timeout", |c| c.server.shutdown_timeout = 0),
            ("server.shutdown_timeout", |c| c.server.shutdown_timeout = 3601),
            ("server.tcp_backlog", |c| c.server.tcp_backlog = 0),
            ("server.tcp_backlog", |c| c.server.tcp_backlog = 65_536),
            ("server.max_connections_per_second", |c| c.server.max_connections_per_second = 1_000_001),
        ];
        for (key, set) in cases {
            let mut config = Config::default();
            set(&mut config);
            let err = validate_err(&config);
            assert!(err.starts_with(&format!("{key}: ")), "expected {key}, got {err}");
        }
    }

    #[test]
    fn range_bounds_are_inclusive() {
        let mut c = Config::default();
        c.server.threads = 1024;
        c.server.max_connections = 1_000_000;
        c.server.num_shards = 65_536;
        c.server.batch_size = 65_536;
        c.server.buffer_size = 16 * 1024 * 1024;
        c.server.buffer_pool_size = 0;
        c.server.databases = 1024;
        c.server.proto_max_bulk_len = 4 * GIB;
        c.server.client_query_buffer_limit = 4 * GIB;
        c.server.client_output_buffer_limit = 0;
        c.performance.tcp_keepalive = 32_767;
        c.validate().unwrap();
        let mut c = Config::default();
        c.server.max_connections = 1;
        c.server.num_shards = 1;
        c.server.batch_size = 1;
        c.server.buffer_size = 512;
        c.server.databases = 1;
        c.server.proto_max_bulk_len = MIB;
        c.server.client_query_buffer_limit = MIB;
        c.server.port = 1;
        c.validate().unwrap();
    }

    #[test]
    fn range_error_from_file_names_key_and_file() {
        let file = TempFile::new("[server]\nbatch_size = 0\n");
        let err = load_test(&with_file(&file.0), &[]).unwrap_err().to_string();
        assert!(err.starts_with("server.batch_size: 0 is out of range"), "{err}");
        assert!(err.contains(&*file.0.to_string_lossy()), "{err}");
    }

    #[test]
    fn tls_needs_certificate_key_and_its_own_port() {
        let mut c = Config::default();
        c.security.tls_enabled = true;
        assert_eq!(validate_err(&c), "security.tls_cert_file: required when tls_enabled = true");
        c.security.tls_cert_file = Some("cert.pem".into());
        assert_eq!(validate_err(&c), "security.tls_key_file: required when tls_enabled = true");
        c.security.tls_key_file = Some("key.pem".into());
        c.security.tls_port = c.server.port;
        assert!(validate_err(&c).starts_with("security.tls_port:"));
        c.security.tls_port = 6380;
        c.server.port = 0;
        assert!(c.validate().is_ok(), "TLS only, no plain TCP");
        c.security.tls_enabled = false;
        assert!(validate_err(&c).starts_with("server.port: 0"));
    }

    #[test]
    fn lifecycle_keys_defaults_and_file() {
        let c = Config::default();
        assert_eq!(c.server.shutdown_timeout, 10);
        assert_eq!(c.server.tcp_backlog, 511);
        assert_eq!(c.server.max_connections_per_second, 0);
        assert!(c.security.protected_mode);
        let c = Config::from_toml(
            "[server]\nshutdown_timeout = 30\ntcp_backlog = 1024\nmax_connections_per_second = 100\n\
             [security]\nprotected_mode = false\n",
        )
        .unwrap();
        assert_eq!(c.server.shutdown_timeout, 30);
        assert_eq!(c.server.tcp_backlog, 1024);
        assert_eq!(c.server.max_connections_per_second, 100);
        assert!(!c.security.protected_mode);
        for (text, key) in [
            ("[server]\nshutdown_timeout = -1\n", "shutdown_timeout"),
            ("[server]\ntcp_backlog = \"big\"\n", "tcp_backlog"),
            ("[server]\nmax_connections_per_second = 1.5\n", "max_connections_per_second"),
            ("[security]\nprotected_mode = \"yes\"\n", "protected_mode"),
        ] {
            let err = parse_err(text);
            assert!(err.contains(key), "error for {text:?} lacks {key}: {err}");
        }
    }

    #[test]
    fn protected_mode_needs_loopback_or_password() {
        let mut c = Config::default();
        assert_eq!(c.protected_mode_violation(), None, "loopback");
        c.server.bind = "::1".into();
        assert_eq!(c.protected_mode_violation(), None, "IPv6 loopback");
        for bind in ["0.0.0.0", "::", "10.1.2.3"] {
            c.server.bind = bind.into();
            let message = c.protected_mode_violation().expect("violation");
            for key in ["server.bind", "security.password", "security.protected_mode", bind] {
                assert!(message.contains(key), "{message} lacks {key}");
            }
        }
        c.security.password = Some("secret".into());
        assert_eq!(c.protected_mode_violation(), None, "password set");
        c.security.password = None;
        c.security.protected_mode = false;
        assert_eq!(c.protected_mode_violation(), None, "protected mode off");
    }

    #[test]
    fn shipped_cluster_example_is_a_valid_map() {
        let text: String = include_str!("../redistill.toml")
            .lines()
            .skip_while(|line| *line != "# [cluster]")
            .map(|line| line.trim_start_matches(['#', ' ']))
            .filter(|line| line.ends_with(']') || line.split_once(" = ").is_some_and(|(key, _)| !key.contains(' ')))
            .collect::<Vec<_>>()
            .join("\n");
        let c = Config::from_toml(&text).unwrap();
        assert_eq!(c.cluster.nodes.len(), 2);
        assert_eq!(c.cluster.epoch, 1);
        c.validate().unwrap();
    }

    #[test]
    fn cluster_section_flags_and_env() {
        let id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let file = TempFile::new(&format!(
            "[cluster]\nenabled = false\nepoch = 2\n[[cluster.nodes]]\nid = \"{id}\"\nip = \"127.0.0.1\"\n\
             port = 7001\nslots = [\"0-16383\"]\n"
        ));
        let env = [(ENV_CLUSTER_ENABLED, "yes"), (ENV_CLUSTER_ANNOUNCE_PORT, "7001")];
        let c = load_test(&with_file(&file.0), &env).unwrap().config;
        assert!(c.cluster.enabled);
        assert_eq!(c.cluster.announce_port, 7001);
        assert_eq!(c.cluster.resolve_id(&c.server.bind, c.server.port).unwrap().as_deref(), Some(id));
        let cli = CliArgs { cluster_enabled: Some(false), ..with_file(&file.0) };
        assert!(!load_test(&cli, &env).unwrap().config.cluster.enabled, "the flag beats the environment");
        let err = load_test(&with_file(&file.0), &[(ENV_CLUSTER_ENABLED, "yes")]).unwrap_err().to_string();
        assert!(err.starts_with("cluster.node_id: not set, and no entry"), "{err}");
        let err = load_test(&with_file(&file.0), &[(ENV_CLUSTER_ENABLED, "perhaps")]).unwrap_err().to_string();
        assert!(err.contains(ENV_CLUSTER_ENABLED), "{err}");
        let cli = CliArgs { cluster_node_id: Some("x".into()), ..with_file(&file.0) };
        let err = load_test(&cli, &[]).unwrap_err().to_string();
        assert!(err.starts_with("cluster.node_id: 'x' is not 40"), "{err}");
    }

    #[test]
    fn reload_keeps_what_cannot_change() {
        let file = TempFile::new("[server]\nport = 1\n[cluster]\nenabled = false\nepoch = 9\n");
        let mut running = Config::default();
        running.cluster.enabled = true;
        running.cluster.node_id = Some("b".repeat(40));
        let c = reload(&file.0, &running).unwrap();
        assert_eq!(c.server.port, 6379);
        assert!(c.cluster.enabled);
        assert_eq!(c.cluster.node_id, running.cluster.node_id);
        assert_eq!(c.cluster.epoch, 9);
    }

    #[test]
    fn reload_reads_file_and_validates() {
        let file = TempFile::new("[memory]\nmax_memory = \"1mb\"\n[security]\npassword = \"new\"\n");
        let running = Config::default();
        let c = reload(&file.0, &running).unwrap();
        assert_eq!(c.memory.max_memory, MIB);
        let file = TempFile::new("[server]\nbatch_size = 0\n");
        let err = reload(&file.0, &running).unwrap_err().to_string();
        assert!(err.starts_with("server.batch_size:"), "{err}");
        assert!(reload(Path::new("/nonexistent/redistill.toml"), &running).is_err());
    }

    #[test]
    fn memory_units() {
        let cases = [
            ("0", 0),
            ("1024", 1024),
            ("10b", 10),
            ("1k", 1000),
            ("1kb", 1024),
            ("1K", 1000),
            ("1KB", 1024),
            ("100m", 100_000_000),
            ("100mb", 100 * MIB),
            ("100MB", 100 * MIB),
            ("100Mb", 100 * MIB),
            ("1g", 1_000_000_000),
            ("2gb", 2 * GIB),
            ("2GB", 2 * GIB),
            ("512k", 512_000),
            (" 64mb ", 64 * MIB),
        ];
        for (text, bytes) in cases {
            assert_eq!(parse_memory(text), Ok(bytes), "{text:?}");
        }
        for bad in ["", "abc", "mb", "-1", "1.5gb", "1tb", "1 mb", "1mbb", "99999999999999999999"] {
            assert_eq!(parse_memory(bad), Err(format!("invalid memory size '{bad}'")), "{bad:?}");
        }
        assert!(parse_memory("18446744073709551615gb").is_err(), "overflow");
    }

    #[test]
    fn size_fields_accept_integers_and_strings() {
        let c = Config::from_toml(
            "[server]\nproto_max_bulk_len = 1048576\nclient_query_buffer_limit = \"2gb\"\n\
             client_output_buffer_limit = \"0\"\nclient_output_buffer_limit_pubsub = \"1mb 1kb 5\"\n\
             [memory]\nmax_memory = \"512k\"\n",
        )
        .unwrap();
        assert_eq!(c.server.proto_max_bulk_len, MIB);
        assert_eq!(c.server.client_query_buffer_limit, 2 * GIB);
        assert_eq!(c.server.client_output_buffer_limit, 0);
        let pubsub = crate::output_limits::BufferLimit { hard: MIB, soft: KIB, soft_seconds: 5 };
        assert_eq!(c.server.client_output_buffer_limit_pubsub, pubsub);
        assert!(Config::from_toml("[server]\nclient_output_buffer_limit_pubsub = \"1mb\"\n").is_err());
        assert_eq!(c.memory.max_memory, 512_000);
    }

    #[test]
    fn eviction_policy_names() {
        let names = [
            "noeviction",
            "allkeys-lru",
            "allkeys-lfu",
            "allkeys-random",
            "volatile-lru",
            "volatile-lfu",
            "volatile-random",
            "volatile-ttl",
        ];
        for (policy, name) in EvictionPolicy::ALL.iter().zip(names) {
            assert_eq!(policy.as_str(), name);
            assert_eq!(name.parse::<EvictionPolicy>(), Ok(*policy));
            assert_eq!(name.to_uppercase().parse::<EvictionPolicy>(), Ok(*policy));
            let text = format!("[memory]\neviction_policy = \"{name}\"\n");
            assert_eq!(Config::from_toml(&text).unwrap().memory.eviction_policy, *policy);
            assert_eq!(policy.is_volatile(), name.starts_with("volatile"));
        }
        let err = "lru".parse::<EvictionPolicy>().unwrap_err();
        assert!(err.contains("'lru'") && err.contains("noeviction"), "{err}");
    }

    #[test]
    fn log_level_names_and_order() {
        for (level, name) in LogLevel::ALL.iter().zip(["error", "warn", "info", "debug"]) {
            assert_eq!(level.as_str(), name);
            assert_eq!(name.parse::<LogLevel>(), Ok(*level));
            let text = format!("[server]\nlog_level = \"{name}\"\n");
            assert_eq!(Config::from_toml(&text).unwrap().server.log_level, *level);
        }
        assert!(LogLevel::Error < LogLevel::Warn);
        assert!(LogLevel::Info < LogLevel::Debug);
    }

    #[test]
    fn shard_count_rounds_up_to_power_of_two() {
        let mut s = ServerConfig::default();
        for (shards, expected) in [(1, 1), (2, 2), (3, 4), (1000, 1024), (1024, 1024), (65_536, 65_536)] {
            s.num_shards = shards;
            assert_eq!(s.shard_count(), expected, "{shards}");
        }
        s.num_shards = 0;
        assert_eq!(s.shard_count(), 1);
        s.num_shards = usize::MAX;
        assert_eq!(s.shard_count(), MAX_SHARDS);
    }

    #[test]
    fn worker_threads_resolves_zero_to_cpu_count() {
        let mut s = ServerConfig::default();
        assert!(s.worker_threads() >= 1);
        s.threads = 7;
        assert_eq!(s.worker_threads(), 7);
    }

    #[test]
    fn addresses() {
        let mut s = ServerConfig::default();
        assert_eq!(s.listen_addr(), Ok("127.0.0.1:6379".parse().unwrap()));
        assert_eq!(s.health_check_addr(), None);
        s.health_check_port = 8080;
        assert_eq!(s.health_check_addr(), Some("127.0.0.1:8080".parse().unwrap()));
        s.bind = "::1".into();
        assert_eq!(s.listen_addr(), Ok("[::1]:6379".parse().unwrap()));
    }
}

//! Redistill: a Redis-compatible in-memory cache server.
//!
//! The crate is laid out the way a request flows through the server:
//! `net` accepts sockets and runs one mio event loop per worker thread,
//! `protocol` turns bytes into commands and replies back into bytes,
//! `commands` implements each Redis command against the `store`, a striped
//! table of RwLock-protected hash maps. `config`, `metrics` and `log` are the
//! supporting cast; `http` serves `/health` and `/metrics` on a port of its
//! own, and `systemd` tells a service manager when the server is ready.

pub mod blocking;
pub mod cli;
pub mod clients;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod glob;
pub mod http;
pub mod inbox;
pub mod log;
pub mod maintenance;
pub mod memory;
pub mod metrics;
pub mod net;
pub mod notify;
pub mod output_limits;
pub mod pause;
pub mod protocol;
pub mod pubsub;
pub mod rate;
pub mod scripting;
pub mod server;
pub mod slowlog;
pub mod store;
pub mod sync;
pub mod systemd;
pub mod tracking;

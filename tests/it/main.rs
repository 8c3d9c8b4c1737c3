//! The integration tests, built as one test binary (`cargo test --test it`):
//! one module per area, all sharing the harness in `tests/common/`. One
//! binary instead of one per file keeps `cargo test --release` from linking
//! the whole crate (fat LTO) once per file.
//!
//! Run one module, or one test, by name filter:
//!
//! ```text
//! cargo test --release --test it strings::
//! cargo test --release --test it strings::set_and_get -- --exact
//! ```
//!
//! New tests go into a module here, not into a new `tests/*.rs` file (each of
//! those is a binary of its own). The exceptions are the fuzzers,
//! `tests/fuzz_parser.rs` and `tests/fuzz_commands.rs`: their long runs are
//! started on their own (`--test fuzz_parser -- --ignored`).
//!
//! The tests of all modules run in parallel in this one process, so a test
//! must not change process-wide state (environment variables, the current
//! directory, signal handlers): pass settings to the server's command line or
//! environment instead (see [`common::Launch`] and [`common::run_redistill`]).

#[path = "../common/mod.rs"]
mod common;

mod bits;
mod blocking;
mod cli;
mod client_ext;
mod clients;
mod cluster;
mod concurrency;
mod config_cmd;
mod connection;
mod dump;
mod functions;
mod hashes;
mod hostile;
mod http;
mod keys;
mod keys_ext;
mod keyspace;
mod lifecycle;
mod limits;
mod lists;
mod memory;
mod notifications;
mod observability;
mod protocol;
mod pubsub;
mod resp3;
mod scripting;
mod server_ext;
mod server_info;
mod sets;
mod slowlog;
mod sort;
mod stress;
mod strings;
mod strings_ext;
mod systemd;
mod tls;
mod tracking;
mod transactions;
mod types;
mod zsets;

//! The atomics of Redistill's lock-free parts: an index slot's frequency
//! bits, which readers bump under a *shared* shard lock, and the
//! single-writer statistics counters. A normal build uses std's; a build
//! with `--cfg loom` uses loom's, so the `loom` tests in `store/table.rs`
//! and `metrics.rs` explore every interleaving of those parts
//! (`RUSTFLAGS="--cfg loom" cargo test --lib loom`, run by `.ci/run`).

#[cfg(loom)]
pub use loom::sync::atomic::{AtomicU32, AtomicU64};
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicU32, AtomicU64};

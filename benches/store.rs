//! Store microbenchmark: `Table` GET/SET throughput under threads.
//!
//! A std-only harness (no criterion). The table (256 shards, the server's
//! default segment size) is preloaded with 1M keys (`key:NNNNNNN`) holding
//! 256-byte values. Then, for each thread count (1, 2, 4, 8) and each key
//! distribution (uniform, Zipf 0.99), every thread runs a 90% GET / 10% SET
//! mix for a fixed time (`BENCH_MS`, default 1000 ms per point; `--quick`
//! makes it 300 ms). A GET encodes the value as a bulk reply into a
//! per-thread `ReplyBuffer`, drained every 64 operations, as a worker would.
//!
//! Thread counts above the machine's core count measure lock and cache
//! contention under oversubscription, not speed-up.
//!
//! Run with `cargo bench --bench store` (`-- --quick` for a short run).

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use redistill::clock;
use redistill::protocol::ReplyBuffer;
use redistill::store::segment::segment_size_for;
use redistill::store::{Pressure, Table};

const KEYS: usize = 1_000_000;
const KEY_LEN: usize = 11; // "key:" + 7 digits
const VALUE_SIZE: usize = 256;
const SHARDS: usize = 256;
const SET_PERCENT: u64 = 10;
const THREADS: [usize; 4] = [1, 2, 4, 8];

fn bench_duration() -> Duration {
    let quick = std::env::args().any(|a| a == "--quick");
    let default_ms = if quick { 300 } else { 1000 };
    let ms = std::env::var("BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(default_ms);
    Duration::from_millis(ms)
}

/// All keys back to back, `KEY_LEN` bytes each.
fn make_keys() -> Vec<u8> {
    let mut keys = Vec::with_capacity(KEYS * KEY_LEN);
    for i in 0..KEYS {
        keys.extend_from_slice(format!("key:{i:07}").as_bytes());
    }
    keys
}

fn key(keys: &[u8], i: usize) -> &[u8] {
    &keys[i * KEY_LEN..(i + 1) * KEY_LEN]
}

/// xorshift64*: fast, good enough for picking keys.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Zipf over [0, n) with constant-time sampling (Gray et al., "Quickly
/// generating billion-record synthetic databases", as in YCSB). Rank 0 is the
/// hottest key; the table hashes keys, so hot keys land on random shards.
#[derive(Clone, Copy)]
struct Zipf {
    n: f64,
    theta: f64,
    alpha: f64,
    zetan: f64,
    eta: f64,
}

impl Zipf {
    fn new(n: usize, theta: f64) -> Self {
        let zeta = |count: usize| (1..=count).map(|i| 1.0 / (i as f64).powf(theta)).sum::<f64>();
        let zetan = zeta(n);
        let zeta2 = zeta(2);
        let n_f = n as f64;
        let eta = (1.0 - (2.0 / n_f).powf(1.0 - theta)) / (1.0 - zeta2 / zetan);
        Self { n: n_f, theta, alpha: 1.0 / (1.0 - theta), zetan, eta }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        let uz = u * self.zetan;
        if uz < 1.0 {
            return 0;
        }
        if uz < 1.0 + 0.5f64.powf(self.theta) {
            return 1;
        }
        let rank = (self.n * (self.eta * u - self.eta + 1.0).powf(self.alpha)) as usize;
        rank.min(self.n as usize - 1)
    }
}

#[derive(Clone, Copy)]
enum Dist {
    Uniform,
    Zipf(Zipf),
}

impl Dist {
    fn name(&self) -> &'static str {
        match self {
            Dist::Uniform => "uniform",
            Dist::Zipf(_) => "zipf-0.99",
        }
    }

    fn sample(&self, rng: &mut Rng) -> usize {
        match self {
            Dist::Uniform => (rng.next() % KEYS as u64) as usize,
            Dist::Zipf(z) => z.sample(rng),
        }
    }
}

struct Point {
    ops: u64,
    gets: u64,
    hits: u64,
    secs: f64,
}

fn run_point(table: &Arc<Table>, keys: &Arc<Vec<u8>>, threads: usize, dist: Dist, duration: Duration) -> Point {
    let stop = Arc::new(AtomicBool::new(false));
    let barrier = Arc::new(Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (table, keys, stop, barrier) = (Arc::clone(table), Arc::clone(keys), stop.clone(), barrier.clone());
            std::thread::spawn(move || {
                let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ ((t as u64 + 1) * 0x1234_5678_9abc_def1));
                let value = [b'w'; VALUE_SIZE];
                let mut out = ReplyBuffer::new(Vec::with_capacity(64 * (VALUE_SIZE + 16)));
                let (mut ops, mut gets, mut hits) = (0u64, 0u64, 0u64);
                barrier.wait();
                let mut now = clock::now_ms();
                while !stop.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        let k = key(&keys, dist.sample(&mut rng));
                        if rng.next() % 100 < SET_PERCENT {
                            table.update(k, now, |slot| slot.put(&value, None));
                        } else {
                            gets += 1;
                            let hit = table.view(k, now, |entry| match entry {
                                Some(entry) => {
                                    // The GET command's reply, as it writes it.
                                    redistill::commands::strings::reply_string(&mut out, Some(&entry)).is_ok()
                                }
                                None => {
                                    out.null();
                                    false
                                }
                            });
                            hits += u64::from(hit);
                        }
                    }
                    ops += 64;
                    out.write_to(&mut std::io::sink()).expect("sink never fails");
                    if ops % 4096 == 0 {
                        now = clock::now_ms();
                    }
                }
                (ops, gets, hits)
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    std::thread::sleep(duration);
    stop.store(true, Ordering::Relaxed);
    let mut point = Point { ops: 0, gets: 0, hits: 0, secs: 0.0 };
    for handle in handles {
        let (ops, gets, hits) = handle.join().expect("bench thread panicked");
        point.ops += ops;
        point.gets += gets;
        point.hits += hits;
    }
    point.secs = start.elapsed().as_secs_f64();
    point
}

fn main() {
    let duration = bench_duration();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("# redistill store microbenchmark ({} ms per point)", duration.as_millis());
    println!(
        "Table: {SHARDS} shards, {KEYS} keys preloaded, {VALUE_SIZE}-byte values, {}% GET / {SET_PERCENT}% SET",
        100 - SET_PERCENT
    );
    println!("{cores} CPU(s) available: points with more threads than CPUs show contention, not speed-up");

    let load_start = Instant::now();
    let table = Arc::new(Table::new(SHARDS, segment_size_for(0), Arc::new(Pressure::default())));
    let keys = Arc::new(make_keys());
    let value = [b'v'; VALUE_SIZE];
    let now = clock::now_ms();
    for i in 0..KEYS {
        table.update(key(&keys, i), now, |slot| slot.put(&value, None));
    }
    assert_eq!(table.len(), KEYS);
    println!(
        "preload: {KEYS} SETs in {:.2} s ({:.0} ops/s, 1 thread); table memory {} MiB",
        load_start.elapsed().as_secs_f64(),
        KEYS as f64 / load_start.elapsed().as_secs_f64(),
        table.memory() / (1024 * 1024)
    );
    println!();

    let zipf = Dist::Zipf(Zipf::new(KEYS, 0.99));
    println!("{:<10} {:>8} {:>14} {:>16} {:>8}", "keys", "threads", "ops/s", "ops/s/thread", "hit %");
    for dist in [Dist::Uniform, zipf] {
        for threads in THREADS {
            let p = run_point(&table, &keys, threads, dist, duration);
            let ops_s = p.ops as f64 / p.secs;
            let note = if threads > cores { "  (oversubscribed)" } else { "" };
            println!(
                "{:<10} {:>8} {:>14.0} {:>16.0} {:>8.1}{note}",
                dist.name(),
                threads,
                ops_s,
                ops_s / threads as f64,
                100.0 * p.hits as f64 / p.gets.max(1) as f64
            );
        }
    }
    black_box(&table);
}

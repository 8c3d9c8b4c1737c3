//! Protocol microbenchmarks: request parsing and reply encoding.
//!
//! A std-only harness (no criterion): each case runs for a fixed wall-clock
//! time (`BENCH_MS`, default 1000 ms per case; `--quick` makes it 200 ms)
//! and prints throughput in MB/s and commands (or replies) per second.
//!
//! - parse: a pipelined stream of alternating `SET key:NNNNNNN <256 bytes>`
//!   and `GET key:NNNNNNN` frames, handed to the parser the way a connection
//!   does: appended to a read buffer in 16 KiB reads, parsed until
//!   `Incomplete`, the unconsumed tail moved to the front.
//! - reply: bulk replies (256 B and 4 KiB) encoded into a `ReplyBuffer` in
//!   batches of 256 and drained into a `Vec<u8>` after each batch.
//!
//! Run with `cargo bench --bench protocol` (`-- --quick` for a short run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use redistill::protocol::{Limits, Parsed, Parser, ReplyBuffer};

const READ_SIZE: usize = 16 * 1024;
const VALUE_SIZE: usize = 256;
const STREAM_COMMANDS: usize = 20_000;

fn bench_duration() -> Duration {
    let quick = std::env::args().any(|a| a == "--quick");
    let default_ms = if quick { 200 } else { 1000 };
    let ms = std::env::var("BENCH_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(default_ms);
    Duration::from_millis(ms)
}

/// Run `pass` repeatedly for about `duration`; each call reports the bytes
/// and items it processed. Returns (MB/s, items/s).
fn measure(duration: Duration, mut pass: impl FnMut() -> (usize, usize)) -> (f64, f64) {
    // One warm-up pass.
    black_box(pass());
    let start = Instant::now();
    let (mut bytes, mut items) = (0usize, 0usize);
    while start.elapsed() < duration {
        let (b, i) = pass();
        bytes += b;
        items += i;
    }
    let secs = start.elapsed().as_secs_f64();
    (bytes as f64 / secs / 1e6, items as f64 / secs)
}

fn push_bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// `commands` pipelined frames; `set_every` = 2 alternates SET and GET,
/// 1 is SET only, 0 is GET only.
fn request_stream(commands: usize, set_every: usize) -> Vec<u8> {
    let value = vec![b'x'; VALUE_SIZE];
    let mut out = Vec::new();
    for i in 0..commands {
        let key = format!("key:{:07}", i % 1_000_000);
        let is_set = set_every != 0 && i % set_every == 0;
        if is_set {
            out.extend_from_slice(b"*3\r\n");
            push_bulk(&mut out, b"SET");
            push_bulk(&mut out, key.as_bytes());
            push_bulk(&mut out, &value);
        } else {
            out.extend_from_slice(b"*2\r\n");
            push_bulk(&mut out, b"GET");
            push_bulk(&mut out, key.as_bytes());
        }
    }
    out
}

/// Parse the whole stream as a connection would. Returns (bytes, commands).
fn parse_stream(stream: &[u8], parser: &mut Parser, buf: &mut Vec<u8>) -> (usize, usize) {
    let limits = Limits { max_bulk_len: 512 * 1024 * 1024, authenticated: true };
    buf.clear();
    parser.reset();
    let mut fed = 0;
    let mut start = 0;
    let mut commands = 0;
    let mut checksum = 0usize;
    while fed < stream.len() {
        // Compact: move the unconsumed tail to the front, then "read".
        if start > 0 {
            buf.copy_within(start.., 0);
            buf.truncate(buf.len() - start);
            start = 0;
        }
        let end = (fed + READ_SIZE).min(stream.len());
        buf.extend_from_slice(&stream[fed..end]);
        fed = end;
        loop {
            match parser.parse(&buf[start..], limits) {
                Parsed::Command(n) => {
                    let args = parser.args(&buf[start..]);
                    checksum = checksum.wrapping_add(args.len() + args.get(args.len() - 1).len());
                    parser.reset();
                    start += n;
                    commands += 1;
                }
                Parsed::Empty(n) => start += n,
                Parsed::Incomplete => break,
                Parsed::Error(e) => panic!("parse error: {}", e.message()),
            }
        }
    }
    assert_eq!(start, buf.len(), "stream not fully parsed");
    black_box(checksum);
    (stream.len(), commands)
}

fn bench_parse(duration: Duration) {
    println!("parser: {STREAM_COMMANDS} pipelined commands per pass, {VALUE_SIZE}-byte values, {READ_SIZE}-byte reads");
    println!("{:<28} {:>12} {:>16}", "stream", "MB/s", "commands/s");
    for (name, set_every) in [("SET/GET alternating", 2), ("SET only", 1), ("GET only", 0)] {
        let stream = request_stream(STREAM_COMMANDS, set_every);
        let mut parser = Parser::new();
        let mut buf = Vec::with_capacity(2 * READ_SIZE);
        let (mbs, cps) = measure(duration, || parse_stream(&stream, &mut parser, &mut buf));
        println!("{name:<28} {mbs:>12.1} {cps:>16.0}");
    }
}

fn bench_reply(duration: Duration) {
    const BATCH: usize = 256;
    println!();
    println!("reply encoding: bulk replies into a ReplyBuffer, {BATCH} per batch, drained into a Vec<u8>");
    println!("{:<28} {:>12} {:>16}", "reply", "MB/s", "replies/s");
    for size in [256usize, 4096] {
        let value = vec![b'v'; size];
        let mut reply = ReplyBuffer::new(Vec::with_capacity(16 * 1024));
        let mut sink: Vec<u8> = Vec::with_capacity(BATCH * (size + 16));
        let (mbs, rps) = measure(duration, || {
            let mut bytes = 0;
            for _ in 0..16 {
                for _ in 0..BATCH {
                    reply.bulk(black_box(&value));
                }
                sink.clear();
                reply.write_to(&mut sink).expect("writing to a Vec cannot fail");
                bytes += sink.len();
                black_box(&sink);
            }
            (bytes, 16 * BATCH)
        });
        println!("{:<28} {mbs:>12.1} {rps:>16.0}", format!("bulk {size} B"));
    }
}

fn main() {
    let duration = bench_duration();
    println!("# redistill protocol microbenchmarks ({} ms per case)", duration.as_millis());
    println!();
    bench_parse(duration);
    bench_reply(duration);
}

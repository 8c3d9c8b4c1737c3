//! Fuzzing the RESP request parser on stable Rust.
//!
//! Three kinds of check, all driving `Parser` the way a connection does
//! (the unconsumed bytes are handed over after every read, the parser is
//! reset after each command, consumed bytes are compacted away):
//!
//! * proptest properties, run by `cargo test`:
//!   - any bytes, cut into reads at any points, never panic, and give the
//!     same commands, empty frames and final error as the same bytes in one
//!     read (the parser must not depend on how TCP splits its input);
//!   - a valid pipeline (multibulk and inline, with empty frames in between)
//!     cut anywhere yields exactly the commands it encodes;
//!   - the heap the parser holds never exceeds a small multiple of the bytes
//!     received, whatever lengths the input declares (measured with
//!     jemalloc's per-thread allocation counters);
//!   - `peek_key`, the look-ahead that picks keys to prefetch, agrees with
//!     the parser whenever it answers (the long run checks this too).
//! * corpus replay, run by `cargo test`: every file in `fuzz/corpus/resp/`
//!   (real client traffic, see `fuzz/README.md`) parses cleanly, and gives the
//!   same commands when cut at every single byte offset and when fed one byte
//!   per read.
//! * a long-running mutational fuzzer, `#[ignore]`d:
//!   `FUZZ_SECONDS=1800 cargo test --release --test fuzz_parser -- --ignored`
//!   mutates the corpus and generated pipelines for that long on every core,
//!   checking the same properties, and prints the execution count. A failing
//!   input is written to `fuzz/artifacts/` before the test fails.

use std::fs;
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;

use common::rng::Rng;
use proptest::prelude::*;
use redistill::protocol::{peek_key, Limits, Parsed, Parser, ProtocolError};

const MAX_BULK: u64 = 512 * 1024 * 1024;
const AUTHED: Limits = Limits { max_bulk_len: MAX_BULK, authenticated: true };

// ---------------------------------------------------------------------------
// Driver
// ---------------------------------------------------------------------------

/// What the parser reported, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Command { len: usize, args: Vec<Vec<u8>> },
    Empty(usize),
    Error(ProtocolError),
}

#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    events: Vec<Event>,
    /// Bytes received but not consumed when the input ran out (0 after an
    /// error, which ends the connection).
    unconsumed: usize,
}

/// Heap held by one parser, from jemalloc's per-thread counters around each
/// parser call (the library installs jemalloc as the global allocator).
struct HeapMeter {
    allocated: tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
    deallocated: tikv_jemalloc_ctl::thread::ThreadLocal<u64>,
    /// Bytes the parser allocated minus bytes it freed, so far.
    live: i64,
}

impl HeapMeter {
    fn new() -> HeapMeter {
        HeapMeter {
            allocated: tikv_jemalloc_ctl::thread::allocatedp::read().expect("thread.allocatedp"),
            deallocated: tikv_jemalloc_ctl::thread::deallocatedp::read().expect("thread.deallocatedp"),
            live: 0,
        }
    }

    fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let (a0, d0) = (self.allocated.get(), self.deallocated.get());
        let out = f();
        let (a1, d1) = (self.allocated.get(), self.deallocated.get());
        self.live += (a1 - a0) as i64 - (d1 - d0) as i64;
        out
    }
}

/// The heap a parser may hold after `received` bytes: a few words per byte
/// (argument ranges, the unquoted inline copy, Vec doubling) plus slack.
fn heap_bound(received: usize) -> i64 {
    64 * received as i64 + 8192
}

/// Feed `input` to a fresh parser as reads ending at each offset in `cuts`
/// (then the rest), like a connection: after each read, parse until the
/// parser needs more; compact consumed bytes away when `compact` is set.
/// Checks the per-call invariants and the heap bound as it goes.
fn feed(input: &[u8], cuts: &[usize], limits: Limits, compact: bool) -> Outcome {
    let mut parser = Parser::new();
    let mut meter = HeapMeter::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut start = 0;
    let mut received = 0;
    let mut events = Vec::new();
    let mut bounds: Vec<usize> = cuts.iter().copied().filter(|&c| c <= input.len()).collect();
    bounds.sort_unstable();
    bounds.dedup();
    bounds.push(input.len());
    let mut prev = 0;
    for &end in &bounds {
        if end < prev {
            continue;
        }
        buf.extend_from_slice(&input[prev..end]);
        received += end - prev;
        prev = end;
        loop {
            let frame = &buf[start..];
            let parsed = meter.measure(|| parser.parse(frame, limits));
            assert!(
                meter.live <= heap_bound(received),
                "parser holds {} heap bytes after receiving {received} bytes",
                meter.live
            );
            match parsed {
                Parsed::Command(len) => {
                    assert!(len > 0 && len <= frame.len(), "Command({len}) with {} bytes available", frame.len());
                    let args = parser.args(frame);
                    assert!(!args.is_empty(), "a command with no arguments");
                    let args: Vec<Vec<u8>> = args.iter().map(<[u8]>::to_vec).collect();
                    let arg_bytes: usize = args.iter().map(Vec::len).sum();
                    assert!(
                        args.len() <= len && arg_bytes <= len,
                        "{} args / {arg_bytes} bytes from {len}",
                        args.len()
                    );
                    events.push(Event::Command { len, args });
                    meter.measure(|| parser.reset());
                    start += len;
                }
                Parsed::Empty(len) => {
                    assert!(len > 0 && len <= frame.len(), "Empty({len}) with {} bytes available", frame.len());
                    events.push(Event::Empty(len));
                    start += len;
                }
                Parsed::Incomplete => break,
                Parsed::Error(e) => {
                    // The connection replies and closes: how much more had
                    // arrived by then depends on the reads, so it is not
                    // part of the outcome.
                    events.push(Event::Error(e));
                    return Outcome { events, unconsumed: 0 };
                }
            }
        }
        if compact && start > 0 {
            buf.drain(..start);
            start = 0;
        }
    }
    Outcome { events, unconsumed: buf.len() - start }
}

fn whole(input: &[u8], limits: Limits) -> Outcome {
    feed(input, &[], limits, false)
}

// ---------------------------------------------------------------------------
// Encoders for valid input
// ---------------------------------------------------------------------------

fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// An inline command line: every argument double-quoted, with `\xHH` for
/// anything but printable ASCII, and `\"` / `\\` escaped.
fn inline(args: &[Vec<u8>], crlf: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'"');
        for &b in a {
            match b {
                b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
                0x20..=0x7e => out.push(b),
                _ => out.extend_from_slice(format!("\\x{b:02x}").as_bytes()),
            }
        }
        out.push(b'"');
    }
    out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    out
}

/// One frame of a pipeline.
#[derive(Clone, Debug)]
enum Frame {
    Multibulk(Vec<Vec<u8>>),
    Inline(Vec<Vec<u8>>, bool),
    Empty(&'static [u8]),
}

impl Frame {
    fn bytes(&self) -> Vec<u8> {
        match self {
            Frame::Multibulk(args) => multibulk(args),
            Frame::Inline(args, crlf) => inline(args, *crlf),
            Frame::Empty(b) => b.to_vec(),
        }
    }

    fn expected(&self) -> Event {
        let len = self.bytes().len();
        match self {
            Frame::Multibulk(args) | Frame::Inline(args, _) => Event::Command { len, args: args.clone() },
            Frame::Empty(_) => Event::Empty(len),
        }
    }
}

const EMPTY_FRAMES: &[&[u8]] = &[b"*0\r\n", b"*-1\r\n", b"\r\n", b"\n", b"   \r\n", b"\t \n"];

// ---------------------------------------------------------------------------
// proptest strategies
// ---------------------------------------------------------------------------

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => prop::collection::vec(any::<u8>(), 0..24),
        2 => "[a-zA-Z0-9:_]{1,12}".prop_map(String::into_bytes),
        1 => prop::collection::vec(prop::sample::select(b"\r\n$*\"' \\x0".to_vec()), 0..12),
        1 => (0usize..3000).prop_map(|n| vec![b'v'; n]),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    let args = || prop::collection::vec(arg(), 1..7);
    prop_oneof![
        6 => args().prop_map(Frame::Multibulk),
        3 => (args(), any::<bool>()).prop_map(|(a, crlf)| Frame::Inline(a, crlf)),
        1 => prop::sample::select(EMPTY_FRAMES).prop_map(Frame::Empty),
    ]
}

/// RESP-flavoured byte soup: tokens that steer the parser into its corners,
/// mixed with arbitrary bytes.
fn soup() -> impl Strategy<Value = Vec<u8>> {
    #[rustfmt::skip]
    const TOKENS: &[&[u8]] = &[
        b"*", b"$", b"\r\n", b"\r", b"\n", b"0", b"1", b"2", b"3", b"-1", b"-", b"+", b" ", b"\"", b"'", b"\\", b"\\x",
        b"41", b"zz", b"*1\r\n", b"*2\r\n", b"*3\r\n", b"$0\r\n", b"$3\r\n", b"$-1\r\n", b"*0\r\n", b"*-1\r\n",
        b"*2147483648\r\n", b"*2147483647\r\n", b"$536870913\r\n", b"$9223372036854775807\r\n",
        b"$99999999999999999999\r\n", b"*11\r\n", b"$16385\r\n", b"*01\r\n", b"$ 3\r\n", b"PING", b"SET k v",
        b"\"a\\x4", b"\"unterminated", b"'it\\'s'",
    ];
    prop::collection::vec(
        prop_oneof![
            3 => prop::sample::select(TOKENS).prop_map(<[u8]>::to_vec),
            1 => prop::collection::vec(any::<u8>(), 1..8),
            1 => (1usize..40).prop_map(|n| vec![b'x'; n]),
        ],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

fn limits() -> impl Strategy<Value = Limits> {
    (any::<bool>(), prop::sample::select(vec![0u64, 1, 3, 10, 100, 16 * 1024, MAX_BULK]))
        .prop_map(|(authenticated, max_bulk_len)| Limits { max_bulk_len, authenticated })
}

/// Read boundaries for an input of `len` bytes, as fractions scaled at use.
fn cuts() -> impl Strategy<Value = Vec<prop::sample::Index>> {
    prop::collection::vec(any::<prop::sample::Index>(), 0..12)
}

fn resolve(cuts: &[prop::sample::Index], len: usize) -> Vec<usize> {
    cuts.iter().map(|i| i.index(len + 1)).collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any bytes at any split points: no panic, and the same result as one read.
    #[test]
    fn any_bytes_any_splits_match_one_read(
        input in prop_oneof![soup(), prop::collection::vec(any::<u8>(), 0..300)],
        cuts in cuts(),
        limits in limits(),
        compact in any::<bool>(),
    ) {
        let cuts = resolve(&cuts, input.len());
        let one = whole(&input, limits);
        let split = feed(&input, &cuts, limits, compact);
        prop_assert_eq!(&split, &one, "cuts {:?}", cuts);
    }

    /// Byte-at-a-time reads of arbitrary bytes: the extreme split.
    #[test]
    fn any_bytes_one_byte_per_read(input in soup(), limits in limits()) {
        let cuts: Vec<usize> = (0..=input.len()).collect();
        prop_assert_eq!(feed(&input, &cuts, limits, true), whole(&input, limits));
    }

    /// A valid pipeline cut anywhere yields exactly the commands it encodes.
    #[test]
    fn valid_pipeline_splits_yield_the_same_commands(
        frames in prop::collection::vec(frame(), 1..16),
        cuts in cuts(),
        compact in any::<bool>(),
    ) {
        let input: Vec<u8> = frames.iter().flat_map(Frame::bytes).collect();
        let expected = Outcome { events: frames.iter().map(Frame::expected).collect(), unconsumed: 0 };
        prop_assert_eq!(&whole(&input, AUTHED), &expected);
        let cuts = resolve(&cuts, input.len());
        prop_assert_eq!(&feed(&input, &cuts, AUTHED, compact), &expected, "cuts {:?}", cuts);
    }

    /// The connection's look-ahead (`peek_key`, which picks keys to
    /// prefetch) never panics, and whenever it answers, the parser proper
    /// agrees: a command of that length whose second argument is that key.
    #[test]
    fn peek_key_agrees_with_the_parser(
        input in prop_oneof![soup(), prop::collection::vec(frame(), 1..4).prop_map(|f| f.iter().flat_map(Frame::bytes).collect())],
    ) {
        check_peek_key(&input);
    }

    /// A truncated valid pipeline: the complete frames come out, the rest
    /// waits, nothing errors.
    #[test]
    fn truncated_pipeline_waits_for_more(
        frames in prop::collection::vec(frame(), 1..8),
        cut in any::<prop::sample::Index>(),
    ) {
        let input: Vec<u8> = frames.iter().flat_map(Frame::bytes).collect();
        let keep = cut.index(input.len() + 1);
        let out = whole(&input[..keep], AUTHED);
        let mut consumed = 0;
        for (event, frame) in out.events.iter().zip(&frames) {
            prop_assert_eq!(event, &frame.expected());
            consumed += frame.bytes().len();
        }
        prop_assert_eq!(out.unconsumed, keep - consumed);
    }

    /// Declared lengths never turn into allocations: huge counts and bulk
    /// lengths with little data behind them keep the parser's heap small
    /// (`feed` checks the bound after every call).
    #[test]
    fn declared_lengths_are_not_preallocated(
        count in prop_oneof![Just(i32::MAX as i64), 1i64..i32::MAX as i64],
        bulk in prop_oneof![Just(MAX_BULK as i64), 1i64..MAX_BULK as i64],
        filler in 0usize..64,
        args in 0usize..200,
    ) {
        let mut input = format!("*{count}\r\n").into_bytes();
        for _ in 0..args {
            input.extend_from_slice(b"$0\r\n\r\n");
        }
        input.extend_from_slice(format!("${bulk}\r\n").as_bytes());
        input.extend(std::iter::repeat_n(b'z', filler));
        let out = feed(&input, &[3, 7, 20], AUTHED, true);
        if count > args as i64 {
            prop_assert!(out.events.is_empty(), "{:?}", out.events);
        }
    }
}

#[test]
fn heap_meter_sees_allocations() {
    // The heap bound is only a check if the counters move: make sure the
    // jemalloc global allocator is the one in this test binary.
    let mut meter = HeapMeter::new();
    let v = meter.measure(|| std::hint::black_box(vec![1u8; 1 << 20]));
    assert!(meter.live >= 1 << 20, "jemalloc thread counters did not see a 1 MiB allocation");
    drop(std::hint::black_box(v));
}

#[test]
fn unauthenticated_and_bulk_limits_hold_under_splits() {
    let unauth = Limits { max_bulk_len: MAX_BULK, authenticated: false };
    for input in [&b"*11\r\n"[..], b"*1\r\n$16385\r\n", b"*1\r\n$11\r\nhello world\r\n"] {
        let one = whole(input, unauth);
        for cut in 0..=input.len() {
            assert_eq!(feed(input, &[cut], unauth, true), one, "cut {cut} of {:?}", String::from_utf8_lossy(input));
        }
    }
    assert_eq!(whole(b"*11\r\n", unauth).events, vec![Event::Error(ProtocolError::UnauthenticatedMultibulkLength)]);
    let small = Limits { max_bulk_len: 4, authenticated: true };
    assert_eq!(whole(b"*1\r\n$5\r\nhello\r\n", small).events, vec![Event::Error(ProtocolError::InvalidBulkLength)]);
}

// ---------------------------------------------------------------------------
// Corpus replay
// ---------------------------------------------------------------------------

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("corpus").join("resp")
}

fn corpus() -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir();
    let mut files: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), fs::read(&p).expect("read corpus file")))
        .collect();
    files.sort();
    files
}

/// Every corpus file parses cleanly, and cutting it at any single offset, or
/// into one-byte reads, changes nothing. A cut only affects the frame it
/// falls in, so each cut is checked on that frame (plus the start of the
/// next), which keeps this linear in the corpus size.
#[test]
fn corpus_replays_identically_at_every_split_point() {
    let files = corpus();
    assert!(files.len() >= 5, "corpus missing or too small in {}", corpus_dir().display());
    let mut checked = 0usize;
    for (name, data) in &files {
        let one = whole(data, AUTHED);
        assert_eq!(one.unconsumed, 0, "{name}: bytes left over after the last frame");
        assert!(
            !one.events.iter().any(|e| matches!(e, Event::Error(_))),
            "{name}: real client traffic was rejected: {:?}",
            one.events.last()
        );
        let all: Vec<usize> = (0..=data.len()).collect();
        assert_eq!(feed(data, &all, AUTHED, true), one, "{name}: one byte per read");

        let mut frame_start = 0;
        for (i, event) in one.events.iter().enumerate() {
            let len = match event {
                Event::Command { len, .. } | Event::Empty(len) => *len,
                Event::Error(_) => unreachable!(),
            };
            // This frame plus the next one, so a cut may also land in a read
            // that ends one frame and begins another.
            let next_len = match one.events.get(i + 1) {
                Some(Event::Command { len, .. } | Event::Empty(len)) => *len,
                _ => 0,
            };
            let window = &data[frame_start..frame_start + len + next_len];
            let expected = whole(window, AUTHED);
            for cut in 0..=len {
                assert_eq!(
                    feed(window, &[cut], AUTHED, cut % 2 == 0),
                    expected,
                    "{name}: cut at byte {} (frame {i} at offset {frame_start})",
                    frame_start + cut
                );
                checked += 1;
            }
            frame_start += len;
        }
    }
    eprintln!("corpus: {} files, {checked} split points", files.len());
}

// ---------------------------------------------------------------------------
// Long-run mutational fuzzing
// ---------------------------------------------------------------------------

#[rustfmt::skip]
const INTERESTING: &[&[u8]] = &[
    b"\r\n", b"\n", b"\r", b"*", b"$", b"-1", b"0", b"00", b"2147483647", b"2147483648", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775808", b"536870912", b"536870913", b"16385", b"11", b"\"", b"'",
    b"\\x", b"\\", b" ", b"\x00", b"\xff",
];

fn random_args(rng: &mut Rng) -> Vec<Vec<u8>> {
    (0..1 + rng.below(5))
        .map(|_| {
            let n = if rng.chance(5) { rng.below(70_000) } else { rng.below(20) };
            (0..n).map(|_| rng.next_u64() as u8).collect()
        })
        .collect()
}

/// A starting input: a window of a corpus file, or a generated pipeline.
fn seed_input(rng: &mut Rng, corpus: &[(String, Vec<u8>)]) -> Vec<u8> {
    if !corpus.is_empty() && rng.chance(60) {
        let data = &corpus[rng.below(corpus.len())].1;
        let from = rng.below(data.len());
        let len = 1 + rng.below(4096);
        return data[from..(from + len).min(data.len())].to_vec();
    }
    let mut out = Vec::new();
    for _ in 0..1 + rng.below(8) {
        match rng.below(10) {
            0..=5 => out.extend(multibulk(&random_args(rng))),
            6..=8 => out.extend(inline(&random_args(rng), rng.chance(50))),
            _ => out.extend_from_slice(EMPTY_FRAMES[rng.below(EMPTY_FRAMES.len())]),
        }
    }
    out
}

fn mutate(rng: &mut Rng, input: &mut Vec<u8>, corpus: &[(String, Vec<u8>)]) {
    for _ in 0..1 + rng.below(6) {
        let len = input.len();
        match rng.below(9) {
            0 if len > 0 => {
                let i = rng.below(len);
                input[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                input[i] = rng.next_u64() as u8;
            }
            2 => {
                let i = rng.below(len + 1);
                let tok = INTERESTING[rng.below(INTERESTING.len())];
                input.splice(i..i, tok.iter().copied());
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                input.drain(i..i + n);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                let chunk: Vec<u8> = input[i..i + n].to_vec();
                let at = rng.below(len + 1);
                input.splice(at..at, chunk);
            }
            5 if len > 0 => {
                // Replace a run of digits with an interesting number.
                if let Some(p) = input.iter().position(|b| b.is_ascii_digit()) {
                    let end = p + input[p..].iter().take_while(|b| b.is_ascii_digit()).count();
                    let tok = INTERESTING[rng.below(INTERESTING.len())];
                    input.splice(p..end, tok.iter().copied());
                }
            }
            6 if !corpus.is_empty() => {
                let other = seed_input(rng, corpus);
                let at = rng.below(len + 1);
                input.splice(at..at, other);
            }
            7 if len > 1 => {
                let keep = rng.below(len);
                input.truncate(keep);
            }
            _ => {
                let i = rng.below(len + 1);
                input.insert(i, rng.next_u64() as u8);
            }
        }
    }
    input.truncate(256 * 1024);
}

fn random_limits(rng: &mut Rng) -> Limits {
    let max_bulk_len = [MAX_BULK, MAX_BULK, 16 * 1024, 100, 3, 0][rng.below(6)];
    Limits { max_bulk_len, authenticated: rng.chance(85) }
}

fn random_cuts(rng: &mut Rng, len: usize) -> Vec<usize> {
    if rng.chance(3) && len < 4096 {
        return (0..=len).collect();
    }
    (0..rng.below(10)).map(|_| rng.below(len + 1)).collect()
}

/// One execution: the split feed must match the one-read feed (and neither
/// may panic or break an invariant).
fn check_one(input: &[u8], cuts: &[usize], limits: Limits, compact: bool) {
    let one = whole(input, limits);
    let split = feed(input, cuts, limits, compact);
    assert_eq!(split, one, "split feed differs from one read");
    check_peek_key(input);
}

/// The connection's look-ahead (`peek_key`, which picks keys to prefetch)
/// never panics, and whenever it answers, the parser proper agrees: a
/// command of that length whose second argument is that key.
fn check_peek_key(input: &[u8]) {
    if let Some((len, key)) = peek_key(input) {
        let mut parser = Parser::new();
        match parser.parse(input, AUTHED) {
            Parsed::Command(parsed) => {
                assert_eq!(parsed, len, "peek_key's frame length");
                assert_eq!(parser.args(input).get(1), key, "peek_key's key");
            }
            other => panic!("peek_key said {len} bytes, the parser {other:?}"),
        }
    }
}

fn save_artifact(input: &[u8], cuts: &[usize], limits: Limits) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join("artifacts");
    let _ = fs::create_dir_all(&dir);
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let path = dir.join(format!("parser-{hash:016x}.resp"));
    let _ = fs::write(&path, input);
    let _ = fs::write(
        path.with_extension("txt"),
        format!("cuts: {cuts:?}\nlimits: {limits:?}\nreplay: feed the .resp file with these cuts and limits\n"),
    );
    path
}

#[test]
#[ignore = "long-running fuzzer: FUZZ_SECONDS=N cargo test --release --test fuzz_parser -- --ignored"]
fn fuzz_long_run() {
    let seconds: u64 = std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    let threads: usize = std::env::var("FUZZ_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let seed: u64 = std::env::var("FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64)
    });
    let corpus = Arc::new(corpus());
    let execs = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    // Written straight to stderr so it shows without --nocapture.
    let mut err = std::io::stderr();
    let _ = writeln!(
        err,
        "fuzz: {seconds}s on {threads} thread(s), seed {seed}, {} corpus files (FUZZ_SECONDS / FUZZ_THREADS / FUZZ_SEED)",
        corpus.len()
    );
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (corpus, execs, failed) = (Arc::clone(&corpus), Arc::clone(&execs), Arc::clone(&failed));
            std::thread::spawn(move || {
                let mut rng = Rng::seeded(seed ^ (t as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                let mut local = 0u64;
                while Instant::now() < deadline && !failed.load(Ordering::Relaxed) {
                    for _ in 0..64 {
                        let mut input = seed_input(&mut rng, &corpus);
                        if rng.chance(85) {
                            mutate(&mut rng, &mut input, &corpus);
                        }
                        let cuts = random_cuts(&mut rng, input.len());
                        let limits = random_limits(&mut rng);
                        let compact = rng.chance(50);
                        let result =
                            panic::catch_unwind(AssertUnwindSafe(|| check_one(&input, &cuts, limits, compact)));
                        local += 1;
                        if let Err(cause) = result {
                            failed.store(true, Ordering::Relaxed);
                            execs.fetch_add(local, Ordering::Relaxed);
                            let path = save_artifact(&input, &cuts, limits);
                            let _ = writeln!(std::io::stderr(), "fuzz: FAILURE, input saved to {}", path.display());
                            panic::resume_unwind(cause);
                        }
                    }
                    execs.fetch_add(std::mem::take(&mut local), Ordering::Relaxed);
                }
                execs.fetch_add(local, Ordering::Relaxed);
            })
        })
        .collect();
    let started = Instant::now();
    let mut last_report = Instant::now();
    while Instant::now() < deadline && !failed.load(Ordering::Relaxed) && !workers.iter().all(|w| w.is_finished()) {
        std::thread::sleep(Duration::from_millis(200));
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            let n = execs.load(Ordering::Relaxed);
            let _ = writeln!(
                err,
                "fuzz: {n} execs in {:.0?} ({:.0}/s)",
                started.elapsed(),
                n as f64 / started.elapsed().as_secs_f64()
            );
        }
    }
    let mut panicked = false;
    for w in workers {
        panicked |= w.join().is_err();
    }
    let n = execs.load(Ordering::Relaxed);
    let secs = started.elapsed().as_secs_f64();
    let _ = writeln!(err, "fuzz: done: {n} executions in {secs:.1}s ({:.0}/s), seed {seed}", n as f64 / secs);
    assert!(!panicked && !failed.load(Ordering::Relaxed), "fuzzing found a failing input (see fuzz/artifacts/)");
}

//! Fuzzing the command layer against a reference model.
//!
//! This file owns the model-based check of the string, hash, set, sorted
//! set, list and keyspace commands: a plain `HashMap` model of one database
//! (strings, hashes, sets, sorted sets and lists, expiry deadlines, counters) that answers every command the way Redis 7
//! does, a seeded generator of random command vectors, and a driver that
//! pipelines them to a real server and compares the replies in order.
//!
//! * Commands: SET (NX, XX, GET, EX, PX, EXAT, PXAT, KEEPTTL, in any order,
//!   repeated or conflicting), SETEX, PSETEX, SETNX, GET, GETSET, GETDEL,
//!   GETEX (EX, PX, EXAT, PXAT, PERSIST), MSET, MSETNX, MGET, DEL, UNLINK,
//!   EXISTS, TOUCH, APPEND, STRLEN, GETRANGE, SUBSTR, SETRANGE, INCR, DECR,
//!   INCRBY, DECRBY, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (NX, XX, GT, LT),
//!   PERSIST, TTL, PTTL, EXPIRETIME, PEXPIRETIME, TYPE, RENAME, RENAMENX,
//!   COPY (REPLACE, DB), DBSIZE, FLUSHDB (rarely); HSET, HMSET, HSETNX, HGET,
//!   HMGET, HDEL (the last field takes the key with it), HEXISTS, HLEN,
//!   HSTRLEN, HINCRBY, HKEYS, HVALS, HGETALL; BITOP (AND, OR, XOR, NOT),
//!   BITPOS (BYTE, BIT), BITFIELD and BITFIELD_RO (GET, SET, INCRBY,
//!   OVERFLOW WRAP/SAT/FAIL, `#N` offsets), LCS (LEN, IDX, MINMATCHLEN,
//!   WITHMATCHLEN); DUMP and RESTORE (REPLACE, ABSTTL, IDLETIME, FREQ, their
//!   errors); SADD, SREM, SISMEMBER, SMISMEMBER, SCARD, SMEMBERS, SMOVE,
//!   SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD (LIMIT), SPOP
//!   and SRANDMEMBER (only where the outcome is not random, or checked for
//!   size and membership); ZADD (NX, XX, GT, LT, CH, INCR), ZINCRBY, ZREM,
//!   ZSCORE, ZCARD, ZCOUNT, ZRANGE (by rank or BYSCORE, REV, LIMIT,
//!   WITHSCORES), ZRANK, ZREVRANK, ZREMRANGEBYRANK, ZREMRANGEBYSCORE,
//!   ZPOPMIN, ZPOPMAX; LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP (count),
//!   LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM, LPOS (RANK, COUNT,
//!   MAXLEN), LMOVE, RPOPLPUSH, LMPOP (the blocking forms are tested in
//!   tests/it/blocking.rs); and wrong-arity calls of all of them; command
//!   names and options in random case. Every type shares the keys, so
//!   WRONGTYPE comes up every way, SET and MSET replace a collection, and
//!   the keyspace commands move, copy and expire every type.
//!   HINCRBYFLOAT is left out: Redis parses with `strtold`, adds in `long
//!   double` and prints `%.17Lf`, which the model cannot match digit for digit.
//! * Data: eight keys (the empty key and binary ones among them), seven hash
//!   fields (the empty field and a binary one among them); values that
//!   sit on the integer parser's edges (`-0`, `007`, `+5`, i64 limits and one
//!   past them, empty strings, binary bytes) and now and then one of 16 KiB
//!   or more.
//! * DUMP payloads are each server's own, so a DUMP reply is only checked to
//!   be a bulk string (nil for no key), and RESTORE's payload argument is a
//!   placeholder the driver replaces with the payload of the last DUMP
//!   answered in an earlier batch; the model restores the value that key
//!   held when it was dumped, and the final sweep checks it.
//! * Replies are compared byte for byte as raw RESP2, except HKEYS, HVALS,
//!   HGETALL, SMEMBERS and the set algebra (any order of the elements, or of
//!   HGETALL's pairs), SRANDMEMBER (size and membership), and TTL, PTTL,
//!   EXPIRETIME and PEXPIRETIME of relative expiries: those must lie within
//!   the window the send and answer times of the batches allow, widened by
//!   [`SLACK_MS`]. Positive expiries are at least 1000 s, so nothing expires
//!   during a run; zero, negative and past ones delete at once, as in Redis.
//!
//! Runs:
//!
//! * `cargo test --release --test fuzz_commands` (CI): a fixed set of seeded
//!   sequences on two connections.
//! * `FUZZ_SECONDS=1800 cargo test --release --test fuzz_commands -- --ignored`:
//!   the long run, one connection (and database) per thread for that long;
//!   prints progress and the number of sequences and commands (straight to
//!   stderr, no `--nocapture` needed). `FUZZ_THREADS` (default: all CPUs, at
//!   most 16) and `FUZZ_SEED` (default: the clock) are optional.
//! * A mismatch fails the test with the sequence's seed, the last commands
//!   with their expected replies and both replies of the failing one. Replay
//!   it with `FUZZ_SEED=<seed> FUZZ_SEQUENCES=1 cargo test --release --test
//!   fuzz_commands random_sequences_agree_with_the_model`.
//! * `REDISTILL_TEST_REDIS_SERVER=/usr/bin/redis-server` runs the very same
//!   sequences against real Redis: that is how the model itself is checked.

mod common;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::Write;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::rng::Rng;
use common::{encode, show, RawClient, TestServer};

/// Clock disagreement tolerated between this process and the server when
/// checking TTL-like replies (the server's expiry clock is monotonic, anchored
/// to the wall clock when it started).
const SLACK_MS: i128 = 1000;
/// The model refuses to decide a comparison of two instants closer than
/// this (they depend on when commands ran); the generator then draws again.
const MARGIN_MS: i128 = 60_000;
/// Largest pipelined batch; each batch has a random size up to this.
const MAX_BATCH: usize = 64;
/// `proto-max-bulk-len`, the largest string SETRANGE may produce.
const MAX_STRING: i128 = 512 * 1024 * 1024;
/// Databases a server has (Redis and Redistill default).
const DATABASES: i64 = 16;
/// Commands shown before a mismatch.
const HISTORY: usize = 20;
/// Sequences the CI test runs, and on how many connections.
const CI_SEQUENCES: u64 = 1000;
const CI_THREADS: usize = 2;

fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

// ---------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------

// ---------------------------------------------------------------------------
// Replies
// ---------------------------------------------------------------------------

const NOT_INT: &str = "ERR value is not an integer or out of range";
const SYNTAX: &str = "ERR syntax error";
const OVERFLOW: &str = "ERR increment or decrement would overflow";
const DECR_OVERFLOW: &str = "ERR decrement would overflow";
const NO_SUCH_KEY: &str = "ERR no such key";
const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const OFFSET_RANGE: &str = "ERR offset is out of range";
const TOO_BIG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const DB_RANGE: &str = "ERR DB index is out of range";
const INT_RANGE: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";
const NX_CONFLICT: &str = "ERR NX and XX, GT or LT options at the same time are not compatible";
const GT_LT_CONFLICT: &str = "ERR GT and LT options at the same time are not compatible";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const HASH_NOT_INT: &str = "ERR hash value is not an integer";
const BIT_OFFSET: &str = "ERR bit offset is not an integer or out of range";
const BITPOS_BIT: &str = "ERR The bit argument must be 1 or 0.";
const BITOP_NOT: &str = "ERR BITOP NOT must be called with a single source key.";
const BAD_FIELD_TYPE: &str =
    "ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
const BAD_OVERFLOW: &str = "ERR Invalid OVERFLOW type specified";
const BITFIELD_RO: &str = "ERR BITFIELD_RO only supports the GET subcommand";
const LCS_NOT_STRINGS: &str = "ERR The specified keys must contain string values";
const LCS_LEN_AND_IDX: &str = "ERR If you want both the length and indexes, please just use IDX.";
const LCS_TOO_BIG: &str = "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
const BUSYKEY: &str = "BUSYKEY Target key name already exists.";
const BAD_TTL: &str = "ERR Invalid TTL value, must be >= 0";
const BAD_IDLETIME: &str = "ERR Invalid IDLETIME value, must be >= 0";
const BAD_FREQ: &str = "ERR Invalid FREQ value, must be >= 0 and <= 255";
const BAD_PAYLOAD: &str = "ERR DUMP payload version or checksum are wrong";

/// RESTORE's payload argument as generated: the driver sends the payload
/// of the last DUMP answered before the batch in its place.
const DUMPED: &[u8] = b"<payload of the last DUMP>";
/// What the driver sends for [`DUMPED`] when that DUMP found no key.
const NO_PAYLOAD: &[u8] = b"no payload";
const COUNT_RANGE: &str = "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807";

/// SINTER, SUNION, SDIFF.
#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

fn ok_reply() -> Vec<u8> {
    b"+OK\r\n".to_vec()
}

fn nil_reply() -> Vec<u8> {
    b"$-1\r\n".to_vec()
}

fn int_reply(n: impl std::fmt::Display) -> Vec<u8> {
    format!(":{n}\r\n").into_bytes()
}

fn bulk_reply(data: &[u8]) -> Vec<u8> {
    let mut out = format!("${}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn bulk_or_nil(data: Option<&[u8]>) -> Vec<u8> {
    data.map_or_else(nil_reply, bulk_reply)
}

fn error_reply(text: &str) -> Vec<u8> {
    format!("-{text}\r\n").into_bytes()
}

fn arity_error(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

fn invalid_expire(name: &str) -> String {
    format!("ERR invalid expire time in '{name}' command")
}

/// Redis rounds TTL and EXPIRETIME to the nearest second.
fn round_to_seconds(ms: i128) -> i128 {
    (ms + 500).div_euclid(1000)
}

// ---------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------

/// When a pipelined batch ran: the model's "now" while generating it, and the
/// instants just before it was sent and just after its last reply arrived.
#[derive(Clone, Copy, Debug)]
struct Window {
    nominal: i64,
    sent: i64,
    answered: i64,
}

/// An expiry: an absolute unix time in ms, or `ms` after a command of `batch`
/// ran (EX, PX, EXPIRE, PEXPIRE).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Deadline {
    At(i64),
    After { batch: usize, ms: i64 },
}

/// A key's value: a string, a hash (field -> value), a set, a sorted set
/// (members with scores, in Redis's order) or a list.
#[derive(Clone, Debug)]
enum Value {
    Str(Vec<u8>),
    Hash(HashMap<Vec<u8>, Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    ZSet(ZSetModel),
    List(VecDeque<Vec<u8>>),
}

/// A sorted set: (score, member) pairs by score, then member bytes.
type ZSetModel = Vec<(f64, Vec<u8>)>;

#[derive(Clone, Debug)]
struct Entry {
    value: Value,
    expires: Option<Deadline>,
}

impl Entry {
    fn as_str(&self) -> Option<&[u8]> {
        match &self.value {
            Value::Str(v) => Some(v),
            _ => None,
        }
    }
}

/// The TTL-like queries whose reply depends on when commands ran.
#[derive(Clone, Copy, Debug)]
enum ClockQuery {
    Ttl,
    Pttl,
    ExpireTime,
    PexpireTime,
}

/// The reply the model expects.
#[derive(Clone, Debug)]
enum Expect {
    Exact(Vec<u8>),
    /// An integer within the range `kind` of `deadline` allows, asked in `batch`.
    Clock {
        kind: ClockQuery,
        deadline: Deadline,
        batch: usize,
    },
    /// An array of bulk strings in any order of its groups of `group`
    /// (HKEYS, HVALS, and HGETALL's field-value pairs).
    Unordered {
        items: Vec<Vec<u8>>,
        group: usize,
    },
    /// A DUMP payload: any bulk string.
    Payload,
    /// Random members of `from` (SRANDMEMBER): one bulk string when `len`
    /// is None, else an array of `len` of them, `distinct` or with repeats.
    Sample {
        from: BTreeSet<Vec<u8>>,
        len: Option<usize>,
        distinct: bool,
    },
}

/// Why a handler stopped early: it already knows the reply (an error, a nil,
/// a zero), or the outcome depends on timing the model cannot know.
enum Early {
    Reply(Vec<u8>),
    Undecided,
}

type Step<T> = Result<T, Early>;

fn fail<T>(text: &str) -> Step<T> {
    Err(Early::Reply(error_reply(text)))
}

fn answer<T>(reply: Vec<u8>) -> Step<T> {
    Err(Early::Reply(reply))
}

/// Redis's `string2ll`: optional `-`, no `+`, no leading zeros, no spaces,
/// no `-0`, within i64.
fn parse_int(raw: &[u8]) -> Option<i64> {
    if raw == b"0" {
        return Some(0);
    }
    let digits = raw.strip_prefix(b"-").unwrap_or(raw);
    let canonical = !digits.is_empty()
        && digits.len() < 21
        && (b'1'..=b'9').contains(&digits[0])
        && digits.iter().all(u8::is_ascii_digit);
    if !canonical {
        return None;
    }
    std::str::from_utf8(raw).ok()?.parse().ok()
}

fn int_arg(raw: &[u8]) -> Step<i64> {
    match parse_int(raw) {
        Some(n) => Ok(n),
        None => fail(NOT_INT),
    }
}

fn is(raw: &[u8], word: &str) -> bool {
    raw.eq_ignore_ascii_case(word.as_bytes())
}

/// A score as Redis's `string2d` reads the scores the generator makes:
/// decimal or `inf`, with a sign; not NaN, no spaces.
fn parse_score(raw: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(raw).ok()?;
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let inf = body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity");
    if !inf && !body.bytes().all(|b| b.is_ascii_digit() || b".eE+-".contains(&b)) {
        return None;
    }
    text.parse().ok().filter(|v: &f64| !v.is_nan())
}

/// A score as Redis replies with it, for the scores the generator makes
/// (integers, halves and quarters, infinities): the same in 7.0 and 7.2.
fn format_score(score: f64) -> String {
    match score {
        s if s.is_infinite() => if s > 0.0 { "inf" } else { "-inf" }.to_string(),
        s if s == 0.0 && s.is_sign_negative() => "-0".to_string(),
        s if s.trunc() == s && s.abs() < 1e15 => (s as i64).to_string(),
        s => s.to_string(),
    }
}

/// A ZCOUNT / ZRANGEBYSCORE range.
struct ScoreRange {
    min: (f64, bool),
    max: (f64, bool),
}

impl ScoreRange {
    fn holds(&self, s: f64) -> bool {
        let above = if self.min.1 { s > self.min.0 } else { s >= self.min.0 };
        let below = if self.max.1 { s < self.max.0 } else { s <= self.max.0 };
        above && below
    }
}

/// `zslParseRange` on the bounds the generator makes: `(` for exclusive,
/// an empty number is 0.
fn score_range(min: &[u8], max: &[u8]) -> Step<ScoreRange> {
    let bound = |raw: &[u8]| -> Option<(f64, bool)> {
        let (exclusive, number) = match raw.split_first() {
            Some((b'(', rest)) => (true, rest),
            _ => (false, raw),
        };
        if number.is_empty() {
            return Some((0.0, exclusive));
        }
        parse_score(number).map(|v| (v, exclusive))
    };
    match (bound(min), bound(max)) {
        (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
        _ => fail("ERR min or max is not a float"),
    }
}

/// One command of the model: its lower-case name, Redis arity, handler.
struct Spec {
    name: &'static str,
    arity: i64,
    run: fn(&mut Model, &[Vec<u8>]) -> Step<Expect>,
}

#[rustfmt::skip]
const COMMANDS: &[Spec] = &[
    Spec { name: "get", arity: 2, run: Model::get },
    Spec { name: "set", arity: -3, run: Model::set },
    Spec { name: "setex", arity: 4, run: Model::setex },
    Spec { name: "psetex", arity: 4, run: Model::psetex },
    Spec { name: "setnx", arity: 3, run: Model::setnx },
    Spec { name: "getset", arity: 3, run: Model::getset },
    Spec { name: "getdel", arity: 2, run: Model::getdel },
    Spec { name: "getex", arity: -2, run: Model::getex },
    Spec { name: "mset", arity: -3, run: Model::mset },
    Spec { name: "msetnx", arity: -3, run: Model::msetnx },
    Spec { name: "mget", arity: -2, run: Model::mget },
    Spec { name: "del", arity: -2, run: Model::del },
    Spec { name: "unlink", arity: -2, run: Model::del },
    Spec { name: "exists", arity: -2, run: Model::exists },
    Spec { name: "touch", arity: -2, run: Model::exists },
    Spec { name: "append", arity: 3, run: Model::append },
    Spec { name: "strlen", arity: 2, run: Model::strlen },
    Spec { name: "getrange", arity: 4, run: Model::getrange },
    Spec { name: "substr", arity: 4, run: Model::getrange },
    Spec { name: "setrange", arity: 4, run: Model::setrange },
    Spec { name: "incr", arity: 2, run: Model::incr },
    Spec { name: "decr", arity: 2, run: Model::decr },
    Spec { name: "incrby", arity: 3, run: Model::incrby },
    Spec { name: "decrby", arity: 3, run: Model::decrby },
    Spec { name: "expire", arity: -3, run: Model::expire },
    Spec { name: "pexpire", arity: -3, run: Model::pexpire },
    Spec { name: "expireat", arity: -3, run: Model::expireat },
    Spec { name: "pexpireat", arity: -3, run: Model::pexpireat },
    Spec { name: "persist", arity: 2, run: Model::persist },
    Spec { name: "ttl", arity: 2, run: Model::ttl },
    Spec { name: "pttl", arity: 2, run: Model::pttl },
    Spec { name: "expiretime", arity: 2, run: Model::expiretime },
    Spec { name: "pexpiretime", arity: 2, run: Model::pexpiretime },
    Spec { name: "type", arity: 2, run: Model::key_type },
    Spec { name: "rename", arity: 3, run: Model::rename },
    Spec { name: "renamenx", arity: 3, run: Model::renamenx },
    Spec { name: "copy", arity: -3, run: Model::copy },
    Spec { name: "dbsize", arity: 1, run: Model::dbsize },
    Spec { name: "flushdb", arity: -1, run: Model::flushdb },
    Spec { name: "hset", arity: -4, run: Model::hset },
    Spec { name: "hmset", arity: -4, run: Model::hmset },
    Spec { name: "hsetnx", arity: 4, run: Model::hsetnx },
    Spec { name: "hget", arity: 3, run: Model::hget },
    Spec { name: "hmget", arity: -3, run: Model::hmget },
    Spec { name: "hdel", arity: -3, run: Model::hdel },
    Spec { name: "hexists", arity: 3, run: Model::hexists },
    Spec { name: "hlen", arity: 2, run: Model::hlen },
    Spec { name: "hstrlen", arity: 3, run: Model::hstrlen },
    Spec { name: "hincrby", arity: 4, run: Model::hincrby },
    Spec { name: "hkeys", arity: 2, run: Model::hkeys },
    Spec { name: "hvals", arity: 2, run: Model::hvals },
    Spec { name: "hgetall", arity: 2, run: Model::hgetall },
    Spec { name: "bitop", arity: -4, run: Model::bitop },
    Spec { name: "bitpos", arity: -3, run: Model::bitpos },
    Spec { name: "bitfield", arity: -2, run: Model::bitfield },
    Spec { name: "bitfield_ro", arity: -2, run: Model::bitfield_ro },
    Spec { name: "lcs", arity: -3, run: Model::lcs },
    Spec { name: "dump", arity: 2, run: Model::dump },
    Spec { name: "restore", arity: -4, run: Model::restore },
    Spec { name: "sadd", arity: -3, run: Model::sadd },
    Spec { name: "srem", arity: -3, run: Model::srem },
    Spec { name: "sismember", arity: 3, run: Model::sismember },
    Spec { name: "smismember", arity: -3, run: Model::smismember },
    Spec { name: "scard", arity: 2, run: Model::scard },
    Spec { name: "smembers", arity: 2, run: Model::smembers },
    Spec { name: "smove", arity: 4, run: Model::smove },
    Spec { name: "sinter", arity: -2, run: Model::sinter },
    Spec { name: "sunion", arity: -2, run: Model::sunion },
    Spec { name: "sdiff", arity: -2, run: Model::sdiff },
    Spec { name: "sinterstore", arity: -3, run: Model::sinterstore },
    Spec { name: "sunionstore", arity: -3, run: Model::sunionstore },
    Spec { name: "sdiffstore", arity: -3, run: Model::sdiffstore },
    Spec { name: "sintercard", arity: -3, run: Model::sintercard },
    Spec { name: "spop", arity: -2, run: Model::spop },
    Spec { name: "srandmember", arity: -2, run: Model::srandmember },
    Spec { name: "zadd", arity: -4, run: Model::zadd },
    Spec { name: "zincrby", arity: 4, run: Model::zincrby },
    Spec { name: "zrem", arity: -3, run: Model::zrem },
    Spec { name: "zscore", arity: 3, run: Model::zscore },
    Spec { name: "zcard", arity: 2, run: Model::zcard },
    Spec { name: "zcount", arity: 4, run: Model::zcount },
    Spec { name: "zrange", arity: -4, run: Model::zrange },
    Spec { name: "zrank", arity: 3, run: Model::zrank },
    Spec { name: "zrevrank", arity: 3, run: Model::zrevrank },
    Spec { name: "zremrangebyrank", arity: 4, run: Model::zremrangebyrank },
    Spec { name: "zremrangebyscore", arity: 4, run: Model::zremrangebyscore },
    Spec { name: "zpopmin", arity: -2, run: Model::zpopmin },
    Spec { name: "zpopmax", arity: -2, run: Model::zpopmax },
    Spec { name: "lpush", arity: -3, run: Model::lpush },
    Spec { name: "rpush", arity: -3, run: Model::rpush },
    Spec { name: "lpushx", arity: -3, run: Model::lpushx },
    Spec { name: "rpushx", arity: -3, run: Model::rpushx },
    Spec { name: "lpop", arity: -2, run: Model::lpop },
    Spec { name: "rpop", arity: -2, run: Model::rpop },
    Spec { name: "llen", arity: 2, run: Model::llen },
    Spec { name: "lrange", arity: 4, run: Model::lrange },
    Spec { name: "lindex", arity: 3, run: Model::lindex },
    Spec { name: "lset", arity: 4, run: Model::lset },
    Spec { name: "linsert", arity: 5, run: Model::linsert },
    Spec { name: "lrem", arity: 4, run: Model::lrem },
    Spec { name: "ltrim", arity: 4, run: Model::ltrim },
    Spec { name: "lpos", arity: -3, run: Model::lpos },
    Spec { name: "lmove", arity: 5, run: Model::lmove },
    Spec { name: "rpoplpush", arity: 3, run: Model::rpoplpush },
    Spec { name: "lmpop", arity: -4, run: Model::lmpop },
];

fn spec(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS.iter().find(|s| is(name, s.name))
}

fn arity_ok(arity: i64, argc: usize) -> bool {
    if arity >= 0 {
        argc as i64 == arity
    } else {
        argc as i64 >= -arity
    }
}

/// The time option of SET and GETEX.
#[derive(Clone, Copy, Debug, PartialEq)]
enum TimeArg {
    Ex,
    Px,
    ExAt,
    PxAt,
}

impl TimeArg {
    fn from_word(raw: &[u8]) -> Option<TimeArg> {
        [("EX", TimeArg::Ex), ("PX", TimeArg::Px), ("EXAT", TimeArg::ExAt), ("PXAT", TimeArg::PxAt)]
            .into_iter()
            .find(|(w, _)| is(raw, w))
            .map(|(_, t)| t)
    }

    fn in_seconds(self) -> bool {
        matches!(self, TimeArg::Ex | TimeArg::ExAt)
    }

    fn relative(self) -> bool {
        matches!(self, TimeArg::Ex | TimeArg::Px)
    }
}

/// Options of SET (`for_set`) or GETEX, as Redis 7's
/// `parseExtendedStringArgumentsOrReply` accepts them: a time option may be
/// repeated (the last value wins) but not mixed with another time option,
/// KEEPTTL or PERSIST; NX excludes XX.
#[derive(Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    time: Option<(TimeArg, &'a [u8])>,
}

fn parse_string_options(opts: &[Vec<u8>], for_set: bool) -> Step<StringOptions<'_>> {
    let mut o = StringOptions::default();
    let mut j = 0;
    while j < opts.len() {
        let word = &opts[j];
        let next = opts.get(j + 1);
        let timed = o.time.map(|(t, _)| t);
        if for_set && is(word, "NX") && !o.xx {
            o.nx = true;
        } else if for_set && is(word, "XX") && !o.nx {
            o.xx = true;
        } else if for_set && is(word, "GET") {
            o.get = true;
        } else if for_set && is(word, "KEEPTTL") && timed.is_none() {
            o.keepttl = true;
        } else if !for_set && is(word, "PERSIST") && timed.is_none() {
            o.persist = true;
        } else if let (Some(t), Some(value)) = (TimeArg::from_word(word), next) {
            if o.keepttl || o.persist || timed.is_some_and(|p| p != t) {
                return fail(SYNTAX);
            }
            o.time = Some((t, value));
            j += 1;
        } else {
            return fail(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// Options of the EXPIRE family.
#[derive(Default)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

fn parse_expire_flags(opts: &[Vec<u8>]) -> Step<ExpireFlags> {
    let mut f = ExpireFlags::default();
    for word in opts {
        match word.to_ascii_uppercase().as_slice() {
            b"NX" => f.nx = true,
            b"XX" => f.xx = true,
            b"GT" => f.gt = true,
            b"LT" => f.lt = true,
            _ => return fail(&format!("ERR Unsupported option {}", String::from_utf8_lossy(word))),
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return fail(NX_CONFLICT);
    }
    if f.gt && f.lt {
        return fail(GT_LT_CONFLICT);
    }
    Ok(f)
}

/// One database of a Redis 7 server holding strings, hashes and sets.
struct Model {
    db: i64,
    keys: HashMap<Vec<u8>, Entry>,
    /// One window per batch of this sequence, the current batch last.
    windows: Vec<Window>,
    /// The value the last DUMP saw (None: no key), and the one RESTORE's
    /// placeholder stands for in this batch: the last DUMP of an earlier
    /// batch, whose reply the driver has.
    dumped: Option<Value>,
    restorable: Option<Value>,
}

impl Model {
    fn new(db: i64) -> Model {
        Model { db, keys: HashMap::new(), windows: Vec::new(), dumped: None, restorable: None }
    }

    /// Start a batch generated at `now` (unix ms).
    fn begin_batch(&mut self, now: i64) {
        self.windows.push(Window { nominal: now, sent: now, answered: now });
        self.restorable = self.dumped.clone();
    }

    fn window(&mut self) -> &mut Window {
        let last = self.windows.len() - 1;
        &mut self.windows[last]
    }

    fn now(&self) -> i64 {
        self.windows.last().map_or_else(unix_ms, |w| w.nominal)
    }

    fn batch(&self) -> usize {
        self.windows.len().saturating_sub(1)
    }

    /// Run one command vector. `None` when the reply depends on timing the
    /// model does not know (the generator then draws another command).
    fn apply(&mut self, args: &[Vec<u8>]) -> Option<Expect> {
        let spec = spec(&args[0]).unwrap_or_else(|| panic!("the generator made an unknown command {args:?}"));
        if !arity_ok(spec.arity, args.len()) {
            return Some(Expect::Exact(error_reply(&arity_error(spec.name))));
        }
        let saved = self.keys.clone();
        match (spec.run)(self, args) {
            Ok(expect) => Some(expect),
            Err(Early::Reply(reply)) => Some(Expect::Exact(reply)),
            Err(Early::Undecided) => {
                self.keys = saved;
                None
            }
        }
    }

    // -- store helpers ------------------------------------------------------

    /// The string at `key`: None when there is no key, WRONGTYPE for a hash.
    fn string(&self, key: &[u8]) -> Step<Option<&[u8]>> {
        match self.keys.get(key) {
            None => Ok(None),
            Some(e) => e.as_str().map_or_else(|| fail(WRONGTYPE), |v| Ok(Some(v))),
        }
    }

    /// The hash at `key`: None when there is no key, WRONGTYPE for a string.
    fn hash(&self, key: &[u8]) -> Step<Option<&HashMap<Vec<u8>, Vec<u8>>>> {
        match self.keys.get(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Hash(h)) => Ok(Some(h)),
            Some(_) => fail(WRONGTYPE),
        }
    }

    /// The hash at `key` for writing, created empty (and without expiry)
    /// when there is no key; the caller then adds a field, as Redis does.
    fn hash_for_write(&mut self, key: &[u8]) -> Step<&mut HashMap<Vec<u8>, Vec<u8>>> {
        let entry = self
            .keys
            .entry(key.to_vec())
            .or_insert_with(|| Entry { value: Value::Hash(HashMap::new()), expires: None });
        match &mut entry.value {
            Value::Hash(h) => Ok(h),
            _ => fail(WRONGTYPE),
        }
    }

    fn expires(&self, key: &[u8]) -> Option<Deadline> {
        self.keys.get(key).and_then(|e| e.expires)
    }

    fn put(&mut self, key: &[u8], value: Vec<u8>, expires: Option<Deadline>) {
        self.keys.insert(key.to_vec(), Entry { value: Value::Str(value), expires });
    }

    /// Replace the value, keeping the expiry (APPEND, SETRANGE, INCR...).
    fn overwrite(&mut self, key: &[u8], value: Vec<u8>) {
        let expires = self.expires(key);
        self.put(key, value, expires);
    }

    fn set_expires(&mut self, key: &[u8], expires: Option<Deadline>) {
        if let Some(e) = self.keys.get_mut(key) {
            e.expires = expires;
        }
    }

    // -- time helpers -------------------------------------------------------

    /// Where a deadline would be if every command ran at its batch's nominal time.
    fn nominal(&self, d: Deadline) -> i128 {
        match d {
            Deadline::At(t) => t as i128,
            Deadline::After { batch, ms } => self.windows[batch].nominal as i128 + ms as i128,
        }
    }

    /// Earliest and latest instant the server can have set `d` to.
    fn bounds(&self, d: Deadline) -> (i128, i128) {
        match d {
            Deadline::At(t) => (t as i128, t as i128),
            Deadline::After { batch, ms } => {
                let w = self.windows[batch];
                (w.sent as i128 + ms as i128, w.answered as i128 + ms as i128)
            }
        }
    }

    /// `a` strictly later than `b`, when that does not depend on timing.
    fn later(&self, a: Deadline, b: Deadline) -> Step<bool> {
        if let (Deadline::At(x), Deadline::At(y)) = (a, b) {
            return Ok(x > y);
        }
        let diff = self.nominal(a) - self.nominal(b);
        if diff.abs() < MARGIN_MS {
            return Err(Early::Undecided);
        }
        Ok(diff > 0)
    }

    /// Whether the server deletes a key at once when given deadline `d`.
    fn already_expired(&self, d: Deadline) -> Step<bool> {
        match d {
            Deadline::After { ms, .. } => Ok(ms <= 0),
            Deadline::At(t) => {
                let diff = t as i128 - self.now() as i128;
                if diff.abs() < MARGIN_MS {
                    return Err(Early::Undecided);
                }
                Ok(diff <= 0)
            }
        }
    }

    /// Whether `ms` after now overflows a signed 64-bit unix time in ms.
    fn overflows_after_now(&self, ms: i64) -> Step<bool> {
        let room = i64::MAX as i128 - self.now() as i128 - ms as i128;
        if room.abs() < MARGIN_MS {
            return Err(Early::Undecided);
        }
        Ok(room < 0)
    }

    /// The deadline a SET / SETEX / GETEX time option asks for (Redis's
    /// `getExpireMillisecondsOrReply`).
    fn string_deadline(&self, time: Option<(TimeArg, &[u8])>, name: &str) -> Step<Option<Deadline>> {
        let Some((kind, raw)) = time else { return Ok(None) };
        let v = int_arg(raw)?;
        if v <= 0 || (kind.in_seconds() && v > i64::MAX / 1000) {
            return fail(&invalid_expire(name));
        }
        let ms = if kind.in_seconds() { v * 1000 } else { v };
        if !kind.relative() {
            return Ok(Some(Deadline::At(ms)));
        }
        if self.overflows_after_now(ms)? {
            return fail(&invalid_expire(name));
        }
        Ok(Some(Deadline::After { batch: self.batch(), ms }))
    }

    // -- strings ------------------------------------------------------------

    fn get(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(bulk_or_nil(self.string(&a[1])?)))
    }

    fn set(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let o = parse_string_options(&a[3..], true)?;
        let deadline = self.string_deadline(o.time, "set")?;
        if let Some(d @ Deadline::At(_)) = deadline {
            // A past absolute time leaves an already-expired key behind,
            // reclaimed whenever the server gets to it: not modelled.
            if self.already_expired(d)? {
                return Err(Early::Undecided);
            }
        }
        // With GET the old value is read first: a hash fails with WRONGTYPE.
        let reply = if o.get { bulk_or_nil(self.string(&a[1])?) } else { ok_reply() };
        let found = self.keys.contains_key(&a[1]);
        if (o.nx && found) || (o.xx && !found) {
            return answer(if o.get { reply } else { nil_reply() });
        }
        let expires = if o.keepttl { self.expires(&a[1]) } else { deadline };
        self.put(&a[1], a[2].clone(), expires);
        Ok(Expect::Exact(reply))
    }

    fn set_with_time(&mut self, a: &[Vec<u8>], kind: TimeArg, name: &str) -> Step<Expect> {
        let deadline = self.string_deadline(Some((kind, &a[2])), name)?;
        self.put(&a[1], a[3].clone(), deadline);
        Ok(Expect::Exact(ok_reply()))
    }

    fn setex(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_with_time(a, TimeArg::Ex, "setex")
    }

    fn psetex(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_with_time(a, TimeArg::Px, "psetex")
    }

    fn setnx(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        if self.keys.contains_key(&a[1]) {
            return answer(int_reply(0));
        }
        self.put(&a[1], a[2].clone(), None);
        Ok(Expect::Exact(int_reply(1)))
    }

    fn getset(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let reply = bulk_or_nil(self.string(&a[1])?);
        self.put(&a[1], a[2].clone(), None);
        Ok(Expect::Exact(reply))
    }

    fn getdel(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let reply = bulk_or_nil(self.string(&a[1])?);
        self.keys.remove(&a[1]);
        Ok(Expect::Exact(reply))
    }

    fn getex(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let o = parse_string_options(&a[2..], false)?;
        let Some(value) = self.string(&a[1])?.map(<[u8]>::to_vec) else { return answer(nil_reply()) };
        match self.string_deadline(o.time, "getex")? {
            Some(d @ Deadline::At(_)) if self.already_expired(d)? => {
                self.keys.remove(&a[1]);
            }
            Some(d) => self.set_expires(&a[1], Some(d)),
            None if o.persist => self.set_expires(&a[1], None),
            None => {}
        }
        Ok(Expect::Exact(bulk_reply(&value)))
    }

    fn pairs_or_arity_error<'a>(a: &'a [Vec<u8>], name: &str) -> Step<std::slice::Chunks<'a, Vec<u8>>> {
        if a.len() % 2 == 0 {
            return fail(&arity_error(name));
        }
        Ok(a[1..].chunks(2))
    }

    fn mset(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        for pair in Self::pairs_or_arity_error(a, "mset")? {
            self.put(&pair[0], pair[1].clone(), None);
        }
        Ok(Expect::Exact(ok_reply()))
    }

    fn msetnx(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let pairs = Self::pairs_or_arity_error(a, "msetnx")?;
        if pairs.clone().any(|p| self.keys.contains_key(&p[0])) {
            return answer(int_reply(0));
        }
        for pair in pairs {
            self.put(&pair[0], pair[1].clone(), None);
        }
        Ok(Expect::Exact(int_reply(1)))
    }

    fn mget(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let mut out = format!("*{}\r\n", a.len() - 1).into_bytes();
        for key in &a[1..] {
            out.extend(bulk_or_nil(self.keys.get(key).and_then(Entry::as_str)));
        }
        Ok(Expect::Exact(out))
    }

    fn append(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let mut value = self.string(&a[1])?.unwrap_or_default().to_vec();
        value.extend_from_slice(&a[2]);
        let len = value.len();
        self.overwrite(&a[1], value);
        Ok(Expect::Exact(int_reply(len)))
    }

    fn strlen(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.string(&a[1])?.map_or(0, <[u8]>::len))))
    }

    fn getrange(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (start, end) = (int_arg(&a[2])? as i128, int_arg(&a[3])? as i128);
        let value = self.string(&a[1])?.unwrap_or_default();
        let len = value.len() as i128;
        if start < 0 && end < 0 && start > end {
            return answer(bulk_reply(b""));
        }
        let start = if start < 0 { (len + start).max(0) } else { start };
        let end = if end < 0 { (len + end).max(0) } else { end }.min(len - 1);
        if start > end || len == 0 {
            return answer(bulk_reply(b""));
        }
        Ok(Expect::Exact(bulk_reply(&value[start as usize..=end as usize])))
    }

    fn setrange(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let offset = int_arg(&a[2])?;
        if offset < 0 {
            return fail(OFFSET_RANGE);
        }
        let patch = &a[3];
        let old = self.string(&a[1])?.map(<[u8]>::to_vec);
        if patch.is_empty() {
            return answer(int_reply(old.map_or(0, |v| v.len())));
        }
        let end = offset as i128 + patch.len() as i128;
        if end > MAX_STRING {
            return fail(TOO_BIG);
        }
        let mut value = old.unwrap_or_default();
        let (offset, end) = (offset as usize, end as usize);
        if value.len() < end {
            value.resize(end, 0);
        }
        value[offset..end].copy_from_slice(patch);
        let len = value.len();
        self.overwrite(&a[1], value);
        Ok(Expect::Exact(int_reply(len)))
    }

    // -- counters -----------------------------------------------------------

    fn incr_by(&mut self, key: &[u8], by: i64) -> Step<Expect> {
        let current = match self.string(key)? {
            None => 0,
            Some(v) => int_arg(v)?,
        };
        let Some(next) = current.checked_add(by) else { return fail(OVERFLOW) };
        self.overwrite(key, next.to_string().into_bytes());
        Ok(Expect::Exact(int_reply(next)))
    }

    fn incr(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.incr_by(&a[1], 1)
    }

    fn decr(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.incr_by(&a[1], -1)
    }

    fn incrby(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let by = int_arg(&a[2])?;
        self.incr_by(&a[1], by)
    }

    fn decrby(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let by = int_arg(&a[2])?;
        if by == i64::MIN {
            return fail(DECR_OVERFLOW);
        }
        self.incr_by(&a[1], -by)
    }

    // -- keys ---------------------------------------------------------------

    fn del(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let removed = a[1..].iter().filter(|k| self.keys.remove(k.as_slice()).is_some()).count();
        Ok(Expect::Exact(int_reply(removed)))
    }

    fn exists(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let found = a[1..].iter().filter(|k| self.keys.contains_key(k.as_slice())).count();
        Ok(Expect::Exact(int_reply(found)))
    }

    fn key_type(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let reply: &[u8] = match self.keys.get(&a[1]).map(|e| &e.value) {
            None => b"+none\r\n",
            Some(Value::Str(_)) => b"+string\r\n",
            Some(Value::Hash(_)) => b"+hash\r\n",
            Some(Value::Set(_)) => b"+set\r\n",
            Some(Value::ZSet(_)) => b"+zset\r\n",
            Some(Value::List(_)) => b"+list\r\n",
        };
        Ok(Expect::Exact(reply.to_vec()))
    }

    fn rename_generic(&mut self, a: &[Vec<u8>], nx: bool) -> Step<Expect> {
        let done = if nx { int_reply(1) } else { ok_reply() };
        if !self.keys.contains_key(&a[1]) {
            return fail(NO_SUCH_KEY);
        }
        if a[1] == a[2] {
            return answer(if nx { int_reply(0) } else { ok_reply() });
        }
        if nx && self.keys.contains_key(&a[2]) {
            return answer(int_reply(0));
        }
        if let Some(entry) = self.keys.remove(&a[1]) {
            self.keys.insert(a[2].clone(), entry);
        }
        Ok(Expect::Exact(done))
    }

    fn rename(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.rename_generic(a, false)
    }

    fn renamenx(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.rename_generic(a, true)
    }

    /// COPY's options: REPLACE, and DB n naming this database (another one
    /// belongs to another connection, so the model leaves it undecided).
    fn copy_replace(&self, opts: &[Vec<u8>]) -> Step<bool> {
        let mut replace = false;
        let mut j = 0;
        while j < opts.len() {
            if is(&opts[j], "REPLACE") {
                replace = true;
            } else if is(&opts[j], "DB") && j + 1 < opts.len() {
                let db = int_arg(&opts[j + 1])?;
                if i32::try_from(db).is_err() {
                    return fail(INT_RANGE);
                }
                if !(0..DATABASES).contains(&db) {
                    return fail(DB_RANGE);
                }
                if db != self.db {
                    return Err(Early::Undecided);
                }
                j += 1;
            } else {
                return fail(SYNTAX);
            }
            j += 1;
        }
        Ok(replace)
    }

    fn copy(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let replace = self.copy_replace(&a[3..])?;
        if a[1] == a[2] {
            return fail(SAME_OBJECT);
        }
        let Some(entry) = self.keys.get(&a[1]).cloned() else { return answer(int_reply(0)) };
        if self.keys.contains_key(&a[2]) && !replace {
            return answer(int_reply(0));
        }
        self.keys.insert(a[2].clone(), entry);
        Ok(Expect::Exact(int_reply(1)))
    }

    fn dbsize(&mut self, _a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.keys.len())))
    }

    // -- DUMP and RESTORE ----------------------------------------------------

    fn dump(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.dumped = self.keys.get(&a[1]).map(|e| e.value.clone());
        Ok(if self.dumped.is_some() { Expect::Payload } else { Expect::Exact(nil_reply()) })
    }

    /// Redis 7's restoreCommand: options, BUSYKEY, the TTL, the payload; a
    /// deadline already past stores nothing (and REPLACE deletes the key).
    fn restore(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (mut replace, mut absttl, mut idle, mut freq) = (false, false, false, false);
        let mut j = 4;
        while j < a.len() {
            let more = j + 1 < a.len();
            if is(&a[j], "REPLACE") {
                replace = true;
            } else if is(&a[j], "ABSTTL") {
                absttl = true;
            } else if is(&a[j], "IDLETIME") && more && !freq {
                if int_arg(&a[j + 1])? < 0 {
                    return fail(BAD_IDLETIME);
                }
                (idle, j) = (true, j + 1);
            } else if is(&a[j], "FREQ") && more && !idle {
                if !(0..=255).contains(&int_arg(&a[j + 1])?) {
                    return fail(BAD_FREQ);
                }
                (freq, j) = (true, j + 1);
            } else {
                return fail(SYNTAX);
            }
            j += 1;
        }
        if !replace && self.keys.contains_key(&a[1]) {
            return fail(BUSYKEY);
        }
        let ttl = int_arg(&a[2])?;
        if ttl < 0 {
            return fail(BAD_TTL);
        }
        let value = match (&a[3][..] == DUMPED, &self.restorable) {
            (true, Some(value)) => value.clone(),
            _ => return fail(BAD_PAYLOAD),
        };
        let deadline = match ttl {
            0 => None,
            at if absttl => Some(Deadline::At(at)),
            ms if self.overflows_after_now(ms)? => return Err(Early::Undecided),
            ms => Some(Deadline::After { batch: self.batch(), ms }),
        };
        if let Some(d) = deadline {
            if self.already_expired(d)? {
                self.keys.remove(&a[1]);
                return Ok(Expect::Exact(ok_reply()));
            }
        }
        self.keys.insert(a[1].clone(), Entry { value, expires: deadline });
        Ok(Expect::Exact(ok_reply()))
    }

    fn flushdb(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let valid = match a.len() {
            1 => true,
            2 => is(&a[1], "SYNC") || is(&a[1], "ASYNC"),
            _ => false,
        };
        if !valid {
            return fail(SYNTAX);
        }
        self.keys.clear();
        Ok(Expect::Exact(ok_reply()))
    }

    // -- hashes -------------------------------------------------------------

    /// HSET (the number of new fields) and HMSET (OK): the pairs are checked
    /// before the key's type.
    fn hset_generic(&mut self, a: &[Vec<u8>], name: &str) -> Step<usize> {
        if a.len() % 2 == 1 {
            return fail(&arity_error(name));
        }
        let h = self.hash_for_write(&a[1])?;
        Ok(a[2..].chunks(2).filter(|pair| h.insert(pair[0].clone(), pair[1].clone()).is_none()).count())
    }

    fn hset(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.hset_generic(a, "hset")?)))
    }

    fn hmset(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.hset_generic(a, "hmset")?;
        Ok(Expect::Exact(ok_reply()))
    }

    fn hsetnx(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let h = self.hash_for_write(&a[1])?;
        if h.contains_key(&a[2]) {
            return answer(int_reply(0));
        }
        h.insert(a[2].clone(), a[3].clone());
        Ok(Expect::Exact(int_reply(1)))
    }

    fn field(&self, key: &[u8], field: &[u8]) -> Step<Option<&[u8]>> {
        Ok(self.hash(key)?.and_then(|h| h.get(field)).map(Vec::as_slice))
    }

    fn hget(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(bulk_or_nil(self.field(&a[1], &a[2])?)))
    }

    fn hmget(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let mut out = format!("*{}\r\n", a.len() - 2).into_bytes();
        for field in &a[2..] {
            out.extend(bulk_or_nil(self.field(&a[1], field)?));
        }
        Ok(Expect::Exact(out))
    }

    fn hexists(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(i64::from(self.field(&a[1], &a[2])?.is_some()))))
    }

    fn hstrlen(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.field(&a[1], &a[2])?.map_or(0, <[u8]>::len))))
    }

    fn hlen(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.hash(&a[1])?.map_or(0, HashMap::len))))
    }

    /// HDEL; removing the last field removes the key.
    fn hdel(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        if self.hash(&a[1])?.is_none() {
            return answer(int_reply(0));
        }
        let h = self.hash_for_write(&a[1])?;
        let removed = a[2..].iter().filter(|f| h.remove(f.as_slice()).is_some()).count();
        if h.is_empty() {
            self.keys.remove(&a[1]);
        }
        Ok(Expect::Exact(int_reply(removed)))
    }

    /// HINCRBY: the increment is parsed before the key's type is checked.
    fn hincrby(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let by = int_arg(&a[3])?;
        let current = match self.field(&a[1], &a[2])? {
            None => 0,
            Some(v) => parse_int(v).map_or_else(|| fail(HASH_NOT_INT), Ok)?,
        };
        let Some(next) = current.checked_add(by) else { return fail(OVERFLOW) };
        self.hash_for_write(&a[1])?.insert(a[2].clone(), next.to_string().into_bytes());
        Ok(Expect::Exact(int_reply(next)))
    }

    /// HKEYS, HVALS, HGETALL: the hash's order is the server's own.
    fn hash_listing(&self, key: &[u8], keys: bool, values: bool) -> Step<Expect> {
        let items = self
            .hash(key)?
            .into_iter()
            .flatten()
            .flat_map(|(k, v)| [keys.then(|| k.clone()), values.then(|| v.clone())].into_iter().flatten())
            .collect();
        Ok(Expect::Unordered { items, group: if keys && values { 2 } else { 1 } })
    }

    fn hkeys(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.hash_listing(&a[1], true, false)
    }

    fn hvals(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.hash_listing(&a[1], false, true)
    }

    fn hgetall(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.hash_listing(&a[1], true, true)
    }

    // -- bitmaps and LCS ----------------------------------------------------

    fn bitop(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let op = ["AND", "OR", "XOR", "NOT"].into_iter().find(|op| is(&a[1], op));
        let Some(op) = op else { return fail(SYNTAX) };
        if op == "NOT" && a.len() != 4 {
            return fail(BITOP_NOT);
        }
        let mut sources = Vec::new();
        for key in &a[3..] {
            sources.push(self.string(key)?.unwrap_or_default().to_vec());
        }
        let len = sources.iter().map(Vec::len).max().unwrap_or(0);
        let byte = |s: &Vec<u8>, i: usize| s.get(i).copied().unwrap_or(0);
        let result: Vec<u8> = (0..len)
            .map(|i| {
                let mut bytes = sources.iter().map(|s| byte(s, i));
                let first = bytes.next().unwrap_or(0);
                match op {
                    "AND" => bytes.fold(first, |x, y| x & y),
                    "OR" => bytes.fold(first, |x, y| x | y),
                    "XOR" => bytes.fold(first, |x, y| x ^ y),
                    _ => !first,
                }
            })
            .collect();
        if result.is_empty() {
            self.keys.remove(&a[2]);
        } else {
            self.put(&a[2], result, None);
        }
        Ok(Expect::Exact(int_reply(len)))
    }
    // -- sets ---------------------------------------------------------------

    /// The set at `key`: None when there is no key, WRONGTYPE for another type.
    fn set_at(&self, key: &[u8]) -> Step<Option<&BTreeSet<Vec<u8>>>> {
        match self.keys.get(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::Set(s)) => Ok(Some(s)),
            Some(_) => fail(WRONGTYPE),
        }
    }
    // -- sorted sets --------------------------------------------------------

    /// The sorted set at `key`: None when there is no key, WRONGTYPE for
    /// another type.
    fn zset(&self, key: &[u8]) -> Step<Option<&ZSetModel>> {
        match self.keys.get(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::ZSet(z)) => Ok(Some(z)),
            Some(_) => fail(WRONGTYPE),
        }
    }
    // -- lists --------------------------------------------------------------

    /// The list at `key`: None when there is no key, WRONGTYPE for another type.
    fn list(&self, key: &[u8]) -> Step<Option<&VecDeque<Vec<u8>>>> {
        match self.keys.get(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::List(l)) => Ok(Some(l)),
            Some(_) => fail(WRONGTYPE),
        }
    }

    /// Change the set at `key` (created empty when `create` and missing),
    /// deleting it when emptied. None: no key, and none created.
    fn update_set<R>(
        &mut self,
        key: &[u8],
        create: bool,
        f: impl FnOnce(&mut BTreeSet<Vec<u8>>) -> R,
    ) -> Step<Option<R>> {
        if self.set_at(key)?.is_none() && !create {
            return Ok(None);
        }
        let entry = self
            .keys
            .entry(key.to_vec())
            .or_insert_with(|| Entry { value: Value::Set(BTreeSet::new()), expires: None });
        let Value::Set(set) = &mut entry.value else { return fail(WRONGTYPE) };
        let result = f(set);
        if set.is_empty() {
            self.keys.remove(key);
        }
        Ok(Some(result))
    }

    fn sadd(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let added = self.update_set(&a[1], true, |s| a[2..].iter().filter(|m| s.insert(m.to_vec())).count())?;
        Ok(Expect::Exact(int_reply(added.unwrap_or(0))))
    }

    fn srem(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let removed = self.update_set(&a[1], false, |s| a[2..].iter().filter(|m| s.remove(m.as_slice())).count())?;
        Ok(Expect::Exact(int_reply(removed.unwrap_or(0))))
    }

    fn is_member(&self, key: &[u8], member: &[u8]) -> Step<bool> {
        Ok(self.set_at(key)?.is_some_and(|s| s.contains(member)))
    }

    fn sismember(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(i64::from(self.is_member(&a[1], &a[2])?))))
    }

    fn smismember(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let mut out = format!("*{}\r\n", a.len() - 2).into_bytes();
        for member in &a[2..] {
            out.extend(int_reply(i64::from(self.is_member(&a[1], member)?)));
        }
        Ok(Expect::Exact(out))
    }

    fn scard(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.set_at(&a[1])?.map_or(0, BTreeSet::len))))
    }

    fn smembers(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let items = self.set_at(&a[1])?.into_iter().flatten().cloned().collect();
        Ok(Expect::Unordered { items, group: 1 })
    }

    /// SMOVE: a missing source answers 0 before the destination's type is
    /// checked.
    fn smove(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let Some(src) = self.set_at(&a[1])? else { return answer(int_reply(0)) };
        let found = src.contains(&a[3]);
        self.set_at(&a[2])?;
        if a[1] == a[2] || !found {
            return answer(int_reply(i64::from(found && a[1] == a[2])));
        }
        self.update_set(&a[1], false, |s| s.remove(&a[3]))?;
        self.update_set(&a[2], true, |s| s.insert(a[3].clone()))?;
        Ok(Expect::Exact(int_reply(1)))
    }

    /// The sets at `keys`, every type checked first (None: no key).
    fn sets_at(&self, keys: &[Vec<u8>]) -> Step<Vec<Option<&BTreeSet<Vec<u8>>>>> {
        keys.iter().map(|k| self.set_at(k)).collect()
    }

    fn set_algebra(&self, keys: &[Vec<u8>], op: SetOp) -> Step<BTreeSet<Vec<u8>>> {
        let sets = self.sets_at(keys)?;
        let mut all = sets.iter().map(|s| s.cloned().unwrap_or_default());
        let first = all.next().unwrap_or_default();
        Ok(all.fold(first, |acc, s| match op {
            SetOp::Inter => acc.intersection(&s).cloned().collect(),
            SetOp::Union => acc.union(&s).cloned().collect(),
            SetOp::Diff => acc.difference(&s).cloned().collect(),
        }))
    }

    fn set_reply(&self, keys: &[Vec<u8>], op: SetOp) -> Step<Expect> {
        let items = self.set_algebra(keys, op)?.into_iter().collect();
        Ok(Expect::Unordered { items, group: 1 })
    }

    /// The STORE forms: the destination is replaced whatever it held (and
    /// loses its TTL), or deleted when the result is empty.
    fn set_store(&mut self, a: &[Vec<u8>], op: SetOp) -> Step<Expect> {
        let result = self.set_algebra(&a[2..], op)?;
        let len = result.len();
        if result.is_empty() {
            self.keys.remove(&a[1]);
        } else {
            self.keys.insert(a[1].clone(), Entry { value: Value::Set(result), expires: None });
        }
        Ok(Expect::Exact(int_reply(len)))
    }

    /// BITPOS, bit by bit: the range in bits, then a plain scan.
    fn bitpos(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let bit = match int_arg(&a[2])? {
            b @ (0 | 1) => b as u8,
            _ => return fail(BITPOS_BIT),
        };
        // Redis 7.0 answers a missing key before it reads the range.
        let Some(value) = self.string(&a[1])? else { return answer(int_reply(if bit == 1 { -1 } else { 0 })) };
        if a.len() > 6 {
            return fail(SYNTAX);
        }
        let start = if a.len() > 3 { int_arg(&a[3])? } else { 0 };
        let in_bits = match a.get(5) {
            None => false,
            Some(unit) if is(unit, "BIT") => true,
            Some(unit) if is(unit, "BYTE") => false,
            Some(_) => return fail(SYNTAX),
        };
        let end = if a.len() > 4 { int_arg(&a[4])? } else { -1 };
        let len = value.len() as i128 * if in_bits { 8 } else { 1 };
        let clamp = |i: i64| if i < 0 { (len + i as i128).max(0) } else { i as i128 };
        let (first, last) = (clamp(start), clamp(end).min(len - 1));
        let (first, last) = if in_bits { (first, last) } else { (first * 8, last * 8 + 7) };
        if first > last {
            return answer(int_reply(-1));
        }
        let bit_at = |p: i128| (value[(p / 8) as usize] >> (7 - p % 8)) & 1;
        let found = (first..=last).find(|&p| bit_at(p) == bit);
        let pos = match found {
            Some(p) => p,
            // With no end, a 0 is found just past the string.
            None if bit == 0 && a.len() <= 4 => last + 1,
            None => -1,
        };
        Ok(Expect::Exact(int_reply(pos)))
    }

    fn bitfield(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.bitfield_generic(a, false)
    }

    fn bitfield_ro(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.bitfield_generic(a, true)
    }

    fn bitfield_generic(&mut self, a: &[Vec<u8>], read_only: bool) -> Step<Expect> {
        let ops = parse_bitfield(a)?;
        let writes: Vec<&FieldCmd> = ops.iter().filter(|op| op.op != FieldOp::Get).collect();
        if writes.is_empty() {
            let value = self.string(&a[1])?.unwrap_or_default();
            let replies: Vec<Vec<u8>> = ops.iter().map(|op| int_reply(get_field(value, op))).collect();
            return Ok(Expect::Exact(array_reply(&replies)));
        }
        if read_only {
            return fail(BITFIELD_RO);
        }
        let needed = writes.iter().map(|op| (op.offset + u64::from(op.bits) - 1) / 8 + 1).max().unwrap_or(0);
        if needed > 1 << 20 {
            return Err(Early::Undecided); // don't make the server allocate that much
        }
        let mut value = self.string(&a[1])?.unwrap_or_default().to_vec();
        if (value.len() as u64) < needed {
            value.resize(needed as usize, 0);
        }
        let replies: Vec<Vec<u8>> = ops.iter().map(|op| run_field(&mut value, op)).collect();
        self.overwrite(&a[1], value);
        Ok(Expect::Exact(array_reply(&replies)))
    }

    fn lcs(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (x, y) = match (self.string(&a[1]), self.string(&a[2])) {
            (Ok(x), Ok(y)) => (x.unwrap_or_default(), y.unwrap_or_default()),
            _ => return fail(LCS_NOT_STRINGS),
        };
        let (mut len, mut idx, mut with_len, mut min_len) = (false, false, false, 0);
        let mut i = 3;
        while i < a.len() {
            if is(&a[i], "LEN") {
                len = true;
            } else if is(&a[i], "IDX") {
                idx = true;
            } else if is(&a[i], "WITHMATCHLEN") {
                with_len = true;
            } else if is(&a[i], "MINMATCHLEN") && i + 1 < a.len() {
                min_len = int_arg(&a[i + 1])?.max(0);
                i += 1;
            } else {
                return fail(SYNTAX);
            }
            i += 1;
        }
        if len && idx {
            return fail(LCS_LEN_AND_IDX);
        }
        let cells = (x.len() as i128 + 1) * (y.len() as i128 + 1);
        if cells * 4 > MAX_STRING {
            return fail(LCS_TOO_BIG);
        }
        if cells > 1_000_000 {
            return Err(Early::Undecided); // too slow to check here
        }
        let (common, pairs) = lcs_pairs(x, y);
        if len {
            return answer(int_reply(common.len()));
        }
        if !idx {
            return answer(bulk_reply(&common));
        }
        let mut out = b"*4\r\n$7\r\nmatches\r\n".to_vec();
        let ranges: Vec<_> = lcs_ranges(&pairs).into_iter().filter(|r| min_len == 0 || r.4 as i64 >= min_len).collect();
        out.extend(format!("*{}\r\n", ranges.len()).into_bytes());
        for (a0, a1, b0, b1, n) in ranges {
            out.extend(
                format!("*{}\r\n*2\r\n:{a0}\r\n:{a1}\r\n*2\r\n:{b0}\r\n:{b1}\r\n", 2 + usize::from(with_len))
                    .into_bytes(),
            );
            if with_len {
                out.extend(int_reply(n));
            }
        }
        out.extend(b"$3\r\nlen\r\n");
        out.extend(int_reply(common.len()));
        Ok(Expect::Exact(out))
    }
    fn sinter(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_reply(&a[1..], SetOp::Inter)
    }

    fn sunion(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_reply(&a[1..], SetOp::Union)
    }

    fn sdiff(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_reply(&a[1..], SetOp::Diff)
    }

    fn sinterstore(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_store(a, SetOp::Inter)
    }

    fn sunionstore(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_store(a, SetOp::Union)
    }

    fn sdiffstore(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.set_store(a, SetOp::Diff)
    }

    /// SINTERCARD numkeys key ... [LIMIT n]
    fn sintercard(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let numkeys = match parse_int(&a[1]) {
            Some(n) if n >= 1 => n as u64,
            _ => return fail("ERR numkeys should be greater than 0"),
        };
        if numkeys > (a.len() - 2) as u64 {
            return fail("ERR Number of keys can't be greater than number of args");
        }
        let end = 2 + numkeys as usize;
        let mut limit = usize::MAX;
        for option in a[end..].chunks(2) {
            if option.len() < 2 || !is(&option[0], "LIMIT") {
                return fail(SYNTAX);
            }
            limit = match parse_int(&option[1]) {
                Some(0) => usize::MAX,
                Some(n) if n > 0 => n as usize,
                _ => return fail("ERR LIMIT can't be negative"),
            };
        }
        Ok(Expect::Exact(int_reply(self.set_algebra(&a[2..end], SetOp::Inter)?.len().min(limit))))
    }

    /// SPOP: decided only where it is not random (no key, count 0, a
    /// one-member set, a count that takes everything).
    fn spop(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let count = match a.len() {
            2 => None,
            3 => match parse_int(&a[2]) {
                Some(n) if n >= 0 => Some(n as usize),
                _ => return fail("ERR value is out of range, must be positive"),
            },
            _ => return fail(SYNTAX),
        };
        let Some(set) = self.set_at(&a[1])? else {
            return answer(if count.is_some() { b"*0\r\n".to_vec() } else { nil_reply() });
        };
        let items: Vec<Vec<u8>> = set.iter().cloned().collect();
        let expect = match count {
            Some(0) => Expect::Exact(b"*0\r\n".to_vec()),
            None if items.len() == 1 => Expect::Exact(bulk_reply(&items[0])),
            Some(n) if n >= items.len() => Expect::Unordered { items, group: 1 },
            _ => return Err(Early::Undecided),
        };
        if count != Some(0) {
            self.keys.remove(&a[1]);
        }
        Ok(expect)
    }

    /// SRANDMEMBER: the count is read before the key is looked at.
    fn srandmember(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let count = match a.len() {
            2 => None,
            3 => Some(int_arg(&a[2])?),
            _ => return fail(SYNTAX),
        };
        if count == Some(i64::MIN) {
            return fail(COUNT_RANGE);
        }
        let Some(set) = self.set_at(&a[1])? else {
            return answer(if count.is_some() { b"*0\r\n".to_vec() } else { nil_reply() });
        };
        let (len, distinct) = match count {
            None => (None, true),
            Some(n) if n >= 0 => (Some((n as usize).min(set.len())), true),
            Some(n) => (Some(n.unsigned_abs() as usize), false),
        };
        Ok(Expect::Sample { from: set.clone(), len, distinct })
    }
    /// Replace the sorted set at `key` (keeping its expiry); an empty one
    /// deletes the key. The sets here are small, so packed: a listpack
    /// keeps integral scores as integers, -0 as 0.
    fn put_zset(&mut self, key: &[u8], mut z: ZSetModel) {
        z.iter_mut().filter(|(s, _)| *s == 0.0).for_each(|(s, _)| *s = 0.0);
        z.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap_or(std::cmp::Ordering::Equal).then_with(|| a.1.cmp(&b.1)));
        if z.is_empty() {
            self.keys.remove(key);
            return;
        }
        let expires = self.keys.get(key).and_then(|e| e.expires);
        self.keys.insert(key.to_vec(), Entry { value: Value::ZSet(z), expires });
    }

    /// ZADD and ZINCRBY, as Redis 7's `zaddGenericCommand`.
    fn zadd_generic(&mut self, a: &[Vec<u8>], incr: bool) -> Step<Expect> {
        let (mut nx, mut xx, mut gt, mut lt, mut ch, mut incr) = (false, false, false, false, false, incr);
        let mut at = 2;
        while at < a.len() {
            let o = &a[at];
            match () {
                _ if is(o, "nx") => nx = true,
                _ if is(o, "xx") => xx = true,
                _ if is(o, "gt") => gt = true,
                _ if is(o, "lt") => lt = true,
                _ if is(o, "ch") => ch = true,
                _ if is(o, "incr") => incr = true,
                _ => break,
            }
            at += 1;
        }
        let rest = a.len() - at;
        if rest == 0 || rest % 2 == 1 {
            return fail(SYNTAX);
        }
        if nx && xx {
            return fail("ERR XX and NX options at the same time are not compatible");
        }
        if (nx && (gt || lt)) || (gt && lt) {
            return fail("ERR GT, LT, and/or NX options at the same time are not compatible");
        }
        if incr && rest > 2 {
            return fail("ERR INCR option supports a single increment-element pair");
        }
        let scores = a[at..].iter().step_by(2).map(|s| parse_score(s)).collect::<Option<Vec<f64>>>();
        let Some(scores) = scores else { return fail("ERR value is not a valid float") };
        let mut z = match self.zset(&a[1])? {
            None if xx => return answer(if incr { nil_reply() } else { int_reply(0) }),
            z => z.cloned().unwrap_or_default(),
        };
        let (mut added, mut updated, mut last) = (0, 0, None);
        for (score, member) in scores.into_iter().zip(a[at + 1..].iter().step_by(2)) {
            match z.iter().position(|(_, m)| m == member) {
                None if xx => {}
                None => {
                    z.push((score, member.clone()));
                    added += 1;
                    last = Some(score);
                }
                Some(_) if nx => {}
                Some(i) => {
                    let current = z[i].0;
                    let new = if incr { score + current } else { score };
                    if new.is_nan() {
                        return fail("ERR resulting score is not a number (NaN)");
                    }
                    if (lt && new >= current) || (gt && new <= current) {
                        continue;
                    }
                    last = Some(new);
                    if new != current {
                        z[i].0 = new;
                        updated += 1;
                    }
                }
            }
        }
        self.put_zset(&a[1], z);
        Ok(Expect::Exact(match (incr, last) {
            (true, Some(score)) => bulk_reply(format_score(score).as_bytes()),
            (true, None) => nil_reply(),
            (false, _) => int_reply(if ch { added + updated } else { added }),
        }))
    }

    fn zadd(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.zadd_generic(a, false)
    }

    fn zincrby(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.zadd_generic(a, true)
    }

    fn zrem(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let Some(z) = self.zset(&a[1])? else { return answer(int_reply(0)) };
        let kept: ZSetModel = z.iter().filter(|(_, m)| !a[2..].contains(m)).cloned().collect();
        let removed = z.len() - kept.len();
        self.put_zset(&a[1], kept);
        Ok(Expect::Exact(int_reply(removed)))
    }

    fn zscore(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let score = self.zset(&a[1])?.and_then(|z| z.iter().find(|(_, m)| *m == a[2])).map(|(s, _)| format_score(*s));
        Ok(Expect::Exact(bulk_or_nil(score.as_deref().map(str::as_bytes))))
    }

    fn zcard(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.zset(&a[1])?.map_or(0, Vec::len))))
    }

    fn zcount(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let range = score_range(&a[2], &a[3])?;
        Ok(Expect::Exact(int_reply(self.zset(&a[1])?.map_or(0, |z| z.iter().filter(|(s, _)| range.holds(*s)).count()))))
    }

    /// ZRANGE key start stop [BYSCORE] [REV] [LIMIT offset count] [WITHSCORES]
    fn zrange(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (mut by_score, mut rev, mut withscores, mut offset, mut limit) = (false, false, false, 0, -1);
        let mut j = 4;
        while j < a.len() {
            if is(&a[j], "withscores") {
                withscores = true;
            } else if is(&a[j], "limit") && a.len() - j > 2 {
                offset = int_arg(&a[j + 1])?;
                limit = int_arg(&a[j + 2])?;
                j += 2;
            } else if !rev && is(&a[j], "rev") {
                rev = true;
            } else if !by_score && is(&a[j], "byscore") {
                by_score = true;
            } else {
                return fail(SYNTAX);
            }
            j += 1;
        }
        if limit != -1 && !by_score {
            return fail("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
        }
        let mut picked: ZSetModel = if by_score {
            let (min, max) = if rev { (&a[3], &a[2]) } else { (&a[2], &a[3]) };
            let range = score_range(min, max)?;
            let mut z: ZSetModel = self.zset(&a[1])?.cloned().unwrap_or_default();
            z.retain(|(s, _)| range.holds(*s));
            if rev {
                z.reverse();
            }
            if offset < 0 {
                z.clear();
            }
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            z.into_iter().skip(offset.max(0) as usize).take(limit).collect()
        } else {
            let (start, stop) = (int_arg(&a[2])?, int_arg(&a[3])?);
            let mut z: ZSetModel = self.zset(&a[1])?.cloned().unwrap_or_default();
            if rev {
                z.reverse();
            }
            let len = z.len() as i64;
            let start = if start < 0 { (len + start).max(0) } else { start };
            let stop = if stop < 0 { len + stop } else { stop }.min(len - 1);
            if start > stop || start >= len {
                Vec::new()
            } else {
                z[start as usize..=stop as usize].to_vec()
            }
        };
        let mut out = format!("*{}\r\n", picked.len() * if withscores { 2 } else { 1 }).into_bytes();
        for (score, member) in picked.drain(..) {
            out.extend(bulk_reply(&member));
            if withscores {
                out.extend(bulk_reply(format_score(score).as_bytes()));
            }
        }
        Ok(Expect::Exact(out))
    }

    fn zrank_generic(&mut self, a: &[Vec<u8>], rev: bool) -> Step<Expect> {
        let z = self.zset(&a[1])?.cloned().unwrap_or_default();
        Ok(Expect::Exact(match z.iter().position(|(_, m)| *m == a[2]) {
            Some(rank) if rev => int_reply(z.len() - 1 - rank),
            Some(rank) => int_reply(rank),
            None => nil_reply(),
        }))
    }

    fn zrank(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.zrank_generic(a, false)
    }

    fn zrevrank(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.zrank_generic(a, true)
    }

    fn zremrangebyrank(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (start, stop) = (int_arg(&a[2])?, int_arg(&a[3])?);
        let Some(mut z) = self.zset(&a[1])?.cloned() else { return answer(int_reply(0)) };
        let len = z.len() as i64;
        let start = if start < 0 { (len + start).max(0) } else { start };
        let stop = if stop < 0 { len + stop } else { stop }.min(len - 1);
        if start > stop || start >= len {
            return answer(int_reply(0));
        }
        z.drain(start as usize..=stop as usize);
        self.put_zset(&a[1], z);
        Ok(Expect::Exact(int_reply(stop - start + 1)))
    }

    fn zremrangebyscore(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let range = score_range(&a[2], &a[3])?;
        let Some(mut z) = self.zset(&a[1])?.cloned() else { return answer(int_reply(0)) };
        let before = z.len();
        z.retain(|(s, _)| !range.holds(*s));
        let removed = before - z.len();
        self.put_zset(&a[1], z);
        Ok(Expect::Exact(int_reply(removed)))
    }

    /// ZPOPMIN / ZPOPMAX key [count]: a flat array of members and scores.
    fn zpop(&mut self, a: &[Vec<u8>], max: bool) -> Step<Expect> {
        if a.len() > 3 {
            return fail(SYNTAX);
        }
        let count = match a.get(2) {
            Some(raw) => match parse_int(raw) {
                Some(n) if n >= 0 => n as usize,
                _ => return fail("ERR value is out of range, must be positive"),
            },
            None => 1,
        };
        let Some(mut z) = self.zset(&a[1])?.cloned() else { return answer(b"*0\r\n".to_vec()) };
        if max {
            z.reverse();
        }
        let n = count.min(z.len());
        let popped: ZSetModel = z.drain(..n).collect();
        if max {
            z.reverse();
        }
        self.put_zset(&a[1], z);
        let mut out = format!("*{}\r\n", popped.len() * 2).into_bytes();
        for (score, member) in popped {
            out.extend(bulk_reply(&member));
            out.extend(bulk_reply(format_score(score).as_bytes()));
        }
        Ok(Expect::Exact(out))
    }

    fn zpopmin(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.zpop(a, false)
    }

    fn zpopmax(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.zpop(a, true)
    }
    /// The list at `key` for writing (created empty when `create`); the
    /// caller must leave it non-empty or call [`Model::drop_if_empty`].
    fn list_mut(&mut self, key: &[u8], create: bool) -> Step<Option<&mut VecDeque<Vec<u8>>>> {
        self.list(key)?;
        if create {
            self.keys
                .entry(key.to_vec())
                .or_insert_with(|| Entry { value: Value::List(VecDeque::new()), expires: None });
        }
        Ok(self.keys.get_mut(key).and_then(|e| match &mut e.value {
            Value::List(l) => Some(l),
            _ => None,
        }))
    }

    fn drop_if_empty(&mut self, key: &[u8]) {
        if matches!(self.keys.get(key).map(|e| &e.value), Some(Value::List(l)) if l.is_empty()) {
            self.keys.remove(key);
        }
    }

    fn push(&mut self, a: &[Vec<u8>], left: bool, create: bool) -> Step<Expect> {
        let Some(list) = self.list_mut(&a[1], create)? else { return answer(int_reply(0)) };
        for item in &a[2..] {
            if left {
                list.push_front(item.clone());
            } else {
                list.push_back(item.clone());
            }
        }
        Ok(Expect::Exact(int_reply(list.len())))
    }

    fn lpush(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.push(a, true, true)
    }

    fn rpush(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.push(a, false, true)
    }

    fn lpushx(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.push(a, true, false)
    }

    fn rpushx(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.push(a, false, false)
    }

    /// Take up to `n` items from one end.
    fn take(&mut self, key: &[u8], left: bool, n: usize) -> Vec<Vec<u8>> {
        let Ok(Some(list)) = self.list_mut(key, false) else { return Vec::new() };
        let taken = (0..n).map_while(|_| if left { list.pop_front() } else { list.pop_back() }).collect();
        self.drop_if_empty(key);
        taken
    }

    fn pop(&mut self, a: &[Vec<u8>], name: &str, left: bool) -> Step<Expect> {
        if a.len() > 3 {
            return fail(&arity_error(name));
        }
        let count = match a.get(2) {
            Some(raw) => match parse_int(raw).filter(|n| *n >= 0) {
                Some(n) => Some(n as usize),
                None => return fail("ERR value is out of range, must be positive"),
            },
            None => None,
        };
        if self.list(&a[1])?.is_none() {
            return answer(if count.is_some() { b"*-1\r\n".to_vec() } else { nil_reply() });
        }
        Ok(Expect::Exact(match count {
            None => bulk_or_nil(self.take(&a[1], left, 1).first().map(Vec::as_slice)),
            Some(n) => bulk_array_reply(&self.take(&a[1], left, n)),
        }))
    }

    fn lpop(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.pop(a, "lpop", true)
    }

    fn rpop(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.pop(a, "rpop", false)
    }

    fn llen(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        Ok(Expect::Exact(int_reply(self.list(&a[1])?.map_or(0, VecDeque::len))))
    }

    /// LRANGE's clamping: None for an empty range.
    fn clamp(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
        let len = len as i64;
        let start = if start < 0 { (len + start).max(0) } else { start };
        let stop = if stop < 0 { len + stop } else { stop };
        (start <= stop && start < len).then(|| (start as usize, stop.min(len - 1) as usize))
    }

    fn lrange(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (start, stop) = (int_arg(&a[2])?, int_arg(&a[3])?);
        let list = self.list(&a[1])?.cloned().unwrap_or_default();
        let items: Vec<Vec<u8>> = match Self::clamp(start, stop, list.len()) {
            Some((first, last)) => list.range(first..=last).cloned().collect(),
            None => Vec::new(),
        };
        Ok(Expect::Exact(bulk_array_reply(&items)))
    }

    fn index(index: i64, len: usize) -> Option<usize> {
        let index = if index < 0 { index + len as i64 } else { index };
        usize::try_from(index).ok().filter(|&i| i < len)
    }

    /// LINDEX and LSET look at the key before the index.
    fn lindex(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let Some(list) = self.list(&a[1])? else { return answer(nil_reply()) };
        let index = int_arg(&a[2])?;
        let list = Some(list);
        let item = list.and_then(|l| l.get(Self::index(index, l.len())?));
        Ok(Expect::Exact(bulk_or_nil(item.map(Vec::as_slice))))
    }

    fn lset(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let Some(list) = self.list_mut(&a[1], false)? else { return fail("ERR no such key") };
        let index = int_arg(&a[2])?;
        let Some(i) = Self::index(index, list.len()) else { return fail("ERR index out of range") };
        list[i] = a[3].clone();
        Ok(Expect::Exact(ok_reply()))
    }

    fn linsert(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let after = match &a[2] {
            w if is(w, "AFTER") => 1,
            w if is(w, "BEFORE") => 0,
            _ => return fail(SYNTAX),
        };
        let Some(list) = self.list_mut(&a[1], false)? else { return answer(int_reply(0)) };
        let Some(i) = list.iter().position(|e| *e == a[3]) else { return answer(int_reply(-1)) };
        list.insert(i + after, a[4].clone());
        Ok(Expect::Exact(int_reply(list.len())))
    }

    fn lrem(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let count = int_arg(&a[2])?;
        let Some(list) = self.list_mut(&a[1], false)? else { return answer(int_reply(0)) };
        let limit = if count == 0 { usize::MAX } else { count.unsigned_abs() as usize };
        let mut positions: Vec<usize> = (0..list.len()).filter(|&i| list[i] == a[3]).collect();
        if count < 0 {
            positions.reverse();
        }
        positions.truncate(limit);
        positions.sort_unstable();
        for &i in positions.iter().rev() {
            list.remove(i);
        }
        self.drop_if_empty(&a[1]);
        Ok(Expect::Exact(int_reply(positions.len())))
    }

    fn ltrim(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (start, stop) = (int_arg(&a[2])?, int_arg(&a[3])?);
        let Some(list) = self.list_mut(&a[1], false)? else { return answer(ok_reply()) };
        match Self::clamp(start, stop, list.len()) {
            Some((first, last)) => {
                list.truncate(last + 1);
                list.drain(..first);
            }
            None => list.clear(),
        }
        self.drop_if_empty(&a[1]);
        Ok(Expect::Exact(ok_reply()))
    }

    fn lpos(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let (mut rank, mut count, mut maxlen) = (1i64, None, 0usize);
        let mut i = 3;
        while i < a.len() {
            let more = i + 1 < a.len();
            match &a[i] {
                w if is(w, "RANK") && more => {
                    rank = int_arg(&a[i + 1])?;
                    if rank == i64::MIN {
                        return fail("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807");
                    }
                    if rank == 0 {
                        return fail("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list");
                    }
                }
                w if is(w, "COUNT") && more => match parse_int(&a[i + 1]).filter(|n| *n >= 0) {
                    Some(n) => count = Some(n as usize),
                    None => return fail("ERR COUNT can't be negative"),
                },
                w if is(w, "MAXLEN") && more => match parse_int(&a[i + 1]).filter(|n| *n >= 0) {
                    Some(n) => maxlen = n as usize,
                    None => return fail("ERR MAXLEN can't be negative"),
                },
                _ => return fail(SYNTAX),
            }
            i += 2;
        }
        let list = self.list(&a[1])?.cloned().unwrap_or_default();
        let len = list.len();
        let order: Vec<usize> = if rank > 0 { (0..len).collect() } else { (0..len).rev().collect() };
        let limit = if maxlen == 0 { len } else { maxlen.min(len) };
        let wanted = match count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        let found: Vec<usize> = order[..limit]
            .iter()
            .copied()
            .filter(|&i| list[i] == a[2])
            .skip((rank.unsigned_abs() - 1) as usize)
            .take(wanted)
            .collect();
        Ok(Expect::Exact(match count {
            Some(_) => {
                let mut out = format!("*{}\r\n", found.len()).into_bytes();
                found.iter().for_each(|&i| out.extend(int_reply(i)));
                out
            }
            None => found.first().map_or_else(nil_reply, |&i| int_reply(i)),
        }))
    }

    fn move_generic(&mut self, src: &[u8], dst: &[u8], left_from: bool, left_to: bool) -> Step<Expect> {
        if self.list(src)?.is_none() {
            return answer(nil_reply());
        }
        self.list(dst)?;
        let item = self.take(src, left_from, 1).remove(0);
        let Some(list) = self.list_mut(dst, true)? else { return answer(nil_reply()) };
        if left_to {
            list.push_front(item.clone());
        } else {
            list.push_back(item.clone());
        }
        Ok(Expect::Exact(bulk_reply(&item)))
    }

    fn lmove(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let end = |w: &[u8]| {
            if is(w, "LEFT") {
                Some(true)
            } else if is(w, "RIGHT") {
                Some(false)
            } else {
                None
            }
        };
        let (Some(from), Some(to)) = (end(&a[3]), end(&a[4])) else { return fail(SYNTAX) };
        self.move_generic(&a[1], &a[2], from, to)
    }

    fn rpoplpush(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.move_generic(&a[1], &a[2], false, true)
    }

    fn lmpop(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let Some(numkeys) = parse_int(&a[1]).filter(|n| *n >= 1) else {
            return fail("ERR numkeys should be greater than 0");
        };
        let Some(where_at) = (numkeys as usize).checked_add(2).filter(|&i| i < a.len()) else { return fail(SYNTAX) };
        let left = match &a[where_at] {
            w if is(w, "LEFT") => true,
            w if is(w, "RIGHT") => false,
            _ => return fail(SYNTAX),
        };
        let count = match &a[where_at + 1..] {
            [] => 1,
            [w, n] if is(w, "COUNT") => match parse_int(n).filter(|n| *n >= 1) {
                Some(n) => n as usize,
                None => return fail("ERR count should be greater than 0"),
            },
            _ => return fail(SYNTAX),
        };
        for key in &a[2..where_at] {
            if self.list(key)?.is_some() {
                let mut out = b"*2\r\n".to_vec();
                out.extend(bulk_reply(key));
                out.extend(bulk_array_reply(&self.take(key, left, count)));
                return Ok(Expect::Exact(out));
            }
        }
        Ok(Expect::Exact(b"*-1\r\n".to_vec()))
    }

    // -- expiry -------------------------------------------------------------

    /// EXPIRE / PEXPIRE (`relative`) and EXPIREAT / PEXPIREAT, as Redis 7's
    /// `expireGenericCommand`.
    fn expire_generic(&mut self, a: &[Vec<u8>], seconds: bool, relative: bool, name: &str) -> Step<Expect> {
        let flags = parse_expire_flags(&a[3..])?;
        let mut when = int_arg(&a[2])?;
        if seconds {
            if !(i64::MIN / 1000..=i64::MAX / 1000).contains(&when) {
                return fail(&invalid_expire(name));
            }
            when *= 1000;
        }
        let deadline = if relative {
            if self.overflows_after_now(when)? {
                return fail(&invalid_expire(name));
            }
            Deadline::After { batch: self.batch(), ms: when }
        } else {
            Deadline::At(when)
        };
        if !self.keys.contains_key(&a[1]) {
            return answer(int_reply(0));
        }
        if !self.expire_allowed(&flags, self.expires(&a[1]), deadline)? {
            return answer(int_reply(0));
        }
        if self.already_expired(deadline)? {
            self.keys.remove(&a[1]);
        } else {
            self.set_expires(&a[1], Some(deadline));
        }
        Ok(Expect::Exact(int_reply(1)))
    }

    /// NX / XX / GT / LT; no expiry counts as an infinite one.
    fn expire_allowed(&self, f: &ExpireFlags, current: Option<Deadline>, new: Deadline) -> Step<bool> {
        Ok(match current {
            None => !f.xx && !f.gt,
            Some(cur) => !f.nx && (!f.gt || self.later(new, cur)?) && (!f.lt || self.later(cur, new)?),
        })
    }

    fn expire(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.expire_generic(a, true, true, "expire")
    }

    fn pexpire(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.expire_generic(a, false, true, "pexpire")
    }

    fn expireat(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.expire_generic(a, true, false, "expireat")
    }

    fn pexpireat(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.expire_generic(a, false, false, "pexpireat")
    }

    fn persist(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        let had = self.expires(&a[1]).is_some();
        self.set_expires(&a[1], None);
        Ok(Expect::Exact(int_reply(i64::from(had))))
    }

    fn clock_query(&self, key: &[u8], kind: ClockQuery) -> Step<Expect> {
        let deadline = match self.keys.get(key) {
            None => return answer(int_reply(-2)),
            Some(Entry { expires: None, .. }) => return answer(int_reply(-1)),
            Some(Entry { expires: Some(d), .. }) => *d,
        };
        Ok(match (kind, deadline) {
            (ClockQuery::PexpireTime, Deadline::At(t)) => Expect::Exact(int_reply(t)),
            (ClockQuery::ExpireTime, Deadline::At(t)) => Expect::Exact(int_reply(round_to_seconds(t as i128))),
            _ => Expect::Clock { kind, deadline, batch: self.batch() },
        })
    }

    fn ttl(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.clock_query(&a[1], ClockQuery::Ttl)
    }

    fn pttl(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.clock_query(&a[1], ClockQuery::Pttl)
    }

    fn expiretime(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.clock_query(&a[1], ClockQuery::ExpireTime)
    }

    fn pexpiretime(&mut self, a: &[Vec<u8>]) -> Step<Expect> {
        self.clock_query(&a[1], ClockQuery::PexpireTime)
    }

    // -- checking replies ---------------------------------------------------

    /// The integers a clock query may answer, given when the batches ran.
    fn clock_range(&self, kind: ClockQuery, deadline: Deadline, batch: usize) -> (i128, i128) {
        let (lo, hi) = self.bounds(deadline);
        let asked = self.windows[batch];
        let remaining = (lo - asked.answered as i128 - SLACK_MS, hi - asked.sent as i128 + SLACK_MS);
        let absolute = (lo - SLACK_MS, hi + SLACK_MS);
        match kind {
            ClockQuery::Pttl => remaining,
            ClockQuery::Ttl => (round_to_seconds(remaining.0), round_to_seconds(remaining.1)),
            ClockQuery::PexpireTime => absolute,
            ClockQuery::ExpireTime => (round_to_seconds(absolute.0), round_to_seconds(absolute.1)),
        }
    }

    fn matches(&self, expect: &Expect, got: &[u8]) -> bool {
        match expect {
            Expect::Payload => dumped_payload(got).is_some(),
            Expect::Exact(want) => got == want.as_slice(),
            Expect::Clock { kind, deadline, batch } => {
                let (lo, hi) = self.clock_range(*kind, *deadline, *batch);
                integer_reply(got).is_some_and(|n| (lo..=hi).contains(&(n as i128)))
            }
            Expect::Unordered { items, group } => {
                bulk_array(got).is_some_and(|got| grouped(&got, *group) == grouped(items, *group))
            }
            Expect::Sample { from, len, distinct } => sample_matches(got, from, *len, *distinct),
        }
    }

    fn describe(&self, expect: &Expect) -> String {
        match expect {
            Expect::Payload => "a DUMP payload (any bulk string)".into(),
            Expect::Exact(want) => show(want),
            Expect::Clock { kind, deadline, batch } => {
                let (lo, hi) = self.clock_range(*kind, *deadline, *batch);
                format!("{kind:?} integer in [{lo}, {hi}] (deadline {deadline:?})")
            }
            Expect::Unordered { items, group } => {
                let groups: Vec<Vec<u8>> = grouped(items, *group).into_iter().flatten().cloned().collect();
                format!("in any order of groups of {group}: {}", show(&bulk_array_reply(&groups)))
            }
            Expect::Sample { from, len, distinct } => {
                let from: Vec<Vec<u8>> = from.iter().cloned().collect();
                format!("{len:?} (distinct: {distinct}) of {}", show(&bulk_array_reply(&from)))
            }
        }
    }
}

// ---------------------------------------------------------------------------
// BITFIELD and LCS, as the model computes them
// ---------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum FieldOp {
    Get,
    Set,
    IncrBy,
}

/// One BITFIELD subcommand: the operation, the field, SET's value or
/// INCRBY's increment, and the OVERFLOW mode in force.
#[derive(Clone, Copy, Debug)]
struct FieldCmd {
    op: FieldOp,
    signed: bool,
    bits: u32,
    offset: u64,
    value: i64,
    overflow: u8,
}

fn field_type(raw: &[u8]) -> Option<(bool, u32)> {
    let bits = parse_int(raw.get(1..)?)?;
    match raw[0] {
        b'i' if (1..=64).contains(&bits) => Some((true, bits as u32)),
        b'u' if (1..=63).contains(&bits) => Some((false, bits as u32)),
        _ => None,
    }
}

fn field_offset(raw: &[u8], bits: u32) -> Option<u64> {
    let (n, scale) = match raw.strip_prefix(b"#") {
        Some(rest) => (parse_int(rest)?, i128::from(bits)),
        None => (parse_int(raw)?, 1),
    };
    let offset = i128::from(n) * scale;
    (offset >= 0 && offset / 8 < MAX_STRING).then_some(offset as u64)
}

fn parse_bitfield(a: &[Vec<u8>]) -> Step<Vec<FieldCmd>> {
    let mut ops = Vec::new();
    let mut overflow = b'W';
    let mut j = 2;
    while j < a.len() {
        let rest = a.len() - j - 1;
        let op = if is(&a[j], "GET") && rest >= 2 {
            FieldOp::Get
        } else if is(&a[j], "SET") && rest >= 3 {
            FieldOp::Set
        } else if is(&a[j], "INCRBY") && rest >= 3 {
            FieldOp::IncrBy
        } else if is(&a[j], "OVERFLOW") && rest >= 1 {
            overflow = match ["WRAP", "SAT", "FAIL"].into_iter().find(|m| is(&a[j + 1], m)) {
                Some(mode) => mode.as_bytes()[0],
                None => return fail(BAD_OVERFLOW),
            };
            j += 2;
            continue;
        } else {
            return fail(SYNTAX);
        };
        let Some((signed, bits)) = field_type(&a[j + 1]) else { return fail(BAD_FIELD_TYPE) };
        let Some(offset) = field_offset(&a[j + 2], bits) else { return fail(BIT_OFFSET) };
        let value = if op == FieldOp::Get { 0 } else { int_arg(&a[j + 3])? };
        ops.push(FieldCmd { op, signed, bits, offset, value, overflow });
        j += if op == FieldOp::Get { 3 } else { 4 };
    }
    Ok(ops)
}

fn get_field(value: &[u8], op: &FieldCmd) -> i128 {
    let mut raw: i128 = 0;
    for k in 0..u64::from(op.bits) {
        let p = op.offset + k;
        let bit = value.get((p / 8) as usize).map_or(0, |b| (b >> (7 - p % 8)) & 1);
        raw = raw * 2 + i128::from(bit);
    }
    if op.signed && raw >= 1 << (op.bits - 1) {
        raw - (1 << op.bits)
    } else {
        raw
    }
}

fn set_field(value: &mut [u8], op: &FieldCmd, n: i128) {
    let n = n.rem_euclid(1 << op.bits);
    for k in 0..op.bits {
        let p = op.offset + u64::from(k);
        let mask = 0x80u8 >> (p % 8);
        let byte = &mut value[(p / 8) as usize];
        if (n >> (op.bits - 1 - k)) & 1 == 1 {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
    }
}

/// Run one subcommand of a writing BITFIELD on `value` (long enough).
fn run_field(value: &mut [u8], op: &FieldCmd) -> Vec<u8> {
    let old = get_field(value, op);
    if op.op == FieldOp::Get {
        return int_reply(old);
    }
    let (min, max): (i128, i128) =
        if op.signed { (-(1 << (op.bits - 1)), (1 << (op.bits - 1)) - 1) } else { (0, (1 << op.bits) - 1) };
    let (operand, incr) = match op.op {
        FieldOp::Set if op.signed => (i128::from(op.value), 0),
        FieldOp::Set => (i128::from(op.value as u64), 0),
        _ => (old, i128::from(op.value)),
    };
    let sum = operand + incr;
    // Redis checks a signed SET with `max - value` in wrapping i64
    // arithmetic: when that overflows, a value below the minimum counts as
    // an overflow upwards.
    let wrapped_up = op.signed && op.op == FieldOp::Set && op.bits < 64 && max - operand > i128::from(i64::MAX);
    let over = sum > max || wrapped_up;
    let new = if !over && sum >= min {
        sum
    } else {
        match op.overflow {
            b'F' => return nil_reply(),
            b'S' if over => max,
            b'S' => min,
            _ => {
                let low = sum.rem_euclid(1 << op.bits);
                if op.signed && low > max {
                    low - (1 << op.bits)
                } else {
                    low
                }
            }
        }
    };
    set_field(value, op, new);
    int_reply(if op.op == FieldOp::Set { old } else { new })
}

/// The LCS of `x` and `y` and its matched positions, last first, walking
/// back as Redis does (diagonal on a match, else towards the larger
/// neighbour, left on a tie).
fn lcs_pairs(x: &[u8], y: &[u8]) -> (Vec<u8>, Vec<(usize, usize)>) {
    let w = y.len() + 1;
    let mut t = vec![0u32; (x.len() + 1) * w];
    for i in 1..=x.len() {
        for j in 1..=y.len() {
            t[i * w + j] = if x[i - 1] == y[j - 1] {
                t[(i - 1) * w + j - 1] + 1
            } else {
                t[(i - 1) * w + j].max(t[i * w + j - 1])
            };
        }
    }
    let (mut i, mut j) = (x.len(), y.len());
    let mut pairs = Vec::new();
    while i > 0 && j > 0 {
        if x[i - 1] == y[j - 1] {
            pairs.push((i - 1, j - 1));
            i -= 1;
            j -= 1;
        } else if t[(i - 1) * w + j] > t[i * w + j - 1] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    let common = pairs.iter().rev().map(|&(i, _)| x[i]).collect();
    (common, pairs)
}

/// Matched positions grouped into runs (each a step back on both strings):
/// (x start, x end, y start, y end, length), last first.
fn lcs_ranges(pairs: &[(usize, usize)]) -> Vec<(usize, usize, usize, usize, usize)> {
    let mut ranges: Vec<(usize, usize, usize, usize, usize)> = Vec::new();
    for &(i, j) in pairs {
        match ranges.last_mut() {
            Some(r) if r.0 == i + 1 && r.2 == j + 1 => *r = (i, r.1, j, r.3, r.4 + 1),
            _ => ranges.push((i, i, j, j, 1)),
        }
    }
    ranges
}

fn array_reply(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    items.iter().for_each(|item| out.extend(item));
    out
}

/// The payload in a DUMP's reply, if it is a bulk string.
fn dumped_payload(got: &[u8]) -> Option<Vec<u8>> {
    match common::parse_resp(got) {
        Ok((common::Resp::Bulk(Some(payload)), _)) => Some(payload),
        _ => None,
    }
}
/// Whether `got` is a random pick of `from`: one bulk string (`len` None),
/// or an array of `len` of them, all different if `distinct`.
fn sample_matches(got: &[u8], from: &BTreeSet<Vec<u8>>, len: Option<usize>, distinct: bool) -> bool {
    let Some(len) = len else {
        return from.iter().any(|m| got == bulk_reply(m).as_slice());
    };
    bulk_array(got).is_some_and(|items| {
        let unique: BTreeSet<&Vec<u8>> = items.iter().collect();
        items.len() == len && items.iter().all(|m| from.contains(m)) && (!distinct || unique.len() == len)
    })
}

fn bulk_array_reply(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    for item in items {
        out.extend(bulk_reply(item));
    }
    out
}

/// The elements of a RESP2 array of bulk strings, or None for any other reply.
fn bulk_array(got: &[u8]) -> Option<Vec<Vec<u8>>> {
    fn line(rest: &[u8]) -> Option<(&[u8], &[u8])> {
        let end = rest.windows(2).position(|w| w == b"\r\n")?;
        Some((&rest[..end], &rest[end + 2..]))
    }
    let (header, mut rest) = line(got.strip_prefix(b"*")?)?;
    let n: usize = std::str::from_utf8(header).ok()?.parse().ok()?;
    let mut items = Vec::with_capacity(n);
    for _ in 0..n {
        let (len, body) = line(rest.strip_prefix(b"$")?)?;
        let len: usize = std::str::from_utf8(len).ok()?.parse().ok()?;
        items.push(body.get(..len)?.to_vec());
        rest = body.get(len..)?.strip_prefix(b"\r\n")?;
    }
    rest.is_empty().then_some(items)
}

/// `items` cut into groups of `group`, sorted: a multiset to compare.
fn grouped(items: &[Vec<u8>], group: usize) -> Vec<&[Vec<u8>]> {
    let mut groups: Vec<_> = items.chunks(group).collect();
    groups.sort();
    groups
}

/// The value of a `:<n>\r\n` reply.
fn integer_reply(got: &[u8]) -> Option<i64> {
    let body = got.strip_prefix(b":")?.strip_suffix(b"\r\n")?;
    std::str::from_utf8(body).ok()?.parse().ok()
}

// ---------------------------------------------------------------------------
// The generator
// ---------------------------------------------------------------------------

#[rustfmt::skip]
const KEYS: &[&[u8]] = &[
    b"a", b"b", b"counter", b"", b"\x00\xffbin", b"k\r\nx", b"{user}:1000", b"key with spaces",
];

#[rustfmt::skip]
const VALUES: &[&[u8]] = &[
    b"", b"0", b"1", b"-1", b"42", b"-17", b"10", b"-0", b"007", b"+5", b" 1", b"1 ", b"1\x00",
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775806", b"-9223372036854775807",
    b"9223372036854775808", b"-9223372036854775809", b"18446744073709551616", b"123456789012345678901",
    b"hello", b"world", b"\x00\r\n\xff", b"3.5", b"1e3", b"0x1f", b"abc", b"-", b"--1",
];

#[rustfmt::skip]
const INT_EDGES: &[&[u8]] = &[
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775806", b"-9223372036854775807",
    b"4611686018427387904", b"-4611686018427387904", b"0",
];

#[rustfmt::skip]
const NOT_INTS: &[&[u8]] = &[
    b"", b"abc", b"1.5", b"+1", b"-0", b"01", b" 2", b"2 ", b"9223372036854775808",
    b"-9223372036854775809", b"1e3", b"-",
];

/// Expiry arguments in seconds that are not a plain long TTL: invalid,
/// zero or negative (delete at once), overflowing, or huge but valid.
#[rustfmt::skip]
const SECONDS_EDGES: &[&[u8]] = &[
    b"0", b"-1", b"-1000", b"abc", b"", b"1.5", b"+1000", b"9223372036854775", b"9223372036854775807",
    b"-9223372036854775808", b"9223372036854", b"-9223372036854775", b"9223372036854775808",
];

#[rustfmt::skip]
const MILLIS_EDGES: &[&[u8]] = &[
    b"0", b"-1", b"abc", b"9223372036854775807", b"-9223372036854775808", b"9223372036854775", b"1.5",
    b"+5000000",
];

#[rustfmt::skip]
const RANGE_EDGES: &[&[u8]] = &[
    b"9223372036854775807", b"-9223372036854775808", b"100", b"-100", b"abc", b"-0", b"1.0", b"",
];

/// LPOS ranks: not i64::MIN, which Redis 7.2 refuses and 7.0 (the
/// reference the model is checked against) takes.
#[rustfmt::skip]
const RANK_EDGES: &[&[u8]] = &[
    b"9223372036854775807", b"-9223372036854775807", b"0", b"-100", b"abc", b"-0", b"1.0", b"",
];

#[rustfmt::skip]
const OFFSET_EDGES: &[&[u8]] = &[
    b"-1", b"abc", b"536870912", b"9223372036854775807", b"-9223372036854775808", b"4294967296", b"1.5",
];

/// Set members: integers (an intset), the integer parser's edges, strings,
/// the empty one and a binary one.
#[rustfmt::skip]
const MEMBERS: &[&[u8]] = &[
    b"1", b"2", b"3", b"-1", b"10", b"007", b"-0", b"+5", b"9223372036854775807", b"9223372036854775808",
    b"a", b"b", b"member", b"", b"\x00\xff\r\n",
];

/// Counts of SPOP and SRANDMEMBER: small ones, edges, not integers.
#[rustfmt::skip]
const SET_COUNTS: &[&[u8]] = &[
    b"0", b"1", b"2", b"3", b"5", b"100", b"-1", b"-3", b"-10", b"x", b"1.5",
    b"-9223372036854775808", b"9223372036854775807",
];

/// Hash fields: few, so that commands meet the fields earlier ones wrote.
#[rustfmt::skip]
const FIELDS: &[&[u8]] = &[b"f", b"g", b"name", b"counter", b"", b"\x00\xff\r\n", b"field with spaces"];

/// Databases COPY must refuse: out of range, outside a C int (Redis's
/// "value is out of range, value must between ..."), not an integer.
const BAD_DBS: &[&[u8]] = &[b"16", b"-1", b"4294967296", b"-2147483649", b"abc"];

/// What a generator may look at: the random source, the model's "now", the
/// connection's database.
struct Gen<'a> {
    rng: &'a mut Rng,
    now: i64,
    db: i64,
}

impl Gen<'_> {
    /// A command name or option, in random case now and then.
    fn word(&mut self, w: &str) -> Vec<u8> {
        if !self.rng.chance(15) {
            return w.as_bytes().to_vec();
        }
        w.bytes().map(|b| if self.rng.chance(50) { b.to_ascii_lowercase() } else { b }).collect()
    }

    /// One of `choices`, as [`word`](Self::word) spells it.
    fn one_of(&mut self, choices: &[&str]) -> Vec<u8> {
        let w = choices[self.rng.below(choices.len())];
        self.word(w)
    }

    fn key(&mut self) -> Vec<u8> {
        self.rng.pick(KEYS).to_vec()
    }

    fn keys(&mut self, most: usize) -> Vec<Vec<u8>> {
        (0..1 + self.rng.below(most)).map(|_| self.key()).collect()
    }

    fn field(&mut self) -> Vec<u8> {
        self.rng.pick(FIELDS).to_vec()
    }

    fn fields(&mut self, most: usize) -> Vec<Vec<u8>> {
        (0..1 + self.rng.below(most)).map(|_| self.field()).collect()
    }

    /// A hash value: often a small integer, for HINCRBY to find.
    fn hash_value(&mut self) -> Vec<u8> {
        if self.rng.chance(40) {
            self.rng.range(-100, 100).to_string().into_bytes()
        } else {
            self.value()
        }
    }

    fn value(&mut self) -> Vec<u8> {
        match self.rng.below(100) {
            0..=69 => self.rng.pick(VALUES).to_vec(),
            70..=89 => self.int().to_string().into_bytes(),
            90..=98 => (0..self.rng.below(12)).map(|_| self.rng.next_u64() as u8).collect(),
            _ => self.large_value(),
        }
    }

    /// A value around the size from which Redistill writes replies straight
    /// from the store (16 KiB), or larger.
    fn large_value(&mut self) -> Vec<u8> {
        let len = [16_383, 16_384, 16_385, 1 + self.rng.below(100_000)][self.rng.below(4)];
        let seed = self.rng.next_u64() as u8;
        (0..len).map(|i| seed.wrapping_add((i % 251) as u8)).collect()
    }

    fn int(&mut self) -> i64 {
        match self.rng.below(3) {
            0 => self.rng.range(-10, 10),
            1 => self.rng.range(-1_000_000, 1_000_000),
            _ => self.rng.next_u64() as i64,
        }
    }

    /// An integer argument: mostly valid, sometimes an edge or not an integer.
    fn int_arg(&mut self) -> Vec<u8> {
        match self.rng.below(10) {
            0..=6 => self.int().to_string().into_bytes(),
            7 | 8 => self.rng.pick(INT_EDGES).to_vec(),
            _ => self.rng.pick(NOT_INTS).to_vec(),
        }
    }

    fn edge_or(&mut self, edges: &[&[u8]], lo: i64, hi: i64) -> Vec<u8> {
        if self.rng.chance(85) {
            self.rng.range(lo, hi).to_string().into_bytes()
        } else {
            self.rng.pick(edges).to_vec()
        }
    }

    fn seconds(&mut self) -> Vec<u8> {
        self.edge_or(SECONDS_EDGES, 1000, 2_000_000)
    }

    fn millis(&mut self) -> Vec<u8> {
        self.edge_or(MILLIS_EDGES, 1_000_000, 2_000_000_000)
    }

    /// A unix time in ms: mostly at least 1000 s ahead, sometimes long past.
    fn at_ms(&mut self) -> i64 {
        if self.rng.chance(80) {
            self.now + self.rng.range(1_000_000, 2_000_000_000)
        } else {
            [1, self.now - self.rng.range(1_000_000, 1_000_000_000)][self.rng.below(2)]
        }
    }

    fn at_seconds(&mut self) -> Vec<u8> {
        if self.rng.chance(85) {
            (self.at_ms() / 1000).to_string().into_bytes()
        } else {
            self.rng.pick(SECONDS_EDGES).to_vec()
        }
    }

    fn at_millis(&mut self) -> Vec<u8> {
        if self.rng.chance(85) {
            self.at_ms().to_string().into_bytes()
        } else {
            self.rng.pick(MILLIS_EDGES).to_vec()
        }
    }

    /// A time option of SET / GETEX and its value.
    fn time_option(&mut self) -> Vec<Vec<u8>> {
        match self.rng.below(4) {
            0 => vec![self.word("EX"), self.seconds()],
            1 => vec![self.word("PX"), self.millis()],
            2 => vec![self.word("EXAT"), self.at_seconds()],
            _ => vec![self.word("PXAT"), self.at_millis()],
        }
    }

    /// 0 to 3 options; most combinations are valid, some conflict.
    fn options(&mut self, pick: fn(&mut Gen) -> Vec<Vec<u8>>) -> Vec<Vec<u8>> {
        let n = [0, 0, 0, 0, 1, 1, 1, 1, 2, 3][self.rng.below(10)];
        (0..n).flat_map(|_| pick(self)).collect()
    }
}

fn set_option(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(24) {
        0..=9 => g.time_option(),
        10..=12 => vec![g.word("NX")],
        13..=15 => vec![g.word("XX")],
        16..=19 => vec![g.word("GET")],
        20 | 21 => vec![g.word("KEEPTTL")],
        22 => vec![g.word("PERSIST")],
        _ => vec![g.one_of(&["EX", "FOO", "PXAT", ""])],
    }
}

fn getex_option(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(16) {
        0..=11 => g.time_option(),
        12..=14 => vec![g.word("PERSIST")],
        _ => vec![g.one_of(&["KEEPTTL", "NX", "GET", "PX"])],
    }
}

fn expire_option(g: &mut Gen) -> Vec<Vec<u8>> {
    vec![g.one_of(&["NX", "XX", "GT", "LT", "GT", "LT", "FOO"])]
}

fn copy_option(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(6) {
        0..=2 => vec![g.word("REPLACE")],
        3 => vec![g.word("DB"), g.db.to_string().into_bytes()],
        4 => vec![g.word("DB"), g.rng.pick(BAD_DBS).to_vec()],
        _ => vec![g.one_of(&["FOO", "DB"])],
    }
}

/// A command name followed by arguments.
fn command(g: &mut Gen, name: &str, args: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    let mut out = vec![g.word(name)];
    out.extend(args);
    out
}

fn gen_set(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key(), g.value()];
    args.extend(g.options(set_option));
    command(g, "SET", args)
}

fn gen_set_variants(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(5) {
        0 => {
            let args = vec![g.key(), g.seconds(), g.value()];
            command(g, "SETEX", args)
        }
        1 => {
            let args = vec![g.key(), g.millis(), g.value()];
            command(g, "PSETEX", args)
        }
        2 => {
            let args = vec![g.key(), g.value()];
            command(g, "SETNX", args)
        }
        3 => {
            let args = vec![g.key(), g.value()];
            command(g, "GETSET", args)
        }
        _ => {
            let args = vec![g.key()];
            command(g, "GETDEL", args)
        }
    }
}

fn gen_get(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = vec![g.key()];
    command(g, "GET", args)
}

fn gen_getex(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    args.extend(g.options(getex_option));
    command(g, "GETEX", args)
}

fn gen_mset(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args: Vec<Vec<u8>> = (0..1 + g.rng.below(4)).flat_map(|_| [g.key(), g.value()]).collect();
    if g.rng.chance(5) {
        args.pop();
    }
    let name = if g.rng.chance(50) { "MSET" } else { "MSETNX" };
    command(g, name, args)
}

fn gen_multi_key(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = ["MGET", "MGET", "DEL", "UNLINK", "EXISTS", "TOUCH"][g.rng.below(6)];
    let args = g.keys(5);
    command(g, name, args)
}

fn gen_append(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = vec![g.key(), g.value()];
    command(g, "APPEND", args)
}

fn gen_strlen_or_type(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = if g.rng.chance(60) { "STRLEN" } else { "TYPE" };
    let args = vec![g.key()];
    command(g, name, args)
}

fn range_index(g: &mut Gen) -> Vec<u8> {
    g.edge_or(RANGE_EDGES, -12, 12)
}

fn gen_getrange(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = if g.rng.chance(80) { "GETRANGE" } else { "SUBSTR" };
    let args = vec![g.key(), range_index(g), range_index(g)];
    command(g, name, args)
}

fn gen_setrange(g: &mut Gen) -> Vec<Vec<u8>> {
    let offset = g.edge_or(OFFSET_EDGES, 0, 20);
    let patch = if g.rng.chance(15) { Vec::new() } else { g.value() };
    let args = vec![g.key(), offset, patch];
    command(g, "SETRANGE", args)
}

fn gen_incr(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(4) {
        0 | 1 => {
            let name = if g.rng.chance(50) { "INCR" } else { "DECR" };
            let args = vec![g.key()];
            command(g, name, args)
        }
        _ => {
            let name = if g.rng.chance(50) { "INCRBY" } else { "DECRBY" };
            let args = vec![g.key(), g.int_arg()];
            command(g, name, args)
        }
    }
}

fn gen_expire(g: &mut Gen) -> Vec<Vec<u8>> {
    let (name, when) = match g.rng.below(4) {
        0 => ("EXPIRE", g.seconds()),
        1 => ("PEXPIRE", g.millis()),
        2 => ("EXPIREAT", g.at_seconds()),
        _ => ("PEXPIREAT", g.at_millis()),
    };
    let mut args = vec![g.key(), when];
    args.extend(g.options(expire_option));
    command(g, name, args)
}

fn gen_persist(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = vec![g.key()];
    command(g, "PERSIST", args)
}

fn gen_clock_query(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = ["TTL", "PTTL", "TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"][g.rng.below(6)];
    let args = vec![g.key()];
    command(g, name, args)
}

fn gen_rename(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = if g.rng.chance(50) { "RENAME" } else { "RENAMENX" };
    let args = vec![g.key(), g.key()];
    command(g, name, args)
}

fn gen_copy(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key(), g.key()];
    args.extend(g.options(copy_option));
    command(g, "COPY", args)
}

fn gen_dbsize(g: &mut Gen) -> Vec<Vec<u8>> {
    command(g, "DBSIZE", Vec::new())
}

fn gen_flushdb(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = match g.rng.below(5) {
        0..=2 => Vec::new(),
        3 => vec![g.one_of(&["ASYNC", "SYNC"])],
        _ => vec![g.word("FOO")],
    };
    command(g, "FLUSHDB", args)
}

fn gen_hset(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    for _ in 0..1 + g.rng.below(3) {
        args.extend([g.field(), g.hash_value()]);
    }
    if g.rng.chance(5) {
        args.pop();
    }
    let name = if g.rng.chance(80) { "HSET" } else { "HMSET" };
    command(g, name, args)
}

fn gen_hsetnx(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = vec![g.key(), g.field(), g.hash_value()];
    command(g, "HSETNX", args)
}

fn gen_hget(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = ["HGET", "HGET", "HEXISTS", "HSTRLEN"][g.rng.below(4)];
    let args = vec![g.key(), g.field()];
    command(g, name, args)
}

fn gen_hmget(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    args.extend(g.fields(4));
    command(g, "HMGET", args)
}

fn gen_hdel(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    args.extend(g.fields(3));
    command(g, "HDEL", args)
}

fn gen_hincrby(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = vec![g.key(), g.field(), g.int_arg()];
    command(g, "HINCRBY", args)
}

/// A list element: few distinct ones, so that LREM, LPOS and LINSERT find
/// them.
fn list_item(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(80) {
        g.one_of(&["a", "b", "c", "x", ""])
    } else {
        g.value()
    }
}

fn gen_push(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = ["LPUSH", "RPUSH", "LPUSH", "RPUSH", "LPUSHX", "RPUSHX"][g.rng.below(6)];
    let mut args = vec![g.key()];
    args.extend((0..1 + g.rng.below(4)).map(|_| list_item(g)));
    command(g, name, args)
}

fn gen_list_pop(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = if g.rng.chance(50) { "LPOP" } else { "RPOP" };
    let mut args = vec![g.key()];
    if g.rng.chance(40) {
        args.push(g.edge_or(RANGE_EDGES, -1, 4));
    }
    command(g, name, args)
}

fn gen_list_read(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(4) {
        0 => {
            let args = vec![g.key()];
            command(g, "LLEN", args)
        }
        1 => {
            let args = vec![g.key(), range_index(g)];
            command(g, "LINDEX", args)
        }
        _ => {
            let args = vec![g.key(), range_index(g), range_index(g)];
            command(g, "LRANGE", args)
        }
    }
}

fn lpos_option(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(7) {
        0 | 1 => vec![g.word("RANK"), g.edge_or(RANK_EDGES, -3, 3)],
        2 | 3 => vec![g.word("COUNT"), g.edge_or(RANGE_EDGES, -1, 3)],
        4 | 5 => vec![g.word("MAXLEN"), g.edge_or(RANGE_EDGES, -1, 5)],
        _ => vec![g.one_of(&["RANK", "FOO"])],
    }
}

fn gen_list_edit(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(5) {
        0 => {
            let args = vec![g.key(), range_index(g), list_item(g)];
            command(g, "LSET", args)
        }
        1 => {
            let args =
                vec![g.key(), g.one_of(&["BEFORE", "AFTER", "AFTER", "BEFORE", "NEAR"]), list_item(g), list_item(g)];
            command(g, "LINSERT", args)
        }
        2 => {
            let args = vec![g.key(), g.edge_or(RANGE_EDGES, -3, 3), list_item(g)];
            command(g, "LREM", args)
        }
        3 => {
            let args = vec![g.key(), range_index(g), range_index(g)];
            command(g, "LTRIM", args)
        }
        _ => {
            let mut args = vec![g.key(), list_item(g)];
            args.extend(g.options(lpos_option));
            command(g, "LPOS", args)
        }
    }
}

fn gen_list_move(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(3) {
        0 => {
            let args = vec![g.key(), g.key()];
            command(g, "RPOPLPUSH", args)
        }
        1 => {
            let ends = ["LEFT", "RIGHT", "LEFT", "RIGHT", "UP"];
            let args = vec![g.key(), g.key(), g.one_of(&ends), g.one_of(&ends)];
            command(g, "LMOVE", args)
        }
        _ => {
            let keys = g.keys(3);
            let mut args = vec![g.edge_or(RANGE_EDGES, 0, keys.len() as i64 + 1)];
            args.extend(keys);
            args.push(g.one_of(&["LEFT", "RIGHT", "LEFT", "RIGHT", "UP"]));
            if g.rng.chance(50) {
                args.extend([g.one_of(&["COUNT", "COUNT", "FOO"]), g.edge_or(RANGE_EDGES, 0, 4)]);
            }
            command(g, "LMPOP", args)
        }
    }
}

fn gen_hash_listing(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = ["HLEN", "HKEYS", "HVALS", "HGETALL"][g.rng.below(4)];
    let args = vec![g.key()];
    command(g, name, args)
}

fn gen_bitop(g: &mut Gen) -> Vec<Vec<u8>> {
    let op = g.one_of(&["AND", "OR", "XOR", "NOT", "AND", "OR", "XOR", "NOT", "FOO"]);
    let sources = if is(&op, "NOT") && g.rng.chance(90) { 1 } else { 1 + g.rng.below(3) };
    let mut args = vec![op, g.key()];
    args.extend((0..sources).map(|_| g.key()));
    command(g, "BITOP", args)
}

fn gen_bitpos(g: &mut Gen) -> Vec<Vec<u8>> {
    let bit = [&b"0"[..], b"1", b"0", b"1", b"2", b"x"][g.rng.below(6)].to_vec();
    let mut args = vec![g.key(), bit];
    let extra = [0, 0, 1, 2, 3, 3, 3, 4][g.rng.below(8)];
    for k in 0..extra {
        let arg = if k == 2 { g.one_of(&["BIT", "BYTE", "BIT", "FOO"]) } else { g.edge_or(RANGE_EDGES, -40, 40) };
        args.push(arg);
    }
    command(g, "BITPOS", args)
}

/// A BITFIELD type: mostly valid, sometimes one Redis refuses.
fn field_type_arg(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(10) {
        0..=3 => format!("i{}", 1 + g.rng.below(64)).into_bytes(),
        4..=7 => format!("u{}", 1 + g.rng.below(63)).into_bytes(),
        8 => g.one_of(&["i8", "u8", "i64", "u63", "i1", "u1"]),
        _ => g.one_of(&["u64", "i65", "i0", "I8", "x8", "u", ""]),
    }
}

fn field_offset_arg(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(10) {
        0..=5 => g.rng.range(0, 100).to_string().into_bytes(),
        6..=8 => format!("#{}", g.rng.range(0, 6)).into_bytes(),
        _ => g.one_of(&["-1", "x", "#-1", "#", "4294967296", "#536870912", "1.5"]),
    }
}

fn field_value_arg(g: &mut Gen) -> Vec<u8> {
    match g.rng.below(10) {
        0..=6 => g.rng.range(-300, 300).to_string().into_bytes(),
        _ => g.int_arg(),
    }
}

fn bitfield_subcommand(g: &mut Gen) -> Vec<Vec<u8>> {
    match g.rng.below(20) {
        0..=5 => vec![g.word("GET"), field_type_arg(g), field_offset_arg(g)],
        6..=10 => vec![g.word("SET"), field_type_arg(g), field_offset_arg(g), field_value_arg(g)],
        11..=16 => vec![g.word("INCRBY"), field_type_arg(g), field_offset_arg(g), field_value_arg(g)],
        17 | 18 => vec![g.word("OVERFLOW"), g.one_of(&["WRAP", "SAT", "FAIL", "WRAP", "SAT", "FAIL", "FOO"])],
        _ => vec![g.one_of(&["GET", "SET", "FOO", "OVERFLOW"])],
    }
}

fn gen_bitfield(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = if g.rng.chance(20) { "BITFIELD_RO" } else { "BITFIELD" };
    let mut args = vec![g.key()];
    for _ in 0..g.rng.below(4) {
        args.extend(bitfield_subcommand(g));
    }
    command(g, name, args)
}
fn gen_member(g: &mut Gen) -> Vec<u8> {
    g.rng.pick(MEMBERS).to_vec()
}

fn gen_members(g: &mut Gen, most: usize) -> Vec<Vec<u8>> {
    (0..1 + g.rng.below(most)).map(|_| gen_member(g)).collect()
}

/// SADD: a few members; now and then enough to leave the listpack (130
/// strings) or the intset (600 integers).
fn gen_sadd(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    match g.rng.below(100) {
        0 => args.extend((0..130).map(|i| format!("m{i}").into_bytes())),
        1 => args.extend((0..600).map(|i| i.to_string().into_bytes())),
        _ => args.extend(gen_members(g, 4)),
    }
    command(g, "SADD", args)
}

fn gen_srem(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    args.extend(gen_members(g, 3));
    command(g, "SREM", args)
}

fn gen_set_query(g: &mut Gen) -> Vec<Vec<u8>> {
    let key = g.key();
    match g.rng.below(4) {
        0 => {
            let member = gen_member(g);
            command(g, "SISMEMBER", vec![key, member])
        }
        1 => {
            let mut args = vec![key];
            args.extend(gen_members(g, 4));
            command(g, "SMISMEMBER", args)
        }
        2 => command(g, "SCARD", vec![key]),
        _ => command(g, "SMEMBERS", vec![key]),
    }
}

fn gen_smove(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = vec![g.key(), g.key(), gen_member(g)];
    command(g, "SMOVE", args)
}

fn gen_set_algebra(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = ["SINTER", "SUNION", "SDIFF", "SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"][g.rng.below(6)];
    let mut args = if name.ends_with("STORE") { vec![g.key()] } else { Vec::new() };
    args.extend(g.keys(3));
    command(g, name, args)
}

fn gen_sintercard(g: &mut Gen) -> Vec<Vec<u8>> {
    let keys = g.keys(3);
    let numkeys = match g.rng.below(10) {
        0 => g.one_of(&["0", "-1", "x", "4"]),
        _ => keys.len().to_string().into_bytes(),
    };
    let mut args = vec![numkeys];
    args.extend(keys);
    match g.rng.below(6) {
        0 | 1 => {}
        2 => args.push(g.one_of(&["LIMIT", "FOO"])),
        _ => {
            let limit = g.one_of(&["0", "1", "2", "5", "-1", "x"]);
            args.extend([g.word("LIMIT"), limit]);
        }
    }
    command(g, "SINTERCARD", args)
}

fn gen_spop_srandmember(g: &mut Gen) -> Vec<Vec<u8>> {
    let name = if g.rng.chance(50) { "SPOP" } else { "SRANDMEMBER" };
    let mut args = vec![g.key()];
    if g.rng.chance(75) {
        args.push(g.rng.pick(SET_COUNTS).to_vec());
    }
    if g.rng.chance(3) {
        args.push(b"1".to_vec());
    }
    command(g, name, args)
}

fn gen_lcs(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key(), g.key()];
    for _ in 0..g.rng.below(4) {
        match g.rng.below(10) {
            0..=2 => args.push(g.word("IDX")),
            3 | 4 => args.push(g.word("LEN")),
            5 | 6 => args.push(g.word("WITHMATCHLEN")),
            7 | 8 => args.extend([g.word("MINMATCHLEN"), g.edge_or(NOT_INTS, -2, 5)]),
            _ => args.push(g.one_of(&["FOO", "MINMATCHLEN"])),
        }
    }
    command(g, "LCS", args)
}
/// Scores: mostly small integers and halves, now and then an infinity, a
/// negative zero or something that is not a float.
#[rustfmt::skip]
const SCORES: &[&[u8]] = &[
    b"1", b"2", b"-3", b"0", b"0.5", b"2.5", b"-1.25", b"10", b"+inf", b"-inf", b"inf", b"-0", b"1e3",
    b"nan", b"abc", b"", b" 1",
];

/// Score range bounds: inclusive, exclusive, infinite, invalid, empty.
#[rustfmt::skip]
const SCORE_BOUNDS: &[&[u8]] = &[b"-inf", b"+inf", b"0", b"1", b"(1", b"2.5", b"(2.5", b"10", b"(-inf", b"x", b"", b"("];

/// Sorted set members: few, so that commands meet each other's.
const ZSET_MEMBERS: &[&[u8]] = &[b"m", b"n", b"o", b"", b"\x00\xff", b"member with spaces"];

fn gen_score(g: &mut Gen) -> Vec<u8> {
    if g.rng.chance(70) {
        g.rng.range(-5, 5).to_string().into_bytes()
    } else {
        g.rng.pick(SCORES).to_vec()
    }
}

fn gen_zadd(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    let options = [0, 0, 0, 1, 1, 2][g.rng.below(6)];
    for _ in 0..options {
        args.push(g.one_of(&["NX", "XX", "GT", "LT", "CH", "INCR", "CH"]));
    }
    let pairs = if g.rng.chance(80) { 1 + g.rng.below(4) } else { 0 };
    for _ in 0..pairs {
        args.push(gen_score(g));
        args.push(g.rng.pick(ZSET_MEMBERS).to_vec());
    }
    if g.rng.chance(5) {
        args.push(gen_score(g));
    }
    command(g, "ZADD", args)
}

fn gen_zincrby(g: &mut Gen) -> Vec<Vec<u8>> {
    let args = vec![g.key(), gen_score(g), g.rng.pick(ZSET_MEMBERS).to_vec()];
    command(g, "ZINCRBY", args)
}

fn gen_zread(g: &mut Gen) -> Vec<Vec<u8>> {
    let key = g.key();
    let member = g.rng.pick(ZSET_MEMBERS).to_vec();
    let (min, max) = (g.rng.pick(SCORE_BOUNDS).to_vec(), g.rng.pick(SCORE_BOUNDS).to_vec());
    match g.rng.below(6) {
        0 => command(g, "ZSCORE", vec![key, member]),
        1 => command(g, "ZCARD", vec![key]),
        2 => command(g, "ZCOUNT", vec![key, min, max]),
        3 => command(g, "ZRANK", vec![key, member]),
        4 => command(g, "ZREVRANK", vec![key, member]),
        _ => {
            let members = (0..1 + g.rng.below(3)).map(|_| g.rng.pick(ZSET_MEMBERS).to_vec());
            let args = std::iter::once(key).chain(members).collect();
            command(g, "ZREM", args)
        }
    }
}

fn gen_zrange(g: &mut Gen) -> Vec<Vec<u8>> {
    let mut args = vec![g.key()];
    let by_score = g.rng.chance(50);
    if by_score {
        args.push(g.rng.pick(SCORE_BOUNDS).to_vec());
        args.push(g.rng.pick(SCORE_BOUNDS).to_vec());
        args.push(g.word("BYSCORE"));
    } else {
        args.push(g.edge_or(RANGE_EDGES, -4, 4));
        args.push(g.edge_or(RANGE_EDGES, -4, 4));
    }
    for _ in 0..g.rng.below(3) {
        match g.rng.below(5) {
            0 | 1 => args.push(g.word("WITHSCORES")),
            2 => args.push(g.word("REV")),
            3 => {
                args.push(g.word("LIMIT"));
                args.push(g.edge_or(RANGE_EDGES, -1, 3));
                args.push(g.edge_or(RANGE_EDGES, -1, 3));
            }
            _ => args.push(g.one_of(&["BYSCORE", "FOO", "LIMIT"])),
        }
    }
    command(g, "ZRANGE", args)
}

fn gen_zremove(g: &mut Gen) -> Vec<Vec<u8>> {
    let key = g.key();
    match g.rng.below(4) {
        0 => {
            let args = vec![key, g.edge_or(RANGE_EDGES, -3, 3), g.edge_or(RANGE_EDGES, -3, 3)];
            command(g, "ZREMRANGEBYRANK", args)
        }
        1 => {
            let args = vec![key, g.rng.pick(SCORE_BOUNDS).to_vec(), g.rng.pick(SCORE_BOUNDS).to_vec()];
            command(g, "ZREMRANGEBYSCORE", args)
        }
        _ => {
            let name = if g.rng.chance(50) { "ZPOPMIN" } else { "ZPOPMAX" };
            let mut args = vec![key];
            if g.rng.chance(60) {
                args.push(g.edge_or(RANGE_EDGES, -1, 3));
            }
            command(g, name, args)
        }
    }
}

/// Any command of the model with an argument count its arity rejects.
fn gen_dump(g: &mut Gen) -> Vec<Vec<u8>> {
    let key = g.key();
    command(g, "DUMP", vec![key])
}

/// RESTORE of the last dumped value (now and then a foreign payload), with
/// TTLs and options that are mostly valid.
fn gen_restore(g: &mut Gen) -> Vec<Vec<u8>> {
    let key = g.key();
    let mut options = Vec::new();
    let ttl = match g.rng.below(10) {
        0..=4 => b"0".to_vec(),
        5 | 6 => g.rng.range(1_000_000, 2_000_000_000).to_string().into_bytes(),
        7 | 8 => {
            options.push(g.word("ABSTTL"));
            g.at_ms().to_string().into_bytes()
        }
        _ => g.rng.pick(&[&b"-1"[..], b"abc", b"1.5"]).to_vec(),
    };
    let payload = if g.rng.chance(90) { DUMPED.to_vec() } else { b"\x00\x05hello".to_vec() };
    for _ in 0..g.rng.below(3) {
        match g.rng.below(8) {
            0..=2 => options.push(g.word("REPLACE")),
            3 => options.push(g.word("ABSTTL")),
            4 => options.extend([g.word("IDLETIME"), g.edge_or(&[b"-1", b"x"], 0, 100_000)]),
            5 => options.extend([g.word("FREQ"), g.edge_or(&[b"-1", b"256", b"x"], 0, 255)]),
            _ => options.push(g.one_of(&["FOO", "IDLETIME", "FREQ"])),
        }
    }
    let mut args = vec![key, ttl, payload];
    args.extend(options);
    command(g, "RESTORE", args)
}

fn gen_wrong_arity(g: &mut Gen) -> Vec<Vec<u8>> {
    loop {
        let spec = &COMMANDS[g.rng.below(COMMANDS.len())];
        // ZRANK and ZREVRANK take 3 arguments in Redis 7.0 and 3 or 4
        // (WITHSCORE) since 7.2: only too few are wrong in both.
        let rank = matches!(spec.name, "zrank" | "zrevrank");
        let argc = if spec.arity > 0 {
            let n = 1 + g.rng.below(spec.arity as usize + 2);
            if n == spec.arity as usize || (rank && n > 3) {
                continue;
            }
            n
        } else if spec.arity < -1 {
            1 + g.rng.below((-spec.arity - 1) as usize)
        } else {
            continue;
        };
        let args = (1..argc).map(|_| if g.rng.chance(50) { g.key() } else { g.value() }).collect();
        return command(g, &spec.name.to_ascii_uppercase(), args);
    }
}

type Generator = fn(&mut Gen) -> Vec<Vec<u8>>;

/// Generators and their weights: 1000 for the string and keyspace
/// commands, 270 more for the hash ones, 110 for the bitmap ones and LCS,
/// 60 for DUMP and RESTORE, 255 for the set ones, 260 for the sorted set
/// ones, 250 for the list ones.
#[rustfmt::skip]
const GENERATORS: &[(usize, Generator)] = &[
    (140, gen_set), (80, gen_set_variants), (80, gen_get), (40, gen_getex), (50, gen_mset),
    (80, gen_multi_key), (40, gen_append), (40, gen_strlen_or_type), (40, gen_getrange), (40, gen_setrange),
    (110, gen_incr), (100, gen_expire), (30, gen_persist), (60, gen_clock_query), (30, gen_rename),
    (30, gen_copy), (15, gen_dbsize), (2, gen_flushdb), (13, gen_wrong_arity),
    (70, gen_hset), (15, gen_hsetnx), (50, gen_hget), (25, gen_hmget), (35, gen_hdel), (45, gen_hincrby),
    (30, gen_hash_listing), (25, gen_dump), (35, gen_restore),
    (25, gen_bitop), (25, gen_bitpos), (40, gen_bitfield), (20, gen_lcs),
    (30, gen_hash_listing),
    (70, gen_sadd), (30, gen_srem), (50, gen_set_query), (20, gen_smove), (40, gen_set_algebra),
    (15, gen_sintercard), (30, gen_spop_srandmember),
    (80, gen_zadd), (20, gen_zincrby), (70, gen_zread), (50, gen_zrange), (40, gen_zremove),
    (80, gen_push), (40, gen_list_pop), (50, gen_list_read), (50, gen_list_edit), (30, gen_list_move),
];

fn generate(rng: &mut Rng, model: &Model) -> Vec<Vec<u8>> {
    let total: usize = GENERATORS.iter().map(|(w, _)| w).sum();
    let mut roll = rng.below(total);
    let mut g = Gen { rng, now: model.now(), db: model.db };
    for (weight, make) in GENERATORS {
        if roll < *weight {
            return make(&mut g);
        }
        roll -= weight;
    }
    unreachable!("weights sum to {total}")
}

/// A random command the model can decide, with its expected reply.
fn next_command(rng: &mut Rng, model: &mut Model) -> (Vec<Vec<u8>>, Expect) {
    loop {
        let args = generate(rng, model);
        if let Some(expect) = model.apply(&args) {
            return (args, expect);
        }
    }
}

/// Every key's type, value (GET or HGETALL, the other one failing with
/// WRONGTYPE) and PTTL, and DBSIZE: the state at the end of a sequence.
fn final_sweep(model: &mut Model) -> Vec<(Vec<Vec<u8>>, Expect)> {
    let mut cmds: Vec<Vec<Vec<u8>>> = Vec::new();
    for key in KEYS {
        for name in ["TYPE", "GET", "HGETALL", "SMEMBERS", "PTTL"] {
            cmds.push(vec![name.as_bytes().to_vec(), key.to_vec()]);
        }
        cmds.push([&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"].map(<[u8]>::to_vec).to_vec());
        cmds.push(vec![b"LRANGE".to_vec(), key.to_vec(), b"0".to_vec(), b"-1".to_vec()]);
    }
    cmds.push(vec![b"DBSIZE".to_vec()]);
    cmds.into_iter()
        .map(|args| {
            let expect = model.apply(&args).unwrap_or_else(|| panic!("the model cannot decide {args:?}"));
            (args, expect)
        })
        .collect()
}

// ---------------------------------------------------------------------------
// The driver
// ---------------------------------------------------------------------------

/// A command as redis-cli would show it.
fn show_args(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| format!("\"{}\"", show(a))).collect::<Vec<_>>().join(" ")
}

fn panic_text(cause: &(dyn std::any::Any + Send)) -> String {
    cause
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| cause.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "panic".into())
}

/// One sequence in flight: its seed, model and the commands run so far.
struct Sequence {
    seed: u64,
    rng: Rng,
    model: Model,
    history: Vec<(Vec<Vec<u8>>, Expect)>,
    /// What RESTORE's [`DUMPED`] placeholder is sent as: the payload of
    /// the last DUMP of an earlier batch.
    payload: Vec<u8>,
}

impl Sequence {
    fn new(seed: u64, db: i64) -> Sequence {
        Sequence {
            seed,
            rng: Rng::seeded(seed),
            model: Model::new(db),
            history: Vec::new(),
            payload: NO_PAYLOAD.to_vec(),
        }
    }

    /// The report of a mismatch (or a failed exchange) at `history[index]`.
    fn report(&self, index: usize, got: &str, batch_len: usize) -> String {
        let mut out = format!(
            "command fuzz mismatch: seed {}, database {}, command #{index} of the sequence (in a pipelined batch of \
             {batch_len})\nreplay: FUZZ_SEED={} FUZZ_SEQUENCES=1 cargo test --release --test fuzz_commands \
             random_sequences_agree_with_the_model\nlast commands (each got its expected reply):\n",
            self.seed, self.model.db, self.seed
        );
        for (i, (args, expect)) in self.history.iter().enumerate().take(index).skip(index.saturating_sub(HISTORY)) {
            out.push_str(&format!("  #{i:<5} {}  ->  {}\n", show_args(args), self.model.describe(expect)));
        }
        let (args, expect) = &self.history[index];
        out.push_str(&format!(
            "failing command #{index}: {}\n  model expects: {}\n  server sent:   {got}\n",
            show_args(args),
            self.model.describe(expect)
        ));
        out
    }

    /// Pipeline `cmds` (already applied to the model) and check each reply.
    fn exchange(&mut self, client: &mut RawClient, cmds: Vec<(Vec<Vec<u8>>, Expect)>) -> Result<(), String> {
        let wire: Vec<u8> = cmds.iter().flat_map(|(args, _)| encode(&self.with_payload(args))).collect();
        let first = self.history.len();
        let n = cmds.len();
        self.history.extend(cmds);
        self.model.window().sent = unix_ms();
        let replies = panic::catch_unwind(AssertUnwindSafe(|| {
            client.send(&wire);
            (0..n).map(|_| client.read_reply_bytes()).collect::<Vec<_>>()
        }));
        self.model.window().answered = unix_ms();
        let replies = replies.map_err(|cause| {
            self.report(first, &format!("no complete replies to this batch: {}", panic_text(&*cause)), n)
        })?;
        for (i, got) in replies.iter().enumerate() {
            if !self.model.matches(&self.history[first + i].1, got) {
                return Err(self.report(first + i, &show(got), n));
            }
            self.note_dump(first + i, got);
        }
        Ok(())
    }

    /// `args` as sent: RESTORE's placeholder replaced by the payload.
    fn with_payload(&self, args: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut args = args.to_vec();
        if is(&args[0], "RESTORE") && args.get(3).is_some_and(|p| p == DUMPED) {
            args[3] = self.payload.clone();
        }
        args
    }

    /// Keep the payload of a DUMP's reply for later RESTOREs.
    fn note_dump(&mut self, index: usize, got: &[u8]) {
        let args = &self.history[index].0;
        if is(&args[0], "DUMP") && args.len() == 2 {
            self.payload = dumped_payload(got).unwrap_or_else(|| NO_PAYLOAD.to_vec());
        }
    }

    /// Run `len` random commands and the final sweep; returns the commands sent.
    fn run(&mut self, client: &mut RawClient, len: usize) -> Result<u64, String> {
        let mut done = 0;
        while done < len {
            let n = (1 + self.rng.below(MAX_BATCH)).min(len - done);
            self.model.begin_batch(unix_ms());
            let cmds: Vec<_> = (0..n).map(|_| next_command(&mut self.rng, &mut self.model)).collect();
            self.exchange(client, cmds)?;
            done += n;
        }
        self.model.begin_batch(unix_ms());
        let sweep = final_sweep(&mut self.model);
        let swept = sweep.len();
        self.exchange(client, sweep)?;
        Ok((len + swept) as u64)
    }
}

/// Select the worker's database and empty it.
fn reset_database(client: &mut RawClient, db: i64) -> Result<(), String> {
    for cmd in [vec!["SELECT".to_string(), db.to_string()], vec!["FLUSHDB".to_string()]] {
        let reply = client.call(&cmd);
        if reply != "+OK\r\n" {
            return Err(format!("{cmd:?} answered {}", show(reply.as_bytes())));
        }
    }
    Ok(())
}

/// Run the sequence seeded `seed` on `client`; its length comes from the seed.
fn run_sequence(client: &mut RawClient, db: i64, seed: u64) -> Result<u64, String> {
    reset_database(client, db)?;
    let mut seq = Sequence::new(seed, db);
    let len = 200 + seq.rng.below(800);
    seq.run(client, len)
}

/// What a fuzzing run does and what it found.
struct Run {
    first_seed: u64,
    /// Sequences to run, or None to run until `until`.
    sequences: Option<u64>,
    until: Option<Instant>,
    next: AtomicU64,
    done_sequences: AtomicU64,
    commands: AtomicU64,
    failures: Mutex<Vec<String>>,
    stop: AtomicBool,
}

impl Run {
    fn new(first_seed: u64, sequences: Option<u64>, until: Option<Instant>) -> Run {
        Run {
            first_seed,
            sequences,
            until,
            next: AtomicU64::new(0),
            done_sequences: AtomicU64::new(0),
            commands: AtomicU64::new(0),
            failures: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        }
    }

    /// The seed of the next sequence to run, if the run goes on.
    fn claim(&self) -> Option<u64> {
        if self.stop.load(Ordering::Relaxed) || self.until.is_some_and(|t| Instant::now() >= t) {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        if self.sequences.is_some_and(|n| i >= n) {
            return None;
        }
        Some(self.first_seed.wrapping_add(i))
    }

    fn fail(&self, report: String) {
        let _ = writeln!(std::io::stderr(), "{report}");
        self.stop.store(true, Ordering::Relaxed);
        self.failures.lock().unwrap_or_else(|e| e.into_inner()).push(report);
    }

    /// One connection on database `db`, running sequences until told to stop.
    fn worker(&self, port: u16, db: i64) {
        let mut client = RawClient::connect(port);
        while let Some(seed) = self.claim() {
            match run_sequence(&mut client, db, seed) {
                Ok(n) => {
                    self.commands.fetch_add(n, Ordering::Relaxed);
                    self.done_sequences.fetch_add(1, Ordering::Relaxed);
                }
                Err(report) => {
                    self.fail(report);
                    return;
                }
            }
        }
    }

    fn summary(&self, elapsed: Duration) -> String {
        let commands = self.commands.load(Ordering::Relaxed);
        format!(
            "command fuzz: {} sequences, {commands} commands in {:.1}s ({:.0}/s), {} mismatches, first seed {}",
            self.done_sequences.load(Ordering::Relaxed),
            elapsed.as_secs_f64(),
            commands as f64 / elapsed.as_secs_f64().max(1e-9),
            self.failures.lock().map_or(0, |f| f.len()),
            self.first_seed
        )
    }
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

/// Start a server, run `run` on `threads` connections, report and assert.
fn fuzz(run: Arc<Run>, threads: usize, progress: Option<Duration>) {
    let mut server = TestServer::start();
    let port = server.port();
    let started = Instant::now();
    let workers: Vec<_> = (0..threads.clamp(1, DATABASES as usize))
        .map(|t| {
            let run = Arc::clone(&run);
            std::thread::spawn(move || {
                // A worker that panics (lost connection, model bug) stops the others too.
                if let Err(cause) = panic::catch_unwind(AssertUnwindSafe(|| run.worker(port, t as i64))) {
                    run.fail(format!("worker {t} panicked: {}", panic_text(&*cause)));
                }
            })
        })
        .collect();
    let mut last_report = Instant::now();
    while !workers.iter().all(|w| w.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if progress.is_some_and(|p| last_report.elapsed() >= p) {
            last_report = Instant::now();
            let _ = writeln!(std::io::stderr(), "{}", run.summary(started.elapsed()));
        }
    }
    let panicked = workers.into_iter().map(|w| w.join()).filter(Result::is_err).count();
    server.assert_alive();
    let _ = writeln!(std::io::stderr(), "{} (against {})", run.summary(started.elapsed()), server_kind(&server));
    let failures = run.failures.lock().map(|f| f.join("\n")).unwrap_or_default();
    assert!(panicked == 0 && failures.is_empty(), "command fuzzing failed:\n{failures}");
}

fn server_kind(server: &TestServer) -> &'static str {
    if server.is_redis() {
        "real Redis"
    } else {
        "Redistill"
    }
}

#[test]
fn random_sequences_agree_with_the_model() {
    let first_seed = env_u64("FUZZ_SEED").unwrap_or(1);
    let sequences = env_u64("FUZZ_SEQUENCES").unwrap_or(CI_SEQUENCES);
    fuzz(Arc::new(Run::new(first_seed, Some(sequences), None)), CI_THREADS, None);
}

#[test]
#[ignore = "long-running fuzzer: FUZZ_SECONDS=N cargo test --release --test fuzz_commands -- --ignored"]
fn fuzz_long_run() {
    let seconds = env_u64("FUZZ_SECONDS").unwrap_or(60);
    let threads = env_u64("FUZZ_THREADS")
        .map(|n| n as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let seed = env_u64("FUZZ_SEED").unwrap_or_else(|| unix_ms() as u64);
    let _ = writeln!(
        std::io::stderr(),
        "command fuzz: {seconds}s on {threads} connection(s), first seed {seed} (FUZZ_SECONDS / FUZZ_THREADS / FUZZ_SEED)"
    );
    let until = Instant::now() + Duration::from_secs(seconds);
    fuzz(Arc::new(Run::new(seed, None, Some(until))), threads, Some(Duration::from_secs(60)));
}

// ---------------------------------------------------------------------------
// The model's own parsing rules
// ---------------------------------------------------------------------------

#[test]
fn integer_parsing_follows_string2ll() {
    for ok in ["0", "1", "-1", "9223372036854775807", "-9223372036854775808", "10"] {
        assert!(parse_int(ok.as_bytes()).is_some(), "{ok} should parse");
    }
    for bad in ["", "-", "-0", "+1", "01", " 1", "1 ", "9223372036854775808", "-9223372036854775809", "1.0"] {
        assert!(parse_int(bad.as_bytes()).is_none(), "{bad:?} should not parse");
    }
}

// ---------------------------------------------------------------------------
// RESTORE of hostile payloads
// ---------------------------------------------------------------------------

/// The replies RESTORE may give a payload of unknown bytes.
const RESTORE_REPLIES: &[&str] =
    &["+OK\r\n", "-ERR DUMP payload version or checksum are wrong\r\n", "-ERR Bad data format\r\n"];

/// One edit of a payload: (what, where, byte).
type Edit = (u8, u32, u8);

/// Apply `edits` to `body`: flip a bit, overwrite a byte, insert one,
/// truncate, or repeat a slice.
fn edit(body: &mut Vec<u8>, edits: &[Edit]) {
    for &(what, at, byte) in edits {
        let at = at as usize % (body.len() + 1);
        match what % 5 {
            0 if at < body.len() => body[at] ^= 1 << (byte % 8),
            1 if at < body.len() => body[at] = byte,
            2 => body.insert(at, byte),
            3 => body.truncate(at),
            _ => {
                let slice = body[at..].iter().take(usize::from(byte)).copied().collect::<Vec<_>>();
                body.splice(at..at, slice);
            }
        }
    }
}

/// RESTORE fed random bytes and mutated valid payloads over a socket: bit
/// flips, truncations, insertions, resealed with a right checksum half of
/// the time so the body decoder meets them. Every reply is OK or one of
/// the payload errors, and the server stays up and answers. Against real
/// Redis the resealed payloads are foreign: it refuses them, and lives.
#[test]
fn restore_of_hostile_payloads_answers_and_the_server_lives() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    use redistill::store::serialize::seal;

    let mut server = TestServer::start();
    let mut c = server.raw();
    c.call(&["SET", "s", "hello"]);
    c.call(&["SET", "n", "12345"]);
    c.call(&["HSET", "h", "a", "1", "bb", "22", "ccc", ""]);
    for i in 0..600 {
        c.call(&["HSET", "big", &format!("field:{i}"), "v"]);
    }
    let seeds: Vec<Vec<u8>> =
        ["s", "n", "h", "big"].iter().map(|key| c.call_resp(&["DUMP", key]).bytes().to_vec()).collect();
    let mutated = (0..seeds.len(), prop::collection::vec(any::<Edit>(), 1..6), any::<bool>()).prop_map(
        move |(seed, edits, reseal)| {
            let payload = &seeds[seed];
            if !reseal {
                let mut raw = payload.clone();
                edit(&mut raw, &edits);
                return raw;
            }
            let mut body = payload[..payload.len().saturating_sub(10)].to_vec();
            edit(&mut body, &edits);
            seal(body)
        },
    );
    let input = prop_oneof![prop::collection::vec(any::<u8>(), 0..64), mutated];
    let cases = std::env::var("FUZZ_RESTORE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(2000);
    let mut runner = TestRunner::new(Config { cases, failure_persistence: None, ..Config::default() });
    // The runner wants an `Fn`; the one connection is used in turn.
    let c = std::cell::RefCell::new(c);
    let outcome = runner.run(&input, |payload| {
        let mut c = c.borrow_mut();
        let reply = c.call(&[&b"RESTORE"[..], b"k", b"0", &payload, b"REPLACE"]);
        prop_assert!(RESTORE_REPLIES.contains(&reply.as_str()), "RESTORE answered {}", show(reply.as_bytes()));
        if reply == RESTORE_REPLIES[0] {
            // What was restored is whole: it reads back as a value.
            let kind = c.call(&["TYPE", "k"]);
            prop_assert!(kind == "+string\r\n" || kind == "+hash\r\n", "TYPE {kind}");
            c.send_cmd(&["DUMP", "k"]);
            let dumped = c.read_reply_bytes();
            prop_assert!(dumped_payload(&dumped).is_some(), "DUMP {}", show(&dumped));
        }
        Ok(())
    });
    if let Err(failure) = outcome {
        panic!("{failure}");
    }
    assert_eq!(c.borrow_mut().call(&["PING"]), "+PONG\r\n");
    server.assert_alive();
}

//! Fuzzing the command layer against a reference model.
//!
//! This file owns the model-based check of the string, hash, list and
//! keyspace commands: a plain `HashMap` model of one database (strings, hashes and lists,
//! expiry deadlines, counters) that answers every command the way Redis 7
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
//!   HSTRLEN, HINCRBY, HKEYS, HVALS, HGETALL; LPUSH, RPUSH, LPUSHX, RPUSHX,
//!   LPOP, RPOP (count), LLEN, LRANGE, LINDEX, LSET, LINSERT, LREM, LTRIM,
//!   LPOS (RANK, COUNT, MAXLEN), LMOVE, RPOPLPUSH, LMPOP (the blocking forms
//!   are tested in tests/it/blocking.rs); and wrong-arity calls of all of
//!   them; command names and options in random case. Strings, hashes and
//!   lists share the keys, so WRONGTYPE comes up every way, SET and MSET
//!   replace a hash or a list, and the keyspace commands move, copy and
//!   expire every type.
//!   HINCRBYFLOAT is left out: Redis parses with `strtold`, adds in `long
//!   double` and prints `%.17Lf`, which the model cannot match digit for digit.
//! * Data: eight keys (the empty key and binary ones among them), seven hash
//!   fields (the empty field and a binary one among them); values that
//!   sit on the integer parser's edges (`-0`, `007`, `+5`, i64 limits and one
//!   past them, empty strings, binary bytes) and now and then one of 16 KiB
//!   or more.
//! * Replies are compared byte for byte as raw RESP2, except HKEYS, HVALS and
//!   HGETALL (any order of the elements, or of HGETALL's pairs), and TTL, PTTL,
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

use std::collections::{HashMap, VecDeque};
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

fn array_reply(items: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", items.len()).into_bytes();
    items.iter().for_each(|item| out.extend(bulk_reply(item)));
    out
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

/// A key's value: a string, a hash (field -> value) or a list.
#[derive(Clone, Debug)]
enum Value {
    Str(Vec<u8>),
    Hash(HashMap<Vec<u8>, Vec<u8>>),
    List(VecDeque<Vec<u8>>),
}

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

/// One database of a Redis 7 server holding strings and hashes.
struct Model {
    db: i64,
    keys: HashMap<Vec<u8>, Entry>,
    /// One window per batch of this sequence, the current batch last.
    windows: Vec<Window>,
}

impl Model {
    fn new(db: i64) -> Model {
        Model { db, keys: HashMap::new(), windows: Vec::new() }
    }

    /// Start a batch generated at `now` (unix ms).
    fn begin_batch(&mut self, now: i64) {
        self.windows.push(Window { nominal: now, sent: now, answered: now });
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

    // -- lists --------------------------------------------------------------

    /// The list at `key`: None when there is no key, WRONGTYPE for another type.
    fn list(&self, key: &[u8]) -> Step<Option<&VecDeque<Vec<u8>>>> {
        match self.keys.get(key).map(|e| &e.value) {
            None => Ok(None),
            Some(Value::List(l)) => Ok(Some(l)),
            Some(_) => fail(WRONGTYPE),
        }
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
            Some(n) => array_reply(&self.take(&a[1], left, n)),
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
        Ok(Expect::Exact(array_reply(&items)))
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
                out.extend(array_reply(&self.take(key, left, count)));
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
            Expect::Exact(want) => got == want.as_slice(),
            Expect::Clock { kind, deadline, batch } => {
                let (lo, hi) = self.clock_range(*kind, *deadline, *batch);
                integer_reply(got).is_some_and(|n| (lo..=hi).contains(&(n as i128)))
            }
            Expect::Unordered { items, group } => {
                bulk_array(got).is_some_and(|got| grouped(&got, *group) == grouped(items, *group))
            }
        }
    }

    fn describe(&self, expect: &Expect) -> String {
        match expect {
            Expect::Exact(want) => show(want),
            Expect::Clock { kind, deadline, batch } => {
                let (lo, hi) = self.clock_range(*kind, *deadline, *batch);
                format!("{kind:?} integer in [{lo}, {hi}] (deadline {deadline:?})")
            }
            Expect::Unordered { items, group } => {
                let groups: Vec<Vec<u8>> = grouped(items, *group).into_iter().flatten().cloned().collect();
                format!("in any order of groups of {group}: {}", show(&bulk_array_reply(&groups)))
            }
        }
    }
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

/// Any command of the model with an argument count its arity rejects.
fn gen_wrong_arity(g: &mut Gen) -> Vec<Vec<u8>> {
    loop {
        let spec = &COMMANDS[g.rng.below(COMMANDS.len())];
        let argc = if spec.arity > 0 {
            let n = 1 + g.rng.below(spec.arity as usize + 2);
            if n == spec.arity as usize {
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
/// commands, 270 more for the hash ones, 250 for the list ones.
#[rustfmt::skip]
const GENERATORS: &[(usize, Generator)] = &[
    (140, gen_set), (80, gen_set_variants), (80, gen_get), (40, gen_getex), (50, gen_mset),
    (80, gen_multi_key), (40, gen_append), (40, gen_strlen_or_type), (40, gen_getrange), (40, gen_setrange),
    (110, gen_incr), (100, gen_expire), (30, gen_persist), (60, gen_clock_query), (30, gen_rename),
    (30, gen_copy), (15, gen_dbsize), (2, gen_flushdb), (13, gen_wrong_arity),
    (70, gen_hset), (15, gen_hsetnx), (50, gen_hget), (25, gen_hmget), (35, gen_hdel), (45, gen_hincrby),
    (30, gen_hash_listing),
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
        for name in ["TYPE", "GET", "HGETALL", "PTTL"] {
            cmds.push(vec![name.as_bytes().to_vec(), key.to_vec()]);
        }
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
}

impl Sequence {
    fn new(seed: u64, db: i64) -> Sequence {
        Sequence { seed, rng: Rng::seeded(seed), model: Model::new(db), history: Vec::new() }
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
        let wire: Vec<u8> = cmds.iter().flat_map(|(args, _)| encode(args)).collect();
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
        }
        Ok(())
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

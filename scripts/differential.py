#!/usr/bin/env python3
"""Differential test: Redistill against a real redis-server.

Starts both servers on free loopback ports (Redis with --save '' --appendonly
no), then sends the same seeded random command sequence to each over a raw
socket (RESP2) and compares the replies byte for byte. It stops at the first
reply that differs and prints the command index, the command, both replies
and the commands just before it, plus the command line that replays the run.

Replies are compared exactly, with these exceptions, all about time:
  * TTL / PTTL (and EXPIRETIME / PEXPIRETIME in --extended) may differ by a
    tolerance, since the two servers do not see a command at the same instant.
  * DBSIZE counts keys whose expiry has passed but which neither server has
    reclaimed yet; it may differ by the number of such keys.
  * A difference on a command whose key is, at that instant, within a few
    milliseconds of a deadline the run gave it is an expiry race, not a bug:
    it is counted, both servers' copies of the keys are deleted to bring them
    back in step, and the run goes on. Too many races fail the run.

The command mix covers the commands Redistill implements (strings, keys,
hashes, the bitmap commands BITOP, BITPOS, BITFIELD (GET, SET, INCRBY,
OVERFLOW WRAP/SAT/FAIL) and BITFIELD_RO, LCS (LEN, IDX, MINMATCHLEN,
WITHMATCHLEN), DBSIZE, SELECT, ECHO, PING) with valid and invalid options, wrong arity,
non-integer arguments and unknown commands, over a small key space (so
commands collide) with short expiries and the odd pause so keys really expire.
Hashes (HSET, HSETNX, HGET, HMGET, HDEL, HEXISTS, HLEN, HSTRLEN, HINCRBY,
HINCRBYFLOAT, HKEYS, HVALS, HGETALL) go mostly to keys h0..h2 and sometimes
to the string keys (WRONGTYPE); string commands, SET and TYPE go to the hash
keys too. Hashes stay small (a few fields of at most 64 bytes), where Redis
keeps insertion order, so HKEYS / HVALS / HGETALL compare byte for byte.
`--no-hashes` leaves them out.
<DUMP-RESTORE> is a round trip, not one command: each server DUMPs a key and
RESTOREs its own payload (with TTLs, REPLACE, ABSTTL, IDLETIME, FREQ, and
their errors) under another; payload formats differ, so what is compared is
whether DUMP found the key, RESTORE's reply and the restored value (TYPE and
GET or HGETALL), not the payload bytes.
Sets (SADD, SREM, SISMEMBER, SMISMEMBER, SCARD,
SMEMBERS, SMOVE, SINTER, SUNION, SDIFF and their STORE forms, SINTERCARD,
SPOP, SRANDMEMBER, SSCAN) go mostly to keys s0..s2: member lists compare in
any order, SRANDMEMBER by shape and size, and SPOP only where it is not random.
`--no-sets` leaves them out.
Sorted sets (ZADD with its options, ZINCRBY, ZREM, ZSCORE, ZMSCORE, ZCARD,
ZCOUNT, the ZRANGE family by rank and score with REV/LIMIT/WITHSCORES,
ZRANGESTORE, ZRANK, ZREVRANK, ZREMRANGEBYRANK/SCORE, ZPOPMIN, ZPOPMAX, ZMPOP,
ZUNION/ZINTER/ZDIFF and their STORE forms, ZINTERCARD, ZSCAN) go mostly to
keys z0..z2 and sometimes to the other keys (WRONGTYPE); the lex commands
(ZLEXCOUNT, ZRANGEBYLEX, ZREVRANGEBYLEX, ZREMRANGEBYLEX, ZRANGE BYLEX) keep
to keys zl0, zl1, whose members all score 0, as lex ranges require. Scores
are integers, halves and infinities, which Redis 7.0 (%.17g) and 7.2
(shortest digits) print alike. `--no-zsets` leaves them out.
Lists (LPUSH, RPUSH, LPUSHX, RPUSHX, LPOP, RPOP, LLEN, LRANGE, LINDEX, LSET,
LINSERT, LREM, LTRIM, LPOS, LMOVE, RPOPLPUSH, LMPOP) go mostly to keys l0..l2
and sometimes to the string keys; `--no-lists` leaves them out (the blocking
forms are tested in tests/it/blocking.rs).
SORT and SORT_RO (numeric and ALPHA, ASC/DESC, LIMIT, BY nosort, BY and GET
patterns over the string and hash keys, STORE) go mostly to the list keys, in
the forms whose replies do not depend on a set's internal order (see g_sort);
they are counted with the lists.
`--extended` adds commands being implemented now (APPEND, STRLEN, GETRANGE,
GETDEL, GETEX, INCRBYFLOAT, ..., and PUBLISH, SPUBLISH and PUBSUB's
introspection with nobody subscribed: their replies and errors; delivery is
tested in tests/it/pubsub.rs), `--with APPEND,STRLEN` adds just those; see
COMMANDS below to add more.

Usage:
  scripts/differential.py [--seed N] [--count N] [--extended | --with CMDS] [--no-hashes] [--no-sets] [--no-zsets] [--no-lists]
                          [--redistill-bin PATH] [--redis-bin PATH]
                          [--skip CMDS] [--only CMDS] [--max-mismatches N] [-v]
Exit status: 0 all replies matched, 1 a mismatch, 2 a setup error.
Only the Python 3 standard library is needed. `--max-mismatches 1000` lists
every mismatch of a run (the keys involved are resynchronised after each).
"""

import argparse
import os
import random
import shlex
import shutil
import sys
import tempfile
import time

from redistill_bench import REPO_ROOT, Conn, Server, array_items, encode

# How close (ms) to a deadline a key must be for a mismatch on it to count as
# an expiry race. The two servers see each command within well under a
# millisecond of each other; this leaves room for a loaded CI machine.
RACE_MARGIN_MS = 40
# How long after a deadline an expired key may still be counted by DBSIZE
# (neither server reclaims expired keys the instant they expire).
RECLAIM_GRACE_MS = 2000
# Tolerances for the TTL-like replies.
TTL_TOLERANCE_S = 1
PTTL_TOLERANCE_MS = 50
# More excused races than this fraction of the commands (and at least
# MIN_RACES_ALLOWED) fails the run: races should be rare.
MAX_RACE_FRACTION = 0.01
MIN_RACES_ALLOWED = 10

def now_ms():
    return time.time() * 1000.0


def show(b, limit=300):
    s = repr(bytes(b))
    if len(s) > limit:
        s = s[:limit] + "... (%d bytes)" % len(b)
    return s


def show_cmd(args):
    return " ".join(show(a, 80)[1:] for a in args)


# ---------------------------------------------------------------------------
# Command generation
# ---------------------------------------------------------------------------


class Cmd:
    """One generated command.

    args: bytes, or callables taking the send time (unix ms) and returning
          bytes (absolute timestamps for EXAT / PXAT / EXPIREAT, which must be
          relative to when the command is sent, not when it was generated).
    keys: the keys it names (for expiry-race detection and resync).
    compare: how replies are compared (see compare_replies).
    sleep_ms: not a command: pause this long (so short expiries pass).
    """

    def __init__(self, args, keys=(), compare="exact", sleep_ms=0):
        self.args = args
        self.keys = list(keys)
        self.compare = compare
        self.sleep_ms = sleep_ms

    def resolve(self, t_ms):
        return [a(t_ms) if callable(a) else a for a in self.args]


INT_MAX = 9223372036854775807
INT_MIN = -9223372036854775808
BAD_INTS = [b"", b"abc", b"1.5", b" 1", b"1 ", b"01", b"+1", b"-0", b"1e3", b"0x1f", b"9223372036854775808",
            b"-9223372036854775809", b"--1", b"\x00", b"12abc"]
EDGE_INTS = [INT_MAX, INT_MIN, INT_MAX - 1, INT_MIN + 1, 0, -1, 1]


# Hash commands name these keys most of the time, and a few fields; names and
# values stay at most 64 bytes (see Gen.hvalue).
HASH_KEYS = [b"h0", b"h1", b"h2"]
ZSET_KEYS = [b"z0", b"z1", b"z2"]
LEX_KEYS = [b"zl0", b"zl1"]
ZSET_MEMBERS = [b"a", b"b", b"c", b"d", b"e", b"f", b"", b"\x00\r\n", b"m" * 64]
# Scores print the same in Redis 7.0 and 7.2; some are not floats at all.
ZSET_SCORES = [b"0", b"1", b"2", b"-1", b"3", b"0.5", b"-2.5", b"10", b"+inf", b"-inf", b"1e2", b"-0",
               b"nan", b"x", b""]
SCORE_BOUNDS = [b"-inf", b"+inf", b"0", b"1", b"(1", b"2", b"(2", b"0.5", b"(-inf", b"10", b"x", b""]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[c", b"(c", b"[e", b"(f", b"[", b"(", b"a", b"+x"]
LIST_KEYS = [b"l0", b"l1", b"l2"]
LIST_ITEMS = [b"a", b"b", b"c", b"x", b"", b"1", b"\x00\r\n"]
HASH_FIELDS = [b"f0", b"f1", b"f2", b"f3", b"f4", b"f5", b"f0", b"f1", b"", b"\x00\r\n", b"x" * 64]

# Set commands name these keys most of the time, and these members: integers
# (Redis keeps a set of them as an intset), the integer parser's edges,
# strings, the empty member and a binary one.
SET_KEYS = [b"s0", b"s1", b"s2"]
SET_MEMBERS = [b"1", b"2", b"3", b"-5", b"100", b"007", b"-0", b"9223372036854775807", b"9223372036854775808",
               b"a", b"b", b"member", b"", b"\x00\r\n", b"y" * 65]


def at_seconds(off):
    return lambda t: b"%d" % (int(t // 1000) + off)


def at_millis(off):
    return lambda t: b"%d" % (int(t) + off)


class Gen:
    def __init__(self, rng):
        self.rng = rng
        self.keys = [b"k%d" % i for i in range(6)] + [b"n0", b"n1"]

    def chance(self, p):
        return self.rng.random() < p

    def key(self):
        if self.chance(0.02):
            return self.rng.choice([b"", b"k\x00\r\n", b"\xff" * 3])
        return self.rng.choice(self.keys)

    def hkey(self):
        """The key of a hash command: mostly one of the hash keys, sometimes a
        string command's or a set's key (WRONGTYPE when it holds a string or
        a set)."""
        r = self.rng.random()
        if r < 0.7:
            return self.rng.choice(HASH_KEYS)
        return self.rng.choice(SET_KEYS) if r < 0.75 else self.key()

    def field(self):
        return self.rng.choice(HASH_FIELDS)

    def skey(self):
        """The key of a set command: mostly one of the set keys, sometimes
        another command's key (WRONGTYPE when it holds a string or a hash)."""
        r = self.rng.random()
        if r < 0.75:
            return self.rng.choice(SET_KEYS)
        return self.rng.choice(HASH_KEYS) if r < 0.8 else self.key()

    def member(self):
        return self.rng.choice(SET_MEMBERS)
    def lkey(self):
        """The key of a list command: mostly one of the list keys, sometimes a
        string command's key (WRONGTYPE when it holds a string)."""
        if self.chance(0.75):
            return self.rng.choice(LIST_KEYS)
        return self.key()

    def item(self):
        """A list element: few distinct ones, for LREM, LPOS and LINSERT."""
        return self.rng.choice(LIST_ITEMS) if self.chance(0.8) else self.value()

    def index(self):
        return self.int_arg(-8, 8)

    def hvalue(self):
        """A hash value of at most 64 bytes: Redis keeps a hash of at most 128
        such fields as a listpack, in insertion order, so HKEYS, HVALS and
        HGETALL replies compare byte for byte."""
        return self.value()[:64]

    def some_keys(self, lo=1, hi=4):
        return [self.key() for _ in range(self.rng.randint(lo, hi))]

    def case(self, name):
        """Command names and options are case-insensitive: vary them."""
        r = self.rng.random()
        if r < 0.8:
            return name
        if r < 0.9:
            return name.lower()
        return bytes(c ^ 0x20 if (65 <= c <= 90 or 97 <= c <= 122) and self.chance(0.5) else c for c in name)

    def value(self):
        r = self.rng.random()
        if r < 0.35:
            return b"%d" % self.rng.randint(-100, 100)
        if r < 0.45:
            return b"%d" % self.rng.choice(EDGE_INTS)
        if r < 0.55:
            return self.rng.choice(BAD_INTS)
        if r < 0.65:
            return b"%r" % self.rng.choice([0.5, -1.25, 3.0e10, 1e-5, 10.0, 7.1])
        if r < 0.90:
            return bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 24)))
        if r < 0.97:
            # Around 16 KiB, where Redistill switches to a zero-copy write.
            n = self.rng.choice([16383, 16384, 16385, 20000, 70000])
            return bytes([self.rng.randint(97, 122)]) * n
        return self.rng.choice([b"hello world", b"\r\n", b"$3\r\nfoo\r\n", b"*1\r\n", b"'quoted\""])

    def int_arg(self, lo=-100, hi=100):
        r = self.rng.random()
        if r < 0.80:
            return b"%d" % self.rng.randint(lo, hi)
        if r < 0.90:
            return b"%d" % self.rng.choice(EDGE_INTS)
        return self.rng.choice(BAD_INTS)

    def _relative(self, hi, small, huge):
        """A relative time: mostly 1..hi, sometimes small (0, negative) or
        huge, sometimes not an integer."""
        r = self.rng.random()
        if r < 0.80:
            return b"%d" % self.rng.randint(1, hi)
        if r < 0.88:
            return b"%d" % self.rng.choice(small)
        if r < 0.94:
            return b"%d" % self.rng.choice(huge)
        return self.rng.choice(BAD_INTS)

    def secs(self):
        """A relative seconds argument: mostly short, sometimes invalid."""
        return self._relative(3, [0, -1, -100], [INT_MAX, INT_MAX // 1000, INT_MAX // 1000 + 1, INT_MIN, 100000])

    def millis(self):
        return self._relative(1500, [0, -1, -5000], [INT_MAX, INT_MAX - 1, INT_MIN, 100000000])

    def _absolute(self, at, hi, past):
        """An absolute unix time, resolved at send time by at(offset)."""
        r = self.rng.random()
        if r < 0.75:
            return at(self.rng.randint(1, hi))
        if r < 0.85:
            return at(self.rng.choice(past))
        if r < 0.92:
            return self.rng.choice([b"0", b"-1", b"%d" % INT_MAX, b"1"])
        return self.rng.choice(BAD_INTS)

    def unix_s(self):
        return self._absolute(at_seconds, 3, [-1, -100])

    def unix_ms(self):
        return self._absolute(at_millis, 1500, [-1, -5000])

    def expiry_opt(self, opt):
        """The value for an EX / PX / EXAT / PXAT option."""
        return {b"EX": self.secs, b"PX": self.millis, b"EXAT": self.unix_s, b"PXAT": self.unix_ms}[opt]()


# --- generators: one per command; each returns a Cmd ------------------------


def g_set(g):
    k = g.key()
    args = [g.case(b"SET"), k, g.value()]
    for _ in range(g.rng.choice([0, 0, 1, 1, 1, 2, 2, 3])):
        opt = g.rng.choice([b"EX", b"PX", b"EXAT", b"PXAT", b"NX", b"XX", b"GET", b"KEEPTTL", b"NX", b"GET",
                            b"XX", b"EX", b"PX"])
        if g.chance(0.02):
            opt = g.rng.choice([b"FOO", b"E", b"EXX", b"PERSIST"])
        args.append(g.case(opt))
        if opt in (b"EX", b"PX", b"EXAT", b"PXAT"):
            args.append(g.expiry_opt(opt))
    if g.chance(0.03):
        args.append(g.case(g.rng.choice([b"EX", b"PX", b"EXAT", b"PXAT"])))  # missing its value
    return Cmd(args, [k])


def g_mget(g):
    ks = g.some_keys(1, 5)
    return Cmd([g.case(b"MGET")] + ks, ks)


def key_value_pairs(name, hi, odd=0.0):
    """The generator of NAME K V [K V ...] with 1..hi pairs; with chance odd
    the last value is left off (wrong arity)."""

    def gen(g):
        args = [g.case(name)]
        ks = []
        for _ in range(g.rng.randint(1, hi)):
            k = g.key()
            ks.append(k)
            args += [k, g.value()]
        if odd and g.chance(odd):
            args.pop()
        return Cmd(args, ks)

    return gen


def g_del(g):
    ks = g.some_keys(1, 4)
    return Cmd([g.case(b"DEL")] + ks, ks)


def g_exists(g):
    ks = g.some_keys(1, 4)
    return Cmd([g.case(b"EXISTS")] + ks, ks)


def expire_opts(g):
    opts = []
    for _ in range(g.rng.choice([0, 0, 0, 1, 1, 2])):
        opts.append(g.case(g.rng.choice([b"NX", b"XX", b"GT", b"LT", b"NX", b"XX", b"GT", b"LT", b"FOO"])))
    return opts


def keyed(name, *more, compare="exact", key=Gen.key):
    """The generator of NAME KEY MORE...: key(g) picks KEY; each of more is a
    function of the Gen that returns one argument, or a list of them."""

    def gen(g):
        k = key(g)
        args = [g.case(name), k]
        for f in more:
            a = f(g)
            args += a if isinstance(a, list) else [a]
        return Cmd(args, [k], compare=compare)

    return gen


def g_dbsize(g):
    return Cmd([g.case(b"DBSIZE")], compare="dbsize")


def g_select(g):
    r = g.rng.random()
    if r < 0.85:
        db = b"%d" % g.rng.choice([0, 0, 0, 1, 1, 15])
    elif r < 0.93:
        db = g.rng.choice([b"16", b"-1", b"100", b"%d" % INT_MAX])
    else:
        db = g.rng.choice(BAD_INTS)
    return Cmd([g.case(b"SELECT"), db])


def g_echo(g):
    return Cmd([g.case(b"ECHO"), g.value()])


def g_ping(g):
    return Cmd([g.case(b"PING")] + ([g.value()] if g.chance(0.5) else []))


CHANNELS = [b"ch0", b"ch1", b"news.tech", b"*"]


def g_publish(g):
    """PUBLISH / SPUBLISH with nobody subscribed: 0, or the arity error."""
    name = g.rng.choice([b"PUBLISH", b"SPUBLISH"])
    return Cmd([g.case(name), g.rng.choice(CHANNELS), g.value()])


def g_pubsub(g):
    """PUBSUB's introspection with nobody subscribed, and its errors."""
    sub = g.rng.choice([b"NUMSUB", b"SHARDNUMSUB", b"NUMPAT", b"CHANNELS", b"SHARDCHANNELS", b"NOPE"])
    extra = [g.rng.choice(CHANNELS) for _ in range(g.rng.randint(0, 3))]
    return Cmd([g.case(b"PUBSUB"), g.case(sub)] + extra)


def g_unknown(g):
    name = g.rng.choice([b"NOSUCHCMD", b"GETT", b"SETT", b"XYZZY", b"GET ", b" GET", b"", b"\x00\xff",
                         b"SET\r\n", b"a" * 200, b"FOO-BAR"])
    args = [g.value() for _ in range(g.rng.randint(0, 4))]
    if g.chance(0.1):
        args.append(b"x" * 300)  # Redis truncates the quoted arguments
    return Cmd([name] + args)


def g_sleep(g):
    """Not a command: pause so short expiries actually pass."""
    return Cmd([], sleep_ms=g.rng.choice([5, 20, 50, 120, 250]))


# --- --extended: commands being added; switch them on with --extended ------


def g_getrange(g):
    k = g.key()
    name = g.rng.choice([b"GETRANGE", b"GETRANGE", b"SUBSTR"])
    return Cmd([g.case(name), k, g.int_arg(-30, 30), g.int_arg(-30, 30)], [k])


def g_setrange(g):
    k = g.key()
    off = g.int_arg(0, 40) if g.chance(0.9) else g.rng.choice([b"-1", b"536870912", b"536870911"])
    val = g.value()[:100]
    if off == b"536870911":
        val = b""  # don't make both servers allocate 512 MiB
    return Cmd([g.case(b"SETRANGE"), k, off, val], [k])


def g_getex(g):
    k = g.key()
    args = [g.case(b"GETEX"), k]
    for _ in range(g.rng.choice([0, 1, 1, 2])):
        opt = g.rng.choice([b"EX", b"PX", b"EXAT", b"PXAT", b"PERSIST", b"FOO"])
        args.append(g.case(opt))
        if opt in (b"EX", b"PX", b"EXAT", b"PXAT"):
            args.append(g.expiry_opt(opt))
    return Cmd(args, [k])


def float_incr(g):
    """An INCRBYFLOAT / HINCRBYFLOAT increment, valid or not."""
    return g.rng.choice([b"1", b"-1", b"0.1", b"1.5", b"-2.25", b"1e3", b"3.0e-5", b"10", b"5.0e3", b"0",
                         b"-0", b"inf", b"nan", b"abc", b"", b"1.7976931348623157e308", b" 1", b"0x10",
                         b"%r" % g.rng.uniform(-1000, 1000)])


def multi_key(name):
    def gen(g):
        ks = g.some_keys(1, 3)
        return Cmd([g.case(name)] + ks, ks)

    return gen


def two_keys(name):
    def gen(g):
        a, b = g.key(), g.key()
        return Cmd([g.case(name), a, b], [a, b])

    return gen


def g_multi(g):
    return Cmd([g.case(b"MULTI")])


def g_exec(g):
    return Cmd([g.case(b"EXEC")])


def g_discard(g):
    return Cmd([g.case(b"DISCARD")])


def g_keys(g):
    pattern = g.rng.choice([b"*", b"k*", b"n?", b"[kn]0", b"k[0-2]", b"*\x00*", b"nomatch*", b"[^k]*", b"\\k*"])
    return Cmd([g.case(b"KEYS"), pattern], g.keys, compare="unordered")


def g_copy(g):
    a, b = g.key(), g.key()
    args = [g.case(b"COPY"), a, b]
    if g.chance(0.3):
        args += [g.case(b"DB"), g.rng.choice([b"0", b"1", b"15", b"16", b"-1", b"x"])]
    if g.chance(0.4):
        args.append(g.case(b"REPLACE"))
    return Cmd(args, [a, b])


def g_move(g):
    k = g.key()
    return Cmd([g.case(b"MOVE"), k, g.rng.choice([b"0", b"1", b"1", b"15", b"16", b"-1", b"x"])], [k])


# --- hashes -----------------------------------------------------------------


def hashed(name, *more):
    """The generator of a hash command NAME HKEY MORE... (see keyed)."""
    return keyed(name, *more, key=Gen.hkey)


def field_values(g):
    """1..3 field-value pairs; now and then the last value is left off."""
    args = []
    for _ in range(g.rng.randint(1, 3)):
        args += [g.field(), g.hvalue()]
    if g.chance(0.03):
        args.pop()
    return args


def hash_float_incr(g):
    """A HINCRBYFLOAT increment: float_incr's, but none whose result would
    take over 64 bytes (1.79e308 prints as 309 digits), which would turn
    Redis's listpack into a hash table of another order."""
    inc = float_incr(g)
    return b"1.5e3" if len(inc) > 20 else inc


# --- lists ------------------------------------------------------------------


def listed(name, *more):
    """The generator of a list command NAME LKEY MORE... (see keyed)."""
    return keyed(name, *more, key=Gen.lkey)


def some_items(g):
    return [g.item() for _ in range(g.rng.randint(1, 4))]


def pop_count(g):
    return [] if g.chance(0.5) else [g.int_arg(-1, 5)]


def lpos_options(g):
    opts = []
    for _ in range(g.rng.choice([0, 0, 1, 1, 2, 3])):
        name = g.rng.choice([b"RANK", b"COUNT", b"MAXLEN", b"RANK", b"FOO"])
        value = g.int_arg(-3, 4)
        # Redis 7.2 refuses RANK LONG_MIN, which 7.0 (the reference) takes.
        opts += [g.case(name), b"-1" if value == b"%d" % -(1 << 63) else value]
    return opts


def end(g):
    return g.case(g.rng.choice([b"LEFT", b"RIGHT", b"LEFT", b"RIGHT", b"UP"]))


def g_lmove(g):
    a, b = g.lkey(), g.lkey()
    if g.chance(0.3):
        return Cmd([g.case(b"RPOPLPUSH"), a, b], [a, b])
    return Cmd([g.case(b"LMOVE"), a, b, end(g), end(g)], [a, b])


def g_lmpop(g):
    ks = [g.lkey() for _ in range(g.rng.randint(1, 3))]
    numkeys = b"%d" % len(ks) if g.chance(0.9) else g.int_arg(-1, 4)
    args = [g.case(b"LMPOP"), numkeys] + ks + [end(g)]
    if g.chance(0.5):
        args += [g.case(g.rng.choice([b"COUNT", b"COUNT", b"FOO"])), g.int_arg(-1, 4)]
    return Cmd(args, ks)


# --- SORT ---------------------------------------------------------------------

# GET patterns: the element, string keys k0..k5 (elements 0..5 name them),
# a hash field of h0..h2, a pattern naming no key.
SORT_GETS = [b"#", b"k*", b"h*->f1", b"nostar"]


def g_sort(g):
    """SORT or SORT_RO in the forms whose reply does not depend on a set's or
    a sorted set's internal order (which differ between the servers): a
    numeric sort (ties go by the elements' bytes), ALPHA (byte order; ties,
    only between elements equal up to a NUL, keep a list's order in both:
    glibc's qsort is stable) on lists or when storing, ALPHA with BY only on
    lists and without LIMIT (Redis's partial sort is not stable), BY nosort
    only on lists and sorted sets unless storing (a stored set is sorted),
    and now and then a bogus option. SORT turns a sorted set it sorts into
    its large encoding for good (so ZSCAN compares pairs in any order)."""
    ro = g.chance(0.25)
    store = None if ro or not g.chance(0.3) else g.rng.choice([g.rng.choice(LIST_KEYS), g.key()])
    alpha, nosort = g.chance(0.4), g.chance(0.2)
    by = None if nosort or not g.chance(0.3) else g.rng.choice([b"k*", b"h*->f0"])
    limit = g.chance(0.4) and not (alpha and by)
    if (alpha and (by or not store)) or (nosort and not store):
        key = g.rng.choice(LIST_KEYS + ZSET_KEYS if nosort and not alpha else LIST_KEYS)
    else:
        key = g.rng.choice([g.lkey, g.lkey, g.skey, lambda: zkey(g)])()
    opts = []
    if nosort:
        opts.append([g.case(b"BY"), b"nosort"])
    if by:
        opts.append([g.case(b"BY"), by])
    if limit:
        opts.append([g.case(b"LIMIT"), g.int_arg(-2, 6), g.int_arg(-2, 6)])
    for _ in range(g.rng.choice([0, 0, 1, 2])):
        opts.append([g.case(b"GET"), g.rng.choice(SORT_GETS)])
    if alpha:
        opts.append([g.case(b"ALPHA")])
    if g.chance(0.5):
        opts.append([g.case(g.rng.choice([b"ASC", b"DESC"]))])
    if store:
        opts.append([g.case(b"STORE"), store])
    if g.chance(0.03):
        opts.append([g.case(g.rng.choice([b"FOO", b"LIMIT", b"STORE"]))])
    g.rng.shuffle(opts)
    args = [g.case(b"SORT_RO" if ro else b"SORT"), key] + [a for opt in opts for a in opt]
    patterns = by or any(o[0].upper() == b"GET" and o[1] != b"#" for o in opts)
    return Cmd(args, [key] + ([store] if store else []) + (g.keys + HASH_KEYS if patterns else []))


def some_fields(g, hi=5):
    return [g.field() for _ in range(g.rng.randint(1, hi))]


def g_string_on_hash(g):
    """A string command (or TYPE) on a hash or set key: WRONGTYPE, except
    SET, which replaces the value, and TYPE, MGET and EXISTS, which work on
    any key."""
    k = g.rng.choice(HASH_KEYS + SET_KEYS)
    name = g.rng.choice([b"GET", b"SET", b"INCR", b"INCRBY", b"MGET", b"TYPE", b"APPEND", b"STRLEN", b"SETNX",
                         b"GETSET", b"EXISTS", b"TYPE", b"GET"])
    args = [g.case(name), k]
    if name in (b"SET", b"APPEND", b"SETNX", b"GETSET"):
        args.append(g.hvalue())
    elif name == b"INCRBY":
        args.append(g.int_arg())
    elif name == b"MGET":
        args.append(g.key())
    return Cmd(args, args[1:2])


def g_dump_restore(g):
    """<DUMP-RESTORE> SRC DST TTL OPTIONS...: see dump_restore."""
    src, dst = (g.hkey() if g.chance(0.4) else g.key()), g.key()
    opts = []
    roll = g.rng.random()
    if roll < 0.55:
        ttl = b"0"
    elif roll < 0.75:
        ttl = str(g.rng.randint(100000000, 200000000)).encode()
    elif roll < 0.9:
        opts.append(g.case(b"ABSTTL"))
        ttl = g.rng.choice([b"1", str(now_ms() + 100000000).encode()])
    else:
        ttl = g.rng.choice([b"-1", b"abc", b"1.5"])
    for _ in range(g.rng.randint(0, 2)):
        opts += g.rng.choice([[g.case(b"REPLACE")], [g.case(b"REPLACE")], [g.case(b"ABSTTL")],
                              [g.case(b"IDLETIME"), g.rng.choice([b"0", b"100", b"-1", b"x"])],
                              [g.case(b"FREQ"), g.rng.choice([b"0", b"7", b"255", b"256", b"-1"])],
                              [g.case(b"BOGUS")], [g.case(b"FREQ")]])
    return Cmd([b"<DUMP-RESTORE>", src, dst, ttl] + opts, [src, dst], compare="roundtrip")


def dump_restore(conn, argv):
    """Run <DUMP-RESTORE> on one server: DUMP SRC, RESTORE DST with that
    server's own payload, then read DST back. The reply to compare is
    whether DUMP found SRC, RESTORE's reply, and DST's TYPE and value."""
    src, dst, ttl, opts = argv[1], argv[2], argv[3], argv[4:]
    payload = conn.call(b"DUMP", src)
    found = b"<payload>\r\n" if isinstance(payload, bytes) else b"<no key>\r\n"
    restored = conn.call_raw([b"RESTORE", dst, ttl, payload if isinstance(payload, bytes) else b"none"] + opts)
    kind = conn.call_raw([b"TYPE", dst])
    value = conn.call_raw([b"HGETALL" if kind == b"+hash\r\n" else b"GET", dst])
    return found + restored + kind + value


def _fx_dump_restore(m, db, argv, t, reply):
    if b"+OK\r\n" not in reply:
        return
    ttl, absttl = _int(argv[3]) or 0, any(a.upper() == b"ABSTTL" for a in argv[4:])
    d = ttl if absttl else t + ttl
    m.set(db, argv[2], {d} if ttl > 0 and d > t else set())


# --- sets -------------------------------------------------------------------
# Member order is the encoding's (Redis 7.0 keeps small string sets in a hash
# table, Redistill in a listpack as Redis 7.2 does): replies listing members
# compare unordered. SPOP pops at random, so it is sent only where the outcome
# is not random (a count of 0 or one that takes the whole set, bad counts);
# SRANDMEMBER's replies are compared by their shape and size.


def setted(name, *more, compare="exact"):
    """The generator of a set command NAME SKEY MORE... (see keyed)."""
    return keyed(name, *more, compare=compare, key=Gen.skey)


def some_members(g, hi=4):
    return [g.member() for _ in range(g.rng.randint(1, hi))]


def some_skeys(g, hi=3):
    return [g.skey() for _ in range(g.rng.randint(1, hi))]


def set_algebra(name, store=False):
    def gen(g):
        keys = ([g.skey()] if store else []) + some_skeys(g)
        return Cmd([g.case(name)] + keys, keys, compare="exact" if store else "unordered")

    return gen


def g_sintercard(g):
    keys = some_skeys(g)
    numkeys = b"%d" % len(keys) if g.chance(0.9) else g.rng.choice([b"0", b"-1", b"x", b"9"])
    args = [g.case(b"SINTERCARD"), numkeys] + keys
    r = g.rng.random()
    if r < 0.5:
        args += [g.case(b"LIMIT"), g.rng.choice([b"0", b"1", b"2", b"5", b"-1", b"x"])]
    elif r < 0.55:
        args.append(g.rng.choice([b"LIMIT", b"FOO"]))
    return Cmd(args, keys)


def g_smove(g):
    src, dst = g.skey(), g.skey()
    return Cmd([g.case(b"SMOVE"), src, dst, g.member()], [src, dst])


def g_spop(g):
    """SPOP where it is not random: counts 0 and 1000, or bad ones."""
    k = g.skey()
    count = g.rng.choice([b"0", b"1000", b"1000", b"-1", b"x"])
    return Cmd([g.case(b"SPOP"), k, count], [k], compare="unordered")


def g_srandmember(g):
    k = g.skey()
    args = [g.case(b"SRANDMEMBER"), k]
    if g.chance(0.8):
        args.append(g.rng.choice([b"0", b"1", b"3", b"100", b"-1", b"-5", b"x", b"-9223372036854775808"]))
    return Cmd(args, [k], compare="sample")


def g_sscan(g):
    """SSCAN in one step (COUNT 1000 covers these small sets in both)."""
    k = g.skey()
    args = [g.case(b"SSCAN"), k, b"0", g.case(b"COUNT"), b"1000"]
    if g.chance(0.3):
        args += [g.case(b"MATCH"), g.rng.choice([b"*", b"[12]*", b"m*", b"?"])]
    if g.chance(0.05):
        args = [g.case(b"SSCAN"), k, g.rng.choice([b"x", b"0"]), g.case(b"COUNT"), b"0"]
    return Cmd(args, [k], compare="sscan")


# --- sorted sets ------------------------------------------------------------


def zkey(g):
    """The key of a sorted set command: mostly a sorted set key, sometimes
    another command's key (WRONGTYPE when it holds a string or a hash)."""
    if g.chance(0.8):
        return g.rng.choice(ZSET_KEYS)
    return g.rng.choice([g.key(), g.rng.choice(HASH_KEYS)])


def zscore(g):
    if g.chance(0.7):
        return str(g.rng.randint(-3, 3)).encode()
    return g.rng.choice(ZSET_SCORES)


def zmember(g):
    return g.rng.choice(ZSET_MEMBERS)


def zbound(g):
    return g.rng.choice(SCORE_BOUNDS)


def lexbound(g):
    return g.rng.choice(LEX_BOUNDS)


def zrank_arg(g):
    return g.rng.choice([b"0", b"1", b"-1", b"2", b"-3", b"5", b"x", b"9223372036854775807",
                         b"-9223372036854775808"])


def zadd_args(g):
    """ZADD's options (sometimes conflicting) and 1..3 score-member pairs."""
    args = [g.case(g.rng.choice([b"NX", b"XX", b"GT", b"LT", b"CH", b"CH", b"INCR"]))
            for _ in range(g.rng.choice([0, 0, 0, 1, 1, 2]))]
    for _ in range(g.rng.randint(1, 3)):
        args += [zscore(g), zmember(g)]
    if g.chance(0.03):
        args.pop()
    return args


def zrange_options(g, bylex=False):
    args = []
    for _ in range(g.rng.choice([0, 0, 1, 1, 2])):
        pick = g.rng.random()
        if pick < 0.4 and not bylex:
            args.append(g.case(b"WITHSCORES"))
        elif pick < 0.8:
            args += [g.case(b"LIMIT"), zrank_arg(g), zrank_arg(g)]
        else:
            args.append(g.case(g.rng.choice([b"REV", b"FOO", b"LIMIT"])))
    return args


def g_zrange(g):
    k = zkey(g)
    if g.chance(0.5):
        args = [g.case(b"ZRANGE"), k, zrank_arg(g), zrank_arg(g)]
    else:
        args = [g.case(b"ZRANGE"), k, zbound(g), zbound(g), g.case(b"BYSCORE")]
    return Cmd(args + zrange_options(g), [k])


def set_keys(g):
    """numkeys and 1..3 sorted set keys (now and then a bad numkeys)."""
    keys = [g.rng.choice(ZSET_KEYS + [b"k0"]) for _ in range(g.rng.randint(1, 3))]
    numkeys = str(len(keys)).encode() if g.chance(0.95) else g.rng.choice([b"0", b"x", b"9"])
    return [numkeys] + keys


def set_options(g, weights=True, withscores=True):
    args = []
    n = 3
    if weights and g.chance(0.3):
        args += [g.case(b"WEIGHTS")] + [g.rng.choice([b"1", b"2", b"-1", b"0.5", b"x"]) for _ in range(n)]
    if weights and g.chance(0.3):
        args += [g.case(b"AGGREGATE"), g.case(g.rng.choice([b"SUM", b"MIN", b"MAX", b"AVG"]))]
    if withscores and g.chance(0.5):
        args.append(g.case(b"WITHSCORES"))
    return args


def set_op(name, store=False, weights=True):
    def gen(g):
        keys = set_keys(g)
        args = [g.case(name)] + ([g.rng.choice(ZSET_KEYS)] if store else []) + keys
        opts = set_options(g, weights, not store)
        # WEIGHTS takes exactly numkeys values.
        if opts and opts[0].upper() == b"WEIGHTS":
            opts = opts[:1] + opts[1:1 + len(keys) - 1] + opts[4:]
        return Cmd(args + opts, args[1:])
    return gen


def g_zintercard(g):
    keys = set_keys(g)
    args = [g.case(b"ZINTERCARD")] + keys
    if g.chance(0.5):
        args += [g.case(b"LIMIT"), g.rng.choice([b"0", b"1", b"2", b"-1", b"x"])]
    return Cmd(args, keys[1:])


def g_zrangestore(g):
    dst, src = g.rng.choice(ZSET_KEYS), zkey(g)
    args = [g.case(b"ZRANGESTORE"), dst, src]
    if g.chance(0.5):
        args += [zrank_arg(g), zrank_arg(g)]
    else:
        args += [zbound(g), zbound(g), g.case(b"BYSCORE")]
    return Cmd(args + [a for a in zrange_options(g) if a.upper() != b"WITHSCORES"], [dst, src])


def g_zpop(g):
    k = zkey(g)
    args = [g.case(g.rng.choice([b"ZPOPMIN", b"ZPOPMAX"])), k]
    if g.chance(0.6):
        args.append(g.rng.choice([b"0", b"1", b"2", b"10", b"-1", b"x"]))
    return Cmd(args, [k])


def g_zmpop(g):
    keys = set_keys(g)
    args = [g.case(b"ZMPOP")] + keys + [g.case(g.rng.choice([b"MIN", b"MAX", b"MAX", b"MID"]))]
    if g.chance(0.5):
        args += [g.case(b"COUNT"), g.rng.choice([b"1", b"2", b"5", b"0", b"x"])]
    return Cmd(args, keys[1:])


def g_zadd_lex(g):
    k = g.rng.choice(LEX_KEYS)
    args = [g.case(b"ZADD"), k]
    for _ in range(g.rng.randint(1, 3)):
        args += [b"0", zmember(g)]
    return Cmd(args, [k])


def lexed(name, *more):
    def gen(g):
        k = g.rng.choice(LEX_KEYS)
        args = [g.case(name), k]
        for f in more:
            a = f(g)
            args += a if isinstance(a, list) else [a]
        return Cmd(args, [k])
    return gen


def g_zrange_bylex(g):
    k = g.rng.choice(LEX_KEYS)
    args = [g.case(b"ZRANGE"), k, lexbound(g), lexbound(g), g.case(b"BYLEX")]
    return Cmd(args + zrange_options(g, bylex=not g.chance(0.05)), [k])


def g_zscan(g):
    """ZSCAN: a packed sorted set answers whole and in order, a large one (as
    SORT leaves it, see g_sort) in its table's order, so the member/score
    pairs are compared in any order."""
    k = zkey(g)
    args = [g.case(b"ZSCAN"), k, g.rng.choice([b"0", b"0", b"x"])]
    if g.chance(0.3):
        args += [g.case(b"MATCH"), g.rng.choice([b"*", b"a*", b"[a-c]"])]
    if g.chance(0.2):
        args += [g.case(b"COUNT"), g.rng.choice([b"10", b"0", b"x"])]
    return Cmd(args, [k], compare="zscan")


def zsetted(name, *more):
    """The generator of a sorted set command NAME ZKEY MORE... (see keyed)."""
    return keyed(name, *more, key=zkey)


def g_flushdb(g):
    return Cmd([g.case(g.rng.choice([b"FLUSHDB", b"FLUSHDB", b"FLUSHALL"]))] +
               ([g.rng.choice([b"SYNC", b"ASYNC", b"FOO"])] if g.chance(0.3) else []), g.keys)


# --- bitmaps and LCS ---------------------------------------------------------


def bit_key(g):
    """The key of a bitmap command: now and then a hash key (WRONGTYPE)."""
    return g.rng.choice(HASH_KEYS) if g.chance(0.05) else g.key()


def g_bitop(g):
    op = g.rng.choice([b"AND", b"OR", b"XOR", b"NOT", b"AND", b"OR", b"XOR", b"NOT", b"FOO"])
    n = 1 if op == b"NOT" and g.chance(0.9) else g.rng.randint(1, 3)
    ks = [g.key()] + [bit_key(g) for _ in range(n)]
    return Cmd([g.case(b"BITOP"), g.case(op)] + ks, ks)


def range_arg(g):
    return g.int_arg(-40, 40)


def g_bitpos(g):
    k = bit_key(g)
    bit = g.rng.choice([b"0", b"1", b"0", b"1", b"2", b"x"])
    args = [g.case(b"BITPOS"), k, bit]
    extra = g.rng.choice([0, 0, 1, 2, 3, 3, 3, 4])
    for i in range(extra):
        args.append(g.case(g.rng.choice([b"BIT", b"BYTE", b"BIT", b"FOO"])) if i == 2 else range_arg(g))
    return Cmd(args, [k])


def field_type(g):
    r = g.rng.random()
    if r < 0.45:
        return b"i%d" % g.rng.randint(1, 64)
    if r < 0.9:
        return b"u%d" % g.rng.randint(1, 63)
    return g.rng.choice([b"u64", b"i65", b"i0", b"I8", b"x8", b"u", b""])


def field_offset(g):
    """Small offsets (so writes stay small), #N ones, and invalid ones."""
    r = g.rng.random()
    if r < 0.6:
        return b"%d" % g.rng.randint(0, 100)
    if r < 0.9:
        return b"#%d" % g.rng.randint(0, 6)
    return g.rng.choice([b"-1", b"x", b"#-1", b"#", b"4294967296", b"#536870912", b"1.5"])


def bitfield_subcommand(g):
    r = g.rng.random()
    if r < 0.3:
        return [g.case(b"GET"), field_type(g), field_offset(g)]
    if r < 0.55:
        return [g.case(b"SET"), field_type(g), field_offset(g), g.int_arg(-300, 300)]
    if r < 0.85:
        return [g.case(b"INCRBY"), field_type(g), field_offset(g), g.int_arg(-300, 300)]
    if r < 0.97:
        return [g.case(b"OVERFLOW"), g.case(g.rng.choice([b"WRAP", b"SAT", b"FAIL", b"WRAP", b"SAT", b"FAIL", b"FOO"]))]
    return [g.case(g.rng.choice([b"GET", b"SET", b"FOO", b"OVERFLOW"]))]


def g_bitfield(name):
    def gen(g):
        k = bit_key(g)
        args = [g.case(name), k]
        for _ in range(g.rng.randint(0, 4)):
            args += bitfield_subcommand(g)
        return Cmd(args, [k])

    return gen


def g_lcs(g):
    a, b = bit_key(g), bit_key(g)
    args = [g.case(b"LCS"), a, b]
    for _ in range(g.rng.choice([0, 0, 1, 1, 2, 3])):
        opt = g.rng.choice([b"IDX", b"IDX", b"LEN", b"WITHMATCHLEN", b"MINMATCHLEN", b"MINMATCHLEN", b"FOO"])
        args.append(g.case(opt))
        if opt == b"MINMATCHLEN" and g.chance(0.95):
            args.append(g.int_arg(-2, 6))
    return Cmd(args, [a, b])


# name -> (generator, weight, Redis arity, extended?). Adding a command is one
# line here (plus a generator, and an entry in EFFECTS if it changes a key's
# expiry). Entries marked extended are only sent with --extended.
COMMANDS = {
    b"GET": (keyed(b"GET"), 10, 2, False),
    b"SET": (g_set, 14, -3, False),
    b"SETEX": (keyed(b"SETEX", Gen.secs, Gen.value), 3, 4, False),
    b"PSETEX": (keyed(b"PSETEX", Gen.millis, Gen.value), 3, 4, False),
    b"SETNX": (keyed(b"SETNX", Gen.value), 2, 3, False),
    b"MGET": (g_mget, 3, -2, False),
    b"MSET": (key_value_pairs(b"MSET", 4, odd=0.05), 3, -3, False),
    b"DEL": (g_del, 3, -2, False),
    b"EXISTS": (g_exists, 3, -2, False),
    b"EXPIRE": (keyed(b"EXPIRE", Gen.secs, expire_opts), 4, -3, False),
    b"PEXPIRE": (keyed(b"PEXPIRE", Gen.millis, expire_opts), 4, -3, False),
    b"TTL": (keyed(b"TTL", compare="ttl_s"), 4, 2, False),
    b"PTTL": (keyed(b"PTTL", compare="ttl_ms"), 4, 2, False),
    b"PERSIST": (keyed(b"PERSIST"), 2, 2, False),
    b"INCR": (keyed(b"INCR"), 5, 2, False),
    b"DECR": (keyed(b"DECR"), 3, 2, False),
    b"INCRBY": (keyed(b"INCRBY", Gen.int_arg), 4, 3, False),
    b"DECRBY": (keyed(b"DECRBY", Gen.int_arg), 3, 3, False),
    b"DBSIZE": (g_dbsize, 2, 1, False),
    b"SELECT": (g_select, 1, 2, False),
    b"ECHO": (g_echo, 1, 2, False),
    b"PING": (g_ping, 1, -1, False),
    # --extended
    b"APPEND": (keyed(b"APPEND", Gen.value), 3, 3, True),
    b"STRLEN": (keyed(b"STRLEN"), 2, 2, True),
    b"GETRANGE": (g_getrange, 3, 4, True),
    b"SETRANGE": (g_setrange, 2, 4, True),
    b"GETDEL": (keyed(b"GETDEL"), 2, 2, True),
    b"GETEX": (g_getex, 3, -2, True),
    b"INCRBYFLOAT": (keyed(b"INCRBYFLOAT", float_incr), 3, 3, True),
    b"GETSET": (keyed(b"GETSET", Gen.value), 2, 3, True),
    b"MSETNX": (key_value_pairs(b"MSETNX", 3), 2, -3, True),
    b"EXPIREAT": (keyed(b"EXPIREAT", Gen.unix_s, expire_opts), 2, -3, True),
    b"PEXPIREAT": (keyed(b"PEXPIREAT", Gen.unix_ms, expire_opts), 2, -3, True),
    b"EXPIRETIME": (keyed(b"EXPIRETIME", compare="abs_s"), 2, 2, True),
    b"PEXPIRETIME": (keyed(b"PEXPIRETIME", compare="abs_ms"), 2, 2, True),
    b"TYPE": (keyed(b"TYPE"), 1, 2, True),
    b"TOUCH": (multi_key(b"TOUCH"), 1, -2, True),
    b"UNLINK": (multi_key(b"UNLINK"), 1, -2, True),
    b"RENAME": (two_keys(b"RENAME"), 1, 3, True),
    b"RENAMENX": (two_keys(b"RENAMENX"), 1, 3, True),
    b"COPY": (g_copy, 1, -3, True),
    b"MOVE": (g_move, 1, 3, True),
    b"KEYS": (g_keys, 1, 2, True),
    b"FLUSHDB": (g_flushdb, 1, -1, True),
    b"PUBLISH": (g_publish, 1, 3, True),
    b"PUBSUB": (g_pubsub, 1, -2, True),
    # Hashes (small, so Redis keeps them in insertion order), and the type
    # errors between strings and hashes. --no-hashes leaves them out.
    b"HSET": (hashed(b"HSET", field_values), 6, -4, False),
    b"HSETNX": (hashed(b"HSETNX", Gen.field, Gen.hvalue), 2, 4, False),
    b"HGET": (hashed(b"HGET", Gen.field), 5, 3, False),
    b"HMGET": (hashed(b"HMGET", some_fields), 3, -3, False),
    b"HDEL": (hashed(b"HDEL", lambda g: some_fields(g, 3)), 3, -3, False),
    b"HEXISTS": (hashed(b"HEXISTS", Gen.field), 2, 3, False),
    b"HLEN": (hashed(b"HLEN"), 2, 2, False),
    b"HSTRLEN": (hashed(b"HSTRLEN", Gen.field), 2, 3, False),
    b"HINCRBY": (hashed(b"HINCRBY", Gen.field, Gen.int_arg), 3, 4, False),
    b"HINCRBYFLOAT": (hashed(b"HINCRBYFLOAT", Gen.field, hash_float_incr), 2, 4, False),
    b"HKEYS": (hashed(b"HKEYS"), 2, 2, False),
    b"HVALS": (hashed(b"HVALS"), 2, 2, False),
    b"HGETALL": (hashed(b"HGETALL"), 3, 2, False),
    b"<WRONGTYPE>": (g_string_on_hash, 3, -1, False),
    # Bitmaps and LCS; now and then on a hash key (WRONGTYPE).
    b"BITOP": (g_bitop, 3, -4, False),
    b"BITPOS": (g_bitpos, 3, -3, False),
    b"BITFIELD": (g_bitfield(b"BITFIELD"), 4, -2, False),
    b"BITFIELD_RO": (g_bitfield(b"BITFIELD_RO"), 1, -2, False),
    b"LCS": (g_lcs, 2, -3, False),
    # DUMP a key and RESTORE it elsewhere, each server its own payload.
    b"<DUMP-RESTORE>": (g_dump_restore, 2, -1, False),
    # Sets (mostly keys s0..s2). --no-sets leaves them out.
    b"SADD": (setted(b"SADD", some_members), 8, -3, False),
    b"SREM": (setted(b"SREM", lambda g: some_members(g, 3)), 4, -3, False),
    b"SISMEMBER": (setted(b"SISMEMBER", Gen.member), 3, 3, False),
    b"SMISMEMBER": (setted(b"SMISMEMBER", some_members), 2, -3, False),
    b"SCARD": (setted(b"SCARD"), 2, 2, False),
    b"SMEMBERS": (setted(b"SMEMBERS", compare="unordered"), 3, 2, False),
    b"SMOVE": (g_smove, 2, 4, False),
    b"SINTER": (set_algebra(b"SINTER"), 2, -2, False),
    b"SUNION": (set_algebra(b"SUNION"), 2, -2, False),
    b"SDIFF": (set_algebra(b"SDIFF"), 2, -2, False),
    b"SINTERSTORE": (set_algebra(b"SINTERSTORE", store=True), 1, -3, False),
    b"SUNIONSTORE": (set_algebra(b"SUNIONSTORE", store=True), 1, -3, False),
    b"SDIFFSTORE": (set_algebra(b"SDIFFSTORE", store=True), 1, -3, False),
    b"SINTERCARD": (g_sintercard, 2, -3, False),
    b"SPOP": (g_spop, 1, -2, False),
    b"SRANDMEMBER": (g_srandmember, 2, -2, False),
    b"SSCAN": (g_sscan, 1, -3, False),
    # Sorted sets (small, so packed in Redis too; see the docstring).
    # --no-zsets leaves them out.
    b"ZADD": (zsetted(b"ZADD", zadd_args), 8, -4, False),
    b"ZINCRBY": (zsetted(b"ZINCRBY", zscore, zmember), 2, 4, False),
    b"ZREM": (zsetted(b"ZREM", lambda g: [zmember(g) for _ in range(g.rng.randint(1, 3))]), 3, -3, False),
    b"ZSCORE": (zsetted(b"ZSCORE", zmember), 3, 3, False),
    b"ZMSCORE": (zsetted(b"ZMSCORE", zmember, zmember), 1, -3, False),
    b"ZCARD": (zsetted(b"ZCARD"), 2, 2, False),
    b"ZCOUNT": (zsetted(b"ZCOUNT", zbound, zbound), 2, 4, False),
    b"ZRANGE": (g_zrange, 5, -4, False),
    b"ZREVRANGE": (zsetted(b"ZREVRANGE", zrank_arg, zrank_arg, lambda g: [g.case(b"WITHSCORES")] if g.chance(0.4) else []), 2, -4, False),
    b"ZRANGEBYSCORE": (zsetted(b"ZRANGEBYSCORE", zbound, zbound, zrange_options), 2, -4, False),
    b"ZREVRANGEBYSCORE": (zsetted(b"ZREVRANGEBYSCORE", zbound, zbound, zrange_options), 2, -4, False),
    b"ZRANGESTORE": (g_zrangestore, 1, -5, False),
    # Arity 3 in Redis 7.0, -3 (WITHSCORE) since 7.2: only too few is wrong in both.
    b"ZRANK": (zsetted(b"ZRANK", zmember), 2, -3, False),
    b"ZREVRANK": (zsetted(b"ZREVRANK", zmember), 1, -3, False),
    b"ZREMRANGEBYRANK": (zsetted(b"ZREMRANGEBYRANK", zrank_arg, zrank_arg), 1, 4, False),
    b"ZREMRANGEBYSCORE": (zsetted(b"ZREMRANGEBYSCORE", zbound, zbound), 1, 4, False),
    b"ZPOPMIN": (g_zpop, 2, -2, False),
    b"ZMPOP": (g_zmpop, 1, -4, False),
    b"ZUNION": (set_op(b"ZUNION"), 1, -3, False),
    b"ZINTER": (set_op(b"ZINTER"), 1, -3, False),
    b"ZDIFF": (set_op(b"ZDIFF", weights=False), 1, -3, False),
    b"ZUNIONSTORE": (set_op(b"ZUNIONSTORE", store=True), 1, -4, False),
    b"ZINTERSTORE": (set_op(b"ZINTERSTORE", store=True), 1, -4, False),
    b"ZDIFFSTORE": (set_op(b"ZDIFFSTORE", store=True, weights=False), 1, -4, False),
    b"ZINTERCARD": (g_zintercard, 1, -3, False),
    b"ZSCAN": (g_zscan, 1, -3, False),
    b"ZADD<LEX>": (g_zadd_lex, 3, -4, False),
    b"ZLEXCOUNT": (lexed(b"ZLEXCOUNT", lexbound, lexbound), 1, 4, False),
    b"ZRANGEBYLEX": (lexed(b"ZRANGEBYLEX", lexbound, lexbound, lambda g: zrange_options(g, bylex=True)), 1, -4, False),
    b"ZREVRANGEBYLEX": (lexed(b"ZREVRANGEBYLEX", lexbound, lexbound), 1, -4, False),
    b"ZREMRANGEBYLEX": (lexed(b"ZREMRANGEBYLEX", lexbound, lexbound), 1, 4, False),
    b"ZRANGE<LEX>": (g_zrange_bylex, 1, -4, False),
    # Lists, mostly on keys l0..l2 (the blocking forms are left out: a
    # command that blocks would stall the run). --no-lists leaves them out.
    b"LPUSH": (listed(b"LPUSH", some_items), 5, -3, False),
    b"RPUSH": (listed(b"RPUSH", some_items), 5, -3, False),
    b"LPUSHX": (listed(b"LPUSHX", some_items), 1, -3, False),
    b"RPUSHX": (listed(b"RPUSHX", some_items), 1, -3, False),
    b"LPOP": (listed(b"LPOP", pop_count), 3, -2, False),
    b"RPOP": (listed(b"RPOP", pop_count), 3, -2, False),
    b"LLEN": (listed(b"LLEN"), 2, 2, False),
    b"LRANGE": (listed(b"LRANGE", Gen.index, Gen.index), 4, 4, False),
    b"LINDEX": (listed(b"LINDEX", Gen.index), 2, 3, False),
    b"LSET": (listed(b"LSET", Gen.index, Gen.item), 2, 4, False),
    b"LINSERT": (listed(b"LINSERT", lambda g: g.case(g.rng.choice([b"BEFORE", b"AFTER", b"NEAR"])), Gen.item,
                        Gen.item), 2, 5, False),
    b"LREM": (listed(b"LREM", lambda g: g.int_arg(-3, 3), Gen.item), 2, 4, False),
    b"LTRIM": (listed(b"LTRIM", Gen.index, Gen.index), 1, 4, False),
    b"LPOS": (listed(b"LPOS", Gen.item, lpos_options), 2, -3, False),
    b"LMOVE": (g_lmove, 2, 5, False),
    b"LMPOP": (g_lmpop, 2, -4, False),
    # SORT over lists (and sets and sorted sets), in deterministic forms.
    b"SORT": (g_sort, 3, -2, False),
    # Transactions: MULTI ... EXEC / DISCARD, a few dozen commands apart.
    b"MULTI": (g_multi, 1, 1, True),
    b"EXEC": (g_exec, 2, 1, True),
    b"DISCARD": (g_discard, 1, 1, True),
}

HASH_COMMANDS = {n for n in COMMANDS if n.startswith(b"H")} | {b"<WRONGTYPE>"}
SET_COMMANDS = {b"SADD", b"SREM", b"SISMEMBER", b"SMISMEMBER", b"SCARD", b"SMEMBERS", b"SMOVE", b"SINTER", b"SUNION",
                b"SDIFF", b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE", b"SINTERCARD", b"SPOP", b"SRANDMEMBER",
                b"SSCAN"}
ZSET_COMMANDS = {n for n in COMMANDS if n.startswith(b"Z")}
LIST_COMMANDS = ({n for n in COMMANDS if (n.startswith(b"L") and n != b"LCS") or n.startswith(b"RPUSH")}
                 | {b"RPOP", b"SORT"})

# Pseudo-entries that are always on: they are not commands of their own.
UNKNOWN_WEIGHT = 2
ARITY_WEIGHT = 3
SLEEP_WEIGHT = 1


def g_wrong_arity(g, table):
    name = g.rng.choice(sorted(table))
    arity = table[name][2]
    if arity > 0:
        choices = [n for n in range(1, arity + 3) if n != arity]
    elif -arity > 1:
        choices = list(range(1, -arity))
    else:
        return table[name][0](g)  # PING takes any count
    argc = g.rng.choice(choices)
    # ZADD<LEX> and the like are variants of the command before the "<".
    args = [g.case(name.split(b"<")[0])] + [g.key() for _ in range(argc - 1)]
    return Cmd(args, args[1:])


class Mix:
    def __init__(self, rng, extended, only=None, skip=(), with_=()):
        self.gen = Gen(rng)
        self.rng = rng
        self.table = {n: e for n, e in COMMANDS.items()
                      if (extended or not e[3] or n in with_) and n not in skip}
        if only:
            self.table = {n: e for n, e in self.table.items() if n in only}
        if not self.table:
            raise RuntimeError("no commands selected")
        self.choices = sorted(self.table)
        self.weights = [self.table[n][1] for n in self.choices]
        for name, weight in ((b"<UNKNOWN>", UNKNOWN_WEIGHT), (b"<ARITY>", ARITY_WEIGHT), (b"<SLEEP>", SLEEP_WEIGHT)):
            if name not in skip:
                self.choices.append(name)
                self.weights.append(weight)

    def next(self):
        pick = self.rng.choices(self.choices, self.weights)[0]
        if pick == b"<UNKNOWN>":
            return g_unknown(self.gen)
        if pick == b"<ARITY>":
            return g_wrong_arity(self.gen, self.table)
        if pick == b"<SLEEP>":
            return g_sleep(self.gen)
        return self.table[pick][0](self.gen)


# ---------------------------------------------------------------------------
# Expiry model
# ---------------------------------------------------------------------------
#
# To tell an expiry race from a bug the script keeps, per (db, key), the
# deadlines (unix ms, script clock) the key may currently have, updated from
# each command and real Redis's reply to it (Redis is the reference). When the
# outcome is uncertain (SET ... NX GET) it keeps both the old and the new
# possibility, so the model over-approximates: it may excuse a little too
# much near a deadline, never flag a race as a bug.


def _int(b):
    try:
        return int(b)
    except ValueError:
        return None


def _deadline(opt, value, t):
    """Deadline set by an expiry option/argument sent at t (None if not an int)."""
    v = _int(value)
    if v is None:
        return None
    opt = opt.upper()
    if opt in (b"EX", b"EXPIRE", b"SETEX"):
        return t + v * 1000
    if opt in (b"PX", b"PEXPIRE", b"PSETEX"):
        return t + v
    if opt in (b"EXAT", b"EXPIREAT"):
        return v * 1000
    if opt in (b"PXAT", b"PEXPIREAT"):
        return v
    return None


class Model:
    def __init__(self):
        self.deadlines = {}  # (db, key) -> set of possible deadlines; absent = none

    def get(self, db, key):
        return self.deadlines.get((db, key), set())

    def set(self, db, key, deadlines):
        if deadlines:
            self.deadlines[(db, key)] = set(deadlines)
        else:
            self.deadlines.pop((db, key), None)

    def also(self, db, key, deadlines):
        self.set(db, key, self.get(db, key) | set(d for d in deadlines if d is not None))

    def near(self, db, key, t):
        return any(abs(t - d) <= RACE_MARGIN_MS for d in self.get(db, key))

    def recently_expired(self, db, t):
        """Keys of db whose deadline passed a moment ago (DBSIZE slack)."""
        return sum(1 for (d, _), lst in self.deadlines.items()
                   if d == db and any(t - RECLAIM_GRACE_MS <= x <= t + RACE_MARGIN_MS for x in lst))

    def apply(self, db, argv, t, reply):
        """Update the model for argv, sent at t, to which Redis said reply."""
        if not argv or reply.startswith(b"-"):
            return
        name = argv[0].upper()
        fn = EFFECTS.get(name)
        if fn:
            fn(self, db, argv, t, reply)


def _fx_set(m, db, argv, t, reply):
    k = argv[1]
    new, keep, get, cond = set(), False, False, False
    i = 3
    while i < len(argv):  # Redis semantics: the last expiry option wins
        opt = argv[i].upper()
        if opt in (b"EX", b"PX", b"EXAT", b"PXAT") and i + 1 < len(argv):
            d = _deadline(opt, argv[i + 1], t)
            # Redis 7.0 stores a key whose EXAT / PXAT has passed, and DBSIZE
            # counts it until it is reclaimed: to the model it expires now.
            new, keep = ({max(d, t)} if d is not None else set()), False
            i += 2
            continue
        if opt == b"KEEPTTL":
            keep = True
        elif opt == b"GET":
            get = True
        elif opt in (b"NX", b"XX"):
            cond = True
        i += 1
    after = m.get(db, k) | new if keep else new
    if reply == b"+OK\r\n" or not cond:
        m.set(db, k, after)  # it was set
    elif reply == b"$-1\r\n" and not get:
        pass  # NX / XX stopped it
    else:
        m.also(db, k, after or {None})  # GET hides whether it was set


def _fx_setex(m, db, argv, t, reply):
    m.set(db, argv[1], {_deadline(argv[0], argv[2], t)})


def _fx_clear(first, step=1, last=None):
    """Every key from argv[first] (every step-th) loses its expiry (or the key)."""

    def fx(m, db, argv, t, reply):
        for k in argv[first:last:step]:
            m.set(db, k, set())

    return fx


def _fx_clear_if_one(m, db, argv, t, reply):
    if reply == b":1\r\n":
        m.set(db, argv[1], set())


def _fx_expire(m, db, argv, t, reply):
    if reply == b":1\r\n":
        d = _deadline(argv[0], argv[2], t)
        m.set(db, argv[1], {d} if d is not None and d > t else set())


def _fx_msetnx(m, db, argv, t, reply):
    if reply == b":1\r\n":
        _fx_clear(1, 2)(m, db, argv, t, reply)


def _fx_getex(m, db, argv, t, reply):
    if reply == b"$-1\r\n":
        return
    for i in range(2, len(argv)):
        opt = argv[i].upper()
        if opt == b"PERSIST":
            m.set(db, argv[1], set())
        elif opt in (b"EX", b"PX", b"EXAT", b"PXAT") and i + 1 < len(argv):
            d = _deadline(opt, argv[i + 1], t)
            m.set(db, argv[1], {d} if d is not None else set())


def _fx_rename(m, db, argv, t, reply):
    if reply in (b"+OK\r\n", b":1\r\n"):
        src, dst = argv[1], argv[2]
        moved = m.get(db, src)
        m.set(db, src, set())
        m.set(db, dst, moved)


# Commands that change which keys have which deadline. Commands not listed
# leave deadlines alone (INCR and friends keep a key's expiry).
def _fx_copy(m, db, argv, t, reply):
    if reply != b":1\r\n":
        return
    dst_db = db
    for i in range(3, len(argv) - 1):
        if argv[i].upper() == b"DB":
            dst_db = int(argv[i + 1])
    m.set(dst_db, argv[2], m.get(db, argv[1]))


def _fx_move(m, db, argv, t, reply):
    if reply == b":1\r\n":
        m.set(int(argv[2]), argv[1], m.get(db, argv[1]))
        m.set(db, argv[1], set())


def _fx_flush(m, db, argv, t, reply):
    everything = argv[0].upper() == b"FLUSHALL"
    for d, k in list(m.deadlines):
        if everything or d == db:
            m.set(d, k, set())


EFFECTS = {
    b"SET": _fx_set,
    b"SETEX": _fx_setex,
    b"PSETEX": _fx_setex,
    b"SETNX": lambda m, db, argv, t, reply: reply == b":1\r\n" and m.set(db, argv[1], set()),
    b"MSET": _fx_clear(1, 2),
    b"DEL": _fx_clear(1),
    b"PERSIST": _fx_clear_if_one,
    b"EXPIRE": _fx_expire,
    b"PEXPIRE": _fx_expire,
    b"EXPIREAT": _fx_expire,
    b"PEXPIREAT": _fx_expire,
    b"GETDEL": _fx_clear(1),
    b"GETSET": _fx_clear(1),
    b"UNLINK": _fx_clear(1),
    b"MSETNX": _fx_msetnx,
    b"GETEX": _fx_getex,
    b"RENAME": _fx_rename,
    b"RENAMENX": _fx_rename,
    b"COPY": _fx_copy,
    b"MOVE": _fx_move,
    b"<DUMP-RESTORE>": _fx_dump_restore,
    b"FLUSHDB": _fx_flush,
    b"FLUSHALL": _fx_flush,
    b"BITOP": _fx_clear(2, 1, 3),  # the destination is replaced (or deleted)
}


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------


def as_int(reply):
    if reply.startswith(b":") and reply.endswith(b"\r\n"):
        try:
            return int(reply[1:-2])
        except ValueError:
            return None
    return None


def close_enough(a, b, tol):
    x, y = as_int(a), as_int(b)
    if x is None or y is None:
        return a == b
    if x < 0 or y < 0:  # -1 no expiry, -2 no key: exact
        return x == y
    return abs(x - y) <= tol


# Errors that depend only on the command's arguments, never on a key's state:
# no expiry race can explain a difference that involves one of them.
ARGUMENT_ERRORS = (b"-ERR syntax error", b"-ERR invalid expire time", b"-ERR wrong number of arguments",
                   b"-ERR unknown command", b"-ERR DB index", b"-ERR NX and XX", b"-ERR GT and LT",
                   b"-ERR value is out of range", b"-ERR unknown subcommand")


def could_be_race(a, b):
    """Can a key expiring on one server a moment before the other explain a vs b?"""
    if a.startswith(b"-") and b.startswith(b"-"):
        return False  # the two would have to fail differently
    return not any(r.startswith(e) for r in (a, b) for e in ARGUMENT_ERRORS)


def compare_exec(queued, a, b, model, db, t):
    """EXEC replies element by element, each with its command's rule.
    Returns (equal, first differing pair or None)."""
    xs, ys = array_items(a), array_items(b)
    if xs is None or ys is None or len(xs) != len(ys) or len(xs) != len(queued):
        return a == b, (a, b)
    for (cmd, _), x, y in zip(queued, xs, ys):
        if not compare_replies(cmd, x, y, model, db, t):
            return False, (x, y)
    return True, None


def same_shape(a, b):
    """Random picks (SRANDMEMBER): both a bulk string, or both arrays of as
    many elements (errors and nils must match exactly)."""
    if a[:1] == b[:1] == b"$" and not a.startswith(b"$-1") and not b.startswith(b"$-1"):
        return True
    xs, ys = array_items(a), array_items(b)
    return xs is not None and ys is not None and len(xs) == len(ys)


def compare_replies(cmd, a, b, model, db, t):
    if a == b:
        return True
    if cmd.compare == "unordered":
        xs, ys = array_items(a), array_items(b)
        return xs is not None and ys is not None and sorted(xs) == sorted(ys)
    if cmd.compare == "sample":
        return same_shape(a, b)
    if cmd.compare == "sscan":
        xs, ys = array_items(a), array_items(b)
        if xs is None or ys is None or len(xs) != 2 or len(ys) != 2 or xs[0] != ys[0]:
            return False
        return sorted(array_items(xs[1]) or []) == sorted(array_items(ys[1]) or [])
    if cmd.compare == "zscan":
        xs, ys = array_items(a), array_items(b)
        if xs is None or ys is None or len(xs) != 2 or len(ys) != 2 or xs[0] != ys[0]:
            return False
        pairs = [array_items(items[1]) or [] for items in (xs, ys)]
        return sorted(zip(pairs[0][::2], pairs[0][1::2])) == sorted(zip(pairs[1][::2], pairs[1][1::2]))
    if cmd.compare == "ttl_s":
        return close_enough(a, b, TTL_TOLERANCE_S)
    if cmd.compare == "ttl_ms":
        return close_enough(a, b, PTTL_TOLERANCE_MS)
    if cmd.compare == "abs_s":
        return close_enough(a, b, TTL_TOLERANCE_S)
    if cmd.compare == "abs_ms":
        return close_enough(a, b, PTTL_TOLERANCE_MS)
    if cmd.compare == "dbsize":
        x, y = as_int(a), as_int(b)
        return x is not None and y is not None and abs(x - y) <= model.recently_expired(db, t)
    return False


# ---------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------


def run(args):
    rng = random.Random(args.seed)
    mix = Mix(rng, args.extended, only=args.only, skip=args.skip, with_=args.with_)
    workdir = tempfile.mkdtemp(prefix="redistill-diff-")
    # --redistill-bin may name a redis-server, to check the script itself
    # (redis-server against redis-server must never differ).
    kind = "redis" if os.path.basename(args.redistill_bin).startswith("redis-server") else "redistill"
    redistill = Server(kind, args.redistill_bin, workdir, name="redistill", threads=args.threads)
    redis = Server("redis", args.redis_bin, workdir)
    conns = []
    try:
        redistill.start(timeout=10)
        redis.start(timeout=10)
        ca, cb = Conn(redistill.port), Conn(redis.port)
        conns = [ca, cb]
        version = cb.call_raw([b"INFO", b"server"])
        ver = [l for l in version.split(b"\r\n") if l.startswith(b"redis_version:")]
        print("differential: seed=%d count=%d extended=%s redistill=%s (port %d) redis=%s %s (port %d)" % (
            args.seed, args.count, args.extended, args.redistill_bin, redistill.port, args.redis_bin,
            ver[0].decode() if ver else "?", redis.port), flush=True)
        return loop(args, mix, ca, cb, redistill, redis)
    finally:
        for c in conns:
            c.close()
        redistill.stop()
        redis.stop()
        if args.keep_logs:
            print("logs kept in %s" % workdir)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def loop(args, mix, ca, cb, redistill, redis):
    model = Model()
    db = 0
    txn = None  # commands queued since MULTI (per Redis's replies), or None
    history = []
    sent = races = mismatches = transactions = in_transactions = 0
    started = time.monotonic()
    for i in range(args.count):
        cmd = mix.next()
        if cmd.sleep_ms:
            time.sleep(cmd.sleep_ms / 1000.0)
            continue
        t = now_ms()
        argv = cmd.resolve(t)
        payload = encode(argv)
        try:
            if cmd.compare == "roundtrip":
                if txn is not None:
                    continue  # not one command: it cannot be queued
                ra, rb = dump_restore(ca, argv), dump_restore(cb, argv)
            else:
                ca.send(payload)
                cb.send(payload)
                ra = ca.read_raw()
                rb = cb.read_raw()
        except (OSError, ConnectionError, ValueError) as e:
            print("\nFAIL at command #%d: %s\n  %s: %s" % (i, show_cmd(argv), type(e).__name__, e))
            for s in (redistill, redis):
                if not s.alive():
                    print("  %s exited; log tail:\n%s" % (s.name, s.log_tail()))
            return 1
        sent += 1
        name = argv[0].upper()
        # Redis ends a transaction on any EXEC (one rejected for its arity
        # included: it aborts with EXECABORT), and on a well-formed DISCARD.
        ends_txn = txn is not None and (name == b"EXEC" or (name == b"DISCARD" and len(argv) == 1))
        keys = cmd.keys
        diff = (ra, rb)
        if ends_txn and name == b"EXEC":
            keys = [k for c, _ in txn for k in c.keys]
            ok, diff = compare_exec(txn, ra, rb, model, db, t)
        else:
            ok = compare_replies(cmd, ra, rb, model, db, t)
        if not ok and could_be_race(*diff) and any(model.near(db, k, t) for k in keys):
            races += 1
            if args.verbose:
                print("  expiry race at #%d: %s: redistill %s, redis %s" % (i, show_cmd(argv), show(ra), show(rb)))
            ok = True
            txn = resync(ca, cb, model, db, keys, txn if not ends_txn else None)
            continue
        history.append((i, argv, ra, rb))
        del history[:-args.context]
        if not ok:
            mismatches += 1
            report(i, argv, ra, rb, history, args)
            if mismatches >= args.max_mismatches:
                break
            txn = resync(ca, cb, model, db, keys, txn if not ends_txn and name != b"MULTI" else True)
            continue
        # Follow the transaction and the selected database, from Redis's
        # replies, and apply each command's effect on expiries when it runs.
        if ends_txn:
            if name == b"EXEC" and rb.startswith(b"*"):
                transactions += 1
                in_transactions += len(txn)
                for (c, a), reply in zip(txn, array_items(rb) or []):
                    model.apply(db, a, t, reply)
                    if a[0].upper() == b"SELECT" and reply == b"+OK\r\n":
                        db = int(a[1])
            txn = None
        elif txn is not None:
            if rb == b"+QUEUED\r\n":
                txn.append((cmd, argv))
        elif name == b"MULTI" and rb == b"+OK\r\n":
            txn = []
        else:
            model.apply(db, argv, t, rb)
            if name == b"SELECT" and ra == b"+OK\r\n" == rb:
                db = int(argv[1])
    elapsed = time.monotonic() - started
    allowed = max(MIN_RACES_ALLOWED, int(sent * MAX_RACE_FRACTION))
    print("differential: %d commands in %.1fs (%d in %d executed transactions), %d mismatches, "
          "%d expiry races excused (at most %d allowed)" % (
              sent, elapsed, in_transactions, transactions, mismatches, races, allowed))
    failed = mismatches > 0 or races > allowed
    if races > allowed:
        print("FAIL: too many expiry races: replies on keys near their deadline disagree more than timing explains")
    print("differential: %d passed, %d failed" % (sent - mismatches, mismatches + (races > allowed)))
    if failed:
        print(replay_line(args))
    return 1 if failed else 0


def resync(ca, cb, model, db, keys, txn):
    """Bring both servers back in step after replies differed: leave any
    transaction either may be in (txn is not None), delete the keys involved.
    Returns the new transaction state (None)."""
    if txn is not None:
        ca.call_raw([b"DISCARD"])
        cb.call_raw([b"DISCARD"])
    keys = list(dict.fromkeys(keys))
    for k in keys:
        model.set(db, k, set())
    if keys:
        ca.call_raw([b"DEL"] + keys)
        cb.call_raw([b"DEL"] + keys)
    return None


def report(i, argv, ra, rb, history, args):
    print("\nMISMATCH at command #%d: %s" % (i, show_cmd(argv)))
    print("  redistill: %s" % show(ra))
    print("  redis:     %s" % show(rb))
    if len(history) > 1:
        print("  preceding commands (index: command -> redistill | redis):")
        for j, hargv, ha, hb in history[:-1]:
            same = "" if ha == hb else "   <- differs (tolerated)"
            print("    #%d: %s -> %s | %s%s" % (j, show_cmd(hargv), show(ha, 80), show(hb, 80), same))


def replay_line(args):
    line = "replay: python3 scripts/differential.py --seed %d --count %d" % (args.seed, args.count)
    if args.extended:
        line += " --extended"
    if args.no_hashes:
        line += " --no-hashes"
    if args.no_sets:
        line += " --no-sets"
    if args.no_zsets:
        line += " --no-zsets"
    if args.no_lists:
        line += " --no-lists"
    if args.with_:
        line += " --with " + ",".join(n.decode() for n in sorted(args.with_))
    if args.only:
        line += " --only " + shlex.quote(",".join(n.decode() for n in sorted(args.only)))
    families = [(args.no_hashes, HASH_COMMANDS), (args.no_sets, SET_COMMANDS), (args.no_zsets, ZSET_COMMANDS),
                (args.no_lists, LIST_COMMANDS)]
    skip = args.skip - set().union(*(names for off, names in families if off))
    if skip:
        line += " --skip " + shlex.quote(",".join(n.decode() for n in sorted(skip)))
    return line


def names(s):
    return {n.strip().upper().encode() for n in s.split(",") if n.strip()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    p.add_argument("--count", type=int, default=5000, help="commands to generate (default 5000)")
    p.add_argument("--extended", action="store_true",
                   help="also send the commands being added (APPEND, STRLEN, GETRANGE, GETEX, INCRBYFLOAT, ...)")
    p.add_argument("--no-hashes", action="store_true",
                   help="leave the hash commands (HSET, HGET, ... and <wrongtype>, string commands on hash "
                        "keys) out of the mix")
    p.add_argument("--no-sets", action="store_true",
                   help="leave the set commands (SADD, SMEMBERS, SINTER, ...) out of the mix")
    p.add_argument("--no-zsets", action="store_true", help="leave the sorted set commands out of the mix")
    p.add_argument("--no-lists", action="store_true",
                   help="leave the list commands (LPUSH, LPOP, LRANGE, LMOVE, ...) out of the mix")
    p.add_argument("--redistill-bin", default=os.path.join(REPO_ROOT, "target", "release", "redistill"))
    p.add_argument("--redis-bin", default=shutil.which("redis-server") or "/usr/bin/redis-server")
    p.add_argument("--threads", type=int, default=2, help="Redistill worker threads (default 2)")
    p.add_argument("--with", dest="with_", type=names, default=set(),
                   help="comma-separated --extended commands to switch on one by one (e.g. APPEND,STRLEN)")
    p.add_argument("--only", type=names, default=None, help="comma-separated commands to restrict the mix to")
    p.add_argument("--skip", type=names, default=set(),
                   help="comma-separated commands to leave out; <unknown>, <arity> and <sleep> name the "
                        "unknown-command, wrong-arity and pause entries")
    p.add_argument("--max-mismatches", type=int, default=1,
                   help="stop after this many mismatches (default 1); later ones resync the keys and go on")
    p.add_argument("--context", type=int, default=8, help="preceding commands to print with a mismatch")
    p.add_argument("--keep-logs", action="store_true", help="keep the servers' work dir and logs")
    p.add_argument("-v", "--verbose", action="store_true", help="print each excused expiry race")
    args = p.parse_args()
    if args.no_hashes:
        args.skip |= HASH_COMMANDS
    if args.no_sets:
        args.skip |= SET_COMMANDS
    if args.no_zsets:
        args.skip |= ZSET_COMMANDS
    if args.no_lists:
        args.skip |= LIST_COMMANDS
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 32)
    args.context += 1
    for b in (args.redistill_bin, args.redis_bin):
        if not (os.path.isfile(b) and os.access(b, os.X_OK)):
            print("differential: not an executable: %s" % b, file=sys.stderr)
            return 2
    unknown = (args.with_ | (args.only or set())) - set(COMMANDS)
    if unknown:
        print("differential: not in the command table: %s" % ", ".join(sorted(n.decode() for n in unknown)),
              file=sys.stderr)
        return 2
    try:
        return run(args)
    except RuntimeError as e:
        print("differential: setup failed: %s" % e, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

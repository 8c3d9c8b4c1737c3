"""Hashes through redis-py, the way applications use them.

Covers: a session store kept in hashes (HSET mapping + EXPIRE + HGETALL, the
layout Spring Session uses), per-user counters in one hash (HINCRBY,
HINCRBYFLOAT), HSCAN iteration with ``hscan_iter`` (``match=``, ``count=``)
over 1,000 fields, HMGET with missing fields, HDEL of the last field deleting
the key, pipelines with and without MULTI mixing hash and string commands,
WRONGTYPE between strings and hashes as ``redis.exceptions.ResponseError``,
RESP2 and RESP3 (the parsed replies and, where redis-py exposes them, the raw
ones), and per-field expiry: HEXPIRE / HPEXPIRE / HTTL / HPERSIST (Redis 7.4)
and HSETEX / HGETEX / HGETDEL (Redis 8.0). Those are skipped when the
server's ``INFO server`` redis_version is older, with the version in the
skip reason.
"""

import time
import uuid

import pytest
import redis
from conftest import raw
from redis.commands.core import HashDataPersistOptions

from conftest import raw

WRONGTYPE = "^WRONGTYPE Operation against a key holding the wrong kind of value$"


def server_version(client):
    """The server's ``redis_version`` from INFO server, as a tuple of ints."""
    version = client.info("server")["redis_version"]
    return tuple(int(part) for part in str(version).split(".")[:3])


def require_version(client, minimum, commands):
    """Skip the calling test unless the server reports at least `minimum`."""
    have = server_version(client)
    if have < minimum:
        need = ".".join(map(str, minimum))
        pytest.skip(f"{commands} need Redis {need}+; the server reports redis_version {'.'.join(map(str, have))}")


# --------------------------------------------------------------------------
# Session store: one hash per session (Spring Session's layout)
# --------------------------------------------------------------------------


class HashSessionStore:
    """Sessions as hashes: creationTime, lastAccessedTime, maxInactiveInterval
    and one ``sessionAttr:<name>`` field per attribute, the key expiring after
    the inactivity interval. Every write is HSET + EXPIRE in one MULTI."""

    def __init__(self, client, ttl=1800):
        self.client = client
        self.ttl = ttl

    @staticmethod
    def key(sid):
        return f"spring:session:sessions:{sid}"

    def _write(self, sid, fields):
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.key(sid), mapping=fields)
        pipe.expire(self.key(sid), self.ttl)
        return pipe.execute()

    def create(self, attributes):
        sid = uuid.uuid4().hex
        now = int(time.time() * 1000)
        fields = {"creationTime": now, "lastAccessedTime": now, "maxInactiveInterval": self.ttl}
        fields.update({f"sessionAttr:{k}": v for k, v in attributes.items()})
        added, expire_ok = self._write(sid, fields)
        assert (added, expire_ok) == (len(fields), True)
        return sid

    def load(self, sid):
        raw_fields = self.client.hgetall(self.key(sid))
        if not raw_fields:
            return None
        decoded = {k.decode(): v.decode() for k, v in raw_fields.items()}
        return {
            "creationTime": int(decoded.pop("creationTime")),
            "lastAccessedTime": int(decoded.pop("lastAccessedTime")),
            "maxInactiveInterval": int(decoded.pop("maxInactiveInterval")),
            "attributes": {k.removeprefix("sessionAttr:"): v for k, v in decoded.items()},
        }

    def set_attribute(self, sid, name, value):
        now = int(time.time() * 1000)
        added, _ = self._write(sid, {f"sessionAttr:{name}": value, "lastAccessedTime": now})
        return added

    def remove_attribute(self, sid, name):
        return self.client.hdel(self.key(sid), f"sessionAttr:{name}")

    def invalidate(self, sid):
        return self.client.delete(self.key(sid))


def test_session_store_in_hashes(r):
    store = HashSessionStore(r, ttl=1800)
    before = int(time.time() * 1000)
    sid = store.create({"user": "alice", "csrf": "x" * 32})
    session = store.load(sid)
    assert session["attributes"] == {"user": "alice", "csrf": "x" * 32}
    assert session["maxInactiveInterval"] == 1800
    assert before <= session["creationTime"] == session["lastAccessedTime"] <= int(time.time() * 1000)
    assert r.type(store.key(sid)) == b"hash"
    assert r.hlen(store.key(sid)) == 5
    assert 1795 <= r.ttl(store.key(sid)) <= 1800

    # Adding one attribute adds one field; HSET of existing fields adds none.
    r.expire(store.key(sid), 100)
    assert store.set_attribute(sid, "cart", "3 items") == 1
    assert store.set_attribute(sid, "cart", "4 items") == 0
    assert 1795 <= r.ttl(store.key(sid)) <= 1800, "every write renews the expiry"
    assert store.load(sid)["attributes"] == {"user": "alice", "csrf": "x" * 32, "cart": "4 items"}
    assert r.hget(store.key(sid), "sessionAttr:cart") == b"4 items"
    assert r.hexists(store.key(sid), "sessionAttr:cart") is True

    assert store.remove_attribute(sid, "cart") == 1
    assert store.remove_attribute(sid, "cart") == 0
    assert r.hexists(store.key(sid), "sessionAttr:cart") is False
    assert store.load(sid)["attributes"] == {"user": "alice", "csrf": "x" * 32}

    other = store.create({"user": "bob"})
    assert store.invalidate(sid) == 1
    assert store.load(sid) is None
    assert r.hgetall(store.key(sid)) == {}
    assert r.ttl(store.key(sid)) == -2
    assert store.load(other)["attributes"] == {"user": "bob"}
    assert r.dbsize() == 1


def test_session_hash_expires_as_a_whole(r):
    key = HashSessionStore.key("short")
    assert r.hset(key, mapping={"creationTime": 1, "sessionAttr:user": "carol"}) == 2
    assert r.pexpire(key, 150) is True
    assert r.hget(key, "sessionAttr:user") == b"carol"
    time.sleep(0.3)
    assert r.hgetall(key) == {}
    assert r.hget(key, "sessionAttr:user") is None
    assert r.hlen(key) == 0
    assert r.exists(key) == 0
    assert r.ttl(key) == -2


# --------------------------------------------------------------------------
# Counters: one hash of per-user counters per window
# --------------------------------------------------------------------------


def test_per_user_rate_counters_in_one_hash(r):
    key = "rate:api:window-1"
    pipe = r.pipeline(transaction=False)
    for user in ["alice", "bob", "alice", "carol", "alice", "bob"]:
        pipe.hincrby(key, user, 1)
    pipe.expire(key, 60)
    assert pipe.execute() == [1, 1, 2, 1, 3, 2, True]
    assert r.hgetall(key) == {b"alice": b"3", b"bob": b"2", b"carol": b"1"}
    assert 0 < r.ttl(key) <= 60

    assert r.hincrby(key, "alice", -10) == -7
    assert r.hincrby(key, "dave", 0) == 0
    assert r.hget(key, "dave") == b"0"
    assert r.hincrby(key, "big", 9223372036854775807) == 9223372036854775807
    with pytest.raises(redis.ResponseError, match="^increment or decrement would overflow$"):
        r.hincrby(key, "big", 1)
    assert r.hget(key, "big") == b"9223372036854775807"

    r.hset(key, "label", "not a number")
    with pytest.raises(redis.ResponseError, match="^hash value is not an integer$"):
        r.hincrby(key, "label", 1)
    with pytest.raises(redis.ResponseError, match="^value is not an integer or out of range$"):
        r.hincrby(key, "alice", "1.5")
    assert r.hget(key, "alice") == b"-7"
    assert r.hlen(key) == 6


def test_hincrbyfloat_counters(r):
    key = "usage:bytes"
    assert r.hincrbyfloat(key, "alice", 10.5) == 10.5
    assert r.hincrbyfloat(key, "alice", "5.0e3") == 5010.5
    assert r.hget(key, "alice") == b"5010.5"
    assert r.hincrbyfloat(key, "alice", -5010.5) == 0
    assert r.hget(key, "alice") == b"0"
    r.hset(key, "n", 3)
    assert r.hincrbyfloat(key, "n", 0.25) == 3.25
    r.hset(key, "label", "abc")
    with pytest.raises(redis.ResponseError, match="^hash value is not a float$"):
        r.hincrbyfloat(key, "label", 1)
    with pytest.raises(redis.ResponseError, match="^value is not a valid float$"):
        r.hincrbyfloat(key, "n", "abc")
    assert r.hmget(key, ["alice", "n", "label"]) == [b"0", b"3.25", b"abc"]


# --------------------------------------------------------------------------
# Reading: HMGET, HKEYS/HVALS, HSTRLEN, HSCAN
# --------------------------------------------------------------------------


def test_hmget_with_missing_fields_and_keys(r):
    assert r.hset("user:1", mapping={"name": "Ada", "email": "ada@example.com", "empty": ""}) == 3
    assert r.hmget("user:1", ["name", "missing", "email", "empty"]) == [b"Ada", None, b"ada@example.com", b""]
    assert r.hmget("user:1", "name", "name") == [b"Ada", b"Ada"]
    assert r.hmget("no-such-user", ["name", "email"]) == [None, None]
    assert r.hget("user:1", "missing") is None
    assert r.hget("no-such-user", "name") is None
    assert r.hexists("no-such-user", "name") is False

    assert r.hstrlen("user:1", "email") == len("ada@example.com")
    assert r.hstrlen("user:1", "missing") == 0
    assert r.hstrlen("no-such-user", "name") == 0
    assert r.hlen("no-such-user") == 0
    assert r.hkeys("no-such-user") == []
    assert r.hvals("no-such-user") == []

    # HKEYS and HVALS walk the hash in the same order, and match HGETALL.
    keys, vals = r.hkeys("user:1"), r.hvals("user:1")
    assert sorted(keys) == [b"email", b"empty", b"name"]
    assert dict(zip(keys, vals)) == r.hgetall("user:1")


def test_hset_binary_fields_and_values(r):
    field, value = b"\x00\xff\r\n", bytes(range(256))
    assert r.hset("bin", field, value) == 1
    assert r.hset("bin", "", "empty field name") == 1
    assert r.hget("bin", field) == value
    assert r.hgetall("bin") == {field: value, b"": b"empty field name"}
    assert r.hsetnx("bin", field, "other") == 0
    assert r.hsetnx("bin", "new", "v") == 1
    assert r.hget("bin", field) == value


def test_hscan_iter_over_1000_fields(r):
    key = "big:hash"
    fields = {f"field:{i}".encode(): str(i).encode() for i in range(1000)}
    # Values that would match the pattern if MATCH looked at values (it does not).
    decoys = {f"other:{i}".encode(): b"field:1" for i in range(200)}
    assert r.hset(key, mapping={**fields, **decoys}) == 1200

    everything = list(r.hscan_iter(key, count=100))
    assert dict(everything) == {**fields, **decoys}
    assert all(isinstance(item, tuple) and len(item) == 2 for item in everything)

    expected = {k: v for k, v in fields.items() if k.startswith(b"field:1")}
    assert len(expected) == 111
    found = list(r.hscan_iter(key, match="field:1*", count=50))
    assert dict(found) == expected
    assert len(found) >= len(expected)  # SCAN may repeat an element, never drop one

    assert list(r.hscan_iter(key, match="nothing:*", count=200)) == []
    assert list(r.hscan_iter("no-such-hash")) == []


def test_hscan_pages_with_the_cursor(r):
    key = "paged"
    r.hset(key, mapping={f"f{i}": i for i in range(1000)})
    cursor, page = r.hscan(key, 0, count=50)
    assert cursor != 0, "1,000 fields with COUNT 50 take more than one page"
    seen = dict(page)
    calls = 1
    while cursor != 0:
        cursor, page = r.hscan(key, cursor, count=50)
        seen.update(page)
        calls += 1
        assert calls <= 1000, "the cursor never came back to 0"
    assert seen == {f"f{i}".encode(): str(i).encode() for i in range(1000)}


# --------------------------------------------------------------------------
# HDEL and the key's life cycle
# --------------------------------------------------------------------------


def test_hdel_of_the_last_field_deletes_the_key(r):
    assert r.hset("cart:9", mapping={"sku-1": 2, "sku-2": 1}) == 2
    assert r.expire("cart:9", 600) is True
    assert r.hdel("cart:9", "sku-1", "missing") == 1
    assert r.exists("cart:9") == 1
    assert r.hdel("cart:9", "sku-2", "sku-2") == 1
    assert r.exists("cart:9") == 0
    assert r.type("cart:9") == b"none"
    assert r.hlen("cart:9") == 0
    assert r.ttl("cart:9") == -2
    assert r.hdel("cart:9", "sku-2") == 0
    assert r.dbsize() == 0

    # A hash made again under the same name starts without the old expiry.
    assert r.hset("cart:9", "sku-3", 1) == 1
    assert r.ttl("cart:9") == -1


def test_del_rename_and_type_of_hashes(r):
    r.hset("h", mapping={"a": 1, "b": 2})
    assert r.type("h") == b"hash"
    assert r.rename("h", "h2") is True
    assert r.exists("h") == 0
    assert r.hgetall("h2") == {b"a": b"1", b"b": b"2"}
    r.set("s", "v")
    assert r.renamenx("h2", "s") is False
    assert r.rename("h2", "s") is True  # RENAME replaces the string
    assert r.type("s") == b"hash"
    assert r.delete("s", "missing") == 1
    assert r.dbsize() == 0


# --------------------------------------------------------------------------
# Pipelines mixing hash and string commands
# --------------------------------------------------------------------------


@pytest.mark.parametrize("transaction", [False, True], ids=["pipeline", "multi-exec"])
def test_pipeline_mixing_hashes_and_strings(r, transaction):
    r.set("text", "abc")
    pipe = r.pipeline(transaction=transaction)
    pipe.hset("profile", mapping={"name": "Ada", "visits": 1})
    pipe.set("last-login", "2024-06-11")
    pipe.hincrby("profile", "visits", 41)
    pipe.hget("text", "field")  # WRONGTYPE, in place
    pipe.hgetall("profile")
    pipe.get("last-login")
    pipe.hmget("profile", "name", "missing")
    pipe.incr("profile")  # WRONGTYPE, in place
    pipe.hdel("profile", "name")
    pipe.hexists("profile", "name")
    pipe.hlen("profile")
    res = pipe.execute(raise_on_error=False)
    assert len(res) == 11
    for i in (3, 7):
        assert isinstance(res[i], redis.exceptions.ResponseError), res[i]
        assert str(res[i]).startswith("WRONGTYPE"), str(res[i])
    others = [v for i, v in enumerate(res) if i not in (3, 7)]
    assert others == [
        2,
        True,
        42,
        {b"name": b"Ada", b"visits": b"42"},
        b"2024-06-11",
        [b"Ada", None],
        1,
        False,
        1,
    ]
    assert r.hgetall("profile") == {b"visits": b"42"}

    # With raise_on_error left on, the first error is raised after the batch ran.
    pipe = r.pipeline(transaction=transaction)
    pipe.hset("profile", "visits", 0)
    pipe.hget("text", "x")
    pipe.hset("profile", "after", "error")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        pipe.execute()
    assert r.hgetall("profile") == {b"visits": b"0", b"after": b"error"}


def test_watch_guarded_hash_update(r):
    """Optimistic locking as redis-py's `transaction()` helper does it."""
    r.hset("account:1", mapping={"balance": 100, "version": 1})

    def withdraw(pipe):
        balance = int(pipe.hget("account:1", "balance"))
        pipe.multi()
        pipe.hset("account:1", mapping={"balance": balance - 30})
        pipe.hincrby("account:1", "version", 1)

    assert r.transaction(withdraw, "account:1") == [0, 2]
    assert r.hmget("account:1", "balance", "version") == [b"70", b"2"]

    # A write by someone else between WATCH and EXEC aborts the transaction.
    pipe = r.pipeline()
    pipe.watch("account:1")
    r.hset("account:1", "balance", 0)
    pipe.multi()
    pipe.hset("account:1", "balance", 999)
    with pytest.raises(redis.WatchError):
        pipe.execute()
    assert r.hget("account:1", "balance") == b"0"


# --------------------------------------------------------------------------
# WRONGTYPE between strings and hashes
# --------------------------------------------------------------------------


def test_hash_commands_on_a_string_raise_wrongtype(r):
    r.set("plain", "value")
    calls = [
        lambda: r.hget("plain", "f"),
        lambda: r.hset("plain", "f", "v"),
        lambda: r.hset("plain", mapping={"a": 1}),
        lambda: r.hsetnx("plain", "f", "v"),
        lambda: r.hmget("plain", ["f"]),
        lambda: r.hgetall("plain"),
        lambda: r.hdel("plain", "f"),
        lambda: r.hexists("plain", "f"),
        lambda: r.hlen("plain"),
        lambda: r.hkeys("plain"),
        lambda: r.hvals("plain"),
        lambda: r.hstrlen("plain", "f"),
        lambda: r.hincrby("plain", "f", 1),
        lambda: r.hincrbyfloat("plain", "f", 1.5),
        lambda: r.hrandfield("plain"),
        lambda: r.hscan("plain"),
    ]
    for call in calls:
        with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
            call()
    assert r.get("plain") == b"value"
    assert r.type("plain") == b"string"


def test_string_commands_on_a_hash_raise_wrongtype(r):
    r.hset("h", mapping={"f": "1"})
    calls = [
        lambda: r.get("h"),
        lambda: r.incr("h"),
        lambda: r.incrby("h", 5),
        lambda: r.append("h", "x"),
        lambda: r.strlen("h"),
        lambda: r.getrange("h", 0, -1),
        lambda: r.setrange("h", 0, "x"),
        lambda: r.getdel("h"),
        lambda: r.getex("h", ex=10),
        lambda: r.set("h", "x", get=True),
    ]
    for call in calls:
        with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
            call()
    assert r.mget("h", "missing") == [None, None], "MGET answers nil for a non-string"
    assert r.hgetall("h") == {b"f": b"1"}, "the failed commands left the hash alone"

    # SET replaces a hash outright (and drops its TTL); SETNX and MSETNX do not.
    assert r.setnx("h", "v") is False
    assert r.msetnx({"h": "v", "other": "v"}) is False
    r.expire("h", 100)
    assert r.set("h", "now a string") is True
    assert r.type("h") == b"string"
    assert r.ttl("h") == -1
    assert r.get("h") == b"now a string"
    with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
        r.hget("h", "f")


# --------------------------------------------------------------------------
# RESP2 and RESP3
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_reply_shapes_in_both_protocols(make_client, protocol):
    c = make_client(protocol=protocol)
    c.flushall()
    assert c.hset("h", mapping={"a": "1", "b": "2"}) == 2

    # HGETALL: redis-py builds a dict either way; on the wire RESP2 sends a
    # flat array and RESP3 a map.
    assert c.hgetall("h") == {b"a": b"1", b"b": b"2"}
    wire = raw(c, "HGETALL", "h")
    if protocol == 2:
        assert isinstance(wire, list) and dict(zip(wire[::2], wire[1::2])) == {b"a": b"1", b"b": b"2"}
    else:
        assert wire == {b"a": b"1", b"b": b"2"}
    assert raw(c, "HGETALL", "missing") == ([] if protocol == 2 else {})

    # HRANDFIELD WITHVALUES: RESP2 flat, RESP3 an array of [field, value] pairs.
    wire = raw(c, "HRANDFIELD", "h", 2, "WITHVALUES")
    if protocol == 2:
        assert len(wire) == 4 and dict(zip(wire[::2], wire[1::2])) == {b"a": b"1", b"b": b"2"}
    else:
        assert sorted(wire) == [[b"a", b"1"], [b"b", b"2"]]
    # A negative count may repeat fields and returns exactly that many.
    wire = raw(c, "HRANDFIELD", "h", -5, "WITHVALUES")
    pairs = list(zip(wire[::2], wire[1::2])) if protocol == 2 else [tuple(p) for p in wire]
    assert len(pairs) == 5 and set(pairs) <= {(b"a", b"1"), (b"b", b"2")}

    assert c.hrandfield("h") in (b"a", b"b")
    assert sorted(c.hrandfield("h", 10)) == [b"a", b"b"]
    assert len(c.hrandfield("h", -7)) == 7
    assert c.hrandfield("missing") is None
    assert c.hrandfield("missing", 3) == []
    assert c.hrandfield("h", 0) == []

    # HINCRBYFLOAT answers a bulk string in both protocols; redis-py makes it a float.
    assert raw(c, "HINCRBYFLOAT", "h", "a", "0.5") == b"1.5"
    assert c.hincrbyfloat("h", "a", 1) == 2.5

    # HSCAN: [cursor, flat field/value array] in both.
    cursor, flat = raw(c, "HSCAN", "h", 0)
    assert cursor == b"0" and dict(zip(flat[::2], flat[1::2])) == {b"a": b"2.5", b"b": b"2"}
    assert c.hscan("h") == (0, {b"a": b"2.5", b"b": b"2"})

    assert c.hmget("h", "b", "nope") == [b"2", None]
    assert c.hexists("h", "a") is True
    assert raw(c, "HEXISTS", "h", "a") == 1
    c.set("s", "v")
    with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
        c.hgetall("s")


def test_decode_responses_gives_str(make_client):
    c = make_client(decode_responses=True)
    c.flushall()
    c.hset("user:ü", mapping={"naïve": "café", "n": 1})
    assert c.hgetall("user:ü") == {"naïve": "café", "n": "1"}
    assert sorted(c.hkeys("user:ü")) == ["n", "naïve"]
    assert dict(c.hscan_iter("user:ü", match="na*")) == {"naïve": "café"}


# --------------------------------------------------------------------------
# Per-field expiry (Redis 7.4: HEXPIRE & co, Redis 8.0: HSETEX, HGETEX, HGETDEL)
# --------------------------------------------------------------------------


def test_hexpire_httl_hpersist(r):
    require_version(r, (7, 4), "HEXPIRE/HPEXPIRE/HTTL/HPTTL/HPERSIST")
    r.hset("h", mapping={"a": 1, "b": 2, "c": 3})
    assert r.hexpire("h", 100, "a", "b", "missing") == [1, 1, -2]
    ttl_a, ttl_b, ttl_c, ttl_missing = r.httl("h", "a", "b", "c", "missing")
    assert 95 <= ttl_a <= 100 and 95 <= ttl_b <= 100
    assert (ttl_c, ttl_missing) == (-1, -2)
    assert 95_000 <= r.hpttl("h", "a")[0] <= 100_000
    assert r.ttl("h") == -1, "field expiry leaves the key's own TTL alone"

    # NX / XX / GT / LT, answered per field: 0 when the condition fails.
    assert r.hexpire("h", 50, "a", "c", nx=True) == [0, 1]
    assert r.hexpire("h", 200, "a", "c", xx=True) == [1, 1]
    assert r.hexpire("h", 10, "a", gt=True) == [0]
    assert r.hexpire("h", 10, "a", lt=True) == [1]
    assert 5 <= r.httl("h", "a")[0] <= 10

    assert r.hpersist("h", "a", "b", "missing") == [1, 1, -2]
    assert r.hpersist("h", "a") == [-1]
    assert r.httl("h", "a", "b", "c")[:2] == [-1, -1]

    # 0 s deletes the field at once (2); the last field takes the key with it.
    assert r.hexpire("h", 0, "a") == [2]
    assert r.hget("h", "a") is None
    assert r.hexpire("missing-key", 10, "a", "b") == [-2, -2]
    assert r.httl("missing-key", "a") == [-2]
    assert r.hpexpire("h", 0, "b", "c") == [2, 2]
    assert r.exists("h") == 0

    r.set("s", "v")
    with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
        r.hexpire("s", 10, "a")


def test_fields_expire_on_their_own(r):
    require_version(r, (7, 4), "HPEXPIRE/HTTL")
    r.hset("tokens", mapping={"short": "x", "long": "y"})
    assert r.hpexpire("tokens", 150, "short") == [1]
    assert r.hpexpire("tokens", 600_000, "long") == [1]
    assert r.hget("tokens", "short") == b"x"
    time.sleep(0.3)
    assert r.hget("tokens", "short") is None
    assert r.hgetall("tokens") == {b"long": b"y"}
    assert r.hlen("tokens") == 1
    assert r.httl("tokens", "short") == [-2]

    assert r.hpexpire("tokens", 150, "long") == [1]
    time.sleep(0.3)
    assert r.exists("tokens") == 0, "the hash goes when its last field expires"


def test_hsetex_hgetex_hgetdel(r):
    require_version(r, (8, 0), "HSETEX/HGETEX/HGETDEL")
    assert r.hsetex("otp", mapping={"alice": "123456", "bob": "654321"}, ex=300) == 1
    assert all(295 <= t <= 300 for t in r.httl("otp", "alice", "bob"))
    assert r.hsetex("otp", "carol", "111111") == 1
    assert r.httl("otp", "carol") == [-1]

    # FNX: only when none of the fields exists; FXX: only when all do.
    fnx, fxx = HashDataPersistOptions.FNX, HashDataPersistOptions.FXX
    assert r.hsetex("otp", mapping={"alice": "0", "dave": "0"}, data_persist_option=fnx, ex=10) == 0
    assert r.hsetex("otp", mapping={"alice": "0", "dave": "0"}, data_persist_option=fxx, ex=10) == 0
    assert r.hmget("otp", "alice", "dave") == [b"123456", None]
    assert r.hsetex("otp", mapping={"alice": "999999"}, data_persist_option=fxx, keepttl=True) == 1
    assert 295 <= r.httl("otp", "alice")[0] <= 300, "KEEPTTL kept the field's TTL"
    assert r.hsetex("otp", "bob", "222222") == 1
    assert r.httl("otp", "bob") == [-1], "HSETEX without a TTL option clears it"

    # HGETEX reads and sets (or clears) the TTL of the fields it reads.
    assert r.hgetex("otp", "alice", "missing", px=50_000) == [b"999999", None]
    assert 45 <= r.httl("otp", "alice")[0] <= 50
    assert r.hgetex("otp", "alice", persist=True) == [b"999999"]
    assert r.httl("otp", "alice") == [-1]
    assert r.hgetex("otp", "carol") == [b"111111"]
    assert r.hgetex("no-such-key", "a", ex=10) == [None]

    # HGETDEL reads and removes; the last field takes the key with it.
    assert r.hgetdel("otp", "alice", "missing") == [b"999999", None]
    assert r.hexists("otp", "alice") is False
    assert r.hgetdel("otp", "bob", "carol") == [b"222222", b"111111"]
    assert r.exists("otp") == 0
    assert r.hgetdel("otp", "bob") == [None]

    r.set("s", "v")
    for call in (lambda: r.hsetex("s", "f", "v"), lambda: r.hgetex("s", "f"), lambda: r.hgetdel("s", "f")):
        with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
            call()

"""Sets through redis-py, the way applications use them.

Covers: cache tags in the style of Laravel's tagged cache and Symfony's
RedisTagAwareAdapter (each tag a set of the cache keys it covers: SADD on
write, SMEMBERS / SUNION / SINTER to find tagged keys, DEL of the keys and the
tag sets to invalidate, SREM to forget one key, pruning members whose keys
expired), ``sscan_iter`` over 1,000 members (``match=``, ``count=``), SPOP and
SRANDMEMBER with counts, SMOVE, SMISMEMBER, SINTERCARD, the STORE forms,
WRONGTYPE between strings, hashes and sets as ``redis.exceptions.ResponseError``,
pipelines with MULTI, and RESP2 and RESP3 (the parsed replies and the raw
ones: RESP3 sends SMEMBERS, SINTER, SUNION, SDIFF and SPOP with a count as
sets, SRANDMEMBER with a count as an array).
"""

import time

import pytest
import redis
from conftest import raw

WRONGTYPE = "^WRONGTYPE Operation against a key holding the wrong kind of value$"


def wire_type(client, *args):
    """The first byte of the raw reply to one command, read off the socket
    (redis-py's RESP3 parser turns sets into lists, so its output cannot
    tell them apart): ``*`` an array, ``~`` a set."""
    pool = client.connection_pool
    conn = pool.get_connection()
    try:
        conn.send_command(*args)
        data = conn._sock.recv(1)
        conn.disconnect()  # the rest of the reply is left unread
        return data
    finally:
        pool.release(conn)


# --------------------------------------------------------------------------
# Cache tags: each tag is a set of the keys it covers
# --------------------------------------------------------------------------


class TaggedCache:
    """Values under ``cache:<key>``, each tag a set ``tag:<name>`` of the
    cache keys it covers (Laravel's ``Cache::tags([...])->put()`` and
    Symfony's ``TagAwareAdapter``). A write stores the value and adds its key
    to every tag's set in one MULTI; flushing tags deletes the union of their
    keys and the tag sets themselves."""

    def __init__(self, client):
        self.r = client

    @staticmethod
    def tag_key(tag):
        return f"tag:{tag}"

    def put(self, key, value, tags, ttl=None):
        with self.r.pipeline(transaction=True) as p:
            p.set(f"cache:{key}", value, ex=ttl)
            for tag in tags:
                p.sadd(self.tag_key(tag), f"cache:{key}")
            return p.execute()

    def get(self, key):
        return self.r.get(f"cache:{key}")

    def keys_tagged_any(self, tags):
        return self.r.sunion([self.tag_key(t) for t in tags])

    def keys_tagged_all(self, tags):
        return self.r.sinter([self.tag_key(t) for t in tags])

    def flush(self, tags):
        """Delete every key under any of `tags`, then the tag sets."""
        keys = self.keys_tagged_any(tags)
        with self.r.pipeline(transaction=True) as p:
            if keys:
                p.delete(*keys)
            p.delete(*[self.tag_key(t) for t in tags])
            return p.execute()

    def forget(self, key, tags):
        with self.r.pipeline(transaction=True) as p:
            p.delete(f"cache:{key}")
            for tag in tags:
                p.srem(self.tag_key(tag), f"cache:{key}")
            return p.execute()

    def prune(self, tag):
        """Drop members whose cache entry expired (Symfony's prune): SSCAN
        the tag, check which keys still exist, SREM the rest. Returns how
        many went."""
        members = list(self.r.sscan_iter(self.tag_key(tag), count=100))
        with self.r.pipeline(transaction=False) as p:
            for m in members:
                p.exists(m)
            alive = p.execute()
        dead = [m for m, ok in zip(members, alive) if not ok]
        return self.r.srem(self.tag_key(tag), *dead) if dead else 0


@pytest.mark.parametrize("protocol", [2, 3])
def test_cache_tags_put_find_and_flush(make_client, protocol):
    c = make_client(protocol=protocol)
    c.flushall()
    cache = TaggedCache(c)
    assert cache.put("post:1", "p1", ["posts", "user:7"], ttl=600) == [True, 1, 1]
    cache.put("post:2", "p2", ["posts", "user:8"], ttl=600)
    cache.put("user:7:profile", "u7", ["user:7"], ttl=600)
    cache.put("post:1", "p1 v2", ["posts", "user:7"], ttl=600)  # again: no new tag members

    assert c.smembers("tag:posts") == {b"cache:post:1", b"cache:post:2"}
    assert c.scard("tag:user:7") == 2
    assert c.sismember("tag:posts", "cache:post:2")
    assert c.smismember("tag:posts", ["cache:post:1", "cache:nope"]) == [True, False]
    assert cache.keys_tagged_any(["user:7", "user:8"]) == {b"cache:post:1", b"cache:post:2", b"cache:user:7:profile"}
    assert cache.keys_tagged_all(["posts", "user:7"]) == {b"cache:post:1"}
    assert c.sdiff(["tag:posts", "tag:user:7"]) == {b"cache:post:2"}
    assert c.sintercard(2, ["tag:posts", "tag:user:7"]) == 1

    # Flushing the user:7 tag removes its entries and the tag, not the others.
    cache.flush(["user:7"])
    assert cache.get("post:1") is None and cache.get("user:7:profile") is None
    assert cache.get("post:2") == b"p2"
    assert c.exists("tag:user:7") == 0
    # The posts tag still names the flushed post: pruning drops it.
    assert cache.prune("posts") == 1
    assert c.smembers("tag:posts") == {b"cache:post:2"}

    # Forgetting the last key of a tag removes the tag set itself.
    cache.forget("post:2", ["posts", "user:8"])
    assert c.exists("tag:posts", "tag:user:8", "cache:post:2") == 0
    assert c.dbsize() == 0


def test_tag_sets_survive_expiry_of_their_keys_until_pruned(r):
    cache = TaggedCache(r)
    cache.put("a", "1", ["t"], ttl=1)
    cache.put("b", "2", ["t"])
    r.pexpire("cache:a", 1)
    time.sleep(0.05)
    assert r.scard("tag:t") == 2
    assert cache.prune("t") == 1
    assert r.smembers("tag:t") == {b"cache:b"}


def test_store_forms_build_tag_unions(r):
    r.sadd("tag:a", "k1", "k2")
    r.sadd("tag:b", "k2", "k3")
    assert r.sunionstore("flush:set", ["tag:a", "tag:b"]) == 3
    assert r.smembers("flush:set") == {b"k1", b"k2", b"k3"}
    assert r.sinterstore("both", ["tag:a", "tag:b"]) == 1
    assert r.sdiffstore("only:a", ["tag:a", "tag:b"]) == 1
    assert r.smembers("only:a") == {b"k1"}
    # An empty result deletes the destination.
    assert r.sinterstore("both", ["tag:a", "missing"]) == 0
    assert r.exists("both") == 0


def test_sscan_iter_over_a_thousand_members(r):
    members = [f"cache:item:{i:04d}" for i in range(1000)]
    assert r.sadd("tag:big", *members) == 1000
    assert r.object("encoding", "tag:big") == b"hashtable"
    seen = set(r.sscan_iter("tag:big", count=50))
    assert seen == {m.encode() for m in members}
    matched = set(r.sscan_iter("tag:big", match="cache:item:09*"))
    assert matched == {f"cache:item:{i:04d}".encode() for i in range(900, 1000)}


def test_spop_srandmember_and_smove(r):
    r.sadd("jobs", *[f"job:{i}" for i in range(10)])
    one = r.spop("jobs")
    assert one.startswith(b"job:") and r.scard("jobs") == 9
    batch = r.spop("jobs", 4)
    assert len(batch) == 4 and len(set(batch)) == 4 and r.scard("jobs") == 5
    assert r.spop("jobs", 0) in ([], set())
    picked = r.srandmember("jobs", 3)
    assert len(set(picked)) == 3 and r.scard("jobs") == 5
    assert len(r.srandmember("jobs", -12)) == 12
    member = r.srandmember("jobs")
    assert r.smove("jobs", "done", member) is True
    assert r.sismember("done", member) and not r.sismember("jobs", member)
    assert r.smove("jobs", "done", "nope") is False
    rest = r.spop("jobs", 100)
    assert len(rest) == 4 and r.exists("jobs") == 0
    assert r.spop("jobs") is None and r.srandmember("jobs") is None


def test_wrongtype_between_strings_hashes_and_sets(r):
    r.set("s", "v")
    r.hset("h", "f", "v")
    r.sadd("set", "m")
    for key in ("s", "h"):
        with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
            r.sadd(key, "m")
        with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
            r.smembers(key)
        with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
            r.sunion(["set", key])
    with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
        r.get("set")
    with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
        r.hget("set", "f")
    assert r.type("set") == b"set"


def test_errors_are_response_errors(r):
    r.sadd("s", "a")
    with pytest.raises(redis.exceptions.ResponseError, match="must be positive"):
        r.spop("s", -1)
    with pytest.raises(redis.exceptions.ResponseError, match="numkeys should be greater than 0"):
        r.execute_command("SINTERCARD", 0, "s")
    with pytest.raises(redis.exceptions.ResponseError, match="LIMIT can't be negative"):
        r.execute_command("SINTERCARD", 1, "s", "LIMIT", -1)
    with pytest.raises(redis.exceptions.ResponseError, match="invalid cursor"):
        r.execute_command("SSCAN", "s", "x")


# --------------------------------------------------------------------------
# RESP2 and RESP3
# --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [2, 3])
def test_reply_shapes_in_both_protocols(make_client, protocol):
    c = make_client(protocol=protocol)
    c.flushall()
    assert c.sadd("a", "1", "2", "x") == 3
    assert c.sadd("b", "2", "y") == 2
    # RESP2 sends arrays; RESP3 sends sets.
    collection = b"*" if protocol == 2 else b"~"
    for args, want in [
        (("SMEMBERS", "a"), {b"1", b"2", b"x"}),
        (("SINTER", "a", "b"), {b"2"}),
        (("SUNION", "a", "b"), {b"1", b"2", b"x", b"y"}),
        (("SDIFF", "a", "b"), {b"1", b"x"}),
        (("SPOP", "b", "5"), {b"2", b"y"}),
    ]:
        if args[0] != "SPOP":
            assert wire_type(c, *args) == collection, args
        assert set(raw(c, *args)) == want, args
    assert wire_type(c, "SPOP", "a", "0") == collection
    assert list(raw(c, "SMEMBERS", "missing")) == []
    # SRANDMEMBER with a count is an array in both.
    assert wire_type(c, "SRANDMEMBER", "a", -4) == b"*"
    wire = raw(c, "SRANDMEMBER", "a", -4)
    assert len(wire) == 4 and set(wire) <= {b"1", b"2", b"x"}
    # SMISMEMBER: integers in both.
    assert raw(c, "SMISMEMBER", "a", "1", "z") == [1, 0]
    # SSCAN: [cursor, members] in both.
    cursor, members = raw(c, "SSCAN", "a", 0)
    assert cursor == b"0" and sorted(members) == [b"1", b"2", b"x"]
    # redis-py's own results are the same whichever protocol.
    assert c.smembers("a") == {b"1", b"2", b"x"}
    cursor, members = c.sscan("a")
    assert cursor == 0 and sorted(members) == [b"1", b"2", b"x"]


def test_pipelines_with_multi_mix_set_and_string_commands(r):
    with r.pipeline(transaction=True) as p:
        p.sadd("online", "u1", "u2", "u3")
        p.set("visits", 10)
        p.srem("online", "u2")
        p.incr("visits")
        p.scard("online")
        p.smembers("online")
        assert p.execute() == [3, True, 1, 11, 2, {b"u1", b"u3"}]

"""Sorted sets through redis-py, the way applications use them.

Covers: a sliding-window rate limiter (a pipeline of ZREMRANGEBYSCORE, ZADD,
ZCARD and EXPIRE, as in MULTI, the pattern of most rate-limiting libraries)
and a leaderboard (ZINCRBY, ZREVRANGE WITHSCORES, ZRANK, ZREVRANK, ZSCORE,
ZCOUNT), each over RESP2 and RESP3, with the parsed replies (scores as
floats) and, where the protocols differ, the raw ones (RESP3 nests
WITHSCORES pairs and sends scores as doubles).
"""

import time
import uuid

import pytest
import redis

from conftest import raw

WRONGTYPE = "^WRONGTYPE Operation against a key holding the wrong kind of value$"


def pairs(reply):
    """WITHSCORES replies as tuples: redis-py gives lists under RESP3."""
    return [tuple(p) for p in reply]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def zc(request, make_client):
    c = make_client(protocol=request.param)
    c.flushall()
    return c


# --------------------------------------------------------------------------
# Sliding-window rate limiter
# --------------------------------------------------------------------------


class SlidingWindowLimiter:
    """At most `limit` requests per `window_ms` per client: each request is a
    member scored with its time; older ones are trimmed before counting."""

    def __init__(self, client, limit, window_ms):
        self.client, self.limit, self.window_ms = client, limit, window_ms

    def hit(self, who, now_ms):
        key = f"rate:{who}"
        pipe = self.client.pipeline(transaction=True)
        pipe.zremrangebyscore(key, "-inf", f"({now_ms - self.window_ms}")
        pipe.zadd(key, {f"{now_ms}-{uuid.uuid4().hex[:8]}": now_ms})
        pipe.zcard(key)
        pipe.expire(key, self.window_ms // 1000 + 1)
        removed, added, count, expired = pipe.execute()
        assert added == 1 and expired is True
        return count <= self.limit, removed


def test_rate_limiter_allows_then_refuses_then_slides(zc):
    limiter = SlidingWindowLimiter(zc, limit=5, window_ms=1000)
    start = 1_700_000_000_000
    verdicts = [limiter.hit("alice", start + i * 10)[0] for i in range(8)]
    assert verdicts == [True] * 5 + [False] * 3
    # Another client has its own window.
    assert limiter.hit("bob", start)[0] is True
    # A second later all eight hits have slid out of the window.
    allowed, removed = limiter.hit("alice", start + 1075)
    assert removed == 8 and allowed is True
    assert zc.zcard("rate:alice") == 1
    assert 0 < zc.ttl("rate:alice") <= 2


def test_rate_limiter_at_real_time_with_expiry(zc):
    limiter = SlidingWindowLimiter(zc, limit=3, window_ms=1000)
    now = int(time.time() * 1000)
    assert [limiter.hit("carol", now + i)[0] for i in range(4)] == [True, True, True, False]
    assert pairs(zc.zrangebyscore("rate:carol", now, now + 1, withscores=True))[0][1] == float(now)
    assert zc.type("rate:carol") == b"zset"


# --------------------------------------------------------------------------
# Leaderboard
# --------------------------------------------------------------------------


def test_leaderboard(zc):
    board = "leaderboard:weekly"
    for player, points in [("ann", 30), ("bob", 12.5), ("cid", 30), ("dee", 7)]:
        zc.zincrby(board, points, player)
    assert zc.zincrby(board, 2.5, "bob") == 15.0
    top = pairs(zc.zrevrange(board, 0, 2, withscores=True))
    # Equal scores: the reverse order takes the member bytes backwards.
    assert top == [(b"cid", 30.0), (b"ann", 30.0), (b"bob", 15.0)]
    assert zc.zrank(board, "dee") == 0
    assert zc.zrevrank(board, "cid") == 0
    assert zc.zrank(board, "nobody") is None
    assert zc.zscore(board, "bob") == 15.0
    assert zc.zcount(board, 15, "+inf") == 3
    assert pairs(zc.zrange(board, 0, -1, desc=True, withscores=True))[-1] == (b"dee", 7.0)
    assert zc.zmscore(board, ["ann", "zed"]) == [30.0, None]
    assert pairs(zc.zpopmax(board, 1)) == [(b"cid", 30.0)]
    assert zc.zcard(board) == 3


def test_leaderboard_pages_and_removal(zc):
    board = "board"
    zc.zadd(board, {f"p{i:03}": i for i in range(300)})
    assert zc.object("encoding", board) == b"skiplist"
    page = pairs(zc.zrevrange(board, 10, 19, withscores=True))
    assert page[0] == (b"p289", 289.0) and len(page) == 10
    assert zc.zrevrank(board, "p289") == 10
    assert zc.zremrangebyrank(board, 0, 99) == 100
    assert zc.zrange(board, 0, 0) == [b"p100"]
    assert zc.zrangebyscore(board, 150, "(153") == [b"p150", b"p151", b"p152"]
    assert zc.zunionstore("merged", {board: 1, "other": 2}) == 200


def test_wrongtype_is_a_response_error(zc):
    zc.set("s", "v")
    with pytest.raises(redis.exceptions.ResponseError, match=WRONGTYPE):
        zc.zadd("s", {"m": 1})
    with pytest.raises(redis.exceptions.ResponseError, match="^value is not a valid float$"):
        zc.zincrby("z", "abc", "m")


# --------------------------------------------------------------------------
# Raw reply shapes
# --------------------------------------------------------------------------


def test_raw_replies_differ_by_protocol(make_client):
    c2, c3 = make_client(protocol=2), make_client(protocol=3)
    c2.flushall()
    c2.zadd("z", {"a": 1.5, "b": 2})
    assert raw(c2, "ZSCORE", "z", "a") == b"1.5"
    assert raw(c3, "ZSCORE", "z", "a") == 1.5
    assert raw(c2, "ZRANGE", "z", "0", "-1", "WITHSCORES") == [b"a", b"1.5", b"b", b"2"]
    assert raw(c3, "ZRANGE", "z", "0", "-1", "WITHSCORES") == [[b"a", 1.5], [b"b", 2.0]]
    assert raw(c3, "ZPOPMIN", "z", "1") == [[b"a", 1.5]]
    assert raw(c2, "ZMPOP", "1", "z", "MAX") == [b"z", [[b"b", b"2"]]]
    assert raw(c2, "ZMPOP", "1", "z", "MAX") is None

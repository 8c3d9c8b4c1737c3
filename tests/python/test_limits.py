"""The `limits` library (rate limiting through Lua scripts) against the
server: the fixed-window strategy (INCRBY + EXPIRE in a script), the
sliding-window counter (GET/PTTL/RENAME/SET PX in a script) and the
moving-window strategy (a list per key: LPUSH, LINDEX, LTRIM in scripts),
plus `reset`, whose script runs KEYS and DEL."""

import time

import pytest
from limits import parse, strategies
from limits.storage import RedisStorage


@pytest.fixture
def storage(port, r):
    r.script_flush()
    return RedisStorage(f"redis://127.0.0.1:{port}", key_prefix="lim")


def test_fixed_window(storage, r):
    limiter = strategies.FixedWindowRateLimiter(storage)
    item = parse("3/minute")
    assert [limiter.hit(item, "user", "1") for _ in range(4)] == [True, True, True, False]
    assert not limiter.test(item, "user", "1")
    # Other identifiers have their own counter.
    assert limiter.hit(item, "user", "2")
    stats = limiter.get_window_stats(item, "user", "1")
    assert stats.remaining == 0
    assert time.time() < stats.reset_time <= time.time() + 61
    # The counter is a string key with the window's TTL.
    keys = [k for k in r.keys("lim*") if b"user/1" in k]
    assert len(keys) == 1
    # (The refused fourth hit counted too: limits increments, then compares.)
    assert r.get(keys[0]) == b"4"
    assert 0 < r.ttl(keys[0]) <= 60
    # A cost above one, and clearing one limit.
    assert limiter.hit(parse("10/minute"), "bulk", cost=7)
    assert not limiter.hit(parse("10/minute"), "bulk", cost=4)
    limiter.clear(item, "user", "1")
    assert limiter.hit(item, "user", "1")


def test_fixed_window_expires(storage):
    limiter = strategies.FixedWindowRateLimiter(storage)
    item = parse("2/second")
    assert limiter.hit(item, "fast") and limiter.hit(item, "fast")
    assert not limiter.hit(item, "fast")
    deadline = time.time() + 5
    while not limiter.test(item, "fast"):
        assert time.time() < deadline, "window never expired"
        time.sleep(0.05)
    assert limiter.hit(item, "fast")


def test_sliding_window_counter(storage):
    limiter = strategies.SlidingWindowCounterRateLimiter(storage)
    item = parse("3/minute")
    assert [limiter.hit(item, "sw") for _ in range(4)] == [True, True, True, False]
    stats = limiter.get_window_stats(item, "sw")
    assert stats.remaining == 0


def test_reset_deletes_every_limit(storage, r):
    limiter = strategies.FixedWindowRateLimiter(storage)
    for who in ("a", "b", "c"):
        limiter.hit(parse("5/minute"), who)
    r.set("unrelated", "kept")
    assert storage.reset() == 3
    assert r.keys("lim*") == []
    assert r.get("unrelated") == b"kept"


def test_moving_window(storage):
    limiter = strategies.MovingWindowRateLimiter(storage)
    item = parse("3/minute")
    assert [limiter.hit(item, "mw") for _ in range(4)] == [True, True, True, False]
    assert not limiter.test(item, "mw")
    stats = limiter.get_window_stats(item, "mw")
    assert stats.remaining == 0
    assert limiter.hit(item, "other")


def test_moving_window_slides(storage):
    limiter = strategies.MovingWindowRateLimiter(storage)
    item = parse("2/second")
    assert limiter.hit(item, "slide") and limiter.hit(item, "slide")
    assert not limiter.hit(item, "slide")
    deadline = time.time() + 5
    while not limiter.test(item, "slide"):
        assert time.time() < deadline, "window never moved"
        time.sleep(0.05)
    assert limiter.hit(item, "slide")

"""The caching patterns people write with redis-py, run for real against Redistill."""

import functools
import json
import time
import uuid

import pytest
import redis

# --------------------------------------------------------------------------
# Flask-style cache decorator (SETEX)
# --------------------------------------------------------------------------


def cached(client, ttl, prefix="cache"):
    """The decorator from a typical Flask app: JSON results cached with SETEX."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            key = f"{prefix}:{fn.__name__}:" + json.dumps([args, kwargs], sort_keys=True)
            hit = client.get(key)
            if hit is not None:
                wrapper.hits += 1
                return json.loads(hit)
            wrapper.misses += 1
            value = fn(*args, **kwargs)
            client.setex(key, ttl, json.dumps(value))
            return value

        wrapper.hits = 0
        wrapper.misses = 0
        return wrapper

    return decorator


def test_cache_decorator_hit_and_miss(r):
    calls = []

    @cached(r, ttl=60)
    def user_profile(user_id, verbose=False):
        calls.append(user_id)
        return {"id": user_id, "name": f"user-{user_id}", "tags": ["a", "b"], "verbose": verbose}

    first = user_profile(42)
    assert first == {"id": 42, "name": "user-42", "tags": ["a", "b"], "verbose": False}
    assert (user_profile.hits, user_profile.misses) == (0, 1)

    assert user_profile(42) == first
    assert user_profile(42) == first
    assert (user_profile.hits, user_profile.misses) == (2, 1)
    assert calls == [42]

    # A different argument is a different key.
    assert user_profile(7, verbose=True)["verbose"] is True
    assert (user_profile.hits, user_profile.misses) == (2, 2)
    assert calls == [42, 7]

    keys = [k for k in (r.get(f"cache:user_profile:{json.dumps([[42], {}])}"),) if k]
    assert keys, "the cached entry is stored under the expected key"
    ttl = r.ttl(f"cache:user_profile:{json.dumps([[42], {}])}")
    assert 0 < ttl <= 60
    assert r.dbsize() == 2


def test_cache_decorator_entry_expires(r):
    calls = []

    @cached(r, ttl=1)
    def slow_square(x):
        calls.append(x)
        return x * x

    assert slow_square(9) == 81
    assert slow_square(9) == 81
    assert calls == [9]
    time.sleep(1.2)
    assert slow_square(9) == 81
    assert calls == [9, 9], "after the TTL the entry is gone and the function runs again"
    assert (slow_square.hits, slow_square.misses) == (1, 2)


def test_setex_rejects_bad_ttl(r):
    with pytest.raises(redis.ResponseError, match="invalid expire time"):
        r.setex("k", 0, "v")
    with pytest.raises(redis.ResponseError, match="invalid expire time"):
        r.setex("k", -5, "v")
    assert r.get("k") is None


# --------------------------------------------------------------------------
# Rate limiter: INCR + EXPIRE in one round trip
# --------------------------------------------------------------------------


class FixedWindowLimiter:
    def __init__(self, client, limit, window, transaction):
        self.client = client
        self.limit = limit
        self.window = window
        self.transaction = transaction

    def allow(self, who):
        key = f"rate:{who}:{int(time.time()) // self.window}"
        pipe = self.client.pipeline(transaction=self.transaction)
        pipe.incr(key)
        pipe.expire(key, self.window)
        count, expire_ok = pipe.execute()
        assert expire_ok is True
        return count <= self.limit


def _exercise_limiter(r, transaction):
    # A 60 s window, so a window boundary is hit only if the test straddles a
    # minute change; retry once in that case.
    for _ in range(2):
        r.flushall()
        limiter = FixedWindowLimiter(r, limit=5, window=60, transaction=transaction)
        start_window = int(time.time()) // 60
        results = [limiter.allow("alice") for _ in range(8)]
        other = limiter.allow("bob")
        if int(time.time()) // 60 == start_window:
            break
    assert results == [True] * 5 + [False] * 3
    assert other is True
    key = f"rate:alice:{start_window}"
    assert int(r.get(key)) == 8
    assert 0 < r.ttl(key) <= 60


def test_rate_limiter_pipeline_without_transaction(r):
    _exercise_limiter(r, transaction=False)


# A strict xfail until MULTI/EXEC landed (conftest.not_implemented_yet).
def test_rate_limiter_pipeline_with_multi_exec(r):
    _exercise_limiter(r, transaction=True)


def test_pipeline_returns_errors_in_place(r):
    r.set("text", "abc")
    pipe = r.pipeline(transaction=False)
    pipe.set("n", 10)
    pipe.incr("text")
    pipe.incrby("n", 5)
    pipe.get("n")
    res = pipe.execute(raise_on_error=False)
    assert res[0] is True
    assert isinstance(res[1], redis.ResponseError)
    assert "not an integer" in str(res[1])
    assert res[2:] == [15, b"15"]


# --------------------------------------------------------------------------
# Session storage: SET EX / GET / DEL / TTL
# --------------------------------------------------------------------------


class SessionStore:
    def __init__(self, client, ttl=1800):
        self.client = client
        self.ttl = ttl

    def _key(self, sid):
        return f"session:{sid}"

    def create(self, data):
        sid = uuid.uuid4().hex
        assert self.client.set(self._key(sid), json.dumps(data), ex=self.ttl) is True
        return sid

    def load(self, sid):
        raw = self.client.get(self._key(sid))
        return None if raw is None else json.loads(raw)

    def touch(self, sid):
        return self.client.expire(self._key(sid), self.ttl)

    def destroy(self, sid):
        return self.client.delete(self._key(sid))


def test_session_storage(r):
    store = SessionStore(r, ttl=1800)
    sid = store.create({"user_id": 17, "roles": ["admin"], "csrf": "x" * 32})
    assert store.load(sid) == {"user_id": 17, "roles": ["admin"], "csrf": "x" * 32}
    ttl = r.ttl(f"session:{sid}")
    assert 1795 <= ttl <= 1800
    assert 1_795_000 <= r.pttl(f"session:{sid}") <= 1_800_000

    # Updating the session without KEEPTTL resets the expiry; with it, keeps it.
    r.expire(f"session:{sid}", 100)
    assert r.set(f"session:{sid}", json.dumps({"user_id": 17}), keepttl=True) is True
    assert 95 <= r.ttl(f"session:{sid}") <= 100
    assert store.touch(sid) is True
    assert 1795 <= r.ttl(f"session:{sid}") <= 1800

    assert store.destroy(sid) == 1
    assert store.load(sid) is None
    assert r.ttl(f"session:{sid}") == -2
    assert store.destroy(sid) == 0
    assert store.touch(sid) is False


def test_session_without_expiry_and_persist(r):
    r.set("session:forever", "x")
    assert r.ttl("session:forever") == -1
    r.set("session:tmp", "y", px=50_000)
    assert r.persist("session:tmp") is True
    assert r.ttl("session:tmp") == -1
    assert r.persist("session:tmp") is False


def test_session_expires(r):
    r.set("session:short", "v", px=150)
    assert r.get("session:short") == b"v"
    time.sleep(0.3)
    assert r.get("session:short") is None
    assert r.exists("session:short") == 0
    assert r.ttl("session:short") == -2


# --------------------------------------------------------------------------
# SCAN
# --------------------------------------------------------------------------


# A strict xfail until SCAN landed (conftest.not_implemented_yet).
def test_scan_iter_finds_every_matching_key(r):
    expected = {f"user:{i}".encode() for i in range(120)}
    r.mset({k: b"1" for k in expected})
    r.mset({f"other:{i}": "1" for i in range(30)})
    found = list(r.scan_iter(match="user:*", count=25))
    assert set(found) == expected

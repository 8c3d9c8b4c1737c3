"""Lua scripting as libraries use it, through redis-py, in RESP2 and RESP3:
the Lock (EVALSHA with a SCRIPT LOAD fallback on NOSCRIPT), a fixed-window
rate limiter made with register_script, and scripts that speak JSON
through cjson and MessagePack through cmsgpack."""

import json
import time

import pytest
import redis
from redis.exceptions import LockNotOwnedError


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def client(request, make_client):
    c = make_client(protocol=request.param)
    c.flushall()
    c.script_flush()
    return c


def test_lock_acquire_extend_release(client):
    lock = client.lock("resource", timeout=5)
    assert lock.acquire(blocking=False)
    assert client.get("resource") == lock.local.token
    # A second holder cannot take it.
    other = client.lock("resource", timeout=5)
    assert not other.acquire(blocking=False)
    assert lock.extend(10)
    assert 10_000 < client.pttl("resource") <= 15_000
    assert lock.extend(3, replace_ttl=True)
    assert client.pttl("resource") <= 3_000
    lock.release()
    assert client.exists("resource") == 0
    assert other.acquire(blocking=False)
    other.release()


def test_lock_release_by_another_token_is_refused(client):
    lock = client.lock("resource", timeout=5)
    assert lock.acquire(blocking=False)
    client.set("resource", "someone-else")
    with pytest.raises(LockNotOwnedError):
        lock.extend(5)
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert client.get("resource") == b"someone-else"


def test_lock_works_after_script_flush(client):
    # redis-py loads its scripts once; after a flush EVALSHA answers
    # NOSCRIPT and the client loads them again.
    lock = client.lock("resource", timeout=5)
    assert lock.acquire(blocking=False)
    client.script_flush()
    lock.release()
    assert client.exists("resource") == 0


FIXED_WINDOW = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
if current > tonumber(ARGV[2]) then
  return {0, redis.call('PTTL', KEYS[1])}
end
return {1, tonumber(ARGV[2]) - current}
"""


def test_fixed_window_rate_limiter(client):
    limiter = client.register_script(FIXED_WINDOW)
    results = [limiter(keys=["rl:user1"], args=[1000, 3]) for _ in range(5)]
    assert [r[0] for r in results] == [1, 1, 1, 0, 0]
    assert [r[1] for r in results[:3]] == [2, 1, 0]
    assert 0 < results[3][1] <= 1000
    assert 0 < client.pttl("rl:user1") <= 1000
    # Another key has its own window.
    assert limiter(keys=["rl:user2"], args=[1000, 3])[0] == 1
    time.sleep(1.1)
    assert limiter(keys=["rl:user1"], args=[1000, 3]) == [1, 2]


def test_cjson_script(client):
    client.hset("user:1", mapping={"name": "ada", "lang": "lua"})
    script = client.register_script(
        """
local fields = redis.call('HGETALL', KEYS[1])
local doc = {}
for i = 1, #fields, 2 do doc[fields[i]] = fields[i + 1] end
doc.seen = tonumber(ARGV[1])
local incoming = cjson.decode(ARGV[2])
redis.call('SET', KEYS[2], cjson.encode(incoming.tags))
return cjson.encode(doc)
"""
    )
    out = script(keys=["user:1", "user:1:tags"], args=[7, json.dumps({"tags": ["a", "b/c"]})])
    assert json.loads(out) == {"name": "ada", "lang": "lua", "seen": 7}
    assert client.get("user:1:tags") == b'["a","b\\/c"]'


def test_cmsgpack_script(client):
    """A job-queue style payload: JSON in, MessagePack stored, read back."""
    script = client.register_script(
        """
local job = cjson.decode(ARGV[1])
job.attempts = (job.attempts or 0) + 1
redis.call('SET', KEYS[1], cmsgpack.pack(job))
local stored = cmsgpack.unpack(redis.call('GET', KEYS[1]))
return cjson.encode({id = stored.id, attempts = stored.attempts, args = stored.args})
"""
    )
    out = script(keys=["job:1"], args=[json.dumps({"id": "j1", "args": [1, "two"]})])
    assert json.loads(out) == {"id": "j1", "attempts": 1, "args": [1, "two"]}
    # lua-cmsgpack's bytes: a fixmap of three entries.
    assert client.get("job:1")[0] == 0x83


def test_script_errors_reach_the_client(client):
    with pytest.raises(redis.ResponseError, match="Number of keys can't be greater than number of args"):
        client.eval("return 1", 2, "a")
    with pytest.raises(redis.ResponseError, match="Unknown Redis command called from script"):
        client.eval("return redis.call('nosuch')", 0)
    with pytest.raises(redis.exceptions.NoScriptError):
        client.evalsha("0" * 40, 0)

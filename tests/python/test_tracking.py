"""redis-py's client-side cache (``protocol=3, cache_config=CacheConfig()``)
against Redistill: it enables CLIENT TRACKING on its connections, keeps
the replies of reads, and drops them on the server's invalidation pushes.

redis-py refuses servers that report a version below 7.4.0 in HELLO, so
against an older reference redis-server these tests are skipped.
"""

import threading

import pytest
import redis
from redis.cache import CacheConfig


def version_of(client):
    return tuple(int(part) for part in client.info("server")["redis_version"].split(".")[:2])


@pytest.fixture
def cached(make_client, r):
    """A client with redis-py's cache (skipped on servers it refuses)."""
    if version_of(r) < (7, 4):
        pytest.skip("redis-py's client-side cache needs a server that reports 7.4 or later")
    return make_client(protocol=3, cache_config=CacheConfig())


def test_a_cached_read_sees_another_client_s_write(cached, make_client):
    writer = make_client(protocol=3)
    writer.set("k", "v1")
    assert cached.get("k") == b"v1"
    cache = cached.get_cache()
    assert cache.size == 1
    # Served from the cache: the server sees no second GET.
    calls = writer.info("commandstats")["cmdstat_get"]["calls"]
    assert cached.get("k") == b"v1"
    assert writer.info("commandstats")["cmdstat_get"]["calls"] == calls
    # The other client's write invalidates the entry.
    writer.set("k", "v2")
    assert cached.get("k") == b"v2"
    writer.delete("k")
    assert cached.get("k") is None
    # A hash, and a flush of everything.
    writer.hset("h", mapping={"f": "1"})
    assert cached.hgetall("h") == {b"f": b"1"}
    writer.hset("h", "f", "2")
    assert cached.hgetall("h") == {b"f": b"2"}
    writer.flushall()
    assert cached.hgetall("h") == {}


def test_the_server_tracks_the_cache_s_connection(cached, make_client):
    cached.get("anything")
    info = make_client().info()
    assert info["tracking_clients"] >= 1
    assert info["tracking_total_keys"] >= 1


def test_cached_reads_never_go_back_and_end_up_fresh(cached, make_client):
    """A writer increments counters while a caching reader reads them: a
    reader's value never goes back (the cache holds only what the server
    once returned and drops it when told), and once the writer is done and
    the reader has made a round trip, every read is the current value."""
    keys = [f"counter:{i}" for i in range(8)]
    writer = make_client(protocol=3)
    for key in keys:
        writer.set(key, 0)
    done = threading.Event()

    def write():
        w = make_client(protocol=2)
        for i in range(4000):
            w.incr(keys[i % len(keys)])
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    last = {key: 0 for key in keys}
    reads = 0
    while not done.is_set():
        for key in keys:
            value = int(cached.get(key))
            assert value >= last[key], f"{key} went back from {last[key]} to {value}"
            last[key] = value
            reads += 1
    thread.join()
    cached.ping()
    for key in keys:
        assert int(cached.get(key)) == int(writer.get(key)) == 500
    assert reads > len(keys)

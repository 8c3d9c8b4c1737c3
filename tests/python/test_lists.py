"""Lists through redis-py, the way applications use them.

Covers: a "latest N" cache (LPUSH + LTRIM in one pipeline, read with LRANGE),
and a producer/consumer work queue: producers LPUSH jobs from several
threads, consumers on their own connections wait in BRPOP (a timeout that
expires, then jobs that arrive while they wait), and every job is handled
exactly once. Both in RESP2 and RESP3 (``protocol=3``), where BRPOP's
timeout reply is a null either way.
"""

import threading
import time


# --------------------------------------------------------------------------
# Latest N: a capped list of recent events per user
# --------------------------------------------------------------------------


class LatestEvents:
    """The newest `keep` events of each user, newest first: LPUSH then LTRIM
    in one MULTI, so the list never holds more than `keep`."""

    def __init__(self, client, keep):
        self.client = client
        self.keep = keep

    def add(self, user, event):
        with self.client.pipeline(transaction=True) as pipe:
            pipe.lpush(f"latest:{user}", event)
            pipe.ltrim(f"latest:{user}", 0, self.keep - 1)
            length, trimmed = pipe.execute()
        return length, trimmed

    def recent(self, user, n=None):
        return self.client.lrange(f"latest:{user}", 0, (n or self.keep) - 1)


def test_latest_n_cache_keeps_the_newest(client):
    cache = LatestEvents(client, keep=5)
    for i in range(12):
        length, trimmed = cache.add("ann", f"event-{i}")
        assert length == min(i, 5) + 1 and trimmed is True
    assert cache.recent("ann") == [f"event-{i}".encode() for i in range(11, 6, -1)]
    assert cache.recent("ann", 2) == [b"event-11", b"event-10"]
    assert client.llen("latest:ann") == 5
    assert cache.recent("nobody") == []
    assert client.type("latest:ann") == b"list"


def test_latest_n_with_many_users_and_a_bound(client):
    cache = LatestEvents(client, keep=100)
    for i in range(300):
        cache.add(f"u{i % 3}", i)
    for user in range(3):
        events = [int(e) for e in cache.recent(f"u{user}")]
        assert len(events) == 100
        assert events == sorted(events, reverse=True) and events[0] >= 297 - 3
    assert client.lindex("latest:u0", -1) == b"0"
    cache.add("u0", 300)
    assert client.lindex("latest:u0", -1) == b"3"


# --------------------------------------------------------------------------
# Work queue: LPUSH producers, BRPOP consumers
# --------------------------------------------------------------------------


def test_brpop_times_out_with_a_null(client):
    started = time.monotonic()
    assert client.brpop(["jobs"], timeout=0.2) is None
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0
    client.lpush("jobs", "one")
    assert tuple(client.brpop(["jobs"], timeout=0.2)) == (b"jobs", b"one")


def test_a_waiting_consumer_gets_a_job_pushed_later(make_client, protocol):
    consumer = make_client(protocol=protocol)
    producer = make_client(protocol=protocol)
    consumer.delete("jobs")
    got = []
    thread = threading.Thread(target=lambda: got.append(consumer.brpop(["jobs", "urgent"], timeout=5)))
    thread.start()
    time.sleep(0.2)
    producer.lpush("urgent", "fix-it")
    thread.join(timeout=10)
    assert [tuple(g) for g in got] == [(b"urgent", b"fix-it")]


def test_producers_and_consumers_across_threads_deliver_each_job_once(make_client, protocol):
    producers, consumers, per_producer = 4, 6, 50
    make_client(protocol=protocol).delete("queue")
    handled = []
    lock = threading.Lock()

    def consume():
        c = make_client(protocol=protocol)
        while True:
            job = c.brpop(["queue"], timeout=1)
            if job is None:
                return
            key, value = job
            assert key == b"queue"
            with lock:
                handled.append(value)

    def produce(p):
        c = make_client(protocol=protocol)
        for i in range(per_producer):
            c.lpush("queue", f"{p}:{i}")

    workers = [threading.Thread(target=consume) for _ in range(consumers)]
    workers += [threading.Thread(target=produce, args=(p,)) for p in range(producers)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=30)
    assert not any(w.is_alive() for w in workers)
    expected = {f"{p}:{i}".encode() for p in range(producers) for i in range(per_producer)}
    assert len(handled) == len(expected) and set(handled) == expected


def test_reliable_queue_with_blmove(client, make_client, protocol):
    """BLMOVE into a processing list, then LREM once done (the reliable
    queue pattern)."""
    client.lpush("todo", "a", "b")
    assert client.blmove("todo", "doing", timeout=1, src="RIGHT", dest="LEFT") == b"a"
    assert client.lrange("doing", 0, -1) == [b"a"]
    assert client.lrem("doing", 1, "a") == 1
    assert client.blmove("todo", "doing", 1, "RIGHT", "LEFT") == b"b"
    assert client.blmove("todo", "doing", 0.1, "RIGHT", "LEFT") is None
    assert client.lmpop(1, "doing", direction="LEFT") == [b"doing", [b"b"]]

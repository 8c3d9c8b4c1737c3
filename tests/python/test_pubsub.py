"""Pub/Sub through redis-py's ``PubSub``, as applications use it, with
RESP2 (``protocol=2``) and RESP3 (``protocol=3``, where confirmations and
messages are push frames) clients.

Covers: ``subscribe`` / ``psubscribe`` / ``ssubscribe`` with their
confirmations read by ``get_message`` (and ``get_sharded_message``),
messages and pattern messages (a channel that matches both arrives twice),
``ignore_subscribe_messages``, ``listen`` over many messages in publish
order, ``run_in_thread`` with per-channel handlers, PING inside a PubSub,
unsubscribing, the PUBSUB introspection helpers, and a closed PubSub
leaving its channels.
"""

import threading
import time

import pytest


@pytest.fixture
def publisher(make_client):
    return make_client()


def next_message(pubsub, timeout=5.0, sharded=False):
    """The next message of any type, waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sharded:
            message = pubsub.get_sharded_message(timeout=0.1)
        else:
            message = pubsub.get_message(timeout=0.1)
        if message is not None:
            return message
    raise AssertionError("no message arrived")


def wait_until(check, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition never held"
        time.sleep(0.01)


def test_subscribe_then_messages(client, publisher):
    p = client.pubsub()
    p.subscribe("news", "sport")
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": b"news", "data": 1}
    assert next_message(p) == {"type": "subscribe", "pattern": None, "channel": b"sport", "data": 2}
    assert publisher.publish("news", "hello") == 1
    assert publisher.publish("weather", "nobody listens") == 0
    assert publisher.publish("sport", b"\x00binary\r\n") == 1
    assert next_message(p) == {"type": "message", "pattern": None, "channel": b"news", "data": b"hello"}
    assert next_message(p) == {"type": "message", "pattern": None, "channel": b"sport", "data": b"\x00binary\r\n"}
    assert p.get_message(timeout=0.2) is None
    p.unsubscribe("news")
    assert next_message(p) == {"type": "unsubscribe", "pattern": None, "channel": b"news", "data": 1}
    assert publisher.publish("news", "gone") == 0
    p.close()


def test_pattern_and_channel_both_match(client, publisher):
    p = client.pubsub(ignore_subscribe_messages=True)
    p.subscribe("orders.eu")
    p.psubscribe("orders.*")
    wait_until(lambda: publisher.pubsub_numpat() == 1 and publisher.pubsub_numsub("orders.eu") == [(b"orders.eu", 1)])
    assert publisher.publish("orders.eu", "o1") == 2
    assert publisher.publish("orders.us", "o2") == 1
    assert next_message(p) == {"type": "message", "pattern": None, "channel": b"orders.eu", "data": b"o1"}
    assert next_message(p) == {"type": "pmessage", "pattern": b"orders.*", "channel": b"orders.eu", "data": b"o1"}
    assert next_message(p) == {"type": "pmessage", "pattern": b"orders.*", "channel": b"orders.us", "data": b"o2"}
    p.punsubscribe()
    p.unsubscribe()
    wait_until(lambda: publisher.pubsub_numpat() == 0)
    assert publisher.publish("orders.eu", "o3") == 0
    p.close()


def test_listen_gets_every_message_in_order(client, make_client):
    p = client.pubsub()
    p.subscribe("feed")
    assert next_message(p)["type"] == "subscribe"
    count = 2000

    def publish():
        producer = make_client()
        with producer.pipeline(transaction=False) as pipe:
            for i in range(count):
                pipe.publish("feed", str(i))
            assert pipe.execute() == [1] * count

    thread = threading.Thread(target=publish)
    thread.start()
    received = []
    for message in p.listen():
        if message["type"] == "message":
            received.append(int(message["data"]))
            if len(received) == count:
                break
    thread.join()
    assert received == list(range(count))
    p.close()


def test_run_in_thread_calls_the_handlers(client, publisher):
    got = {"alerts": [], "metrics": []}
    done = threading.Event()

    def on_alert(message):
        got["alerts"].append(message["data"])

    def on_metric(message):
        got["metrics"].append((message["pattern"], message["channel"], message["data"]))
        if len(got["metrics"]) == 50:
            done.set()

    p = client.pubsub(ignore_subscribe_messages=True)
    p.subscribe(alerts=on_alert)
    p.psubscribe(**{"metrics.*": on_metric})
    worker = p.run_in_thread(sleep_time=0.01, daemon=True)
    try:
        wait_until(lambda: publisher.pubsub_numsub("alerts") == [(b"alerts", 1)] and publisher.pubsub_numpat() == 1)
        assert publisher.publish("alerts", "disk full") == 1
        for i in range(50):
            assert publisher.publish(f"metrics.cpu{i % 3}", str(i)) == 1
        assert done.wait(10), f"handlers got {got}"
    finally:
        worker.stop()
        worker.join(5)
    assert got["alerts"] == [b"disk full"]
    assert [int(data) for _, _, data in got["metrics"]] == list(range(50))
    assert all(pattern == b"metrics.*" for pattern, _, _ in got["metrics"])
    assert got["metrics"][4][1] == b"metrics.cpu1"
    p.close()


def test_ssubscribe_and_spublish(client, publisher):
    p = client.pubsub()
    p.ssubscribe("shard-a")
    assert next_message(p, sharded=True) == {"type": "ssubscribe", "pattern": None, "channel": b"shard-a", "data": 1}
    assert publisher.spublish("shard-a", "s1") == 1
    # Shard channels and channels are separate name spaces.
    assert publisher.publish("shard-a", "plain") == 0
    assert next_message(p, sharded=True) == {"type": "smessage", "pattern": None, "channel": b"shard-a", "data": b"s1"}
    assert publisher.pubsub_shardchannels() == [b"shard-a"]
    assert publisher.pubsub_shardnumsub("shard-a", "other") == [(b"shard-a", 1), (b"other", 0)]
    p.sunsubscribe("shard-a")
    assert next_message(p, sharded=True) == {"type": "sunsubscribe", "pattern": None, "channel": b"shard-a", "data": 0}
    assert publisher.spublish("shard-a", "s2") == 0
    p.close()


def test_ping_inside_a_pubsub(client):
    p = client.pubsub(ignore_subscribe_messages=True)
    p.subscribe("x")
    wait_until(lambda: p.subscribed)
    p.ping("hi")
    message = next_message(p)
    assert message["type"] == "pong"
    assert message["data"] == b"hi"
    p.close()


def test_introspection_and_close(client, publisher):
    p = client.pubsub()
    p.subscribe("a", "b")
    p.psubscribe("c*")
    for _ in range(3):
        next_message(p)
    assert sorted(publisher.pubsub_channels()) == [b"a", b"b"]
    assert publisher.pubsub_channels("a*") == [b"a"]
    assert publisher.pubsub_numsub("a", "z") == [(b"a", 1), (b"z", 0)]
    assert publisher.pubsub_numpat() == 1
    listed = publisher.client_list(_type="pubsub")
    assert len(listed) == 1
    assert (listed[0]["sub"], listed[0]["psub"], listed[0]["flags"]) == ("2", "1", "P")
    p.close()
    wait_until(lambda: publisher.pubsub_numsub("a") == [(b"a", 0)] and publisher.pubsub_numpat() == 0)
    assert publisher.client_list(_type="pubsub") == []

"""Keyspace notifications through redis-py's PubSub, the way applications
listen for them.

Covers: a session store that learns when sessions expire (a keyevent
pattern with a message handler, driven by a ``get_message`` loop), the
whole life of one key on its keyspace channel (set, expire, expired), and
a cache that learns which keys the server evicted under ``maxmemory``.
Both in RESP2 and RESP3 (``protocol=3``), where the messages are pushes.

Each test turns notifications on for its own needs and the fixture turns
them off again, with ``maxmemory`` and the policy as they were: the server
is shared by the whole session.
"""

import time

import pytest


@pytest.fixture
def client(make_client, protocol):
    c = make_client(protocol=protocol)
    c.flushall()
    saved = c.config_get("maxmemory*")
    yield c
    c.config_set("notify-keyspace-events", "")
    c.config_set("maxmemory", saved["maxmemory"])
    c.config_set("maxmemory-policy", saved["maxmemory-policy"])


def messages(pubsub, count, timeout=10.0):
    """The next ``count`` messages (subscription confirmations skipped),
    polling with ``get_message`` as an application's loop does."""
    received = []
    deadline = time.monotonic() + timeout
    while len(received) < count:
        assert time.monotonic() < deadline, f"only {received} after {timeout} s"
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.1)
        if message is not None:
            received.append(message)
    return received


def subscribed(pubsub, count=1, timeout=10.0):
    """Wait for ``count`` subscription confirmations."""
    seen = 0
    deadline = time.monotonic() + timeout
    while seen < count:
        assert time.monotonic() < deadline, "subscription never confirmed"
        message = pubsub.get_message(timeout=0.1)
        if message is not None and message["type"] in ("subscribe", "psubscribe"):
            seen += 1


class SessionStore:
    """Sessions with a time to live; `on_expired` hears about each session
    the server expires, from the keyevent channel."""

    def __init__(self, client):
        self.client = client
        self.expired = []
        client.config_set("notify-keyspace-events", "Ex")
        self.pubsub = client.pubsub()
        self.pubsub.psubscribe(**{"__keyevent@*__:expired": self.on_expired})
        subscribed(self.pubsub)

    def on_expired(self, message):
        key = message["data"]
        if key.startswith(b"session:"):
            self.expired.append((message["channel"], key))

    def open(self, session_id, ttl_ms):
        self.client.set(f"session:{session_id}", "user-data", px=ttl_ms)

    def poll(self, timeout=10.0):
        """Run the listener's loop until a session has expired."""
        deadline = time.monotonic() + timeout
        while not self.expired:
            assert time.monotonic() < deadline, "no session was reported expired"
            self.pubsub.get_message(timeout=0.1)
        return self.expired.pop(0)

    def close(self):
        self.pubsub.close()


def test_expired_sessions_reach_the_handler(client):
    store = SessionStore(client)
    try:
        store.open("a", 100)
        store.open("b", 100_000)
        # Nobody reads session:a: the server's own expiry reports it.
        assert store.poll() == (b"__keyevent@0__:expired", b"session:a")
        # One read after its deadline reports it just as well.
        store.open("c", 50)
        time.sleep(0.1)
        assert client.get("session:c") is None
        assert store.poll() == (b"__keyevent@0__:expired", b"session:c")
        assert store.expired == []
    finally:
        store.close()


def test_a_key_life_on_its_keyspace_channel(client):
    client.config_set("notify-keyspace-events", "Kg$x")
    pubsub = client.pubsub()
    pubsub.subscribe("__keyspace@0__:token")
    subscribed(pubsub)
    try:
        client.set("token", "t1")
        client.expire("token", 100)
        client.persist("token")
        client.pexpire("token", 100)
        events = [m["data"] for m in messages(pubsub, 5)]
        assert events == [b"set", b"expire", b"persist", b"expire", b"expired"]
        assert messages_after(client, pubsub) == []
    finally:
        pubsub.close()


def messages_after(client, pubsub):
    """Whatever else arrives before a marker the client publishes on a
    channel the subscription also has."""
    pubsub.subscribe("marker")
    subscribed(pubsub)
    client.publish("marker", "done")
    rest = []
    while (message := messages(pubsub, 1)[0])["channel"] != b"marker":
        rest.append(message)
    return rest


def test_evictions_reach_the_cache(client):
    client.config_set("notify-keyspace-events", "Ee")
    client.config_set("maxmemory-policy", "allkeys-lru")
    pubsub = client.pubsub()
    pubsub.psubscribe("__keyevent@0__:evicted")
    subscribed(pubsub)
    try:
        keys = {f"cache:{i}".encode() for i in range(5)}
        for key in keys:
            client.set(key, "cached")
        client.config_set("maxmemory", 1)
        evicted = {m["data"] for m in messages(pubsub, len(keys))}
        assert evicted == keys
        assert messages_after(client, pubsub) == []
        client.config_set("maxmemory", 0)
        assert client.dbsize() == 0
    finally:
        pubsub.close()

"""redis-py connection features against Redistill: protocols, pools, names,
decoding, INFO, and the plain commands a cache uses."""

import threading

import pytest
import redis
from redis.connection import ConnectionPool

# --------------------------------------------------------------------------
# Protocol negotiation
# --------------------------------------------------------------------------


def test_default_connection_is_resp3(make_client):
    c = make_client()
    conn = c.connection_pool.get_connection()
    try:
        # redis-py 8 defaults to RESP3: it sent HELLO 3 on connect and checked
        # the reply's proto field, then switched to its RESP3 parser.
        assert conn.protocol == 3
        meta = conn.handshake_metadata
        assert meta is not None, "no HELLO reply was recorded"
        proto = meta.get(b"proto", meta.get("proto"))
        assert proto == 3
        assert b"server" in meta or "server" in meta
        assert "RESP3" in type(conn._parser).__name__
    finally:
        c.connection_pool.release(conn)
    assert c.ping() is True
    assert c.set("k", "v") is True
    assert c.get("k") == b"v"
    assert c.get("missing") is None  # RESP3 null `_`
    assert c.mget("k", "missing") == [b"v", None]


def test_resp3_hello_map(make_client):
    c = make_client()
    hello = c.execute_command("HELLO", 3)
    assert isinstance(hello, dict)
    assert hello[b"proto"] == 3
    assert hello[b"server"] == b"redis"
    assert isinstance(hello[b"version"], bytes)


def test_protocol_2(make_client):
    c = make_client(protocol=2)
    conn = c.connection_pool.get_connection()
    try:
        assert conn.protocol == 2
        assert conn.handshake_metadata is None, "RESP2 clients send no HELLO"
        assert "RESP2" in type(conn._parser).__name__
    finally:
        c.connection_pool.release(conn)
    assert c.ping() is True
    assert c.set("k2", "v2", ex=30) is True
    assert c.get("k2") == b"v2"
    assert c.get("missing") is None  # RESP2 null bulk `$-1`
    assert 0 < c.ttl("k2") <= 30
    assert c.incr("n2") == 1


# --------------------------------------------------------------------------
# A pool shared by threads
# --------------------------------------------------------------------------


def test_connection_pool_shared_by_threads(server, r):
    threads_n, per_thread = 8, 500
    pool = ConnectionPool(host="127.0.0.1", port=server.port, max_connections=threads_n, socket_timeout=10)
    client = redis.Redis(connection_pool=pool)
    errors = []
    start = threading.Barrier(threads_n)

    def worker(i):
        try:
            start.wait()
            for _ in range(per_thread):
                client.incr("shared:counter")
                client.incrby(f"own:{i}", 2)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    pool.disconnect()
    assert not errors, errors
    assert int(r.get("shared:counter")) == threads_n * per_thread
    assert [int(v) for v in r.mget([f"own:{i}" for i in range(threads_n)])] == [2 * per_thread] * threads_n


def test_blocking_pool_reuses_connections(server, r):
    pool = redis.BlockingConnectionPool(host="127.0.0.1", port=server.port, max_connections=2, timeout=10)
    client = redis.Redis(connection_pool=pool)
    results = []

    def worker():
        for _ in range(100):
            results.append(client.incr("blocking"))

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    pool.disconnect()
    assert sorted(results) == list(range(1, 601))


# --------------------------------------------------------------------------
# Client name, decoding, INFO, PING
# --------------------------------------------------------------------------


def test_client_name_is_set_on_connect(make_client):
    c = make_client(client_name="billing-worker")
    # client_getname() decodes the name even without decode_responses.
    assert c.client_getname() == "billing-worker"
    assert c.execute_command("CLIENT", "GETNAME") == b"billing-worker"
    assert c.client_setname("renamed") is True
    assert c.client_getname() == "renamed"
    with pytest.raises(redis.ResponseError):
        c.client_setname("has space")


def test_client_name_with_protocol_2(make_client):
    c = make_client(client_name="resp2-worker", protocol=2, decode_responses=True)
    assert c.client_getname() == "resp2-worker"


def test_client_id(make_client):
    a, b = make_client(), make_client()
    ida, idb = a.client_id(), b.client_id()
    assert isinstance(ida, int) and isinstance(idb, int) and ida != idb


@pytest.mark.parametrize("protocol", [2, 3])
def test_decode_responses(make_client, protocol):
    c = make_client(decode_responses=True, protocol=protocol)
    c.flushall()
    assert c.set("greeting", "héllo wörld") is True
    assert c.get("greeting") == "héllo wörld"
    assert c.mget("greeting", "nope") == ["héllo wörld", None]
    assert c.echo("echo ✓") == "echo ✓"
    assert c.incr("count") == 1
    assert c.set("greeting", "bye", get=True) == "héllo wörld"
    assert c.get("greeting") == "bye"
    assert c.ping() is True


def test_info_is_parsed_into_a_dict(r):
    info = r.info()
    assert isinstance(info, dict)
    assert isinstance(info["redis_version"], str)
    major = int(info["redis_version"].split(".")[0])
    assert major >= 6
    assert isinstance(info["connected_clients"], int) and info["connected_clients"] >= 1
    assert isinstance(info["uptime_in_seconds"], int)
    assert isinstance(info["tcp_port"], int)

    server = r.info("server")
    assert server["redis_version"] == info["redis_version"]
    assert "connected_clients" not in server

    r.set("a", 1)
    r.set("b", 2, ex=100)
    keyspace = r.info("keyspace")
    assert keyspace["db0"]["keys"] == 2
    assert keyspace["db0"]["expires"] == 1

    stats = r.info("stats")
    assert isinstance(stats["total_commands_processed"], int)


def test_info_all_sections(r):
    everything = r.info("all")
    assert "redis_version" in everything
    assert "used_memory" in everything


def test_ping_and_echo(make_client):
    for protocol in (2, 3):
        c = make_client(protocol=protocol)
        assert c.ping() is True
        # redis-py maps every PING reply to a bool, so read PING <msg> off a
        # pooled connection directly.
        conn = c.connection_pool.get_connection()
        try:
            conn.send_command("PING", "hi")
            assert conn.read_response() == b"hi"
        finally:
            c.connection_pool.release(conn)
        assert c.echo(b"\x00bin\xff") == b"\x00bin\xff"


# --------------------------------------------------------------------------
# Plain commands
# --------------------------------------------------------------------------


def test_mset_mget(r):
    assert r.mset({"a": "1", "b": b"two", "c": 3}) is True
    assert r.mget(["a", "b", "c", "zz"]) == [b"1", b"two", b"3", None]
    assert r.mget("a", "b") == [b"1", b"two"]
    assert r.exists("a", "b", "zz", "a") == 3
    assert r.delete("a", "b", "zz") == 2
    assert r.dbsize() == 1


def test_set_options(r):
    assert r.set("k", "v1", nx=True) is True
    assert r.set("k", "v2", nx=True) is None
    assert r.set("k", "v3", xx=True) is True
    assert r.set("nokey", "v", xx=True) is None
    assert r.set("k", "v4", get=True) == b"v3"
    assert r.setnx("k", "x") is False
    assert r.psetex("p", 20_000, "v") is True
    assert 0 < r.pttl("p") <= 20_000
    assert r.expire("k", 100, nx=True) is True
    assert r.expire("k", 50, gt=True) is False
    assert r.expire("k", 500, gt=True) is True
    assert r.pexpire("k", 10_000, lt=True) is True
    assert 0 < r.pttl("k") <= 10_000


def test_counters(r):
    assert r.incr("n") == 1
    assert r.incrby("n", 41) == 42
    assert r.decr("n") == 41
    assert r.decrby("n", 50) == -9
    r.set("big", 2**63 - 1)
    with pytest.raises(redis.ResponseError, match="overflow"):
        r.incr("big")
    r.set("s", "abc")
    with pytest.raises(redis.ResponseError, match="not an integer"):
        r.incr("s")


def test_select_databases(make_client):
    c0 = make_client()
    c1 = make_client(db=1)
    c0.flushall()
    c0.set("where", "zero")
    c1.set("where", "one")
    assert c0.get("where") == b"zero"
    assert c1.get("where") == b"one"
    assert c1.dbsize() == 1
    with pytest.raises(redis.ResponseError, match="DB index is out of range"):
        make_client(db=16).ping()


def test_unknown_command_error(r):
    with pytest.raises(redis.ResponseError, match="unknown command"):
        r.execute_command("NOSUCHCOMMAND", "a")


@pytest.mark.parametrize("protocol", [2, 3])
def test_binary_values(make_client, protocol):
    c = make_client(protocol=protocol)
    every_byte = bytes(range(256))
    tricky = b"\r\n$5\r\nhello\r\n*1\r\n\x00\x00"
    big = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: past the server's copy threshold
    c.set(b"bin:\x00\xff key", every_byte)
    c.set("tricky", tricky)
    c.set("big", big)
    c.set("empty", b"")
    assert c.get(b"bin:\x00\xff key") == every_byte
    assert c.get("tricky") == tricky
    assert c.get("big") == big
    assert c.get("empty") == b""
    assert c.mget("tricky", "empty", "big") == [tricky, b"", big]
    pipe = c.pipeline(transaction=False)
    for i in range(50):
        pipe.set(f"p:{i}", big[i : i + 70_000])
    for i in range(50):
        pipe.get(f"p:{i}")
    out = pipe.execute()
    assert out[:50] == [True] * 50
    assert out[50:] == [big[i : i + 70_000] for i in range(50)]

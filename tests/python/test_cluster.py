"""redis-py's RedisCluster against a 3-node Redistill cluster started with
scripts/cluster (or, with REDISTILL_TEST_REDIS_SERVER, a 3-node Redis
cluster made with redis-cli --cluster create): keys spread by slot, hash
tags, pipelines, the map changing under a running client, and redis-cli's
and redis-benchmark's cluster modes."""

import os
import pathlib
import shutil
import subprocess
import tempfile
import threading
import time

import pytest
import redis
from redis.cluster import RedisCluster

from conftest import REFERENCE_REDIS, REPO_ROOT, free_port, ping_once, redistill_bin

NODES = 3


def run(argv, **kwargs):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120, **kwargs)


def free_ports(count):
    """A first port with `count` free ports from it."""
    for _ in range(50):
        first = free_port()
        if first + count < 65536 and all(not ping_once(first + i) for i in range(count)):
            return first
    raise RuntimeError("no run of free ports")


class RedistillCluster:
    """scripts/cluster start 3, in a temp dir."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="redistill-cluster-")
        self.first = free_ports(NODES)
        self.ports = [self.first + i for i in range(NODES)]

    def start(self):
        out = run(["bash", str(REPO_ROOT / "scripts" / "cluster"), "start", str(NODES), "--port", str(self.first),
                   "--dir", self.dir, "--bin", redistill_bin(), "--threads", "2"])
        assert out.returncode == 0, out.stderr
        return self

    def stop(self):
        run(["bash", str(REPO_ROOT / "scripts" / "cluster"), "stop", "--dir", self.dir])
        shutil.rmtree(self.dir, ignore_errors=True)


class RedisReferenceCluster:
    """Three redis-server cluster nodes joined by redis-cli --cluster create."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="redis-cluster-")
        self.first = free_ports(NODES)
        self.ports = [self.first + i for i in range(NODES)]
        self.procs = []

    def start(self):
        for port in self.ports:
            node_dir = os.path.join(self.dir, str(port))
            os.makedirs(node_dir)
            self.procs.append(subprocess.Popen(
                [REFERENCE_REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                 "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--dir", node_dir],
                cwd=node_dir, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 10
        while not all(ping_once(p) for p in self.ports):
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        out = run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in self.ports], "--cluster-yes"])
        assert out.returncode == 0, out.stdout + out.stderr
        deadline = time.monotonic() + 30
        while not all(node_client(p).cluster("INFO")["cluster_state"] == "ok" for p in self.ports):
            assert time.monotonic() < deadline, "the Redis cluster did not converge"
            time.sleep(0.1)
        return self

    def stop(self):
        for proc in self.procs:
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    started = (RedisReferenceCluster() if REFERENCE_REDIS else RedistillCluster()).start()
    yield started
    started.stop()


@pytest.fixture
def rc(cluster):
    client = RedisCluster(host="127.0.0.1", port=cluster.first, socket_timeout=10)
    client.flushall(target_nodes=RedisCluster.PRIMARIES)
    yield client
    client.close()


def node_client(port):
    return redis.Redis(host="127.0.0.1", port=port, socket_timeout=10)


def test_the_client_sees_three_primaries(rc, cluster):
    primaries = rc.get_primaries()
    assert sorted(node.port for node in primaries) == cluster.ports
    slots = rc.cluster_slots()
    assert sum(end - start + 1 for (start, end) in slots) == 16384


def test_ten_thousand_keys_spread_over_the_nodes(rc, cluster):
    pipe = rc.pipeline(transaction=False)
    for i in range(10_000):
        pipe.set(f"key:{i}", i)
    assert pipe.execute() == [True] * 10_000
    for i in range(0, 10_000, 97):
        assert rc.get(f"key:{i}") == str(i).encode()
    sizes = [node_client(port).dbsize() for port in cluster.ports]
    assert sum(sizes) == 10_000
    assert all(size > 2_500 for size in sizes), sizes
    values = rc.mget_nonatomic([f"key:{i}" for i in range(0, 10_000, 7)])
    assert values == [str(i).encode() for i in range(0, 10_000, 7)]


def test_hash_tags_keep_keys_together(rc, cluster):
    for user in range(1_000):
        fields = {f"{{user{user}}}:f{f}": f"{user}.{f}" for f in range(10)}
        assert rc.mset(fields) is True
    for user in range(0, 1_000, 13):
        keys = [f"{{user{user}}}:f{f}" for f in range(10)]
        assert rc.mget(keys) == [f"{user}.{f}".encode() for f in range(10)]
        slot = rc.keyslot(keys[0])
        assert all(rc.keyslot(key) == slot for key in keys)
    assert sum(node_client(port).dbsize() for port in cluster.ports) == 10_000
    # Multi-key commands across slots are refused by the server.
    direct = node_client(cluster.first)
    with pytest.raises(redis.ResponseError, match="don.t hash to the same slot"):
        direct.execute_command("MGET", "{a}1", "{b}1")


def test_pipelines_and_transactions_within_a_slot(rc):
    pipe = rc.pipeline(transaction=False)
    for i in range(500):
        pipe.incr(f"counter:{i % 50}")
    pipe.execute()
    assert rc.mget_nonatomic([f"counter:{i}" for i in range(50)]) == [b"10"] * 50
    with rc.pipeline(transaction=True) as tx:
        tx.set("{order}:1", "a").incr("{order}:n").get("{order}:1")
        done, count, value = tx.execute()
        assert done in (True, b"OK") and (count, value) == (1, b"a")


def test_moved_is_followed(cluster):
    client = RedisCluster(host="127.0.0.1", port=cluster.first, socket_timeout=10)
    direct = node_client(cluster.first)
    key = next(k for k in (f"k{i}" for i in range(1000)) if client.keyslot(k) > 5460)
    with pytest.raises(redis.exceptions.MovedError, match=rf"^{client.keyslot(key)} 127\.0\.0\.1:\d+$"):
        direct.get(key)
    assert client.set(key, "v") is True
    assert client.get(key) == b"v"
    client.close()


def test_redis_cli_cluster_check(cluster):
    out = run(["redis-cli", "--cluster", "check", f"127.0.0.1:{cluster.first}"])
    assert out.returncode == 0, out.stdout
    assert "[OK] All nodes agree about slots configuration." in out.stdout
    assert "[OK] All 16384 slots covered." in out.stdout


def test_redis_benchmark_cluster_mode(cluster):
    out = run(["redis-benchmark", "--cluster", "-p", str(cluster.first), "-t", "set,get", "-n", "1000", "-q"])
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SET:" in out.stdout and "GET:" in out.stdout, out.stdout
    assert "ERR" not in out.stdout + out.stderr


def setmap(nodes, ids, ports, epoch, owners):
    """CLUSTER SETMAP to every node (clients `nodes`), back to back: node i
    (id ids[i], port ports[i]) owns the slot ranges owners[i] ("a-b,c-d")."""
    args = [epoch]
    for node_id, port, slots in zip(ids, ports, owners):
        args += [node_id, "127.0.0.1", port, slots]
    for node in nodes:
        assert node.execute_command("CLUSTER SETMAP", *args) in (b"OK", "OK", True)


def patiently(operation, retried):
    """Run a cluster client's operation, retrying it a little later when the
    nodes disagreed for a moment (a map reaches them one after the other,
    and redis-py gives up after 16 redirections in a row), as applications
    retry cluster errors."""
    for _ in range(300):
        try:
            return operation()
        except (redis.exceptions.ClusterError, redis.exceptions.TryAgainError):
            retried[0] += 1
            time.sleep(0.01)
    raise AssertionError("the cluster never settled")


@pytest.mark.skipif(REFERENCE_REDIS is not None, reason="CLUSTER SETMAP is Redistill's")
def test_the_map_changes_under_a_running_client(rc, cluster):
    """Slots change hands while a client writes and reads: it follows MOVED
    and never reads an older value (a node starts empty for slots it gains)."""
    errors, stats, retried = [], {"reads": 0, "hits": 0}, [0]
    stop = threading.Event()

    def work():
        client = RedisCluster(host="127.0.0.1", port=cluster.first, socket_timeout=10)
        version = 0
        try:
            while not stop.is_set():
                for k in range(50):
                    version += 1
                    key, value = f"moving:{k}", f"{k}:{version}".encode()
                    patiently(lambda: client.set(key, value), retried)
                    read = patiently(lambda: client.get(key), retried)
                    stats["reads"] += 1
                    if read == value:
                        stats["hits"] += 1
                    elif read is not None:
                        errors.append(f"{key}: wrote {value!r}, read {read!r}")
        except Exception as e:  # noqa: BLE001 - any failure of the client fails the test
            errors.append(repr(e))
        finally:
            client.close()

    worker = threading.Thread(target=work)
    worker.start()
    nodes = [node_client(port) for port in cluster.ports]
    ids = [node.execute_command("CLUSTER MYID") for node in nodes]
    layouts = [["0-5460", "5461-10922", "10923-16383"],
               ["5461-10922", "10923-16383", "0-5460"],
               ["10923-16383", "0-5460", "5461-10922"]]
    epoch = 1
    for round_ in range(12):
        epoch += 1
        setmap(nodes, ids, cluster.ports, epoch, layouts[round_ % 3])
        time.sleep(0.15)
    epoch += 1
    setmap(nodes, ids, cluster.ports, epoch, layouts[0])
    stop.set()
    worker.join(30)
    assert not errors, errors[:5]
    assert stats["reads"] > 50 and stats["hits"] * 2 > stats["reads"], stats
    assert retried[0] < stats["reads"], (retried, stats)
    print(f"{stats}, {retried[0]} retries")
    out = run(["redis-cli", "--cluster", "check", f"127.0.0.1:{cluster.first}"])
    assert out.returncode == 0, out.stdout

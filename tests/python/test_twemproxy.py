"""A twemproxy (Debian's nutcracker) pool of Redistill nodes, for clients
that are not cluster-aware: the proxy shards keys over plain (non-cluster)
nodes by consistent hashing, as docs/cluster.md shows. Skipped when
nutcracker is not installed (CI installs it)."""

import os
import shutil
import subprocess
import tempfile
import time

import pytest
import redis

from conftest import REFERENCE_REDIS, Server, free_port, ping_once

NUTCRACKER = shutil.which("nutcracker") or ("/usr/sbin/nutcracker" if os.access("/usr/sbin/nutcracker", os.X_OK)
                                            else None)

pytestmark = pytest.mark.skipif(NUTCRACKER is None, reason="nutcracker (twemproxy) is not installed")

NODES = 3


def pool_config(listen_port, node_ports):
    servers = "\n".join(f"   - 127.0.0.1:{port}:1 node{i}" for i, port in enumerate(node_ports))
    return f"""redistill:
  listen: 127.0.0.1:{listen_port}
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  server_retry_timeout: 2000
  server_failure_limit: 1
  servers:
{servers}
"""


def proxy_client(port):
    """A client of the proxy: twemproxy speaks RESP2 and knows neither HELLO
    nor CLIENT SETINFO, which redis-py 8 sends on connecting unless told not
    to (through DriverInfo from 8.1 on, lib_name before)."""
    kwargs = {"host": "127.0.0.1", "port": port, "socket_timeout": 10, "protocol": 2}
    if hasattr(redis, "DriverInfo"):
        kwargs["driver_info"] = redis.DriverInfo(name=None, lib_version=None)
    else:
        kwargs.update(lib_name=None, lib_version=None)
    return redis.Redis(**kwargs)


@pytest.fixture(scope="module")
def pool():
    nodes = [Server().start() for _ in range(NODES)]
    workdir = tempfile.mkdtemp(prefix="nutcracker-")
    config = os.path.join(workdir, "nutcracker.yml")
    port = free_port()
    with open(config, "w") as f:
        f.write(pool_config(port, [node.port for node in nodes]))
    check = subprocess.run([NUTCRACKER, "--test-conf", "--conf-file", config], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    proxy = subprocess.Popen([NUTCRACKER, "--conf-file", config, "--output", os.path.join(workdir, "log")],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while not ping_once(port):
        assert proxy.poll() is None and time.monotonic() < deadline, "nutcracker did not start"
        time.sleep(0.05)
    yield port, nodes
    proxy.terminate()
    proxy.wait(10)
    for node in nodes:
        node.cleanup()
    shutil.rmtree(workdir, ignore_errors=True)


def test_the_proxy_spreads_keys_over_the_nodes(pool):
    port, nodes = pool
    client = proxy_client(port)
    direct = [redis.Redis(host="127.0.0.1", port=node.port, socket_timeout=10) for node in nodes]
    for node in direct:
        node.flushall()
    pipe = client.pipeline(transaction=False)
    for i in range(3_000):
        pipe.set(f"user:{i}", i)
    assert pipe.execute() == [True] * 3_000
    assert client.get("user:42") == b"42"
    # MGET over keys of every node: the proxy splits and joins it.
    keys = [f"user:{i}" for i in range(0, 3_000, 11)]
    assert client.mget(keys) == [str(i).encode() for i in range(0, 3_000, 11)]
    assert client.delete("user:1", "user:2", "user:3") == 3
    assert client.exists("user:1") == 0
    assert client.incr("counter") == 1
    client.hset("profile:1", mapping={"name": "alice", "lang": "en"})
    assert client.hgetall("profile:1") == {b"name": b"alice", b"lang": b"en"}
    sizes = [node.dbsize() for node in direct]
    assert sum(sizes) == 3_000 - 3 + 2
    assert all(size > 500 for size in sizes), sizes


def test_redis_benchmark_through_the_proxy(pool):
    port, _ = pool
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-t", "set,get", "-n", "2000", "-q"],
                         stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SET:" in out.stdout and "GET:" in out.stdout, out.stdout


@pytest.mark.skipif(REFERENCE_REDIS is not None, reason="checks Redistill's nodes")
def test_nodes_behind_the_proxy_are_plain_nodes(pool):
    _, nodes = pool
    node = redis.Redis(host="127.0.0.1", port=nodes[0].port, socket_timeout=10)
    with pytest.raises(redis.ResponseError, match="cluster support disabled"):
        node.execute_command("CLUSTER", "INFO")

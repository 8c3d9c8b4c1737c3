// ioredis 5's Cluster against a 3-node Redistill cluster started with
// scripts/cluster (or, with REDISTILL_TEST_REDIS_SERVER, a 3-node Redis
// cluster made with redis-cli --cluster create), run with `node --test`:
// the slot map as ioredis reads it, keys spread over the nodes, hash tags,
// pipelines and MULTI within a slot, and the map changing under a running
// client (Redistill's CLUSTER SETMAP).
//
// Environment:
//   REDISTILL_BIN                binary to test (default ../../target/release/redistill)
//   REDISTILL_TEST_REDIS_SERVER  run against Redis cluster nodes instead

"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn, execFileSync } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const Redis = require("ioredis");

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const REFERENCE = process.env.REDISTILL_TEST_REDIS_SERVER || "";
const BIN = process.env.REDISTILL_BIN || path.join(REPO_ROOT, "target", "release", "redistill");
const NODES = 3;

let nodes = null; // { ports, dir, procs }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function portFree(port) {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

// A first port with NODES free ports from it.
async function freePorts() {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = 20000 + Math.floor(Math.random() * 30000);
    const free = await Promise.all([...Array(NODES).keys()].map((i) => portFree(first + i)));
    if (free.every(Boolean)) return first;
  }
  throw new Error("no run of free ports");
}

async function startRedistill(first, dir) {
  if (!fs.existsSync(BIN)) throw new Error(`Redistill binary not found at ${BIN}: run \`cargo build --release\` first`);
  const script = path.join(REPO_ROOT, "scripts", "cluster");
  execFileSync("bash", [script, "start", String(NODES), "--port", String(first), "--dir", dir, "--bin", BIN, "--threads", "2"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  return [];
}

async function startRedis(first, dir) {
  const procs = [];
  for (let i = 0; i < NODES; i++) {
    const nodeDir = path.join(dir, String(first + i));
    fs.mkdirSync(nodeDir);
    const argv = ["--port", String(first + i), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
    argv.push("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", "--dir", nodeDir);
    procs.push(spawn(REFERENCE, argv, { cwd: nodeDir, stdio: "ignore" }));
  }
  await sleep(500);
  const addresses = [...Array(NODES).keys()].map((i) => `127.0.0.1:${first + i}`);
  execFileSync("redis-cli", ["--cluster", "create", ...addresses, "--cluster-yes"], { stdio: "ignore" });
  for (let i = 0; i < 300; i++) {
    const states = [...Array(NODES).keys()].map((n) =>
      execFileSync("redis-cli", ["-p", String(first + n), "cluster", "info"]).toString(),
    );
    if (states.every((s) => s.includes("cluster_state:ok"))) return procs;
    await sleep(100);
  }
  throw new Error("the Redis cluster did not converge");
}

before(async () => {
  const first = await freePorts();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redistill-node-cluster-"));
  const procs = REFERENCE ? await startRedis(first, dir) : await startRedistill(first, dir);
  nodes = { ports: [...Array(NODES).keys()].map((i) => first + i), dir, procs };
});

after(async () => {
  if (!nodes) return;
  if (REFERENCE) {
    for (const proc of nodes.procs) proc.kill("SIGTERM");
    await sleep(300);
  } else {
    execFileSync("bash", [path.join(REPO_ROOT, "scripts", "cluster"), "stop", "--dir", nodes.dir], { stdio: "ignore" });
  }
  fs.rmSync(nodes.dir, { recursive: true, force: true });
});

// Runs fn with a connected ioredis Cluster and always quits it.
async function withCluster(fn) {
  const cluster = new Redis.Cluster([{ host: "127.0.0.1", port: nodes.ports[0] }], {
    clusterRetryStrategy: () => 50,
    // The nodes disagree while a new map is sent round: keep following.
    retryDelayOnMoved: 5,
    maxRedirections: 400,
  });
  try {
    await fn(cluster);
  } finally {
    await cluster.quit();
  }
}

test("ioredis reads the slot map: three primaries", async () => {
  await withCluster(async (cluster) => {
    await cluster.ping();
    const primaries = cluster.nodes("master").map((n) => n.options.port).sort();
    assert.deepEqual(primaries, nodes.ports);
    const slots = await cluster.cluster("SLOTS");
    assert.equal(slots.reduce((sum, [start, end]) => sum + end - start + 1, 0), 16384);
  });
});

test("keys spread over the nodes; hash tags keep them together", async () => {
  await withCluster(async (cluster) => {
    await Promise.all(cluster.nodes("master").map((node) => node.flushall()));
    await Promise.all([...Array(3000).keys()].map((i) => cluster.set(`key:${i}`, String(i))));
    const values = await Promise.all([...Array(3000).keys()].map((i) => cluster.get(`key:${i}`)));
    assert.deepEqual(values, [...Array(3000).keys()].map(String));
    const sizes = await Promise.all(cluster.nodes("master").map((node) => node.dbsize()));
    assert.equal(sizes.reduce((a, b) => a + b, 0), 3000);
    assert.ok(sizes.every((size) => size > 700), `${sizes}`);
    await cluster.mset("{user:1}:name", "alice", "{user:1}:lang", "en");
    assert.deepEqual(await cluster.mget("{user:1}:name", "{user:1}:lang"), ["alice", "en"]);
    await assert.rejects(cluster.mget("{a}1", "{b}1"), /CROSSSLOT|All keys in the pipeline should belong to the same slot/);
  });
});

test("pipelines and MULTI within one slot", async () => {
  await withCluster(async (cluster) => {
    const results = await cluster.pipeline().set("{order}:1", "a").incr("{order}:n").get("{order}:1").exec();
    assert.deepEqual(results, [[null, "OK"], [null, 1], [null, "a"]]);
    const tx = await cluster.multi().incr("{order}:n").get("{order}:n").exec();
    assert.deepEqual(tx, [[null, 2], [null, "2"]]);
  });
});

test("the map changes under a running client", { skip: REFERENCE ? "CLUSTER SETMAP is Redistill's" : false }, async () => {
  const admins = nodes.ports.map((port) => new Redis({ host: "127.0.0.1", port }));
  const ids = await Promise.all(admins.map((admin) => admin.cluster("MYID")));
  const layouts = [
    ["0-5460", "5461-10922", "10923-16383"],
    ["5461-10922", "10923-16383", "0-5460"],
    ["10923-16383", "0-5460", "5461-10922"],
  ];
  const setmap = async (epoch, layout) => {
    const args = ["SETMAP", epoch];
    ids.forEach((id, i) => args.push(id, "127.0.0.1", nodes.ports[i], layout[i]));
    for (const admin of admins) assert.equal(await admin.cluster(...args), "OK");
  };
  let stop = false;
  const stats = { reads: 0, hits: 0, stale: [] };
  await withCluster(async (cluster) => {
    const worker = (async () => {
      let version = 0;
      while (!stop) {
        for (let k = 0; k < 20; k++) {
          version += 1;
          const key = `moving:${k}`;
          const value = `${k}:${version}`;
          await cluster.set(key, value);
          const read = await cluster.get(key);
          stats.reads += 1;
          if (read === value) stats.hits += 1;
          else if (read !== null) stats.stale.push(`${key}: wrote ${value}, read ${read}`);
        }
      }
    })();
    let epoch = 1;
    for (let round = 0; round < 9; round++) {
      epoch += 1;
      await setmap(epoch, layouts[round % 3]);
      await sleep(150);
    }
    await setmap(epoch + 1, layouts[0]);
    stop = true;
    await worker;
  });
  for (const admin of admins) await admin.quit();
  assert.deepEqual(stats.stale, []);
  assert.ok(stats.reads > 50 && stats.hits * 2 > stats.reads, JSON.stringify(stats));
});

// ioredis 5 against the Redistill release binary, run with `node --test`
// from this directory (after `npm ci`). The test starts the server itself on
// a free loopback port with an empty config file and stops it at the end.
// Covers the ready check, strings, binary values, pipelines, the offline
// queue, connection options, and hashes (hset with an object, hgetall,
// hincrby, hscanStream, pipeline and multi mixing hashes and strings,
// WRONGTYPE both ways), scripting (defineCommand's EVALSHA -> NOSCRIPT ->
// EVAL fallback, in pipelines and MULTI too; cjson and cmsgpack) and
// functions (FUNCTION LOAD, FCALL, FCALL_RO), sets (sinter, sscanStream),
// sorted sets (zrange WITHSCORES, zrangebyscore, zincrby, zscanStream) and
// lists (lmove, BLPOP/BLMOVE/BZPOPMIN woken from a second connection),
// with a pipeline and MULTI mixing the three, and a pub/sub subscriber
// (subscribe, psubscribe, message, pmessage and messageBuffer events,
// many messages in publish order, unsubscribe back to normal commands).
//
// Environment:
//   REDISTILL_BIN                binary to test (default ../../target/release/redistill)
//   REDISTILL_TEST_REDIS_SERVER  run against this real redis-server instead

"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const { spawn } = require("node:child_process");
const fs = require("node:fs");
const net = require("node:net");
const os = require("node:os");
const path = require("node:path");
const Redis = require("ioredis");

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const REFERENCE = process.env.REDISTILL_TEST_REDIS_SERVER || "";
const BIN = process.env.REDISTILL_BIN || path.join(REPO_ROOT, "target", "release", "redistill");
const SERVER_ENV_VARS = [
  "REDIS_PORT",
  "REDIS_PASSWORD",
  "REDIS_MAX_MEMORY",
  "REDIS_BIND",
  "REDISTILL_CONFIG",
  "REDISTILL_THREADS",
  "REDISTILL_CLUSTER_ENABLED",
  "REDISTILL_CLUSTER_NODE_ID",
  "REDISTILL_CLUSTER_ANNOUNCE_IP",
  "REDISTILL_CLUSTER_ANNOUNCE_PORT",
];

let server = null; // { proc, port, dir, log: () => string }

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

// Resolves true when a fresh connection answers PING with +PONG.
function pingOnce(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    const done = (ok) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(1000, () => done(false));
    sock.on("error", () => done(false));
    sock.on("connect", () => sock.write("*1\r\n$4\r\nPING\r\n"));
    sock.on("data", (d) => {
      buf += d.toString("latin1");
      if (buf.endsWith("\r\n")) done(buf.startsWith("+PONG"));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  if (!REFERENCE && !fs.existsSync(BIN)) {
    throw new Error(`Redistill binary not found at ${BIN}: run \`cargo build --release\` first`);
  }
  let lastLog = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "redistill-node-"));
    const logPath = path.join(dir, "server.log");
    const logFd = fs.openSync(logPath, "a");
    let argv;
    if (REFERENCE) {
      argv = [REFERENCE, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir];
    } else {
      const config = path.join(dir, "redistill.toml");
      fs.writeFileSync(config, "");
      argv = [BIN, "--port", String(port), "--bind", "127.0.0.1", "--config", config, "--threads", "2"];
    }
    const env = { ...process.env };
    for (const v of SERVER_ENV_VARS) delete env[v];
    const proc = spawn(argv[0], argv.slice(1), { cwd: dir, env, stdio: ["ignore", logFd, logFd] });
    fs.closeSync(logFd);
    let exited = false;
    proc.on("exit", () => {
      exited = true;
    });
    const log = () => {
      try {
        return fs.readFileSync(logPath, "utf8").split("\n").slice(-40).join("\n");
      } catch {
        return "";
      }
    };
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !exited) {
      if (await pingOnce(port)) return { proc, port, dir, log, exited: () => exited };
      await sleep(20);
    }
    lastLog = log();
    proc.kill("SIGKILL");
    fs.rmSync(dir, { recursive: true, force: true });
  }
  throw new Error(`server did not start; log tail:\n${lastLog}`);
}

async function stopServer(s) {
  if (!s) return;
  if (!s.exited()) {
    const gone = new Promise((resolve) => s.proc.once("exit", resolve));
    s.proc.kill("SIGTERM");
    const timer = setTimeout(() => s.proc.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(timer);
  }
  fs.rmSync(s.dir, { recursive: true, force: true });
}

// Runs fn with a connected client (ready check done) and always quits it.
async function withClient(opts, fn) {
  const client = new Redis({
    host: "127.0.0.1",
    port: server.port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null, // fail fast instead of reconnecting forever
    ...opts,
  });
  const errors = [];
  client.on("error", (e) => errors.push(e));
  try {
    await client.connect();
    await fn(client);
  } finally {
    if (client.status === "ready") {
      assert.equal(await client.quit(), "OK");
    } else {
      client.disconnect();
    }
  }
  assert.deepEqual(errors, [], "client emitted errors");
}

before(async () => {
  server = await startServer();
});

after(async () => {
  await stopServer(server);
  server = null;
});

test("connects with the INFO ready check", async () => {
  await withClient({ enableReadyCheck: true }, async (r) => {
    assert.equal(r.status, "ready");
    // What the ready check parsed: loading must be 0 or absent.
    const info = await r.info();
    const fields = Object.fromEntries(
      info
        .split("\r\n")
        .filter((l) => l && !l.startsWith("#"))
        .map((l) => [l.slice(0, l.indexOf(":")), l.slice(l.indexOf(":") + 1)]),
    );
    assert.ok(fields.redis_version, "INFO has redis_version");
    assert.ok(fields.loading === undefined || fields.loading === "0", `loading:${fields.loading}`);
    assert.equal(await r.ping(), "PONG");
    await r.flushall();
  });
});

test("SET, GET, SETEX, INCR, DEL", async () => {
  await withClient({}, async (r) => {
    assert.equal(await r.set("greeting", "hello"), "OK");
    assert.equal(await r.get("greeting"), "hello");
    assert.equal(await r.get("missing"), null);
    assert.equal(await r.set("greeting", "bye", "EX", 60, "GET"), "hello");
    assert.equal(await r.set("greeting", "x", "NX"), null);

    assert.equal(await r.setex("token", 30, "abc"), "OK");
    const ttl = await r.ttl("token");
    assert.ok(ttl > 0 && ttl <= 30, `ttl ${ttl}`);
    await assert.rejects(r.setex("token", 0, "abc"), /invalid expire time in 'setex' command/);

    assert.equal(await r.incr("hits"), 1);
    assert.equal(await r.incr("hits"), 2);
    assert.equal(await r.incrby("hits", 40), 42);
    assert.equal(await r.decr("hits"), 41);
    await assert.rejects(r.incr("greeting"), /value is not an integer or out of range/);

    assert.equal(await r.del("greeting", "token", "hits", "missing"), 3);
    assert.equal(await r.exists("greeting", "token", "hits"), 0);
    assert.equal(await r.ttl("token"), -2);
  });
});

test("binary values round-trip as Buffers", async () => {
  await withClient({}, async (r) => {
    const every = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const big = Buffer.alloc(300_000, 0xab);
    assert.equal(await r.set(Buffer.from([0, 0xff, 0x0d, 0x0a]), every), "OK");
    assert.deepEqual(await r.getBuffer(Buffer.from([0, 0xff, 0x0d, 0x0a])), every);
    assert.equal(await r.set("big", big), "OK");
    assert.deepEqual(await r.getBuffer("big"), big);
    assert.equal(await r.del("big", Buffer.from([0, 0xff, 0x0d, 0x0a])), 2);
  });
});

test("pipeline without MULTI", async () => {
  await withClient({}, async (r) => {
    const res = await r
      .pipeline()
      .set("p:a", "1")
      .incr("p:a")
      .incr("p:counter")
      .expire("p:counter", 60)
      .incr("p:text-not-int")
      .set("p:text", "abc")
      .incr("p:text")
      .mset("p:x", "x", "p:y", "y")
      .mget("p:a", "p:x", "p:y", "p:none")
      .get("p:a")
      .exec();
    const errs = res.map(([e]) => e && e.message);
    const vals = res.map(([, v]) => v);
    assert.deepEqual(vals, ["OK", 2, 1, 1, 1, "OK", undefined, "OK", ["2", "x", "y", null], "2"]);
    assert.deepEqual(errs, [null, null, null, null, null, null, "ERR value is not an integer or out of range", null, null, null]);

    // A bigger pipeline, replies in order.
    const p = r.pipeline();
    for (let i = 0; i < 1000; i++) p.incr("p:many");
    const many = await p.exec();
    assert.deepEqual(
      many.map(([e, v]) => (e ? e.message : v)),
      Array.from({ length: 1000 }, (_, i) => i + 1),
    );
    await r.flushall();
  });
});

test("offline queue: commands issued before connect are sent after the ready check", async () => {
  const r = new Redis({ host: "127.0.0.1", port: server.port, retryStrategy: () => null });
  const [setRes, getRes] = await Promise.all([r.set("early", "bird"), r.get("early")]);
  assert.equal(setRes, "OK");
  assert.equal(getRes, "bird");
  assert.equal(await r.del("early"), 1);
  assert.equal(await r.quit(), "OK");
});

test("connectionName and db options", async () => {
  await withClient({ connectionName: "node-worker", db: 3 }, async (r) => {
    assert.equal(await r.client("GETNAME"), "node-worker");
    await r.set("in-db-3", "yes");
    assert.equal(await r.dbsize(), 1);
  });
  await withClient({}, async (r) => {
    assert.equal(await r.get("in-db-3"), null);
    await r.flushall();
  });
});

// -- hashes ------------------------------------------------------------------

const WRONGTYPE = /^WRONGTYPE Operation against a key holding the wrong kind of value$/;

test("hashes: hset with an object, hgetall, hmget, hdel", async () => {
  await withClient({}, async (r) => {
    assert.equal(await r.hset("user:1", { name: "Ada", email: "ada@example.com", visits: 1 }), 3);
    assert.equal(await r.hset("user:1", "visits", 2, "lang", "en"), 1);
    assert.deepEqual(await r.hgetall("user:1"), { name: "Ada", email: "ada@example.com", visits: "2", lang: "en" });
    assert.deepEqual(await r.hgetall("missing"), {});
    assert.equal(await r.hget("user:1", "name"), "Ada");
    assert.equal(await r.hget("user:1", "nope"), null);
    assert.deepEqual(await r.hmget("user:1", "name", "nope", "lang"), ["Ada", null, "en"]);
    assert.deepEqual(await r.hmget("missing", "a", "b"), [null, null]);
    assert.equal(await r.hlen("user:1"), 4);
    assert.equal(await r.hexists("user:1", "email"), 1);
    assert.equal(await r.hsetnx("user:1", "name", "Grace"), 0);
    assert.deepEqual((await r.hkeys("user:1")).sort(), ["email", "lang", "name", "visits"]);
    assert.equal(await r.type("user:1"), "hash");

    const bin = Buffer.from([0, 0xff, 0x0d, 0x0a]);
    assert.equal(await r.hset("bin", bin, bin), 1);
    assert.deepEqual(await r.hgetBuffer("bin", bin), bin);

    // Deleting the last field deletes the key.
    assert.equal(await r.hdel("user:1", "name", "email", "nope"), 2);
    assert.equal(await r.hdel("user:1", "visits", "lang"), 2);
    assert.equal(await r.exists("user:1"), 0);
    assert.equal(await r.type("user:1"), "none");
    await r.flushall();
  });
});

test("hashes: hincrby counters", async () => {
  await withClient({}, async (r) => {
    for (const user of ["alice", "bob", "alice"]) await r.hincrby("rate:w1", user, 1);
    assert.deepEqual(await r.hgetall("rate:w1"), { alice: "2", bob: "1" });
    assert.equal(await r.hincrby("rate:w1", "alice", -5), -3);
    assert.equal(await r.hincrbyfloat("rate:w1", "bytes", "10.5"), "10.5");
    assert.equal(await r.hincrbyfloat("rate:w1", "bytes", "-0.5"), "10");
    await r.hset("rate:w1", "label", "text");
    await assert.rejects(r.hincrby("rate:w1", "label", 1), /^ReplyError: ERR hash value is not an integer$/);
    await assert.rejects(r.hincrby("rate:w1", "alice", "x"), /value is not an integer or out of range/);
    await r.hset("rate:w1", "max", "9223372036854775807");
    await assert.rejects(r.hincrby("rate:w1", "max", 1), /increment or decrement would overflow/);
    assert.equal(await r.hget("rate:w1", "alice"), "-3");
    await r.flushall();
  });
});

test("hashes: hscanStream with match and count", async () => {
  await withClient({}, async (r) => {
    const fields = {};
    for (let i = 0; i < 1000; i++) fields[`field:${i}`] = String(i);
    // Decoys whose values, not names, match the pattern.
    for (let i = 0; i < 100; i++) fields[`other:${i}`] = "field:1";
    assert.equal(await r.hset("big", fields), 1100);

    const found = {};
    let batches = 0;
    const stream = r.hscanStream("big", { match: "field:1*", count: 50 });
    for await (const batch of stream) {
      batches++;
      assert.equal(batch.length % 2, 0, "a batch is a flat field/value list");
      for (let i = 0; i < batch.length; i += 2) found[batch[i]] = batch[i + 1];
    }
    const expected = Object.fromEntries(Object.entries(fields).filter(([k]) => k.startsWith("field:1")));
    assert.equal(Object.keys(expected).length, 111);
    assert.deepEqual(found, expected);
    assert.ok(batches > 1, `1,100 fields at COUNT 50 came in ${batches} batch(es)`);

    let none = 0;
    for await (const batch of r.hscanStream("missing", { count: 10 })) none += batch.length;
    assert.equal(none, 0);
    await r.flushall();
  });
});

test("hashes: pipeline and multi mixing hash and string commands", async () => {
  await withClient({}, async (r) => {
    await r.set("text", "abc");
    for (const kind of ["pipeline", "multi"]) {
      await r.del("profile", "last");
      const res = await r[kind]()
        .hset("profile", { name: "Ada", visits: 1 })
        .set("last", "2024-06-11")
        .hincrby("profile", "visits", 41)
        .hget("text", "f")
        .hgetall("profile")
        .get("last")
        .incr("profile")
        .hdel("profile", "name")
        .exec();
      const errs = res.map(([e]) => e && e.message);
      const vals = res.map(([, v]) => v);
      assert.deepEqual(
        errs.map((e) => (e && WRONGTYPE.test(e) ? "WRONGTYPE" : e)),
        [null, null, null, "WRONGTYPE", null, null, "WRONGTYPE", null],
        kind,
      );
      assert.deepEqual(vals, [2, "OK", 42, undefined, { name: "Ada", visits: "42" }, "2024-06-11", undefined, 1], kind);
      assert.deepEqual(await r.hgetall("profile"), { visits: "42" });
    }
    await r.flushall();
  });
});

test("hashes: WRONGTYPE between strings and hashes", async () => {
  await withClient({}, async (r) => {
    await r.set("plain", "v");
    for (const call of [
      () => r.hget("plain", "f"),
      () => r.hset("plain", { f: "v" }),
      () => r.hgetall("plain"),
      () => r.hincrby("plain", "f", 1),
      () => r.hdel("plain", "f"),
    ]) {
      await assert.rejects(call(), (e) => e.name === "ReplyError" && WRONGTYPE.test(e.message));
    }
    await r.hset("h", "f", "1");
    for (const call of [() => r.get("h"), () => r.incr("h"), () => r.append("h", "x")]) {
      await assert.rejects(call(), (e) => e.name === "ReplyError" && WRONGTYPE.test(e.message));
    }
    assert.equal(await r.get("plain"), "v");
    assert.deepEqual(await r.hgetall("h"), { f: "1" });
    // SET replaces a hash outright.
    assert.equal(await r.set("h", "string now"), "OK");
    assert.equal(await r.type("h"), "string");
    await r.flushall();
  });
});

// `calls` and `failed_calls` of one command in INFO commandstats.
async function commandStats(r, name) {
  const line = (await r.info("commandstats")).split("\r\n").find((l) => l.startsWith(`cmdstat_${name}:`));
  if (!line) return { calls: 0, failed: 0 };
  const field = (key) => Number((line.match(new RegExp(`[:,]${key}=(\\d+)`)) || [0, 0])[1]);
  return { calls: field("calls"), failed: field("failed_calls") };
}

// A capped counter, as rate limiters write them: INCR, and EXPIRE on the
// first hit; refuses past the cap without counting.
const CAPPED_INCR = `
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current >= tonumber(ARGV[1]) then return -1 end
current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return current`;

test("scripting: defineCommand falls back from EVALSHA to EVAL on NOSCRIPT", async () => {
  await withClient({}, async (r) => {
    await r.flushall();
    await r.script("FLUSH");
    await r.config("RESETSTAT");
    r.defineCommand("cappedIncr", { numberOfKeys: 1, lua: CAPPED_INCR });
    // ioredis sends EVAL the first time on a connection, EVALSHA after.
    assert.equal(await r.cappedIncr("hits", 2, 60_000), 1);
    assert.deepEqual(await commandStats(r, "eval"), { calls: 1, failed: 0 });
    const sha = r.scriptsSet.cappedIncr.sha;
    assert.deepEqual(await r.script("EXISTS", sha), [1]);
    assert.equal(await r.cappedIncr("hits", 2, 60_000), 2);
    assert.equal(await r.cappedIncr("hits", 2, 60_000), -1);
    assert.deepEqual(await commandStats(r, "evalsha"), { calls: 2, failed: 0 });
    assert.deepEqual(await commandStats(r, "eval"), { calls: 1, failed: 0 });
    const pttl = await r.pttl("hits");
    assert.ok(pttl > 0 && pttl <= 60_000, `pttl ${pttl}`);
    // After SCRIPT FLUSH: EVALSHA answers NOSCRIPT (a failed call) and
    // ioredis resends the script with EVAL, transparently.
    await r.script("FLUSH");
    assert.deepEqual(await r.script("EXISTS", sha), [0]);
    assert.equal(await r.cappedIncr("other", 5, 1000), 1);
    assert.deepEqual(await commandStats(r, "evalsha"), { calls: 3, failed: 1 });
    assert.deepEqual(await commandStats(r, "eval"), { calls: 2, failed: 0 });
    assert.match(await r.info("errorstats"), /errorstat_NOSCRIPT:count=1/);
    // In a pipeline and in MULTI.
    const piped = await r.pipeline().cappedIncr("p", 3, 1000).cappedIncr("p", 3, 1000).get("p").exec();
    assert.deepEqual(piped, [[null, 1], [null, 2], [null, "2"]]);
    // A pipeline whose EVALSHAs all meet NOSCRIPT: each is resent as EVAL.
    await r.script("FLUSH");
    const resent = await r.pipeline().cappedIncr("q", 3, 1000).cappedIncr("q", 3, 1000).exec();
    assert.deepEqual(resent, [[null, 1], [null, 2]]);
    const multi = await r.multi().cappedIncr("p", 3, 1000).cappedIncr("p", 3, 1000).exec();
    assert.deepEqual(multi, [[null, 3], [null, -1]]);
    // A script error reaches the caller as a ReplyError.
    r.defineCommand("broken", { numberOfKeys: 0, lua: "return redis.call('nosuchcommand')" });
    await assert.rejects(r.broken(), (e) => e.name === "ReplyError" && /Unknown Redis command called from script/.test(e.message));
    await r.flushall();
  });
});

test("scripting: cjson and cmsgpack through defineCommand", async () => {
  await withClient({}, async (r) => {
    r.defineCommand("jsonToMsgpack", {
      numberOfKeys: 1,
      lua: `
local doc = cjson.decode(ARGV[1])
redis.call('SET', KEYS[1], cmsgpack.pack(doc))
local back = cmsgpack.unpack(redis.call('GET', KEYS[1]))
return cjson.encode({name = back.name, n = back.n + 1, tags = back.tags})`,
    });
    const out = JSON.parse(await r.jsonToMsgpack("doc", JSON.stringify({ name: "ada", n: 41, tags: ["x", "y"] })));
    assert.deepEqual(out, { name: "ada", n: 42, tags: ["x", "y"] });
    // MessagePack bytes as lua-cmsgpack writes them: a fixmap of 3.
    assert.equal((await r.getBuffer("doc"))[0], 0x83);
    await r.flushall();
  });
});

test("functions: FUNCTION LOAD and FCALL", async () => {
  await withClient({}, async (r) => {
    await r.function("FLUSH");
    const lib = "#!lua name=counters\n" +
      "redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)\n" +
      "redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
    assert.equal(await r.function("LOAD", lib), "counters");
    assert.equal(await r.fcall("bump", 1, "c", 5), 5);
    assert.equal(await r.fcall_ro("peek", 1, "c"), "5");
    await assert.rejects(r.fcall_ro("bump", 1, "c", 1), /Can not execute a script with write flag using \*_ro command/);
    await assert.rejects(r.fcall("nope", 0), /Function not found/);
    await r.function("FLUSH");
    await r.flushall();
  });
});

// -- sets, sorted sets, lists ------------------------------------------------

test("sets: sadd, smembers, sinter, sismember, srem", async () => {
  await withClient({}, async (r) => {
    assert.equal(await r.sadd("tags:1", "redis", "cache", "db"), 3);
    assert.equal(await r.sadd("tags:1", "cache", "fast"), 1);
    assert.equal(await r.sadd("tags:2", ["cache", "fast", "rust"]), 3);
    assert.deepEqual((await r.smembers("tags:1")).sort(), ["cache", "db", "fast", "redis"]);
    assert.deepEqual((await r.sinter("tags:1", "tags:2")).sort(), ["cache", "fast"]);
    assert.deepEqual((await r.sunion("tags:1", "tags:2")).sort(), ["cache", "db", "fast", "redis", "rust"]);
    assert.deepEqual((await r.sdiff("tags:1", "tags:2")).sort(), ["db", "redis"]);
    assert.equal(await r.sinterstore("both", "tags:1", "tags:2"), 2);
    assert.equal(await r.scard("both"), 2);
    assert.equal(await r.sismember("tags:1", "db"), 1);
    assert.deepEqual(await r.smismember("tags:1", "db", "nope"), [1, 0]);
    assert.deepEqual(await r.smembers("missing"), []);
    assert.equal(await r.type("tags:1"), "set");
    // Integers: the compact encoding, read back as strings.
    assert.equal(await r.sadd("ids", 3, 1, 2), 3);
    assert.deepEqual((await r.smembers("ids")).sort(), ["1", "2", "3"]);
    assert.equal(await r.object("ENCODING", "ids"), "intset");
    // Removing the last member deletes the key.
    assert.equal(await r.srem("both", "cache", "fast", "nope"), 2);
    assert.equal(await r.exists("both"), 0);
    await r.flushall();
  });
});

test("sets: sscanStream with match and count", async () => {
  await withClient({}, async (r) => {
    const members = [];
    for (let i = 0; i < 1000; i++) members.push(`user:${i}`);
    for (let i = 0; i < 100; i++) members.push(`bot:${i}`);
    assert.equal(await r.sadd("online", members), 1100);
    const found = new Set();
    let batches = 0;
    for await (const batch of r.sscanStream("online", { match: "user:1*", count: 50 })) {
      batches++;
      for (const m of batch) found.add(m);
    }
    const expected = members.filter((m) => m.startsWith("user:1"));
    assert.equal(expected.length, 111);
    assert.deepEqual([...found].sort(), expected.sort());
    assert.ok(batches > 1, `1,100 members at COUNT 50 came in ${batches} batch(es)`);
    let none = 0;
    for await (const batch of r.sscanStream("missing")) none += batch.length;
    assert.equal(none, 0);
    await r.flushall();
  });
});

test("sorted sets: zadd, zrange withscores, zrangebyscore, zincrby, zrank", async () => {
  await withClient({}, async (r) => {
    assert.equal(await r.zadd("board", 10, "ada", 20, "bob", 15, "cy"), 3);
    assert.equal(await r.zadd("board", "NX", 99, "ada", 5, "dee"), 1);
    assert.equal(await r.zadd("board", "XX", "CH", 12, "ada", 1, "nobody"), 1);
    assert.deepEqual(await r.zrange("board", 0, -1, "WITHSCORES"), ["dee", "5", "ada", "12", "cy", "15", "bob", "20"]);
    assert.deepEqual(await r.zrange("board", 0, 1, "REV"), ["bob", "cy"]);
    assert.deepEqual(await r.zrangebyscore("board", "(5", "+inf", "LIMIT", 1, 2), ["cy", "bob"]);
    assert.deepEqual(await r.zrevrangebyscore("board", 15, "-inf", "WITHSCORES"), ["cy", "15", "ada", "12", "dee", "5"]);
    // ZINCRBY replies with the new score as a string, doubles included.
    assert.equal(await r.zincrby("board", 2.5, "ada"), "14.5");
    assert.equal(await r.zincrby("board", 1, "new"), "1");
    assert.equal(await r.zscore("board", "ada"), "14.5");
    assert.equal(await r.zscore("board", "nope"), null);
    assert.deepEqual(await r.zmscore("board", "bob", "nope"), ["20", null]);
    assert.equal(await r.zrank("board", "ada"), 2);
    assert.equal(await r.zrevrank("board", "ada"), 2);
    assert.equal(await r.zcard("board"), 5);
    assert.equal(await r.zcount("board", 10, 20), 3);
    assert.deepEqual(await r.zpopmin("board"), ["new", "1"]);
    assert.equal(await r.type("board"), "zset");
    await assert.rejects(r.zadd("board", "nan", "x"), /^ReplyError: ERR value is not a valid float$/);
    await r.flushall();
  });
});

test("sorted sets: zscanStream", async () => {
  await withClient({}, async (r) => {
    const args = [];
    for (let i = 0; i < 500; i++) args.push(i / 2, `m:${i}`);
    assert.equal(await r.zadd("big", ...args), 500);
    const found = {};
    let batches = 0;
    for await (const batch of r.zscanStream("big", { match: "m:4*", count: 40 })) {
      batches++;
      assert.equal(batch.length % 2, 0, "a batch is a flat member/score list");
      for (let i = 0; i < batch.length; i += 2) found[batch[i]] = batch[i + 1];
    }
    const expected = {};
    for (let i = 0; i < 500; i++) if (`m:${i}`.startsWith("m:4")) expected[`m:${i}`] = String(i / 2);
    assert.equal(Object.keys(expected).length, 111);
    assert.deepEqual(found, expected);
    assert.ok(batches > 1, `500 members at COUNT 40 came in ${batches} batch(es)`);
    await r.flushall();
  });
});

test("lists: lpush, rpop, lrange, lmove", async () => {
  await withClient({}, async (r) => {
    assert.equal(await r.lpush("jobs", "a", "b", "c"), 3);
    assert.equal(await r.rpush("jobs", ["d", "e"]), 5);
    assert.deepEqual(await r.lrange("jobs", 0, -1), ["c", "b", "a", "d", "e"]);
    assert.equal(await r.rpop("jobs"), "e");
    assert.deepEqual(await r.rpop("jobs", 2), ["d", "a"]);
    assert.equal(await r.rpop("missing"), null);
    assert.equal(await r.lmove("jobs", "done", "LEFT", "RIGHT"), "c");
    assert.equal(await r.lmove("jobs", "done", "LEFT", "LEFT"), "b");
    assert.equal(await r.lmove("jobs", "done", "LEFT", "LEFT"), null);
    assert.deepEqual(await r.lrange("done", 0, -1), ["b", "c"]);
    assert.equal(await r.exists("jobs"), 0);
    assert.equal(await r.llen("done"), 2);
    assert.equal(await r.lindex("done", -1), "c");
    assert.equal(await r.lpos("done", "c"), 1);
    assert.equal(await r.type("done"), "list");
    await r.flushall();
  });
});

test("lists: BLPOP woken by a push from another connection", async () => {
  await withClient({}, async (consumer) => {
    await withClient({}, async (producer) => {
      await producer.flushall();
      // Times out with null.
      assert.equal(await consumer.blpop("queue", 0.05), null);
      const popped = consumer.blpop("queue", "other", 5);
      await waitForBlocked(producer, 1);
      assert.equal(await producer.rpush("other", "job-1", "job-2"), 2);
      assert.deepEqual(await popped, ["other", "job-1"]);
      // The producer's next command sees the element taken.
      const moved = consumer.blmove("queue", "working", "LEFT", "RIGHT", 5);
      await waitForBlocked(producer, 1);
      assert.equal(await producer.lpush("queue", "job-3"), 1);
      assert.equal(await producer.llen("queue"), 0);
      assert.equal(await moved, "job-3");
      assert.deepEqual(await producer.lrange("working", 0, -1), ["job-3"]);
      // BZPOPMIN the same way.
      const best = consumer.bzpopmin("scores", 5);
      await waitForBlocked(producer, 1);
      await producer.zadd("scores", 2, "b", 1, "a");
      assert.deepEqual(await best, ["scores", "a", "1"]);
      await producer.flushall();
    });
  });
});

test("collections: pipeline and multi mixing sets, sorted sets and lists", async () => {
  await withClient({}, async (r) => {
    await r.set("text", "abc");
    for (const kind of ["pipeline", "multi"]) {
      await r.del("s", "z", "l", "moved");
      const res = await r[kind]()
        .sadd("s", "x", "y")
        .zadd("z", 1, "x", 2, "y")
        .rpush("l", "x", "y", "z")
        .sinter("s", "s")
        .zrange("z", 0, -1, "WITHSCORES")
        .lmove("l", "moved", "RIGHT", "LEFT")
        .lpush("s", "oops")
        .smembers("text")
        .zincrby("z", 5, "x")
        .lrange("l", 0, -1)
        .scard("s")
        .exec();
      const errs = res.map(([e]) => e && e.message);
      const vals = res.map(([, v]) => v);
      assert.deepEqual(
        errs.map((e) => (e && WRONGTYPE.test(e) ? "WRONGTYPE" : e)),
        [null, null, null, null, null, null, "WRONGTYPE", "WRONGTYPE", null, null, null],
        kind,
      );
      vals[3] = vals[3] && [...vals[3]].sort();
      assert.deepEqual(
        vals,
        [2, 2, 3, ["x", "y"], ["x", "1", "y", "2"], "z", undefined, undefined, "6", ["x", "y"], 2],
        kind,
      );
      assert.deepEqual(await r.lrange("moved", 0, -1), ["z"]);
    }
    await r.flushall();
  });
});

// Resolves once INFO says `n` clients are blocked.
async function waitForBlocked(r, n) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const m = (await r.info("clients")).match(/blocked_clients:(\d+)/);
    if (m && Number(m[1]) === n) return;
    if (Date.now() > deadline) throw new Error(`never ${n} blocked clients`);
    await sleep(5);
  }
}


// Resolves once `emitter` has emitted `event` `count` times, with the
// argument lists of those events.
function collect(emitter, event, count) {
  return new Promise((resolve, reject) => {
    const seen = [];
    const timer = setTimeout(() => reject(new Error(`${event}: ${seen.length} of ${count} after 10 s`)), 10_000);
    const listener = (...args) => {
      seen.push(args);
      if (seen.length === count) {
        clearTimeout(timer);
        emitter.off(event, listener);
        resolve(seen);
      }
    };
    emitter.on(event, listener);
  });
}

test("pub/sub: subscribe, psubscribe, message, pmessage and messageBuffer", async () => {
  await withClient({}, async (pub) => {
    await withClient({}, async (sub) => {
      assert.equal(await sub.subscribe("news.tech", "sport"), 2);
      assert.equal(await sub.psubscribe("news.*"), 3);
      // A subscriber connection refuses other commands (ioredis itself,
      // in RESP2 subscriber mode).
      await assert.rejects(sub.get("k"), /subscriber mode/);
      const messages = collect(sub, "message", 2);
      const pmessages = collect(sub, "pmessage", 2);
      const buffers = collect(sub, "messageBuffer", 2);
      // The channel matches both the channel and the pattern.
      assert.equal(await pub.publish("news.tech", "rust 2024"), 2);
      assert.equal(await pub.publish("news.art", "gallery"), 1);
      assert.equal(await pub.publish("sport", Buffer.from([0, 255, 13, 10])), 1);
      assert.equal(await pub.publish("weather", "nobody"), 0);
      assert.deepEqual(await messages, [
        ["news.tech", "rust 2024"],
        ["sport", Buffer.from([0, 255, 13, 10]).toString()],
      ]);
      assert.deepEqual(await pmessages, [
        ["news.*", "news.tech", "rust 2024"],
        ["news.*", "news.art", "gallery"],
      ]);
      const [[, first], [channel, binary]] = await buffers;
      assert.deepEqual(first, Buffer.from("rust 2024"));
      assert.deepEqual([channel, binary], [Buffer.from("sport"), Buffer.from([0, 255, 13, 10])]);
      assert.deepEqual(await pub.pubsub("NUMSUB", "news.tech", "sport", "none"), ["news.tech", 1, "sport", 1, "none", 0]);
      assert.equal(await pub.pubsub("NUMPAT"), 1);
    });
  });
});

test("pub/sub: many messages arrive in publish order, then unsubscribe", async () => {
  await withClient({}, async (pub) => {
    await withClient({}, async (sub) => {
      assert.equal(await sub.subscribe("seq"), 1);
      const count = 2000;
      const arrived = collect(sub, "message", count);
      const pipeline = pub.pipeline();
      for (let i = 0; i < count; i++) pipeline.publish("seq", String(i));
      const replies = await pipeline.exec();
      assert.ok(replies.every(([err, n]) => err === null && n === 1));
      const received = (await arrived).map(([, message]) => Number(message));
      assert.deepEqual(received, Array.from({ length: count }, (_, i) => i));
      assert.equal(await sub.unsubscribe(), 0);
      assert.equal(await sub.set("k", "v"), "OK");
      assert.equal(await pub.publish("seq", "late"), 0);
      await pub.flushall();
    });
  });
});

test("server survived", async () => {
  assert.equal(server.exited(), false, `server exited; log tail:\n${server.log()}`);
});

//! Cluster mode: hash slots and hash tags, every CLUSTER subcommand's
//! reply, redirections (MOVED, CROSSSLOT, CLUSTERDOWN) of plain commands,
//! transactions and scripts, and, Redistill's own, the configured map:
//! CLUSTER SETMAP, SIGHUP, the emulated single-node cluster, freeing the
//! keys of slots a node loses, and a client following MOVED while the map
//! changes under load.
//!
//! Most tests run on two nodes: node 0 owns slots 0-8191, node 1 owns
//! 8192-16000, and 16001-16383 belong to nobody. In differential mode the
//! nodes are real Redis cluster nodes given the same slots (see
//! `common::cluster`).

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::common::cluster::{map_toml, node_id, TestCluster};
use crate::common::*;

/// The two-node layout most tests use.
const HALVES: &[&[(u16, u16)]] = &[&[(0, 8191)], &[(8192, 16000)]];

/// Keys and their slots (Redis's own test vectors among them).
const BAR: u16 = 5061; // node 0
const FOO: u16 = 12182; // node 1

const DISABLED: &str = "-ERR This instance has cluster support disabled\r\n";
const CROSSSLOT: &str = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
const UNBOUND: &str = "-CLUSTERDOWN Hash slot not served\r\n";
const EXECABORT: &str = "-EXECABORT Transaction discarded because of previous errors.\r\n";

/// CRC16/XMODEM mod 16384 of the key's hash tag, as the server computes
/// it, to find keys in given slots.
fn slot_of(key: &str) -> u16 {
    let bytes = key.as_bytes();
    let tagged = bytes.iter().position(|&b| b == b'{').and_then(|open| {
        let close = bytes[open + 1..].iter().position(|&b| b == b'}')?;
        (close > 0).then(|| &bytes[open + 1..open + 1 + close])
    });
    let mut crc: u16 = 0;
    for &byte in tagged.unwrap_or(bytes) {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc & 0x3fff
}

/// A key whose slot is in `range`.
fn key_in(range: std::ops::RangeInclusive<u16>) -> String {
    (0..).map(|i| format!("key:{i}")).find(|key| range.contains(&slot_of(key))).expect("a key")
}

fn moved(slot: u16, cluster: &TestCluster, node: usize) -> String {
    err(&format!("MOVED {slot} {}", cluster.addr(node)))
}

#[test]
fn keyslot_follows_hash_tags() {
    let cluster = TestCluster::start(&[&[(0, 16383)]]);
    let mut c = cluster.raw(0);
    for (key, slot) in [
        ("foo", 12182),
        ("bar", 5061),
        ("{user1000}.following", 3443),
        ("{user1000}.followers", 3443),
        ("foo{}{bar}", 8363),
        ("foo{{bar}}zap", 4015),
        ("foo{bar}{zap}", 5061),
        ("", 0),
        ("{", 4092),
    ] {
        assert_eq!(slot_of(key), slot, "{key:?}");
        c.expect_cmd(&["CLUSTER", "KEYSLOT", key], int(i64::from(slot)));
    }
    c.expect_cmd(&["CLUSTER", "KEYSLOT"], arity_err("cluster|keyslot"));
    c.expect_cmd(&["CLUSTER", "KEYSLOT", "a", "b"], arity_err("cluster|keyslot"));
}

#[test]
fn cluster_mode_off() {
    let s = TestServer::start();
    let mut c = s.raw();
    for sub in ["INFO", "SLOTS", "SHARDS", "NODES", "MYID", "HELP", "LINKS"] {
        c.expect_cmd(&["CLUSTER", sub], DISABLED);
    }
    c.expect_cmd(&["CLUSTER", "KEYSLOT", "foo"], DISABLED);
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", "1"], DISABLED);
    c.expect_cmd(&["CLUSTER", "MEET", "127.0.0.1", "1"], DISABLED);
    c.expect_cmd(&["CLUSTER", "KEYSLOT"], arity_err("cluster|keyslot"));
    c.expect_cmd(&["CLUSTER", "NODES", "x"], arity_err("cluster|nodes"));
    c.expect_cmd(&["CLUSTER", "NOPE"], err("ERR unknown subcommand 'NOPE'. Try CLUSTER HELP."));
    c.expect_cmd(&["CLUSTER"], arity_err("cluster"));
    for command in ["READONLY", "READWRITE", "ASKING"] {
        c.expect_cmd(&[command], DISABLED);
        c.expect_cmd(&[command, "x"], arity_err(&command.to_ascii_lowercase()));
    }
    assert!(c.info("cluster").contains("# Cluster\r\ncluster_enabled:0\r\n"));
    assert!(c.info("server").contains("\r\nredis_mode:standalone\r\n"));
    c.expect_cmd(&["CONFIG", "GET", "cluster-enabled"], "*2\r\n$15\r\ncluster-enabled\r\n$2\r\nno\r\n");
    // Any database, as usual.
    c.expect_cmd(&["SELECT", "1"], OK);
}

#[test]
fn info_and_connection_commands() {
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    assert!(c.info("cluster").contains("# Cluster\r\ncluster_enabled:1\r\n"));
    assert!(c.info("").contains("# Cluster\r\ncluster_enabled:1\r\n"), "in the default sections");
    c.expect_cmd(&["CONFIG", "GET", "cluster-enabled"], "*2\r\n$15\r\ncluster-enabled\r\n$3\r\nyes\r\n");
    for command in ["READONLY", "READWRITE", "ASKING"] {
        c.expect_cmd(&[command], OK);
    }
    assert!(c.info("server").contains("\r\nredis_mode:cluster\r\n"));
    let hello = c.call(&["HELLO", "2"]);
    assert!(hello.contains("$4\r\nmode\r\n$7\r\ncluster\r\n"), "{hello}");
}

#[test]
fn cluster_slots() {
    let cluster = TestCluster::start(HALVES);
    let (id0, id1) = (cluster.id(0), cluster.id(1));
    let node = |id: &str, port: u16| format!("*4\r\n$9\r\n127.0.0.1\r\n:{port}\r\n$40\r\n{id}\r\n");
    let expected = |empty_map: &str| {
        format!(
            "*2\r\n*3\r\n:0\r\n:8191\r\n{}{empty_map}*3\r\n:8192\r\n:16000\r\n{}{empty_map}",
            node(&id0, cluster.port(0)),
            node(&id1, cluster.port(1))
        )
    };
    for i in 0..2 {
        cluster.raw(i).expect_cmd(&["CLUSTER", "SLOTS"], expected("*0\r\n"));
    }
    resp3(cluster.node(1)).expect_cmd(&["CLUSTER", "SLOTS"], expected("%0\r\n"));
    cluster.raw(0).expect_cmd(&["CLUSTER", "SLOTS", "x"], arity_err("cluster|slots"));
}

#[test]
fn cluster_nodes_lines() {
    let cluster = TestCluster::start(HALVES);
    let ids = [cluster.id(0), cluster.id(1)];
    for me in 0..2 {
        let reply = cluster.raw(me).call_resp(&["CLUSTER", "NODES"]);
        let text = reply.text();
        assert!(text.ends_with('\n') && !text.contains('\r'), "lines end in \\n only: {text:?}");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2, "{text}");
        for (node, slots) in [(0, "0-8191"), (1, "8192-16000")] {
            let line = lines.iter().find(|l| l.starts_with(&ids[node])).unwrap_or_else(|| panic!("{text}"));
            let fields: Vec<&str> = line.split(' ').collect();
            assert_eq!(fields.len(), 9, "{line}");
            assert!(fields[1].starts_with(&format!("{}@", cluster.addr(node))), "{line}");
            let flags = if node == me { "myself,master" } else { "master" };
            assert_eq!(fields[2], flags, "{line}");
            assert_eq!(fields[3], "-", "{line}");
            assert!(fields[6].parse::<u64>().is_ok(), "config epoch: {line}");
            assert_eq!(fields[7], "connected", "{line}");
            assert_eq!(fields[8], slots, "{line}");
        }
    }
    // RESP3: a verbatim string.
    let reply = resp3(cluster.node(0)).call(&["CLUSTER", "NODES"]);
    assert!(reply.starts_with('=') && reply.contains("\r\ntxt:"), "{reply}");
}

#[test]
fn cluster_nodes_exact_in_redistill() {
    if redistill_only() {
        return;
    }
    let cluster = TestCluster::start(HALVES);
    let expected = format!(
        "{} 127.0.0.1:{}@0 myself,master - 0 0 1 connected 0-8191\n{} 127.0.0.1:{}@0 master - 0 0 1 connected \
         8192-16000\n",
        node_id(0),
        cluster.port(0),
        node_id(1),
        cluster.port(1)
    );
    cluster.raw(0).expect_cmd(&["CLUSTER", "NODES"], bulk(&expected));
}

#[test]
fn cluster_info_fields() {
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    let text = c.call_resp(&["CLUSTER", "INFO"]).text();
    assert!(text.ends_with("\r\n"), "{text:?}");
    let fields: Vec<(&str, &str)> = text.lines().map(|l| l.split_once(':').expect("name:value")).collect();
    let names: Vec<&str> = fields.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names[..9],
        [
            "cluster_state",
            "cluster_slots_assigned",
            "cluster_slots_ok",
            "cluster_slots_pfail",
            "cluster_slots_fail",
            "cluster_known_nodes",
            "cluster_size",
            "cluster_current_epoch",
            "cluster_my_epoch",
        ]
    );
    let values: Vec<&str> = fields.iter().map(|(_, value)| *value).collect();
    assert_eq!(values[..7], ["ok", "16001", "16001", "0", "0", "2", "2"]);
    assert!(names.contains(&"cluster_stats_messages_sent") && names.contains(&"cluster_stats_messages_received"));
    assert_eq!(names.last(), Some(&"total_cluster_links_buffer_limit_exceeded"));
    let reply = resp3(cluster.node(0)).call(&["CLUSTER", "INFO"]);
    assert!(reply.starts_with('=') && reply.contains("\r\ntxt:cluster_state:ok\r\n"), "{reply}");
}

#[test]
fn cluster_shards_and_ids() {
    let cluster = TestCluster::start(HALVES);
    let ids = [cluster.id(0), cluster.id(1)];
    let mut c = cluster.raw(1);
    c.expect_cmd(&["CLUSTER", "MYID"], bulk(&ids[1]));
    c.expect_cmd(&["CLUSTER", "MYID", "x"], arity_err("cluster|myid"));
    let shards = c.call_resp(&["CLUSTER", "SHARDS"]);
    assert_eq!(shards.items().len(), 2);
    for shard in shards.items() {
        let shard = shard.pairs();
        assert_eq!(shard.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(), ["slots", "nodes"]);
        let slots: Vec<i64> = shard[0].1.items().iter().map(Resp::int).collect();
        let nodes = shard[1].1.items();
        assert_eq!(nodes.len(), 1);
        let node = nodes[0].pairs();
        let names: Vec<&str> = node.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["id", "port", "ip", "endpoint", "role", "replication-offset", "health"]);
        let index = ids.iter().position(|id| *id == node[0].1.text()).expect("a known id");
        let expected_slots = if index == 0 { [0, 8191] } else { [8192, 16000] };
        assert_eq!(slots, expected_slots);
        assert_eq!(node[1].1.int(), i64::from(cluster.port(index)));
        assert_eq!(node[2].1.text(), "127.0.0.1");
        assert_eq!(node[3].1.text(), "127.0.0.1");
        assert_eq!(node[4].1.text(), "master");
        assert_eq!(node[6].1.text(), "online");
    }
    // RESP3: maps.
    let reply = resp3(cluster.node(0)).call(&["CLUSTER", "SHARDS"]);
    assert!(reply.starts_with("*2\r\n%2\r\n$5\r\nslots\r\n"), "{reply}");
    if cluster.node(0).reference_older_than(7, 2) {
        return;
    }
    let shard_id = c.call_resp(&["CLUSTER", "MYSHARDID"]).text();
    assert_eq!(shard_id.len(), 40);
    assert!(shard_id.bytes().all(|b| b.is_ascii_hexdigit()));
    c.expect_cmd(&["CLUSTER", "MYSHARDID", "x"], arity_err("cluster|myshardid"));
}

#[test]
fn replicas_links_and_failure_reports() {
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    let id1 = cluster.id(1);
    c.expect_cmd(&["CLUSTER", "REPLICAS", &id1], "*0\r\n");
    c.expect_cmd(&["CLUSTER", "SLAVES", &id1], "*0\r\n");
    let unknown = "0123456789012345678901234567890123456789";
    c.expect_cmd(&["CLUSTER", "REPLICAS", unknown], err(&format!("ERR Unknown node {unknown}")));
    c.expect_cmd(&["CLUSTER", "COUNT-FAILURE-REPORTS", &id1], int(0));
    c.expect_cmd(&["CLUSTER", "COUNT-FAILURE-REPORTS", unknown], err(&format!("ERR Unknown node {unknown}")));
    c.expect_cmd(&["CLUSTER", "REPLICAS"], arity_err("cluster|replicas"));
    let links = c.call_resp(&["CLUSTER", "LINKS"]);
    if !cluster.node(0).is_redis() {
        assert!(links.items().is_empty(), "no cluster bus, no links");
    }
}

#[test]
fn keys_in_slots() {
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    for key in ["bar", "{bar}1", "{bar}2"] {
        c.expect_cmd(&["SET", key, "v"], OK);
    }
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", &BAR.to_string()], int(3));
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", "0"], int(0));
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", &FOO.to_string()], int(0));
    let listed = |c: &mut RawClient, count: &str| -> BTreeSet<String> {
        c.call_resp(&["CLUSTER", "GETKEYSINSLOT", &BAR.to_string(), count]).items().iter().map(Resp::text).collect()
    };
    let all: BTreeSet<String> = ["bar", "{bar}1", "{bar}2"].iter().map(|k| k.to_string()).collect();
    assert_eq!(listed(&mut c, "10"), all);
    assert_eq!(listed(&mut c, "3"), all);
    let two = listed(&mut c, "2");
    assert_eq!(two.len(), 2);
    assert!(two.is_subset(&all));
    assert!(listed(&mut c, "0").is_empty());
    c.expect_cmd(&["CLUSTER", "GETKEYSINSLOT", "16383", "10"], "*0\r\n");
    c.expect_cmd(&["DEL", "{bar}1"], int(1));
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", &BAR.to_string()], int(2));
    for slot in ["-1", "16384"] {
        c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", slot], err("ERR Invalid slot"));
    }
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", "x"], NOT_INT_ERR);
    for (slot, count) in [("-1", "1"), ("16384", "1"), ("1", "-1")] {
        c.expect_cmd(&["CLUSTER", "GETKEYSINSLOT", slot, count], err("ERR Invalid slot or number of keys"));
    }
    c.expect_cmd(&["CLUSTER", "GETKEYSINSLOT", "x", "1"], NOT_INT_ERR);
    c.expect_cmd(&["CLUSTER", "GETKEYSINSLOT", "1", "x"], NOT_INT_ERR);
    c.expect_cmd(&["CLUSTER", "GETKEYSINSLOT", "x", "y"], NOT_INT_ERR);
    c.expect_cmd(&["PING"], PONG);
    c.expect_cmd(&["CLUSTER", "GETKEYSINSLOT", "1"], arity_err("cluster|getkeysinslot"));
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT"], arity_err("cluster|countkeysinslot"));
}

#[test]
fn redirections_of_plain_commands() {
    let cluster = TestCluster::start(HALVES);
    let unbound = key_in(16001..=16383);
    let mut c = cluster.raw(0);
    c.expect_cmd(&["SET", "bar", "1"], OK);
    c.expect_cmd(&["GET", "foo"], moved(FOO, &cluster, 1));
    c.expect_cmd(&["SET", "foo", "1"], moved(FOO, &cluster, 1));
    c.expect_cmd(&["MGET", "bar", "{bar}x"], "*2\r\n$1\r\n1\r\n$-1\r\n");
    c.expect_cmd(&["MGET", "bar", "foo"], CROSSSLOT);
    c.expect_cmd(&["MGET", "foo", "bar"], CROSSSLOT);
    c.expect_cmd(&["MSET", "bar", "1", "b", "2"], CROSSSLOT);
    c.expect_cmd(&["GET", &unbound], UNBOUND);
    // The first key's slot must be served; then the others must share it.
    c.expect_cmd(&["MGET", &unbound, "bar"], UNBOUND);
    c.expect_cmd(&["MGET", "bar", &unbound], CROSSSLOT);
    // Every key of every key spec counts: ZUNIONSTORE's destination and
    // sources, EVAL's declared keys, a container's subcommand keys.
    c.expect_cmd(&["ZUNIONSTORE", "bar", "1", "foo"], CROSSSLOT);
    c.expect_cmd(&["ZUNIONSTORE", "foo", "1", "{foo}x"], moved(FOO, &cluster, 1));
    c.expect_cmd(&["EVAL", "return 1", "1", "foo"], moved(FOO, &cluster, 1));
    c.expect_cmd(&["EVAL", "return 1", "2", "bar", "foo"], CROSSSLOT);
    c.expect_cmd(&["EVAL", "return 1", "0"], int(1));
    c.expect_cmd(&["OBJECT", "ENCODING", "foo"], moved(FOO, &cluster, 1));
    c.expect_cmd(&["RENAME", "bar", "foo"], CROSSSLOT);
    c.expect_cmd(&["BLPOP", "bar", "foo", "0"], CROSSSLOT);
    c.expect_cmd(&["WATCH", "foo"], moved(FOO, &cluster, 1));
    // Keyless commands run here.
    c.expect_cmd(&["PING"], PONG);
    c.expect_cmd(&["DBSIZE"], int(1));
    c.expect_cmd(&["KEYS", "*"], "*1\r\n$3\r\nbar\r\n");
    c.expect_cmd(&["RANDOMKEY"], bulk("bar"));
    // The other node serves foo and redirects bar.
    let mut other = cluster.raw(1);
    other.expect_cmd(&["SET", "foo", "2"], OK);
    other.expect_cmd(&["GET", "bar"], moved(BAR, &cluster, 0));
    other.expect_cmd(&["DBSIZE"], int(1));
}

#[test]
fn transactions() {
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    // A redirected command dooms the transaction.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "bar", "1"], "+QUEUED\r\n");
    c.expect_cmd(&["GET", "foo"], moved(FOO, &cluster, 1));
    c.expect_cmd(&["EXEC"], EXECABORT);
    c.expect_cmd(&["GET", "bar"], NIL);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["MGET", "bar", "b"], CROSSSLOT);
    c.expect_cmd(&["EXEC"], EXECABORT);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["GET", &key_in(16001..=16383)], UNBOUND);
    c.expect_cmd(&["EXEC"], EXECABORT);
    // Local keys of different slots: each command is fine, EXEC is not.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "bar", "1"], "+QUEUED\r\n");
    c.expect_cmd(&["SET", "b", "2"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], CROSSSLOT);
    c.expect_cmd(&["EXEC"], err("ERR EXEC without MULTI"));
    c.expect_cmd(&["GET", "b"], NIL);
    // One slot: it runs.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "bar", "1"], "+QUEUED\r\n");
    c.expect_cmd(&["GET", "{bar}x"], "+QUEUED\r\n");
    c.expect_cmd(&["PING"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*3\r\n+OK\r\n$-1\r\n+PONG\r\n");
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["EXEC"], "*0\r\n");
    // A WATCH of a key served here holds.
    c.expect_cmd(&["WATCH", "bar"], OK);
    cluster.raw(0).expect_cmd(&["SET", "bar", "2"], OK);
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["GET", "bar"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*-1\r\n");
}

#[test]
fn one_database() {
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    c.expect_cmd(&["SELECT", "1"], err("ERR SELECT is not allowed in cluster mode"));
    c.expect_cmd(&["SELECT", "-1"], err("ERR SELECT is not allowed in cluster mode"));
    c.expect_cmd(&["SELECT", "0"], OK);
    c.expect_cmd(&["SELECT", "x"], NOT_INT_ERR);
    c.expect_cmd(&["SET", "bar", "1"], OK);
    c.expect_cmd(&["MOVE", "bar", "1"], err("ERR MOVE is not allowed in cluster mode"));
    c.expect_cmd(&["MOVE", "foo", "1"], moved(FOO, &cluster, 1));
    c.expect_cmd(&["SWAPDB", "0", "1"], err("ERR SWAPDB is not allowed in cluster mode"));
    c.expect_cmd(&["SWAPDB", "x", "1"], err("ERR SWAPDB is not allowed in cluster mode"));
    c.expect_cmd(&["COPY", "bar", "{bar}2"], int(1));
    if cluster.node(0).reference_older_than(7, 2) {
        return;
    }
    // Redis 7.2 and later have only database 0 in cluster mode.
    c.expect_cmd(&["CONFIG", "GET", "databases"], "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n");
    c.expect_cmd(&["COPY", "bar", "{bar}3", "DB", "1"], err("ERR DB index is out of range"));
    assert!(c.info("keyspace").contains("db0:keys=2,"));
}

#[test]
fn sort_patterns_stay_in_the_slot() {
    let cluster = TestCluster::start(HALVES);
    if cluster.node(0).reference_older_than(7, 2) {
        return;
    }
    let mut c = cluster.raw(0);
    c.expect_cmd(&["RPUSH", "{bar}list", "2", "1"], int(2));
    c.expect_cmd(&["SET", "{bar}w_1", "5"], OK);
    c.expect_cmd(&["SET", "{bar}w_2", "0"], OK);
    let by =
        "-ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.\r\n";
    let get =
        "-ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.\r\n";
    c.expect_cmd(&["SORT", "{bar}list", "BY", "w_*"], by);
    c.expect_cmd(&["SORT", "{bar}list", "BY", "{bar}w_*"], "*2\r\n$1\r\n2\r\n$1\r\n1\r\n");
    c.expect_cmd(&["SORT", "{bar}list", "BY", "nosort"], "*2\r\n$1\r\n2\r\n$1\r\n1\r\n");
    c.expect_cmd(&["SORT", "{bar}list", "GET", "w_*"], get);
    c.expect_cmd(&["SORT", "{bar}list", "GET", "{bar}w_*"], "*2\r\n$1\r\n5\r\n$1\r\n0\r\n");
    c.expect_cmd(&["SORT", "{bar}list", "GET", "#"], get);
    c.expect_cmd(&["SORT", "{bar}list", "STORE", "foo"], CROSSSLOT);
}

#[test]
fn scripts_touch_only_their_slot() {
    let cluster = TestCluster::start(HALVES);
    if cluster.node(0).reference_older_than(7, 4) {
        return;
    }
    let mut c = cluster.raw(0);
    let run = |c: &mut RawClient, script: &str, keys: &[&str]| -> String {
        let numkeys = keys.len().to_string();
        let mut args = vec!["EVAL", script, &numkeys];
        args.extend_from_slice(keys);
        let reply = c.call(&args);
        reply.split(" script: ").next().unwrap_or_default().trim_end().to_string()
    };
    assert_eq!(
        run(&mut c, "return redis.call('get', 'foo')", &[]),
        "-ERR Script attempted to access a non local key in a cluster node"
    );
    let unbound = key_in(16001..=16383);
    let script = format!("return redis.call('get', '{unbound}')");
    assert_eq!(run(&mut c, &script, &[]), "-ERR Script attempted to access a slot not served");
    assert_eq!(
        run(&mut c, "return redis.call('mget', 'bar', 'b')", &[]),
        "-ERR Command 'mget' in script attempted to access keys that don't hash to the same slot"
    );
    let undeclared = "-ERR Script attempted to access keys that do not hash to the same slot";
    assert_eq!(run(&mut c, "return redis.call('get', 'bar')", &["b"]), undeclared);
    assert_eq!(run(&mut c, "redis.call('get', 'b') return redis.call('get', 'bar')", &[]), undeclared);
    assert_eq!(run(&mut c, "redis.call('set', 'bar', 1) return redis.call('get', '{bar}x')", &["bar"]), "$-1");
    let cross = "#!lua flags=allow-cross-slot-keys\nredis.call('set', 'b', 1) return redis.call('get', 'b')";
    assert_eq!(run(&mut c, cross, &["bar"]), "$1\r\n1");
    let no_cluster = "#!lua flags=no-cluster\nreturn 1";
    assert_eq!(run(&mut c, no_cluster, &[]), "-ERR Can not run script on cluster, 'no-cluster' flag is set.");
    // pcall catches the error.
    let caught = "local ok = redis.pcall('get', 'foo') return ok['err']";
    let text = "ERR Script attempted to access a non local key in a cluster node";
    assert_eq!(run(&mut c, caught, &[]), format!("${}\r\n{text}", text.len()));
}

#[test]
fn redis_cli_cluster_check_passes() {
    if !have_program("redis-cli") {
        eprintln!("note: redis-cli not installed; skipped");
        return;
    }
    let cluster = TestCluster::start(&[&[(0, 5460)], &[(5461, 10922)], &[(10923, 16383)]]);
    cluster.raw(0).expect_cmd(&["SET", "bar", "1"], OK);
    let output = std::process::Command::new("redis-cli")
        .args(["--cluster", "check", &cluster.addr(0)])
        .output()
        .expect("run redis-cli");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    for line in ["[OK] All nodes agree about slots configuration.", "[OK] All 16384 slots covered.", "1 keys | 5461"] {
        assert!(text.contains(line), "{line:?} not in:\n{text}");
    }
}

// ---------------------------------------------------------------------------
// Redistill's own: the configured map
// ---------------------------------------------------------------------------

#[test]
fn emulated_single_node_owns_every_slot() {
    if redistill_only() {
        return;
    }
    let s = TestServer::start_with("[cluster]\nenabled = true\n");
    let mut c = s.raw();
    let id = c.call_resp(&["CLUSTER", "MYID"]).text();
    assert_eq!(id.len(), 40);
    assert!(s.stderr_so_far().contains(&format!("node id {id} (generated")), "{}", s.stderr_so_far());
    c.expect_cmd(
        &["CLUSTER", "SLOTS"],
        format!("*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:{}\r\n$40\r\n{id}\r\n*0\r\n", s.port()),
    );
    c.expect_cmd(
        &["CLUSTER", "NODES"],
        bulk(format!("{id} 127.0.0.1:{}@0 myself,master - 0 0 0 connected 0-16383\n", s.port())),
    );
    for key in ["foo", "bar", "{user1000}.following"] {
        c.expect_cmd(&["SET", key, "1"], OK);
    }
    c.expect_cmd(&["MGET", "foo", "bar"], CROSSSLOT);
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", "3443"], int(1));
    c.expect_cmd(&["CONFIG", "GET", "databases"], "*2\r\n$9\r\ndatabases\r\n$1\r\n1\r\n");
    let info = c.call_resp(&["CLUSTER", "INFO"]).text();
    assert!(info.starts_with("cluster_state:ok\r\ncluster_slots_assigned:16384\r\n"), "{info}");
    assert!(info.contains("cluster_known_nodes:1\r\ncluster_size:1\r\n"), "{info}");
    // A configured id is kept.
    let id = node_id(7);
    let s = TestServer::start_with(&format!("[cluster]\nenabled = true\nnode_id = \"{id}\"\nepoch = 4\n"));
    s.raw().expect_cmd(&["CLUSTER", "MYID"], bulk(&id));
    let info = s.raw().call_resp(&["CLUSTER", "INFO"]).text();
    assert!(info.contains("cluster_current_epoch:4\r\ncluster_my_epoch:4\r\n"), "{info}");
}

#[test]
fn flags_and_environment_set_the_identity() {
    if redistill_only() {
        return;
    }
    let port = free_port();
    let map = map_toml(1, &[port, free_port()], &[vec![(0, 8191)], vec![(8192, 16383)]]);
    // The shared map names this node by its address...
    let s = TestServer::launch(Launch { toml: map.clone(), port: Some(port), ..Launch::default() });
    s.raw().expect_cmd(&["CLUSTER", "MYID"], bulk(node_id(0)));
    // ...or the environment by its id (the second node, at another port:
    // the map's address is what clients are sent to).
    let s = TestServer::launch(Launch {
        toml: map.replace("enabled = true", "enabled = false"),
        env: vec![("REDISTILL_CLUSTER_ENABLED".into(), "yes".into()), ("REDISTILL_CLUSTER_NODE_ID".into(), node_id(1))],
        ..Launch::default()
    });
    let mut c = s.raw();
    c.expect_cmd(&["CLUSTER", "MYID"], bulk(node_id(1)));
    c.expect_cmd(&["GET", "bar"], err(&format!("MOVED 5061 127.0.0.1:{port}")));
    // The environment, over the file, turns cluster mode off.
    let s = TestServer::launch(Launch {
        toml: map,
        env: vec![("REDISTILL_CLUSTER_ENABLED".into(), "no".into())],
        ..Launch::default()
    });
    s.raw().expect_cmd(&["CLUSTER", "INFO"], DISABLED);
}

#[test]
fn bad_cluster_configs_stop_the_server_with_the_reason() {
    if redistill_only() {
        return;
    }
    let dir = TempDir::new("cluster-config");
    let id = node_id(0);
    let node = |slots: &str, id: &str| {
        format!("[[cluster.nodes]]\nid = \"{id}\"\nip = \"127.0.0.1\"\nport = 7001\nslots = [{slots}]\n")
    };
    for (toml, reason) in [
        (
            format!("[cluster]\nenabled = true\n{}", node("\"0-10\", 5", &id)),
            format!("cluster.nodes: slot 5 is listed twice for node {id}"),
        ),
        (
            format!("[cluster]\nenabled = true\n{}", node("\"0-16384\"", &id)),
            format!("cluster.nodes: node {id}: invalid slot range 0-16384"),
        ),
        (
            format!("[cluster]\nenabled = true\n{}", node("1", "XYZ")),
            "cluster.nodes: node id 'XYZ' is not 40 lowercase hexadecimal characters".into(),
        ),
        (
            format!("[cluster]\nenabled = true\n{}", node("1", &id)),
            "cluster.node_id: not set, and no entry of cluster.nodes has this node's address 127.0.0.1:7002".into(),
        ),
        (
            "[cluster]\nenabled = true\nnode_id = \"x\"\n".into(),
            "cluster.node_id: 'x' is not 40 lowercase hexadecimal characters".into(),
        ),
        (
            "[cluster]\nenabled = true\nannounce_ip = \"here\"\n".into(),
            "cluster.announce_ip: 'here' is not an IP address".into(),
        ),
        (
            "[cluster]\nenabled = true\nnodes = [{ id = \"a\", ip = \"1.1.1.1\", port = 1, slots = [\"1-x\"] }]\n"
                .into(),
            "invalid slot range '1-x'".into(),
        ),
    ] {
        let config = dir.write("redistill.toml", &toml);
        let config = config.to_string_lossy().into_owned();
        let run = run_redistill(&["--config", &config, "--port", "7002"], &[], Duration::from_secs(10));
        assert_eq!(run.code(), Some(1), "{toml}\n{}", run.stderr);
        assert!(run.stderr.contains(&reason), "{reason:?} not in {:?}", run.stderr);
    }
    let run = run_redistill(&["--cluster-enabled", "perhaps"], &[], Duration::from_secs(10));
    assert_eq!(run.code(), Some(2), "{}", run.stderr);
    assert!(run.stderr.contains("invalid value 'perhaps' for --cluster-enabled"), "{}", run.stderr);
}

/// CLUSTER SETMAP's arguments for a map of the test cluster in which node
/// `i` owns `slots[i]` (as `a-b,c-d`).
fn setmap(cluster: &TestCluster, epoch: u64, slots: &[&str]) -> Vec<String> {
    let mut args = vec!["CLUSTER".to_string(), "SETMAP".to_string(), epoch.to_string()];
    for (i, slots) in slots.iter().enumerate() {
        args.extend([node_id(i), "127.0.0.1".into(), cluster.port(i).to_string(), slots.to_string()]);
    }
    args
}

/// Send a map to every node of the cluster.
fn install(cluster: &TestCluster, epoch: u64, slots: &[&str]) {
    for i in 0..cluster.nodes.len() {
        cluster.raw(i).expect_cmd(&setmap(cluster, epoch, slots), OK);
    }
}

/// Wait until node `i` has no key left in `slot`.
fn wait_slot_empty(cluster: &TestCluster, i: usize, slot: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while cluster.raw(i).call(&["CLUSTER", "COUNTKEYSINSLOT", &slot.to_string()]) != int(0) {
        assert!(Instant::now() < deadline, "the keys of slot {slot} were not freed");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn setmap_moves_slots_and_frees_their_keys() {
    if redistill_only() {
        return;
    }
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    for i in 0..100 {
        c.expect_cmd(&["SET", &format!("{{bar}}{i}"), "old"], OK);
    }
    c.expect_cmd(&["SET", "b", "stays"], OK);
    // Slot 5061 (bar) goes to node 1.
    install(&cluster, 2, &["0-5060,5062-8191", "5061,8192-16000"]);
    c.expect_cmd(&["GET", "bar"], moved(BAR, &cluster, 1));
    c.expect_cmd(&["GET", "b"], bulk("stays"));
    wait_slot_empty(&cluster, 0, BAR);
    c.expect_cmd(&["DBSIZE"], int(1));
    let mut other = cluster.raw(1);
    other.expect_cmd(&["GET", "{bar}1"], NIL);
    other.expect_cmd(&["SET", "{bar}1", "new"], OK);
    let nodes = c.call_resp(&["CLUSTER", "NODES"]).text();
    assert!(nodes.contains("myself,master - 0 0 2 connected 0-5060 5062-8191\n"), "{nodes}");
    assert!(nodes.contains("master - 0 0 2 connected 5061 8192-16000\n"), "{nodes}");
    // And back: node 0 starts empty for it, never with the old keys.
    install(&cluster, 3, &["0-8191", "8192-16000"]);
    c.expect_cmd(&["GET", "{bar}1"], NIL);
    c.expect_cmd(&["SET", "{bar}1", "newer"], OK);
    other.expect_cmd(&["GET", "{bar}1"], moved(BAR, &cluster, 0));
    wait_slot_empty(&cluster, 1, BAR);
    c.expect_cmd(&["GET", "{bar}1"], bulk("newer"));
    let info = c.call_resp(&["CLUSTER", "INFO"]).text();
    assert!(info.contains("cluster_current_epoch:3\r\n"), "{info}");
}

#[test]
fn setmap_validates_the_map() {
    if redistill_only() {
        return;
    }
    let cluster = TestCluster::start(HALVES);
    let mut c = cluster.raw(0);
    let (a, b) = (node_id(0), node_id(1));
    c.expect_cmd(
        &setmap(&cluster, 1, &["0-8191", "8192-16000"]),
        err("ERR the new map's epoch (1) must be greater than the current one (1)"),
    );
    c.expect_cmd(
        &setmap(&cluster, 2, &["0-8191", "8191-16000"]),
        err(&format!("ERR Invalid slot map: slot 8191 is assigned to both {a} and {b}")),
    );
    c.expect_cmd(
        &setmap(&cluster, 2, &["0-16384", "-"]),
        err(&format!("ERR Invalid slot map: node {a}: invalid slot range 0-16384 (slots are 0 to 16383)")),
    );
    c.expect_cmd(&setmap(&cluster, 2, &["x", "-"]), err("ERR Invalid slot range 'x'"));
    c.expect_cmd(
        &["CLUSTER", "SETMAP", "2", &a, "127.0.0.1"],
        err("ERR CLUSTER SETMAP takes the epoch, then four arguments per node: id ip port slots"),
    );
    c.expect_cmd(
        &["CLUSTER", "SETMAP", "2", "nope", "127.0.0.1", "1", "-"],
        err("ERR Invalid slot map: node id 'nope' is not 40 lowercase hexadecimal characters"),
    );
    c.expect_cmd(
        &["CLUSTER", "SETMAP", "2", &a, "here", "1", "-"],
        err(&format!("ERR Invalid slot map: node {a}: ip 'here' is not an IP address")),
    );
    c.expect_cmd(&["CLUSTER", "SETMAP", "2", &a, "127.0.0.1", "99999", "-"], err("ERR Invalid port 99999"));
    c.expect_cmd(&["CLUSTER", "SETMAP", "x"], err("ERR Invalid config epoch specified: x"));
    c.expect_cmd(&["CLUSTER", "SETMAP"], arity_err("cluster|setmap"));
    // Nothing changed.
    c.expect_cmd(&["SET", "bar", "1"], OK);
    // A map that leaves this node out: it owns nothing, and still answers.
    c.expect_cmd(&["CLUSTER", "SETMAP", "5", &b, "127.0.0.1", &cluster.port(1).to_string(), "0-16383"], OK);
    c.expect_cmd(&["GET", "bar"], moved(BAR, &cluster, 1));
    let nodes = c.call_resp(&["CLUSTER", "NODES"]).text();
    assert!(
        nodes.contains(&format!("{a} 127.0.0.1:{}@0 myself,master - 0 0 5 connected\n", cluster.port(0))),
        "{nodes}"
    );
    // Inside MULTI it runs at EXEC.
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&setmap(&cluster, 6, &["0-16383", "-"]), "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*1\r\n+OK\r\n");
    c.expect_cmd(&["GET", "bar"], NIL);
}

#[test]
fn blocked_clients_are_redirected_when_their_slot_moves() {
    if redistill_only() {
        return;
    }
    let cluster = TestCluster::start(HALVES);
    let mut blocked = cluster.raw(0);
    blocked.send_cmd(&["BLPOP", "{bar}list", "0"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cluster.raw(0).info("clients").contains("blocked_clients:1\r\n") {
        assert!(Instant::now() < deadline, "the client never blocked");
        std::thread::sleep(Duration::from_millis(10));
    }
    install(&cluster, 2, &["0-5060,5062-8191", "5061,8192-16000"]);
    blocked.expect_reply(moved(BAR, &cluster, 1));
    assert!(cluster.raw(0).info("clients").contains("blocked_clients:0\r\n"));
}

#[test]
fn sighup_loads_a_newer_map() {
    if redistill_only() {
        return;
    }
    let cluster = TestCluster::start(HALVES);
    let ports = [cluster.port(0), cluster.port(1)];
    let node = cluster.node(0);
    let write_map = |epoch: u64, slots: [Vec<(u16, u16)>; 2]| {
        std::fs::write(node.config_file(), map_toml(epoch, &ports, &slots)).expect("write the config");
        node.signal("HUP");
    };
    let wait_log = |needle: &str| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !node.stderr_so_far().contains(needle) {
            assert!(Instant::now() < deadline, "{needle:?} not logged:\n{}", node.stderr_so_far());
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let mut c = cluster.raw(0);
    c.expect_cmd(&["SET", "bar", "1"], OK);
    write_map(2, [vec![(0, 5060), (5062, 8191)], vec![(5061, 5061), (8192, 16000)]]);
    wait_log("config reload: cluster map epoch 1 -> 2 (slots gained 0, lost 1)");
    c.expect_cmd(&["GET", "bar"], moved(BAR, &cluster, 1));
    // A map with an overlap is refused and logged; the running one stays.
    write_map(3, [vec![(0, 8191)], vec![(8191, 16000)]]);
    wait_log("slot 8191 is assigned to both");
    c.expect_cmd(&["GET", "bar"], moved(BAR, &cluster, 1));
    // An older epoch is refused.
    write_map(1, [vec![(0, 8191)], vec![(8192, 16000)]]);
    wait_log("the new map's epoch (1) must be greater than the current one (2)");
    c.expect_cmd(&["GET", "bar"], moved(BAR, &cluster, 1));
    write_map(4, [vec![(0, 8191)], vec![(8192, 16000)]]);
    wait_log("config reload: cluster map epoch 2 -> 4 (slots gained 1, lost 0)");
    c.expect_cmd(&["GET", "bar"], NIL);
    // A section without nodes: this node alone owns every slot, as at startup.
    std::fs::write(node.config_file(), "[cluster]\nenabled = true\nepoch = 5\n").expect("write the config");
    node.signal("HUP");
    wait_log("config reload: cluster map epoch 4 -> 5 (slots gained 8192, lost 0)");
    c.expect_cmd(&["GET", "foo"], NIL);
}

/// A client of a cluster that follows MOVED, as cluster clients do.
struct Follower {
    ports: Vec<u16>,
    clients: Vec<RawClient>,
    redirects: usize,
}

impl Follower {
    fn new(cluster: &TestCluster) -> Self {
        let ports: Vec<u16> = (0..cluster.nodes.len()).map(|i| cluster.port(i)).collect();
        let clients = ports.iter().map(|&port| RawClient::connect(port)).collect();
        Self { ports, clients, redirects: 0 }
    }

    /// Send `args` to the node owning `key` as far as MOVED says, starting
    /// from node `start`; the final reply.
    fn call(&mut self, start: usize, args: &[&str]) -> String {
        let mut node = start;
        // The nodes disagree while a new map is sent round (longer when the
        // machine is loaded): keep following, backing off a little.
        let deadline = Instant::now() + Duration::from_secs(10);
        for attempt in 0u32.. {
            let reply = self.clients[node].call(args);
            let Some(target) = reply.strip_prefix("-MOVED ") else { return reply };
            self.redirects += 1;
            let port: u16 = target.trim_end().rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port");
            node = self.ports.iter().position(|&p| p == port).expect("a known node");
            assert!(Instant::now() < deadline, "redirected for ever: {args:?}");
            std::thread::sleep(Duration::from_micros(100 << attempt.min(6)));
        }
        unreachable!("the loop returns or panics")
    }
}

#[test]
fn a_client_following_moved_reads_what_it_wrote_while_the_map_changes() {
    if redistill_only() {
        return;
    }
    let cluster = TestCluster::start(&[&[(0, 8191)], &[(8192, 16383)]]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let mut follower = Follower::new(&cluster);
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let keys: Vec<String> = (0..20).map(|k| format!("w{w}:k{k}")).collect();
                let (mut reads, mut hits) = (0u64, 0u64);
                let mut version = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    for key in &keys {
                        version += 1;
                        let value = format!("{key}:{version}");
                        assert_eq!(follower.call(0, &["SET", key, &value]), OK);
                        let read = follower.call(1, &["GET", key]);
                        reads += 1;
                        // Its slot may have moved since the write (the new
                        // owner starts empty), but an older value is wrong.
                        if read.as_bytes() == bulk(&value) {
                            hits += 1;
                        } else {
                            assert_eq!(read, NIL, "{key}: wrote {value}, read {read}");
                        }
                    }
                }
                (reads, hits, follower.redirects)
            })
        })
        .collect();
    // Slots 0-8191 change hands again and again: each node frees what it
    // lost in the background and must never serve it again.
    let started = Instant::now();
    let mut epoch = 1;
    while started.elapsed() < Duration::from_secs(3) {
        epoch += 1;
        let slots = if epoch % 2 == 0 { ["-", "0-16383"] } else { ["0-8191", "8192-16383"] };
        for i in [epoch % 2, 1 - epoch % 2] {
            cluster.raw(i as usize).expect_cmd(&setmap(&cluster, epoch, &slots), OK);
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (mut reads, mut hits, mut redirects) = (0, 0, 0);
    for worker in workers {
        let (r, h, m) = worker.join().expect("a worker failed");
        (reads, hits, redirects) = (reads + r, hits + h, redirects + m);
    }
    assert!(reads > 100 && redirects > 10, "{reads} reads, {redirects} redirects");
    assert!(hits * 2 > reads, "most reads find what was just written: {hits} of {reads}");
    eprintln!("{reads} reads, {hits} found what was written, {redirects} redirects");
}

#[test]
fn pipelined_keys_land_in_their_slots() {
    // Keys hashed ahead by the prefetch pass (a pipeline) and keys hashed
    // on the spot (one at a time, inline, inside EXEC) must agree.
    let cluster = TestCluster::start(&[&[(0, 16383)]]);
    let mut c = cluster.raw(0);
    let keys: Vec<String> = (0..64).map(|i| format!("pipelined:{i}")).collect();
    let mut pipeline = Vec::new();
    for key in &keys {
        pipeline.extend(encode(&["SET", key, key]));
    }
    pipeline.extend(b"GET pipelined:1\r\n");
    c.send(&pipeline);
    for _ in &keys {
        c.expect_reply(OK);
    }
    c.expect_reply(bulk("pipelined:1"));
    c.expect_cmd(&["MULTI"], OK);
    c.expect_cmd(&["SET", "{pipelined:1}x", "y"], "+QUEUED\r\n");
    c.expect_cmd(&["EXEC"], "*1\r\n+OK\r\n");
    let mut reads = Vec::new();
    for key in &keys {
        reads.extend(encode(&["GET", key]));
    }
    c.send(&reads);
    for key in &keys {
        c.expect_reply(bulk(key));
    }
    let mut counted = 0;
    for key in &keys {
        let slot = slot_of(key).to_string();
        let count = c.call_resp(&["CLUSTER", "COUNTKEYSINSLOT", &slot]).int();
        assert!(count >= 1, "{key} in slot {slot}");
        let listed = c.call_resp(&["CLUSTER", "GETKEYSINSLOT", &slot, "100"]);
        assert!(listed.items().iter().any(|k| k.text() == *key), "{key} not listed in slot {slot}");
        counted += 1;
    }
    assert_eq!(counted, 64);
    c.expect_cmd(&["DBSIZE"], int(65));
    c.expect_cmd(&["CLUSTER", "COUNTKEYSINSLOT", &slot_of("pipelined:1").to_string()], int(2));
}

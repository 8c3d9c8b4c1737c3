//! Cluster mode's commands: CLUSTER (the map as Redis Cluster clients
//! read it, keys per slot, and SETMAP, which replaces the map), ASKING,
//! READONLY and READWRITE; and the routing check dispatch runs before
//! every command in cluster mode ([`route`]), and scripts before every
//! `redis.call` ([`route_script_call`]).

use std::fmt::Write as _;

use super::keyspec::{for_each_key, specs_for, ArgList};
use super::{dispatch_subcommand, specs, Command, Ctx, Flags, Subcommand};
use crate::cluster::config::SlotRange;
use crate::cluster::{key_slot, Cluster, MapSpec, Node, NodeSpec, Query, Redirect, SlotMap, SLOTS};
use crate::protocol::{Args, ReplyBuffer};

pub static COMMANDS: &[Command] = &[
    Command { name: "cluster", arity: -2, flags: Flags::EXCLUSIVE, keys: specs::NONE, group: "cluster", run: cluster },
    Command {
        name: "asking",
        arity: 1,
        flags: Flags::FAST,
        keys: specs::NONE,
        group: "connection",
        run: ok_in_cluster,
    },
    Command {
        name: "readonly",
        arity: 1,
        flags: Flags::FAST,
        keys: specs::NONE,
        group: "connection",
        run: ok_in_cluster,
    },
    Command {
        name: "readwrite",
        arity: 1,
        flags: Flags::FAST,
        keys: specs::NONE,
        group: "connection",
        run: ok_in_cluster,
    },
];

const DISABLED: &str = "ERR This instance has cluster support disabled";

/// The routing check of a command from a client (Redis's
/// `getNodeByQuery`): `Ok` with the slot of its keys (None: no keys, or
/// cluster mode off) if this node serves it. EXEC is checked with all the
/// commands it would run, as one request.
pub fn route(ctx: &Ctx<'_>, command: &Command, args: &Args<'_>) -> Result<Option<u16>, Redirect> {
    let Some(cluster) = ctx.server.cluster.as_deref() else { return Ok(None) };
    if command.flags.contains(Flags::ENDS_MULTI) {
        let Some(multi) = &ctx.session.multi else { return Ok(None) };
        return cluster.with_map(|map| {
            let mut query = Query::new(map);
            for queued in multi.commands() {
                if let Some(command) = super::lookup(queued.get(0)) {
                    add_keys(&mut query, command, &queued)?;
                }
            }
            query.finish()
        });
    }
    if command_specs(command, args).is_empty() {
        return Ok(None);
    }
    cluster.with_map(|map| {
        let mut query = Query::new(map);
        add_keys(&mut query, command, args)?;
        query.finish()
    })
}

/// The key specs of a call (a container command's from its subcommand).
fn command_specs(command: &Command, args: &Args<'_>) -> &'static [super::KeySpec] {
    specs_for(command, (args.len() > 1).then(|| args.get(1)))
}

fn add_keys(query: &mut Query<'_>, command: &Command, args: &Args<'_>) -> Result<(), Redirect> {
    for_each_key(command_specs(command, args), args, |key| query.key(key))
}

/// What a script may touch, checked before each of its `redis.call`s in
/// cluster mode (Redis 7.4's `scriptVerifyClusterState`).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScriptSlot {
    /// The slot of the keys used so far (first the declared ones).
    pub slot: Option<u16>,
    /// The script's `allow-cross-slot-keys` flag.
    pub cross_slot_allowed: bool,
}

impl ScriptSlot {
    /// A script called with `keys` (EVAL's, FCALL's).
    pub fn new(keys: &[&[u8]], cross_slot_allowed: bool) -> Self {
        Self { slot: keys.first().map(|key| key_slot(key)), cross_slot_allowed }
    }
}

/// The routing check of a command a script runs: its keys must be served
/// here and, unless the script allows cross-slot keys, be in the slot of
/// the keys used before. `Err` is the error the script gets.
pub fn route_script_call(
    ctx: &Ctx<'_>,
    command: &Command,
    args: &Args<'_>,
    script: &mut ScriptSlot,
) -> Result<(), String> {
    let slot = route(ctx, command, args).map_err(|redirect| redirect.script_error(command.name))?;
    match (slot, script.slot) {
        (Some(slot), None) => script.slot = Some(slot),
        (Some(slot), Some(first)) if slot != first && !script.cross_slot_allowed => {
            return Err("ERR Script attempted to access keys that do not hash to the same slot".into());
        }
        _ => {}
    }
    Ok(())
}

/// ASKING, READONLY, READWRITE: nothing to do on a node that neither
/// imports slots nor has replicas, but refused with cluster mode off.
fn ok_in_cluster(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    match ctx.server.cluster {
        Some(_) => ctx.out.ok(),
        None => ctx.error(DISABLED),
    }
}

/// A CLUSTER subcommand: the cluster and the arguments.
type ClusterHandler = fn(&mut Ctx<'_>, &Args<'_>, &Cluster);

/// Run `f` with the cluster, or refuse with cluster mode off (after the
/// subcommand's name and arity were checked, as in Redis).
fn with_cluster(ctx: &mut Ctx<'_>, args: &Args<'_>, f: ClusterHandler) {
    let server = ctx.server;
    match server.cluster.as_deref() {
        Some(cluster) => f(ctx, args, cluster),
        None => ctx.error(DISABLED),
    }
}

macro_rules! sub {
    ($name:literal, $arity:expr, $handler:expr) => {
        Subcommand { name: $name, arity: $arity, run: |ctx, args| with_cluster(ctx, args, $handler) }
    };
}

const SUBCOMMANDS: &[Subcommand] = &[
    sub!("slots", 2, |ctx, _, cluster| slots(ctx, &cluster.map())),
    sub!("shards", 2, |ctx, _, cluster| shards(ctx, &cluster.map())),
    sub!("nodes", 2, |ctx, _, cluster| ctx.out.verbatim(&nodes(&cluster.map()))),
    sub!("info", 2, |ctx, _, cluster| ctx.out.verbatim(&info(&cluster.map()))),
    sub!("myid", 2, |ctx, _, cluster| ctx.out.bulk(cluster.map().myself().id.as_bytes())),
    sub!("myshardid", 2, |ctx, _, cluster| ctx.out.bulk(cluster.map().myself().shard_id().as_bytes())),
    sub!("keyslot", 3, |ctx, args, _| ctx.out.integer(i64::from(key_slot(args.get(2))))),
    sub!("countkeysinslot", 3, countkeysinslot),
    sub!("getkeysinslot", 4, getkeysinslot),
    sub!("replicas", 3, replicas),
    sub!("slaves", 3, replicas),
    sub!("count-failure-reports", 3, |ctx, args, cluster| {
        if node_index(ctx, args.get(2), &cluster.map()).is_some() {
            ctx.out.integer(0);
        }
    }),
    sub!("links", 2, |ctx, _, _| ctx.out.array(0)),
    sub!("setmap", -3, setmap),
    sub!("help", 2, |ctx, _, _| help(ctx)),
    sub!("addslots", -3, unsupported),
    sub!("addslotsrange", -4, unsupported),
    sub!("bumpepoch", 2, unsupported),
    sub!("delslots", -3, unsupported),
    sub!("delslotsrange", -4, unsupported),
    sub!("failover", -2, unsupported),
    sub!("flushslots", 2, unsupported),
    sub!("forget", 3, unsupported),
    sub!("meet", -4, unsupported),
    sub!("replicate", 3, unsupported),
    sub!("reset", -2, unsupported),
    sub!("saveconfig", 2, unsupported),
    sub!("set-config-epoch", 3, unsupported),
    sub!("setslot", -4, unsupported),
];

/// CLUSTER <subcommand> [arg ...]
fn cluster(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "cluster", SUBCOMMANDS);
}

/// The subcommands that form, reshard or heal a Redis Cluster through its
/// bus, or set up replicas: Redistill's map is configured instead.
fn unsupported(ctx: &mut Ctx<'_>, args: &Args<'_>, _cluster: &Cluster) {
    let name = String::from_utf8_lossy(args.get(1)).to_ascii_uppercase();
    ctx.error(&format!(
        "ERR CLUSTER {name} is not supported: Redistill's slot map is configured (redistill.toml, CLUSTER \
         SETMAP), and its nodes have no cluster bus and no replicas"
    ));
}

/// CLUSTER SLOTS: each run of slots with one owner, in slot order, as
/// `[first, last, [ip, port, id, {}]]` (no replicas, no extra endpoints).
fn slots(ctx: &mut Ctx<'_>, map: &SlotMap) {
    let runs = map.runs();
    let out = &mut *ctx.out;
    out.array(runs.len());
    for (first, last, owner) in runs {
        let node = &map.nodes()[owner];
        out.array(3);
        out.integer(i64::from(first));
        out.integer(i64::from(last));
        out.array(4);
        out.bulk(node.ip.as_bytes());
        out.integer(i64::from(node.port));
        out.bulk(node.id.as_bytes());
        out.map(0);
    }
}

/// CLUSTER SHARDS: one shard per node (no replicas), with its slot ranges
/// as a flat list of bounds and its one node.
fn shards(ctx: &mut Ctx<'_>, map: &SlotMap) {
    let ranges = map.ranges_by_node();
    let out = &mut *ctx.out;
    out.array(map.nodes().len());
    for (node, ranges) in map.nodes().iter().zip(ranges) {
        out.map(2);
        out.bulk(b"slots");
        out.array(ranges.len() * 2);
        for (first, last) in ranges {
            out.integer(i64::from(first));
            out.integer(i64::from(last));
        }
        out.bulk(b"nodes");
        out.array(1);
        shard_node(out, node);
    }
}

/// A node of a CLUSTER SHARDS entry: a primary, online.
fn shard_node(out: &mut ReplyBuffer, node: &Node) {
    let field = |out: &mut ReplyBuffer, name: &[u8], value: &[u8]| {
        out.bulk(name);
        out.bulk(value);
    };
    out.map(7);
    field(out, b"id", node.id.as_bytes());
    out.bulk(b"port");
    out.integer(i64::from(node.port));
    field(out, b"ip", node.ip.as_bytes());
    field(out, b"endpoint", node.ip.as_bytes());
    field(out, b"role", b"master");
    out.bulk(b"replication-offset");
    out.integer(0);
    field(out, b"health", b"online");
}

/// CLUSTER NODES: a line per node, each ending in `\n`: id,
/// `ip:port@cport` (no cluster bus: port 0), flags, master (`-`), ping
/// and pong times, config epoch, link state, slot ranges.
fn nodes(map: &SlotMap) -> String {
    let mut text = String::new();
    for (index, (node, ranges)) in map.nodes().iter().zip(map.ranges_by_node()).enumerate() {
        let flags = if map.is_myself(index) { "myself,master" } else { "master" };
        let _ = write!(text, "{} {}:{}@0 {flags} - 0 0 {} connected", node.id, node.ip, node.port, map.epoch());
        for (first, last) in ranges {
            let _ = if first == last { write!(text, " {first}") } else { write!(text, " {first}-{last}") };
        }
        text.push('\n');
    }
    text
}

/// CLUSTER INFO: Redis's fields in Redis's order. The state is `ok`: a
/// configured map needs no quorum, and a slot no node owns is answered
/// CLUSTERDOWN on its own (as `cluster-require-full-coverage no`).
fn info(map: &SlotMap) -> String {
    let assigned = map.assigned();
    let epoch = map.epoch();
    let fields: [(&str, String); 12] = [
        ("cluster_state", "ok".into()),
        ("cluster_slots_assigned", assigned.to_string()),
        ("cluster_slots_ok", assigned.to_string()),
        ("cluster_slots_pfail", "0".into()),
        ("cluster_slots_fail", "0".into()),
        ("cluster_known_nodes", map.nodes().len().to_string()),
        ("cluster_size", map.size().to_string()),
        ("cluster_current_epoch", epoch.to_string()),
        ("cluster_my_epoch", epoch.to_string()),
        ("cluster_stats_messages_sent", "0".into()),
        ("cluster_stats_messages_received", "0".into()),
        ("total_cluster_links_buffer_limit_exceeded", "0".into()),
    ];
    fields.iter().fold(String::new(), |mut text, (name, value)| {
        let _ = write!(text, "{name}:{value}\r\n");
        text
    })
}

/// A slot argument: an integer in 0..16384, else Redis's errors (`invalid`
/// for one out of range).
fn slot_arg(ctx: &mut Ctx<'_>, args: &Args<'_>, i: usize, invalid: &str) -> Option<u16> {
    let slot = ctx.integer_arg(args, i)?;
    let slot = u16::try_from(slot).ok().filter(|&slot| usize::from(slot) < SLOTS);
    if slot.is_none() {
        ctx.error(invalid);
    }
    slot
}

/// CLUSTER COUNTKEYSINSLOT slot: a counter the store keeps.
fn countkeysinslot(ctx: &mut Ctx<'_>, args: &Args<'_>, _cluster: &Cluster) {
    let Some(slot) = slot_arg(ctx, args, 2, "ERR Invalid slot") else { return };
    ctx.out.integer(ctx.server.store.db(0).keys_in_slot(slot) as i64);
}

/// CLUSTER GETKEYSINSLOT slot count: up to `count` keys of the slot, from
/// the one shard that holds them.
fn getkeysinslot(ctx: &mut Ctx<'_>, args: &Args<'_>, _cluster: &Cluster) {
    const INVALID: &str = "ERR Invalid slot or number of keys";
    let Some(slot) = ctx.integer_arg(args, 2) else { return };
    let Some(count) = ctx.integer_arg(args, 3) else { return };
    let slot = u16::try_from(slot).ok().filter(|&slot| usize::from(slot) < SLOTS);
    let (Some(slot), Ok(count)) = (slot, usize::try_from(count)) else { return ctx.error(INVALID) };
    let keys = ctx.server.store.db(0).keys_of_slot(slot, count, ctx.now);
    ctx.out.array(keys.len());
    keys.iter().for_each(|key| ctx.out.bulk(key));
}

/// The index of the node `id` names, or None after Redis's error.
fn node_index(ctx: &mut Ctx<'_>, id: &[u8], map: &SlotMap) -> Option<usize> {
    let index = map.nodes().iter().position(|node| node.id.as_bytes() == id);
    if index.is_none() {
        ctx.error(&format!("ERR Unknown node {}", String::from_utf8_lossy(id)));
    }
    index
}

/// CLUSTER REPLICAS node-id: no node has replicas.
fn replicas(ctx: &mut Ctx<'_>, args: &Args<'_>, cluster: &Cluster) {
    if node_index(ctx, args.get(2), &cluster.map()).is_some() {
        ctx.out.array(0);
    }
}

/// CLUSTER SETMAP epoch [id ip port slots ...]: replace the slot map, as
/// every node of the cluster should be told (`scripts/cluster` and
/// docs/cluster.md show how). `slots` is a comma-separated list of ranges
/// (`0-5460,6000`) or `-` for none. The map must check out (every slot at
/// most one owner, well-formed ids and addresses) and carry a larger
/// epoch than the current one. It runs with every worker held (CLUSTER is
/// `EXCLUSIVE`), so no command is routed by one map and run under another.
fn setmap(ctx: &mut Ctx<'_>, args: &Args<'_>, cluster: &Cluster) {
    let spec = match parse_map(args) {
        Ok(spec) => spec,
        Err(message) => return ctx.error(&message),
    };
    let current = cluster.map();
    let replaced = SlotMap::build(&spec, current.myself())
        .map_err(|e| format!("ERR Invalid slot map: {e}"))
        .and_then(|map| cluster.replace(map).map_err(|e| format!("ERR {e}")));
    match replaced {
        Ok(change) => {
            crate::log_info!(
                "CLUSTER SETMAP: map epoch {} -> {} (slots gained {}, lost {})",
                current.epoch(),
                spec.epoch,
                change.gained,
                change.lost
            );
            ctx.out.ok();
        }
        Err(message) => ctx.error(&message),
    }
}

/// The map CLUSTER SETMAP's arguments describe.
fn parse_map(args: &Args<'_>) -> Result<MapSpec, String> {
    let text = |i: usize| String::from_utf8_lossy(args.arg(i)).into_owned();
    let epoch = crate::protocol::parse::parse_i64(args.get(2))
        .and_then(|epoch| u64::try_from(epoch).ok())
        .ok_or_else(|| format!("ERR Invalid config epoch specified: {}", text(2)))?;
    if (args.len() - 3) % 4 != 0 {
        return Err("ERR CLUSTER SETMAP takes the epoch, then four arguments per node: id ip port slots".into());
    }
    let mut nodes = Vec::new();
    for at in (3..args.len()).step_by(4) {
        let port = crate::protocol::parse::parse_i64(args.get(at + 2))
            .and_then(|port| u16::try_from(port).ok())
            .ok_or_else(|| format!("ERR Invalid port {}", text(at + 2)))?;
        let slots = parse_slots(&text(at + 3))?;
        nodes.push(NodeSpec { id: text(at), ip: text(at + 1), port, slots });
    }
    Ok(MapSpec { epoch, nodes })
}

/// `0-5460,6000` or `-` (no slots).
fn parse_slots(list: &str) -> Result<Vec<SlotRange>, String> {
    if list == "-" {
        return Ok(Vec::new());
    }
    list.split(',')
        .map(|range| SlotRange::parse(range).ok_or_else(|| format!("ERR Invalid slot range '{range}'")))
        .collect()
}

fn help(ctx: &mut Ctx<'_>) {
    let lines = [
        "CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "COUNTKEYSINSLOT <slot>",
        "    Return the number of keys in <slot>.",
        "GETKEYSINSLOT <slot> <count>",
        "    Return key names stored by current node in a slot.",
        "INFO",
        "    Return information about the cluster.",
        "KEYSLOT <key>",
        "    Return the hash slot for <key>.",
        "MYID",
        "    Return the node id.",
        "MYSHARDID",
        "    Return the node's shard id.",
        "NODES",
        "    Return cluster configuration seen by node. Output format:",
        "    <id> <ip:port@bus-port[,hostname]> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
        "REPLICAS <node-id>",
        "    Return <node-id> replicas.",
        "SLOTS",
        "    Return information about slots range mappings. Each range is made of:",
        "    start, end, master and replicas IP addresses, ports and ids",
        "SHARDS",
        "    Return information about slot range mappings and the nodes associated with them.",
        "SETMAP <epoch> [<node-id> <ip> <port> <slots> ...]",
        "    Replace the slot map with a newer one (a larger epoch). <slots> is a",
        "    comma-separated list of ranges, such as 0-5460,6000, or - for none.",
        "HELP",
        "    Print this help.",
    ];
    ctx.help(&lines);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args_of(line: &str) -> (Vec<u8>, Vec<std::ops::Range<usize>>) {
        let mut ranges = Vec::new();
        let mut at = 0;
        for word in line.split(' ') {
            ranges.push(at..at + word.len());
            at += word.len() + 1;
        }
        (line.as_bytes().to_vec(), ranges)
    }

    #[test]
    fn setmap_arguments() {
        let id = "a".repeat(40);
        let (buf, ranges) = args_of(&format!("cluster setmap 7 {id} 127.0.0.1 7001 0-10,20"));
        let spec = parse_map(&Args::new(&buf, &ranges)).unwrap();
        assert_eq!(spec.epoch, 7);
        assert_eq!(spec.nodes[0].slots, vec![SlotRange { start: 0, end: 10 }, SlotRange { start: 20, end: 20 }]);
        let (buf, ranges) = args_of(&format!("cluster setmap 7 {id} 127.0.0.1 7001 -"));
        assert!(parse_map(&Args::new(&buf, &ranges)).unwrap().nodes[0].slots.is_empty());
        for (line, error) in [
            ("cluster setmap x", "ERR Invalid config epoch specified: x"),
            ("cluster setmap -1", "ERR Invalid config epoch specified: -1"),
            (
                "cluster setmap 1 a b",
                "ERR CLUSTER SETMAP takes the epoch, then four arguments per node: id ip port slots",
            ),
            ("cluster setmap 1 a b 70000 1", "ERR Invalid port 70000"),
            ("cluster setmap 1 a b 1 x-y", "ERR Invalid slot range 'x-y'"),
        ] {
            let (buf, ranges) = args_of(line);
            assert_eq!(parse_map(&Args::new(&buf, &ranges)).unwrap_err(), error, "{line}");
        }
    }
}

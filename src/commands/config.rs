//! CONFIG GET / SET / RESETSTAT: the server's settings under Redis's
//! parameter names, so tools that read `maxmemory` or `save` find them.

use super::{dispatch_subcommand, specs, Command, Ctx, Flags, Subcommand};
use crate::config::parse_memory;
use crate::protocol::parse::parse_i64;
use crate::protocol::Args;
use crate::server::Server;

pub static COMMANDS: &[Command] = &[Command {
    name: "config",
    arity: -2,
    flags: Flags::ADMIN.with(Flags::NO_SCRIPT).with(Flags::CONTAINER),
    keys: specs::NONE,
    group: "server",
    run: config,
}];

type Getter = fn(&Server) -> String;
/// Validates a new value and, when `apply` is true, installs it.
type Setter = fn(&Server, &str, bool) -> Result<(), &'static str>;

/// One parameter: its Redis name, how to read it, and how to change it
/// (None for settings fixed at start-up).
struct Parameter {
    name: &'static str,
    get: Getter,
    set: Option<Setter>,
}

const PARAMETERS: &[Parameter] = &[
    Parameter { name: "maxmemory", get: |s| s.live.max_memory().to_string(), set: Some(set_maxmemory) },
    Parameter {
        name: "maxmemory-policy",
        get: |s| s.live.eviction_policy().as_str().to_string(),
        set: Some(set_maxmemory_policy),
    },
    Parameter { name: "timeout", get: |s| s.live.timeout().to_string(), set: Some(set_timeout) },
    Parameter {
        name: "slowlog-log-slower-than",
        get: |s| s.slowlog.threshold().to_string(),
        set: Some(set_slowlog_threshold),
    },
    Parameter { name: "slowlog-max-len", get: |s| s.slowlog.max_len().to_string(), set: Some(set_slowlog_max_len) },
    Parameter {
        name: "requirepass",
        // The password itself is never echoed back.
        get: |s| if s.requires_auth() { "********".into() } else { String::new() },
        set: Some(set_requirepass),
    },
    Parameter { name: "busy-reply-threshold", get: get_busy_threshold, set: Some(set_busy_threshold) },
    // Redis's older name for the same setting.
    Parameter { name: "lua-time-limit", get: get_busy_threshold, set: Some(set_busy_threshold) },
    Parameter { name: "hash-max-listpack-entries", get: get_hash_entries, set: Some(set_hash_entries) },
    Parameter { name: "hash-max-listpack-value", get: get_hash_value, set: Some(set_hash_value) },
    // Redis's older names for the same two settings.
    Parameter { name: "hash-max-ziplist-entries", get: get_hash_entries, set: Some(set_hash_entries) },
    Parameter { name: "hash-max-ziplist-value", get: get_hash_value, set: Some(set_hash_value) },
    Parameter {
        name: "set-max-intset-entries",
        get: |s| s.live.set_limits().intset_entries.to_string(),
        set: Some(|s, v, apply| set_usize(v, apply, |n| s.live.set_set_intset_entries(n))),
    },
    Parameter {
        name: "set-max-listpack-entries",
        get: |s| s.live.set_limits().listpack_entries.to_string(),
        set: Some(|s, v, apply| set_usize(v, apply, |n| s.live.set_set_pack_entries(n))),
    },
    Parameter {
        name: "set-max-listpack-value",
        get: |s| s.live.set_limits().listpack_value.to_string(),
        set: Some(|s, v, apply| set_usize(v, apply, |n| s.live.set_set_pack_value(n))),
    },
    Parameter { name: "zset-max-listpack-entries", get: get_zset_entries, set: Some(set_zset_entries) },
    Parameter { name: "zset-max-listpack-value", get: get_zset_value, set: Some(set_zset_value) },
    Parameter { name: "zset-max-ziplist-entries", get: get_zset_entries, set: Some(set_zset_entries) },
    Parameter { name: "zset-max-ziplist-value", get: get_zset_value, set: Some(set_zset_value) },
    Parameter {
        name: "tracking-table-max-keys",
        get: |s| s.tracking.max_keys().to_string(),
        set: Some(set_tracking_max_keys),
    },
    Parameter { name: "list-max-listpack-size", get: get_list_fill, set: Some(set_list_fill) },
    // Redis's older name for it.
    Parameter { name: "list-max-ziplist-size", get: get_list_fill, set: Some(set_list_fill) },
    Parameter {
        name: "notify-keyspace-events",
        get: |s| s.notify.classes().to_string(),
        set: Some(set_notify_keyspace_events),
    },
    Parameter {
        name: "client-output-buffer-limit",
        get: |s| s.live.output_limits.config_text(),
        set: Some(set_output_limits),
    },
    // Accepted and reported, with no effect: list nodes are not compressed.
    Parameter {
        name: "list-compress-depth",
        get: |s| s.live.list_compress_depth().to_string(),
        set: Some(set_list_compress_depth),
    },
    Parameter { name: "databases", get: |s| s.store.databases().to_string(), set: None },
    Parameter { name: "maxclients", get: |s| s.config.server.max_connections.to_string(), set: None },
    Parameter { name: "bind", get: |s| s.config.server.bind.clone(), set: None },
    Parameter { name: "port", get: |s| s.port().to_string(), set: None },
    Parameter { name: "tls-port", get: |s| s.tls_port().to_string(), set: None },
    Parameter { name: "tcp-keepalive", get: |s| s.config.performance.tcp_keepalive.to_string(), set: None },
    Parameter { name: "proto-max-bulk-len", get: |s| s.config.server.proto_max_bulk_len.to_string(), set: None },
    Parameter {
        name: "client-query-buffer-limit",
        get: |s| s.config.server.client_query_buffer_limit.to_string(),
        set: None,
    },
    Parameter { name: "io-threads", get: |s| s.config.server.worker_threads().to_string(), set: None },
    Parameter { name: "save", get: |_| String::new(), set: None },
    Parameter { name: "appendonly", get: |_| "no".into(), set: None },
    Parameter { name: "hz", get: |_| "10".into(), set: None },
    Parameter { name: "replica-read-only", get: |_| "yes".into(), set: None },
    Parameter { name: "cluster-enabled", get: |s| if s.cluster.is_some() { "yes" } else { "no" }.into(), set: None },
];

const CONFIG_SUBCOMMANDS: &[Subcommand] = &[
    Subcommand { name: "get", arity: -3, run: config_get },
    Subcommand { name: "set", arity: -4, run: config_set },
    Subcommand { name: "resetstat", arity: 2, run: config_resetstat },
];

/// CONFIG GET pattern [pattern ...] | SET name value [name value ...] | RESETSTAT
fn config(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    dispatch_subcommand(ctx, args, "config", CONFIG_SUBCOMMANDS);
}

/// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx<'_>, _args: &Args<'_>) {
    ctx.server.metrics.reset();
    crate::store::lazyfree::reset_freed();
    ctx.out.ok();
}

fn config_get(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let patterns: Vec<&[u8]> = args.iter().skip(2).collect();
    let found: Vec<&Parameter> = PARAMETERS
        .iter()
        .filter(|p| patterns.iter().any(|pattern| crate::glob::matches(pattern, p.name.as_bytes(), true)))
        .collect();
    ctx.out.map(found.len());
    for parameter in found {
        ctx.out.bulk(parameter.name.as_bytes());
        ctx.out.bulk((parameter.get)(ctx.server).as_bytes());
    }
}

/// All name/value pairs are checked before any is applied, as in Redis.
fn config_set(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    if args.len() % 2 != 0 {
        return ctx.error(&super::arity_message("config|set"));
    }
    let mut changes = Vec::new();
    for pair in (2..args.len()).step_by(2) {
        let name = String::from_utf8_lossy(args.get(pair)).to_ascii_lowercase();
        let value = String::from_utf8_lossy(args.get(pair + 1)).into_owned();
        let Some(setter) = PARAMETERS.iter().find(|p| p.name == name).and_then(|p| p.set) else {
            return ctx.error(&format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'"));
        };
        if let Err(reason) = setter(ctx.server, &value, false) {
            return ctx.error(&format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {reason}"));
        }
        changes.push((value, setter));
    }
    for (value, setter) in changes {
        let _ = setter(ctx.server, &value, true);
    }
    ctx.out.ok();
}

fn set_maxmemory(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let bytes = parse_memory(value).map_err(|_| "argument must be a memory value")?;
    if apply {
        server.live.set_max_memory(bytes);
    }
    Ok(())
}

fn set_maxmemory_policy(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let policy = value.parse().map_err(|_| {
        "argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-lfu, allkeys-lfu, \
         volatile-random, allkeys-random, volatile-ttl, noeviction"
    })?;
    if apply {
        server.live.set_eviction_policy(policy);
    }
    Ok(())
}

const NOT_AN_INTEGER: &str = "argument couldn't be parsed into an integer";

fn non_negative(value: &str) -> Result<u64, &'static str> {
    parse_i64(value.as_bytes()).and_then(|n| u64::try_from(n).ok()).ok_or(NOT_AN_INTEGER)
}

fn set_timeout(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let seconds = non_negative(value)?;
    if apply {
        server.live.set_timeout(seconds);
    }
    Ok(())
}

fn get_busy_threshold(server: &Server) -> String {
    server.scripts.run.threshold_ms().to_string()
}

/// Milliseconds a script runs before other clients are answered BUSY.
fn set_busy_threshold(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let ms = non_negative(value)?;
    if apply {
        server.scripts.run.set_threshold_ms(ms);
    }
    Ok(())
}

fn get_hash_entries(server: &Server) -> String {
    server.live.hash_pack_limits().entries.to_string()
}

fn set_hash_entries(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    set_usize(value, apply, |n| server.live.set_hash_pack_entries(n))
}

fn get_hash_value(server: &Server) -> String {
    server.live.hash_pack_limits().value.to_string()
}

fn set_hash_value(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    set_usize(value, apply, |n| server.live.set_hash_pack_value(n))
}

fn get_zset_entries(server: &Server) -> String {
    server.live.zset_pack_limits().entries.to_string()
}

fn set_zset_entries(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    set_usize(value, apply, |n| server.live.set_zset_pack_entries(n))
}

fn get_zset_value(server: &Server) -> String {
    server.live.zset_pack_limits().value.to_string()
}

fn set_zset_value(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    set_usize(value, apply, |n| server.live.set_zset_pack_value(n))
}
fn get_list_fill(server: &Server) -> String {
    server.live.list_fill().0.to_string()
}

/// Any 32-bit integer, as Redis takes it: negative is a node size level,
/// positive an element count.
fn set_list_fill(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let fill = parse_i64(value.as_bytes()).ok_or(NOT_AN_INTEGER)?;
    let fill = i32::try_from(fill).map_err(|_| "argument must be between -2147483648 and 2147483647 inclusive")?;
    if apply {
        server.live.set_list_fill(i64::from(fill));
    }
    Ok(())
}

/// 0 to `i32::MAX`, as Redis takes it.
fn set_list_compress_depth(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let depth = parse_i64(value.as_bytes()).ok_or(NOT_AN_INTEGER)?;
    let depth = u64::try_from(depth)
        .ok()
        .filter(|&d| d <= i32::MAX as u64)
        .ok_or("argument must be between 0 and 2147483647 inclusive")?;
    if apply {
        server.live.set_list_compress_depth(depth);
    }
    Ok(())
}

/// A non-negative integer setting.
fn set_usize(value: &str, apply: bool, install: impl FnOnce(usize)) -> Result<(), &'static str> {
    let n = usize::try_from(non_negative(value)?).map_err(|_| "argument couldn't be parsed into an integer")?;
    if apply {
        install(n);
    }
    Ok(())
}

/// `tracking-table-max-keys`: 0 to `LONG_MAX`, with Redis's errors.
fn set_tracking_max_keys(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let n = parse_i64(value.as_bytes()).ok_or(NOT_AN_INTEGER)?;
    let n = usize::try_from(n).map_err(|_| "argument must be between 0 and 9223372036854775807 inclusive")?;
    if apply {
        server.tracking.set_max_keys(n);
    }
    Ok(())
}

/// `<class> <hard> <soft> <seconds>` groups, for any of the classes.
fn set_output_limits(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let changes = crate::output_limits::OutputLimits::parse_config(value)?;
    if apply {
        changes.into_iter().for_each(|(class, limit)| server.live.output_limits.set(class, limit));
    }
    Ok(())
}

/// Redis's parsing: one character per class (see `crate::notify`).
fn set_notify_keyspace_events(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let classes = crate::notify::Classes::parse(value.as_bytes()).ok_or(crate::notify::INVALID_CLASSES)?;
    if apply {
        server.notify.set_classes(classes);
    }
    Ok(())
}

fn set_requirepass(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    if apply {
        server.live.set_password((!value.is_empty()).then(|| value.to_string()));
    }
    Ok(())
}

fn set_slowlog_threshold(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let micros = parse_i64(value.as_bytes()).ok_or(NOT_AN_INTEGER)?;
    if apply {
        server.slowlog.set_threshold(micros);
    }
    Ok(())
}

fn set_slowlog_max_len(server: &Server, value: &str, apply: bool) -> Result<(), &'static str> {
    let len = non_negative(value)?;
    if apply {
        server.slowlog.set_max_len(len as usize);
    }
    Ok(())
}

//! INFO: server statistics in Redis's `field:value` text format, with
//! Redis's section and field names so that dashboards, exporters and client
//! ready-checks read it unchanged.

use std::fmt::Write as _;
use std::time::Duration;

use super::{specs, Command, Ctx, Flags};
use crate::metrics::CpuUsage;
use crate::protocol::Args;
use crate::pubsub::Kind;
use crate::server::{Server, REDIS_VERSION};

pub static COMMANDS: &[Command] =
    &[Command { name: "info", arity: -1, flags: Flags::NONE, keys: specs::NONE, group: "server", run: info }];

/// One INFO section.
struct Section {
    /// Lower-case name, as the client asks for it.
    name: &'static str,
    /// Header as Redis prints it (`# CPU`, `# Commandstats`).
    header: &'static str,
    /// Part of a plain `INFO` / `INFO default`. Redis leaves out the
    /// per-command sections there, since they grow with the command table.
    default: bool,
    render: fn(&Server, &mut String),
}

const fn section(name: &'static str, header: &'static str, default: bool, render: fn(&Server, &mut String)) -> Section {
    Section { name, header, default, render }
}

/// Sections in the order Redis 7 prints them.
const SECTIONS: &[Section] = &[
    section("server", "Server", true, server_section),
    section("clients", "Clients", true, clients_section),
    section("memory", "Memory", true, memory_section),
    section("persistence", "Persistence", true, persistence_section),
    section("stats", "Stats", true, stats_section),
    section("replication", "Replication", true, replication_section),
    section("cpu", "CPU", true, cpu_section),
    section("modules", "Modules", true, |_, _| {}),
    section("commandstats", "Commandstats", false, commandstats_section),
    section("errorstats", "Errorstats", true, errorstats_section),
    section("cluster", "Cluster", true, cluster_section),
    section("keyspace", "Keyspace", true, keyspace_section),
];

/// Other names a section answers to: Redis's default set calls the
/// modules section `module_list`.
fn is_named(section: &Section, wanted: &str) -> bool {
    wanted == section.name || (section.name == "modules" && wanted == "module_list")
}

/// INFO [section [section ...]]
///
/// No argument or `default` selects the default sections, `all` and
/// `everything` every section, and names may be combined
/// (`INFO default commandstats`). Unknown names select nothing, as in Redis.
fn info(ctx: &mut Ctx<'_>, args: &Args<'_>) {
    let wanted: Vec<String> = args.iter().skip(1).map(|a| String::from_utf8_lossy(a).to_ascii_lowercase()).collect();
    let all = wanted.iter().any(|w| matches!(w.as_str(), "all" | "everything"));
    let default = wanted.is_empty() || wanted.iter().any(|w| w == "default");
    let mut text = String::new();
    for section in SECTIONS {
        if all || (default && section.default) || wanted.iter().any(|w| is_named(section, w)) {
            if !text.is_empty() {
                text.push_str("\r\n");
            }
            let _ = write!(text, "# {}\r\n", section.header);
            (section.render)(ctx.server, &mut text);
        }
    }
    ctx.out.verbatim(&text);
}

macro_rules! field {
    ($out:expr, $name:expr, $value:expr) => {
        let _ = write!($out, "{}:{}\r\n", $name, $value);
    };
}

fn server_section(server: &Server, out: &mut String) {
    let uptime = server.started.elapsed().as_secs();
    field!(out, "redis_version", REDIS_VERSION);
    field!(out, "redistill_version", crate::cli::VERSION);
    field!(out, "redis_mode", server.mode());
    field!(out, "os", std::env::consts::OS);
    field!(out, "arch_bits", usize::BITS);
    field!(out, "multiplexing_api", "epoll");
    field!(out, "process_id", std::process::id());
    field!(out, "run_id", server.run_id());
    field!(out, "tcp_port", server.port());
    field!(out, "server_time_usec", crate::clock::now_us());
    field!(out, "uptime_in_seconds", uptime);
    field!(out, "uptime_in_days", uptime / 86_400);
    field!(out, "hz", 10);
    field!(out, "io_threads_active", usize::from(server.config.server.worker_threads() > 1));
    field!(out, "worker_threads", server.config.server.worker_threads());
}

fn clients_section(server: &Server, out: &mut String) {
    field!(out, "connected_clients", server.connected_clients());
    field!(out, "maxclients", server.config.server.max_connections);
    // Clients in a blocking command, and (as Redis counts them) the clients
    // CLIENT PAUSE holds.
    field!(out, "blocked_clients", server.store.blocking.blocked_clients() + server.pause.held_clients());
    field!(out, "tracking_clients", server.tracking.tracking_clients());
    field!(out, "pubsub_clients", server.pubsub.clients());
}

/// The script and function lines of `# Memory`, in Redis 7.4's order.
/// Each worker's interpreter runs both EVAL scripts and functions:
/// `used_memory_vm_eval` is what the interpreters take in all, and
/// `used_memory_vm_functions` what loading the libraries took once.
fn scripts_memory(server: &Server, out: &mut String) {
    let scripts = &server.scripts;
    let lua = scripts.lua_memory();
    let eval_cache = scripts.cache_bytes() as u64;
    let (functions, libraries, vm_functions, functions_cache) = {
        let shared = scripts.functions.lock();
        (shared.function_count(), shared.library_count(), shared.vm_memory() as u64, shared.overhead() as u64)
    };
    field!(out, "used_memory_lua", lua);
    field!(out, "used_memory_vm_eval", lua);
    field!(out, "used_memory_lua_human", human_bytes(lua));
    field!(out, "used_memory_scripts_eval", eval_cache);
    field!(out, "number_of_cached_scripts", scripts.count());
    field!(out, "number_of_functions", functions);
    field!(out, "number_of_libraries", libraries);
    field!(out, "used_memory_vm_functions", vm_functions);
    field!(out, "used_memory_vm_total", lua + vm_functions);
    field!(out, "used_memory_vm_total_human", human_bytes(lua + vm_functions));
    field!(out, "used_memory_functions", functions_cache);
    field!(out, "used_memory_scripts", eval_cache + functions_cache);
    field!(out, "used_memory_scripts_human", human_bytes(eval_cache + functions_cache));
}

fn memory_section(server: &Server, out: &mut String) {
    let used = crate::memory::refresh();
    let rss = resident_set_bytes();
    let max = server.live.max_memory();
    field!(out, "used_memory", used);
    field!(out, "used_memory_human", human_bytes(used));
    field!(out, "used_memory_rss", rss);
    field!(out, "used_memory_rss_human", human_bytes(rss));
    field!(out, "used_memory_peak", crate::memory::peak());
    field!(out, "used_memory_peak_human", human_bytes(crate::memory::peak()));
    field!(out, "used_memory_startup", server.startup_memory());
    field!(out, "used_memory_dataset", server.store.memory());
    scripts_memory(server, out);
    field!(out, "maxmemory", max);
    field!(out, "maxmemory_human", human_bytes(max));
    field!(out, "maxmemory_policy", server.live.eviction_policy().as_str());
    field!(out, "mem_fragmentation_ratio", ratio(rss, used));
    // Replication and AOF buffers, which Redistill does not have.
    field!(out, "mem_not_counted_for_evict", 0);
    field!(out, "lazyfree_pending_objects", crate::store::lazyfree::pending());
    field!(out, "lazyfreed_objects", crate::store::lazyfree::freed());
    // Redis has this under stats only; it is printed there too.
    field!(out, "evicted_keys", crate::metrics::evicted_keys(&server.store));
    allocator_fields(used, out);
}

/// jemalloc's view, as Redis prints it: `frag` is what partly used pages
/// waste, `rss` what the allocator keeps resident beyond its active pages
/// (freed pages not yet returned, metadata).
fn allocator_fields(allocated: u64, out: &mut String) {
    let (active, resident) = (crate::memory::active(), crate::memory::resident());
    field!(out, "allocator_allocated", allocated);
    field!(out, "allocator_active", active);
    field!(out, "allocator_resident", resident);
    field!(out, "allocator_metadata", crate::memory::metadata());
    field!(out, "allocator_frag_ratio", ratio(active, allocated));
    field!(out, "allocator_frag_bytes", active.saturating_sub(allocated));
    field!(out, "allocator_rss_ratio", ratio(resident, active));
    field!(out, "allocator_rss_bytes", resident.saturating_sub(active));
}

fn ratio(part: u64, whole: u64) -> String {
    let ratio = if whole == 0 { 1.0 } else { part as f64 / whole as f64 };
    format!("{ratio:.2}")
}

fn persistence_section(_server: &Server, out: &mut String) {
    field!(out, "loading", 0);
    field!(out, "rdb_changes_since_last_save", 0);
    field!(out, "rdb_bgsave_in_progress", 0);
    field!(out, "aof_enabled", 0);
}

fn stats_section(server: &Server, out: &mut String) {
    let stats = server.metrics.snapshot();
    field!(out, "total_connections_received", stats.connections_received);
    field!(out, "total_commands_processed", stats.commands_processed);
    field!(out, "total_net_input_bytes", stats.net_input_bytes);
    field!(out, "total_net_output_bytes", stats.net_output_bytes);
    field!(out, "rejected_connections", server.rejected_connections());
    field!(out, "expired_keys", server.store.expired_total());
    field!(out, "expired_subkeys", server.store.expired_elements_total());
    field!(out, "evicted_keys", crate::metrics::evicted_keys(&server.store));
    field!(out, "keyspace_hits", stats.keyspace_hits);
    field!(out, "keyspace_misses", stats.keyspace_misses);
    field!(out, "pubsub_channels", server.pubsub.count(Kind::Channel));
    field!(out, "pubsub_patterns", server.pubsub.count(Kind::Pattern));
    field!(out, "pubsubshard_channels", server.pubsub.count(Kind::Shard));
    field!(out, "tracking_total_keys", server.tracking.total_keys());
    field!(out, "tracking_total_items", server.tracking.total_items());
    field!(out, "tracking_total_prefixes", server.tracking.total_prefixes());
    field!(out, "total_error_replies", stats.error_replies);
    field!(out, "client_output_buffer_limit_disconnections", server.live.output_limits.disconnections());
}

/// CPU seconds as Redis prints them (`%ld.%06ld`). Redis also reports
/// `used_cpu_*_main_thread`; with several event-loop threads there is no
/// main thread to report, so those fields are left out rather than made up.
fn cpu_section(_server: &Server, out: &mut String) {
    let usage = CpuUsage::now();
    let seconds = |d: Duration| format!("{}.{:06}", d.as_secs(), d.subsec_micros());
    field!(out, "used_cpu_sys", seconds(usage.sys));
    field!(out, "used_cpu_user", seconds(usage.user));
    field!(out, "used_cpu_sys_children", seconds(usage.children_sys));
    field!(out, "used_cpu_user_children", seconds(usage.children_user));
}

/// `cmdstat_<name>:calls=..,usec=..,usec_per_call=..,rejected_calls=..,failed_calls=..`
/// for every command used since start (or CONFIG RESETSTAT).
fn commandstats_section(server: &Server, out: &mut String) {
    for (command, t) in super::all().zip(server.metrics.command_totals()) {
        if !t.is_used() {
            continue;
        }
        let per_call = if t.calls == 0 { 0.0 } else { t.nanos as f64 / 1000.0 / t.calls as f64 };
        let _ = write!(
            out,
            "cmdstat_{}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            command.name,
            t.calls,
            t.usec(),
            t.rejected,
            t.failed
        );
    }
}

/// `errorstat_<CODE>:count=..`, sorted by code as Redis does.
fn errorstats_section(server: &Server, out: &mut String) {
    for (code, count) in server.metrics.error_totals() {
        let _ = write!(out, "errorstat_{code}:count={count}\r\n");
    }
}

fn replication_section(_server: &Server, out: &mut String) {
    field!(out, "role", "master");
    field!(out, "connected_slaves", 0);
}

fn cluster_section(server: &Server, out: &mut String) {
    field!(out, "cluster_enabled", u8::from(server.cluster.is_some()));
}

fn keyspace_section(server: &Server, out: &mut String) {
    for (index, db) in server.store.iter().enumerate() {
        let keys = db.len();
        if keys > 0 {
            let (expires, subexpiry) = (db.expires(), db.volatile_collections());
            let _ = write!(out, "db{index}:keys={keys},expires={expires},avg_ttl=0,subexpiry={subexpiry}\r\n");
        }
    }
}

/// Redis's `bytesToHuman`: `512B`, `1.50K`, `2.00M`, `3.25G`.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [(f64, &str); 4] = [(1024.0, "K"), (1048576.0, "M"), (1073741824.0, "G"), (1099511627776.0, "T")];
    let value = n as f64;
    if value < 1024.0 {
        return format!("{n}B");
    }
    let (scale, unit) = UNITS.iter().rev().find(|(scale, _)| value >= *scale).copied().unwrap_or(UNITS[0]);
    format!("{:.2}{unit}", value / scale)
}

/// Resident memory of this process, from /proc/self/statm (0 if unknown).
pub fn resident_set_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    pages * u64::try_from(page_size).unwrap_or(4096)
}

#[cfg(test)]
mod tests {
    use super::human_bytes;

    #[test]
    fn human_units() {
        assert_eq!(human_bytes(512), "512B");
        assert_eq!(human_bytes(1536), "1.50K");
        assert_eq!(human_bytes(2 * 1024 * 1024), "2.00M");
    }
}

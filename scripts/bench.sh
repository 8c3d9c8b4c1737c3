#!/usr/bin/env bash
# bench.sh - throughput of Redistill vs. a real redis-server, in the same run.
#
# Builds target/release/redistill (unless --no-build), starts it and a
# redis-server on free local ports, and runs redis-benchmark against both,
# alternating Redistill, Redis, Redistill, Redis ... for ROUNDS rounds, in two
# modes:
#   pinned    servers on CPU 0 (taskset -c 0), redis-benchmark on CPU 1
#             (taskset -c 1); Redistill gets --threads 1 by default
#   unpinned  no pinning; Redistill gets --threads 2 by default
# Per mode (and workload) it prints a table: test, median ops/s of each
# server, the ratio Redistill/Redis, median p50/p99 latency (ms, from
# redis-benchmark's --csv output), server CPU seconds per million operations
# (utime+stime of the server process from /proc/PID/stat before and after each
# run, in units of `getconf CLK_TCK`) and every round's numbers. Each test
# (-t set,get) is its own redis-benchmark run so that CPU time is per test. If memtier_benchmark is on PATH it
# is run against both servers too (ROUNDS alternating runs of MEMTIER_TIME
# seconds each, --ratio=1:1 --pipeline=30 --threads=2 --clients=20). Missing redis-server/redis-tools are
# installed with apt-get. Ratios never make the script fail; breakage does
# (a server that does not start or dies, a benchmark that fails or hangs).
#
# Usage:
#   scripts/bench.sh                 full run (1M requests x 3 rounds x 2 modes)
#   scripts/bench.sh --quick         smoke run (100k requests, 1 round)
#   scripts/bench.sh --no-build --mode pinned --rounds 5
#   REQUESTS=200000 PIPELINE=1 scripts/bench.sh
#
# Flags (each has an environment variable of the same meaning; flags win):
#   --quick                 REQUESTS=100000, ROUNDS=1, MEMTIER_TIME=5 unless set
#   --no-build              do not run cargo build --release (BUILD=0)
#   --rounds N              ROUNDS, default 3
#   -n, --requests N        REQUESTS, default 1000000 (redis-benchmark -n)
#   -P, --pipeline N        PIPELINE, default 16 (redis-benchmark -P)
#   -c, --clients N         CLIENTS, default 50 (redis-benchmark -c)
#   -d, --data-size N       DATA_SIZE, default 256 (redis-benchmark -d)
#   -r, --keyspace N        KEYSPACE, default 100000 (redis-benchmark -r)
#   -t, --tests LIST        TESTS, default set,get (redis-benchmark -t)
#   --mode pinned|unpinned|both|none   MODES, default both (pinned,unpinned);
#                           none runs only the --thread-sweep
#   --threads-pinned N      THREADS_PINNED, default 1 (Redistill --threads)
#   --threads-unpinned N    THREADS_UNPINNED, default 2
#   --server-cpus LIST      SERVER_CPUS, default 0 (taskset -c, pinned mode)
#   --client-cpus LIST      CLIENT_CPUS, default 1
#   --memtier auto|yes|no   MEMTIER, default auto (= run when on PATH)
#   --memtier-time S        MEMTIER_TIME, default 20 (--test-time)
#   --workloads LIST        WORKLOADS: run these named workloads instead of
#                           the single one given by -P/-c/-d/-t/-r (see below);
#                           LIST is comma-separated, or "all"
#   --thread-sweep LIST     THREAD_SWEEP, default empty (off): after the
#                           modes, run the sweep workloads against Redistill
#                           only, unpinned, once per thread count in LIST
#                           (comma-separated, e.g. 1,2 or 1,2,4; "auto" =
#                           1,2,4,... up to and including nproc); see below
#   --sweep-workloads LIST  SWEEP_WORKLOADS: the workloads of the thread
#                           sweep; default the --workloads list if given,
#                           else production ("default" = the -P/-c/... one)
#   --compare REV           COMPARE: instead of redis-server, run Redistill
#                           built from git revision REV (a commit, tag or
#                           branch) as the second server, with the same
#                           threads and pinning: an A/B of this tree against
#                           REV with the same workloads and report ("base" in
#                           the tables). REV is exported with git archive and
#                           built with cargo build --release into
#                           target/bench-compare (incremental across runs)
#   --out FILE              RESULTS_OUT: also write raw results as CSV (below)
#   --markdown FILE         MARKDOWN_OUT: also write the tables as Markdown
#   -h, --help              this text
# Workloads (--workloads; -n/--requests and --rounds still apply; the servers
# are FLUSHALLed before each workload):
#   interactive    -P 1  -c 50   -d 256    -t set,get
#   production     -P 16 -c 50   -d 256    -t set,get  (the default run's shape)
#   deep-pipeline  -P 64 -c 100  -d 256    -t set,get
#   get-heavy      -P 16 -c 50   -d 256    -t get, after an unmeasured SET
#                  preload of the keyspace. redis-benchmark cannot mix GET and
#                  SET in one run at a ratio, so GET-only stands in for a
#                  GET-heavy (e.g. 90:10) mix.
#   value-4k       -P 16 -c 50   -d 4096   -t set,get
#   value-64k      -P 16 -c 50   -d 65536  -t set,get  (-r 10000, to bound memory)
#   conns-1000     -P 1  -c 1000 -d 256    -t set,get
#   hashes         -P 16 -c 50   -d 32     one run per hash command (below)
#                  over -r keys, after an unmeasured preload of the keyspace
#                  with 10-field hashes h:<n> (fields f0..f9, -d-byte values):
#                    HSET     HSET hs:__rand_int__ f:__rand_int__ <value>
#                             (new fields into other hashes, ~n/r fields each)
#                    HGET     HGET h:__rand_int__ f4
#                    HMGET_5  HMGET h:__rand_int__ f0 f2 f4 f6 f8
#                    HGETALL_10  HGETALL h:__rand_int__
#                  Not in --quick (strings only); run it with --workloads
#                  hashes (or all).
#   collections    -P 16 -c 50   -d 32     -r 10000, one run per command:
#                    SADD       SADD s:__rand_int__ m:__rand_int__
#                    SISMEMBER  SISMEMBER s:__rand_int__ m:__rand_int__
#                    ZADD       ZADD z:__rand_int__ __rand_int__ m:__rand_int__
#                    ZRANGE_10  ZRANGE zr:__rand_int__ 0 9, over sorted sets
#                               of 100 members preloaded (not measured)
#                    LPUSH      LPUSH l:__rand_int__ <value>
#                    LPOP       LPOP l:__rand_int__ (the lists LPUSH filled)
#                    LRANGE_10  LRANGE l:__rand_int__ 0 9
#                  Not in --quick. The rate limiter's trio is in "scripts".
#   scripts        -P 16 -c 50   -d 32     -r 10000, EVALSHA of two scripts
#                  loaded with SCRIPT LOAD before the runs (not measured):
#                    EVALSHA_LOCK_RELEASE  redis-py's Lock release (GET, compare
#                               the token, DEL) on lock:__rand_int__, over
#                               locks preloaded with that token (a lock
#                               released once is gone: later calls only GET)
#                    EVALSHA_RATE_LIMIT    a sliding-window limiter on
#                               rl:__rand_int__ (ZREMRANGEBYSCORE, ZCARD, and
#                               under the limit ZADD + PEXPIRE), "now" being
#                               __rand_int__ (redis-benchmark has no clock)
#                  Not in --quick.
# Without --workloads one workload named "default" runs with the flags above
# (set,get -P 16 -c 50 -d 256 unless changed), as before.
# Thread sweep (--thread-sweep): one Redistill per thread count N, started
# side by side with --threads N and no pinning (the load generator is not
# pinned either); each round runs every test against each of them in turn, so
# drift on a shared machine hits all counts alike. Per workload and test it
# prints: threads, median ops/s, median server CPU s/Mop, operations per
# server CPU-second (ops/CPU-s: median over rounds of 10^6 / CPU s/Mop) and
# that figure as a percentage of the lowest thread count's ("efficiency"; the
# 1-thread figure when 1 is in LIST). The bar it serves: with 2 worker
# threads, ops/CPU-s >= 85% of 1 worker's; with 1 and 2 in LIST that verdict
# is printed too (never a failure). Re-run it with "auto" on a bigger machine.
# CSV (--out FILE): a header line, then one row per server, round and test:
#   mode,tool,workload,server,round,test,ops_per_sec,p50_ms,p99_ms,cpu_s_per_mop,threads
#   mode     pinned | unpinned | sweep-N (thread sweep with N threads)
#   tool     redis-benchmark | memtier (workload "memtier", tests Sets/Gets/Totals)
#   server   redistill | redis (sweep rows: redistill only)
#   threads  Redistill's --threads for that row; n/a for redis
# "n/a" where a number is not known (e.g. latency in memtier rows).
# Other environment variables:
#   REDISTILL_PORT / REDIS_PORT  first port to try (16379 / 16380); the next
#                                free one is used when taken
#   STARTUP_TIMEOUT  seconds to wait for PING (20)
#   BENCH_TIMEOUT    seconds one benchmark run may take before it counts as
#                    hung (600; redis-benchmark spins forever on a dead server)
#   REDISTILL_BIN    use this binary/command instead of building Redistill
#                    (implies --no-build). If its name is redis-server* it is
#                    started with redis-server arguments, so the whole script
#                    can be tried as redis-server vs redis-server.
#   REDISTILL_STYLE  redistill|redis: force the argument style of REDISTILL_BIN
#   KEEP_TMP=1       keep the temporary directory (logs, raw CSV)

set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
# shellcheck source=scripts/lib.sh
source "$SCRIPT_DIR/lib.sh"

usage() { print_usage "${BASH_SOURCE[0]}"; }

# ------------------------------------------------------------ settings ---

# Empty means "not given"; defaults are applied after the flags are parsed,
# so that --quick only changes what was not set explicitly.
ROUNDS=${ROUNDS:-}
REQUESTS=${REQUESTS:-}
PIPELINE=${PIPELINE:-16}
CLIENTS=${CLIENTS:-50}
DATA_SIZE=${DATA_SIZE:-256}
KEYSPACE=${KEYSPACE:-100000}
TESTS=${TESTS:-set,get}
MODES=${MODES:-pinned,unpinned}
THREAD_SWEEP=${THREAD_SWEEP:-}
SWEEP_WORKLOADS=${SWEEP_WORKLOADS:-}
THREADS_PINNED=${THREADS_PINNED:-1}
THREADS_UNPINNED=${THREADS_UNPINNED:-2}
SERVER_CPUS=${SERVER_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
MEMTIER=${MEMTIER:-auto}
MEMTIER_TIME=${MEMTIER_TIME:-}
REDISTILL_PORT=${REDISTILL_PORT:-16379}
REDIS_PORT=${REDIS_PORT:-16380}
STARTUP_TIMEOUT=${STARTUP_TIMEOUT:-20}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}
BUILD=${BUILD:-1}
COMPARE=${COMPARE:-}
# The second server: redis-server, or with --compare the build of REV.
BASELINE_CMD=""
B_NAME=redis
B_TITLE=Redis
QUICK=0
REDISTILL_BIN=${REDISTILL_BIN:-}
REDISTILL_STYLE=${REDISTILL_STYLE:-}
RESULTS_OUT=${RESULTS_OUT:-}
MARKDOWN_OUT=${MARKDOWN_OUT:-}
WORKLOADS=${WORKLOADS:-}
KEEP_TMP=${KEEP_TMP:-0}
BENCH_ARGS=""

parse_args() {
    while (($#)); do
        case $1 in
        --quick) QUICK=1 ;;
        --no-build) BUILD=0 ;;
        --rounds) ROUNDS=${2:?--rounds needs a value}; shift ;;
        -n | --requests) REQUESTS=${2:?$1 needs a value}; shift ;;
        -P | --pipeline) PIPELINE=${2:?$1 needs a value}; shift ;;
        -c | --clients) CLIENTS=${2:?$1 needs a value}; shift ;;
        -d | --data-size) DATA_SIZE=${2:?$1 needs a value}; shift ;;
        -r | --keyspace) KEYSPACE=${2:?$1 needs a value}; shift ;;
        -t | --tests) TESTS=${2:?$1 needs a value}; shift ;;
        --mode | --modes) MODES=${2:?$1 needs a value}; shift ;;
        --threads-pinned) THREADS_PINNED=${2:?$1 needs a value}; shift ;;
        --threads-unpinned) THREADS_UNPINNED=${2:?$1 needs a value}; shift ;;
        --server-cpus) SERVER_CPUS=${2:?$1 needs a value}; shift ;;
        --client-cpus) CLIENT_CPUS=${2:?$1 needs a value}; shift ;;
        --memtier) MEMTIER=${2:?$1 needs a value}; shift ;;
        --memtier-time) MEMTIER_TIME=${2:?$1 needs a value}; shift ;;
        --out) RESULTS_OUT=${2:?$1 needs a value}; shift ;;
        --compare) COMPARE=${2:?$1 needs a value}; shift ;;
        --markdown) MARKDOWN_OUT=${2:?$1 needs a value}; shift ;;
        --workloads) WORKLOADS=${2:?$1 needs a value}; shift ;;
        --thread-sweep) THREAD_SWEEP=${2:?$1 needs a value}; shift ;;
        --sweep-workloads) SWEEP_WORKLOADS=${2:?$1 needs a value}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; die "unknown argument: $1" ;;
        esac
        shift
    done

    if ((QUICK)); then
        ROUNDS=${ROUNDS:-1}
        REQUESTS=${REQUESTS:-100000}
        MEMTIER_TIME=${MEMTIER_TIME:-5}
    fi
    ROUNDS=${ROUNDS:-3}
    REQUESTS=${REQUESTS:-1000000}
    MEMTIER_TIME=${MEMTIER_TIME:-20}
    [[ $MODES == both ]] && MODES=pinned,unpinned
    [[ $MODES == none ]] && MODES=""

    local name
    for name in ROUNDS REQUESTS PIPELINE CLIENTS DATA_SIZE KEYSPACE \
        THREADS_PINNED THREADS_UNPINNED MEMTIER_TIME STARTUP_TIMEOUT BENCH_TIMEOUT \
        REDISTILL_PORT REDIS_PORT; do
        [[ ${!name} =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer, got '${!name}'"
    done
    local mode
    for mode in ${MODES//,/ }; do
        [[ $mode == pinned || $mode == unpinned ]] || die "unknown mode '$mode' (pinned|unpinned|both|none)"
    done
    [[ $MEMTIER =~ ^(auto|yes|no)$ ]] || die "--memtier must be auto, yes or no"
    resolve_workloads
    resolve_sweep
    [[ -n $MODES || -n $THREAD_SWEEP ]] || die "--mode none needs --thread-sweep"
}

# resolve_sweep: fill SWEEP_THREADS (ascending, no duplicates) from
# THREAD_SWEEP and SWEEP_SPECS from SWEEP_WORKLOADS.
resolve_sweep() {
    SWEEP_THREADS=()
    SWEEP_SPECS=()
    [[ -n $THREAD_SWEEP ]] || return 0
    local list=$THREAD_SWEEP n specs
    if [[ $list == auto ]]; then
        local cpus
        cpus=$(nproc 2>/dev/null || echo 1)
        list=""
        for ((n = 1; n < cpus; n *= 2)); do list+="$n,"; done
        list+=$cpus
    fi
    for n in ${list//,/ }; do
        [[ $n =~ ^[1-9][0-9]*$ ]] || die "--thread-sweep: '$n' is not a positive integer (LIST like 1,2,4, or auto)"
    done
    mapfile -t SWEEP_THREADS < <(tr ',' '\n' <<<"$list" | awk 'NF' | sort -n -u)
    ((${#SWEEP_THREADS[@]})) || die "--thread-sweep: empty list"
    ((${#SWEEP_THREADS[@]} > 1)) || warn "thread sweep with one thread count (${SWEEP_THREADS[0]}): nothing to compare"
    specs=$(workload_specs "${SWEEP_WORKLOADS:-${WORKLOADS:-production}}")
    mapfile -t SWEEP_SPECS <<<"$specs"
}

# workload_table: all named workloads, in run order, one per line:
# name pipeline clients data_size tests keyspace.
workload_table() {
    local small=$((KEYSPACE < 10000 ? KEYSPACE : 10000))
    printf '%s\n' \
        "interactive 1 50 256 set,get $KEYSPACE" \
        "production 16 50 256 set,get $KEYSPACE" \
        "deep-pipeline 64 100 256 set,get $KEYSPACE" \
        "get-heavy 16 50 256 get $KEYSPACE" \
        "value-4k 16 50 4096 set,get $KEYSPACE" \
        "value-64k 16 50 65536 set,get $small" \
        "conns-1000 1 1000 256 set,get $KEYSPACE" \
        "hashes 16 50 32 hset,hget,hmget,hgetall $KEYSPACE" \
        "collections 16 50 32 sadd,sismember,zadd,zrange,lpush,lpop,lrange $small" \
        "scripts 16 50 32 lockrelease,ratelimit $small"
}

# workload_specs LIST: print one "name P c d tests keyspace" line per
# workload in the comma-separated LIST ("all": every named one; "default":
# the one given by -P/-c/-d/-t/-r).
workload_specs() {
    local table name found line
    table=$(workload_table)
    if [[ $1 == all ]]; then
        echo "$table"
        return 0
    fi
    for name in ${1//,/ }; do
        if [[ $name == default ]]; then
            echo "default $PIPELINE $CLIENTS $DATA_SIZE $TESTS $KEYSPACE"
            continue
        fi
        found=""
        while read -r line; do
            [[ ${line%% *} == "$name" ]] && found=$line
        done <<<"$table"
        [[ -n $found ]] || die "unknown workload '$name' (known: $(awk '{ print $1 }' <<<"$table" | paste -sd, -), all, default)"
        echo "$found"
    done
}

# resolve_workloads: fill WORKLOAD_SPECS with one "name P c d tests keyspace"
# line per workload to run.
resolve_workloads() {
    local specs
    specs=$(workload_specs "${WORKLOADS:-default}")
    mapfile -t WORKLOAD_SPECS <<<"$specs"
}

# spec_of WORKLOAD: that workload's spec line, from the ones being run.
spec_of() {
    local spec
    for spec in "${WORKLOAD_SPECS[@]}" "${SWEEP_SPECS[@]}"; do
        [[ ${spec%% *} == "$1" ]] && { echo "$spec"; return 0; }
    done
    return 1
}

# ------------------------------------------------------------- globals ---

TMP_DIR=""
# whitespace-separated rows:
#   mode tool workload server round test ops p50_ms p99_ms cpu_s_per_mop threads
# ("n/a" where a number is not known); the CSV of --out, blank-separated.
RESULTS=""
WORKLOAD_SPECS=()
SWEEP_SPECS=()
SWEEP_THREADS=()
SERVER_PIDS=()
CHILD_PID="" # the benchmark currently running, if any
USED_PORTS=()
REDISTILL_CMD=""
ACTIVE_MODES=()

cleanup() {
    local rc=$?
    local pid
    [[ -n $CHILD_PID ]] && stop_pid "$CHILD_PID"
    for pid in "${SERVER_PIDS[@]}"; do stop_pid "$pid"; done
    finish_tmp_dir "$rc"
    exit "$rc"
}

# run_child OUT ERR CMD...: run CMD in the background with stdout to OUT and
# stderr to ERR, and wait for it. Unlike a foreground command, `wait` returns
# as soon as a TERM/INT trap fires, so the script (and cleanup, which stops
# CMD) reacts at once.
run_child() {
    local out=$1 err=$2 rc=0
    shift 2
    "$@" >"$out" 2>"$err" </dev/null &
    CHILD_PID=$!
    wait "$CHILD_PID" || rc=$?
    CHILD_PID=""
    return "$rc"
}

# ---------------------------------------------------------------- setup ---

check_tools() {
    ensure_redis_tools
    have timeout || die "timeout (coreutils) not found"
    have awk || die "awk not found"
    local mode cpus
    cpus=$(nproc 2>/dev/null || echo 1)
    for mode in ${MODES//,/ }; do
        if [[ $mode == pinned ]]; then
            if ! have taskset; then
                warn "taskset not found (package util-linux): skipping pinned mode"
                continue
            elif ((cpus < 2)); then
                warn "only $cpus CPU(s): skipping pinned mode"
                continue
            fi
        fi
        ACTIVE_MODES+=("$mode")
    done
    ((${#ACTIVE_MODES[@]} || ${#SWEEP_THREADS[@]})) || die "no mode left to run"
    case $MEMTIER in
    yes) have memtier_benchmark || die "--memtier yes but memtier_benchmark is not on PATH" ;;
    auto) if have memtier_benchmark; then MEMTIER=yes; else MEMTIER=no; fi ;;
    esac
}

# Decide which command plays "Redistill": the freshly built binary, or
# REDISTILL_BIN (and in which argument style to start it).
resolve_redistill() {
    if [[ -n $REDISTILL_BIN ]]; then
        REDISTILL_CMD=$(command -v "$REDISTILL_BIN") || die "REDISTILL_BIN '$REDISTILL_BIN' not found"
        if [[ -z $REDISTILL_STYLE ]]; then
            case $(basename "$REDISTILL_CMD") in
            redis-server*) REDISTILL_STYLE=redis ;;
            *) REDISTILL_STYLE=redistill ;;
            esac
        fi
        warn "REDISTILL_BIN set: using $REDISTILL_CMD ($REDISTILL_STYLE arguments) as 'redistill'"
        return 0
    fi
    REDISTILL_STYLE=${REDISTILL_STYLE:-redistill}
    local target_dir=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
    if [[ $BUILD == 1 ]]; then
        have cargo || die "cargo not found (or pass --no-build with a built binary)"
        log "cargo build --release"
        (cd "$REPO_ROOT" && cargo build --release)
    fi
    REDISTILL_CMD=$target_dir/release/redistill
    [[ -x $REDISTILL_CMD ]] || die "$REDISTILL_CMD not found (build it, or drop --no-build)"
}

# resolve_baseline: with --compare REV, build Redistill at REV (exported
# with git archive into TMP_DIR, so the working tree is never touched) and
# make it the second server in place of redis-server.
resolve_baseline() {
    [[ -n $COMPARE ]] || return 0
    local rev src
    rev=$(git -C "$REPO_ROOT" rev-parse --verify --quiet "$COMPARE^{commit}") ||
        die "--compare: '$COMPARE' is not a commit of this repository"
    src=$TMP_DIR/base-src
    mkdir -p "$src"
    git -C "$REPO_ROOT" archive "$rev" | tar -x -C "$src"
    log "building the base, ${rev:0:12} ($COMPARE), into target/bench-compare"
    (cd "$src" && CARGO_TARGET_DIR=$REPO_ROOT/target/bench-compare cargo build --release) ||
        die "--compare: the build of $COMPARE failed"
    BASELINE_CMD=$TMP_DIR/redistill-base
    cp "$REPO_ROOT/target/bench-compare/release/redistill" "$BASELINE_CMD"
    B_NAME=base
    B_TITLE="Base ($COMPARE)"
}

# --------------------------------------------------------------- servers ---

# pin_prefix MODE ROLE: print the command prefix (taskset ...) for a process
# with ROLE server|client in MODE, one word per line. Only "pinned" pins.
pin_prefix() {
    local mode=$1 role=$2
    [[ $mode == pinned ]] || return 0
    if [[ $role == server ]]; then
        printf '%s\n' taskset -c "$SERVER_CPUS"
    else
        printf '%s\n' taskset -c "$CLIENT_CPUS"
    fi
}

# redistill_threads MODE: Redistill's --threads in MODE (pinned, unpinned or
# sweep-N).
redistill_threads() {
    case $1 in
    pinned) echo "$THREADS_PINNED" ;;
    unpinned) echo "$THREADS_UNPINNED" ;;
    sweep-*) echo "${1#sweep-}" ;;
    *) die "redistill_threads: unknown mode '$1'" ;;
    esac
}

# server_threads NAME MODE: the threads column of a result row.
server_threads() {
    if [[ ($1 == redistill && $REDISTILL_STYLE == redistill) || ($1 == redis && -n $BASELINE_CMD) ]]; then
        redistill_threads "$2"
    else
        echo n/a
    fi
}

# start_server NAME MODE PORT_VAR: start server NAME (redistill|redis) for
# MODE (pinned, unpinned or sweep-N, which is unpinned with N threads) on a
# free port; stores the port in the variable named PORT_VAR (which must not
# be one of the locals below, e.g. port) and the pid in <NAME>_PID.
start_server() {
    local name=$1 mode=$2 port_var=$3
    local base prefix=() port dir
    if [[ $name == redistill ]]; then base=$REDISTILL_PORT; else base=$REDIS_PORT; fi
    port=$(find_free_port "$base" "${USED_PORTS[@]}")
    USED_PORTS+=("$port")
    mapfile -t prefix < <(pin_prefix "$mode" server)
    dir=$TMP_DIR/$name-$mode
    mkdir -p "$dir"

    if [[ $name == redis && -n $BASELINE_CMD ]]; then
        server_cmd redistill "$BASELINE_CMD" "$port" "$dir" --threads "$(redistill_threads "$mode")"
    elif [[ $name == redis ]]; then
        server_cmd redis redis-server "$port" "$dir"
    elif [[ $REDISTILL_STYLE == redistill ]]; then
        server_cmd redistill "$REDISTILL_CMD" "$port" "$dir" --threads "$(redistill_threads "$mode")"
    else
        server_cmd redis "$REDISTILL_CMD" "$port" "$dir"
    fi

    local shown
    printf -v shown '%q ' "${prefix[@]}" "${SERVER_CMD[@]}"
    log "starting $name ($mode): ${shown% }"
    launch_server "$dir" "$port" "$STARTUP_TIMEOUT" "${prefix[@]}" "${SERVER_CMD[@]}" || {
        SERVER_PIDS+=("$LAUNCHED_PID")
        die "$name did not start (mode $mode, port $port)"
    }
    SERVER_PIDS+=("$LAUNCHED_PID")
    printf -v "$port_var" '%s' "$port"
    printf -v "${name^^}_PID" '%s' "$LAUNCHED_PID"
}

stop_servers() {
    local pid
    for pid in "${SERVER_PIDS[@]}"; do stop_pid "$pid"; done
    SERVER_PIDS=()
}

# assert_alive NAME PID: fail when a server died during a benchmark.
assert_alive() {
    kill -0 "$2" 2>/dev/null && return 0
    warn "$1 (pid $2) died; log tail:"
    tail -n 30 "$TMP_DIR/$1-"*/server.log >&2 || true
    die "$1 crashed during the benchmark"
}

# ----------------------------------------------------------- benchmarks ---

# run_redis_benchmark MODE NAME PORT PID ROUND WORKLOAD PIPELINE CLIENTS
# DATA_SIZE KEYSPACE TEST: one redis-benchmark run of one test; appends
# "mode redis-benchmark workload name round TEST ops p50 p99 cpu threads"
# rows to RESULTS.
run_redis_benchmark() {
    local mode=$1 name=$2 port=$3 pid=$4 round=$5 workload=$6
    local pipeline=$7 clients=$8 data_size=$9 keyspace=${10} test=${11}
    local prefix=() out err rows before after
    mapfile -t prefix < <(pin_prefix "$mode" client)
    out=$TMP_DIR/rb-$mode-$workload-$name-$round-$test.csv
    err=$TMP_DIR/rb-$mode-$workload-$name-$round-$test.err

    local what=(-t "$test") label=""
    if command_line "$test" "$data_size"; then
        what=("${COMMAND_LINE[@]}")
        label=${COMMAND_LABEL[$test]}
    fi
    before=$(proc_cpu_ticks "$pid")
    if ! run_child "$out" "$err" timeout "$BENCH_TIMEOUT" "${prefix[@]}" redis-benchmark \
        -h 127.0.0.1 -p "$port" -n "$REQUESTS" -P "$pipeline" -c "$clients" \
        -d "$data_size" -r "$keyspace" --csv "${what[@]}"; then
        cat "$err" >&2 || true
        assert_alive "$name" "$pid"
        die "redis-benchmark against $name failed or exceeded ${BENCH_TIMEOUT}s (mode $mode, workload $workload, round $round)"
    fi
    after=$(proc_cpu_ticks "$pid")
    assert_alive "$name" "$pid"

    # redis-benchmark 7 --csv prints a header, then one line per test:
    #   "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
    #   "p95_latency_ms","p99_latency_ms","max_latency_ms"
    #   "SET","480769.22","1.244",...
    # (older versions have no header and only "test","rps": latency n/a).
    rows=$(awk -F'","' '
        { gsub(/^"|"\r?$/, "") }
        $1 == "test" { for (i = 1; i <= NF; i++) col[$i] = i; next }
        NF >= 2 && $2 ~ /^[0-9]+(\.[0-9]+)?$/ && $2 > 0 {
            t = $1; gsub(/[ \t]+/, "_", t)   # "MSET (10 keys)" -> one word
            p50 = ("p50_latency_ms" in col) ? $(col["p50_latency_ms"]) : "n/a"
            p99 = ("p99_latency_ms" in col) ? $(col["p99_latency_ms"]) : "n/a"
            print t, $2, p50, p99
        }' "$out")
    if [[ -z $rows ]]; then
        warn "unexpected redis-benchmark output:"
        cat "$out" "$err" >&2 || true
        die "no results parsed from redis-benchmark against $name (mode $mode, round $round)"
    fi
    # One test per run, so the server's CPU time belongs to it (a test such
    # as "mset" still yields one row; several rows share it evenly).
    local nrows cpu row_test ops p50 p99 threads
    nrows=$(wc -l <<<"$rows")
    cpu=$(cpu_per_million "$((after - before))" "$((REQUESTS * nrows))")
    threads=$(server_threads "$name" "$mode")
    while read -r row_test ops p50 p99; do
        row_test=${label:-$row_test} # a command line's row is named after the command
        RESULTS+="$mode redis-benchmark $workload $name $round $row_test $ops $p50 $p99 $cpu $threads"$'\n'
        log "  $mode $workload round $round  $name  $row_test  $ops ops/s  p50 ${p50}ms  p99 ${p99}ms  cpu ${cpu}s/Mop"
    done <<<"$rows"
}

# Labels of the command-line tests (their result rows' test names).
declare -A COMMAND_LABEL=([hset]=HSET [hget]=HGET [hmget]=HMGET_5 [hgetall]=HGETALL_10
    [sadd]=SADD [sismember]=SISMEMBER [zadd]=ZADD [zrange]=ZRANGE_10
    [lpush]=LPUSH [lpop]=LPOP [lrange]=LRANGE_10
    [lockrelease]=EVALSHA_LOCK_RELEASE [ratelimit]=EVALSHA_RATE_LIMIT)

# The scripts of the "scripts" workload, and their SHA1s once loaded.
LOCK_RELEASE_SCRIPT="local token = redis.call('get', KEYS[1])
if not token or token ~= ARGV[1] then
    return 0
end
redis.call('del', KEYS[1])
return 1"
RATE_LIMIT_SCRIPT="local now, window, limit = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], 0, now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
    redis.call('ZADD', KEYS[1], now, ARGV[4])
    redis.call('PEXPIRE', KEYS[1], window)
    return 1
end
return 0"
declare -A SCRIPT_SHA=()

# command_line TEST DATA_SIZE: for a test that is a command line rather
# than a redis-benchmark -t test (the hash and collection tests), set
# COMMAND_LINE to it; return 1 for any other TEST. The hash reads read the
# hashes preload_hashes wrote, ZRANGE the sorted sets preload_zsets wrote.
command_line() {
    local value
    printf -v value '%*s' "$2" ''
    value=${value// /v}
    case $1 in
    hset) COMMAND_LINE=(HSET 'hs:__rand_int__' 'f:__rand_int__' "$value") ;;
    hget) COMMAND_LINE=(HGET 'h:__rand_int__' f4) ;;
    hmget) COMMAND_LINE=(HMGET 'h:__rand_int__' f0 f2 f4 f6 f8) ;;
    hgetall) COMMAND_LINE=(HGETALL 'h:__rand_int__') ;;
    sadd) COMMAND_LINE=(SADD 's:__rand_int__' 'm:__rand_int__') ;;
    sismember) COMMAND_LINE=(SISMEMBER 's:__rand_int__' 'm:__rand_int__') ;;
    zadd) COMMAND_LINE=(ZADD 'z:__rand_int__' '__rand_int__' 'm:__rand_int__') ;;
    zrange) COMMAND_LINE=(ZRANGE 'zr:__rand_int__' 0 9) ;;
    lpush) COMMAND_LINE=(LPUSH 'l:__rand_int__' "$value") ;;
    lpop) COMMAND_LINE=(LPOP 'l:__rand_int__') ;;
    lrange) COMMAND_LINE=(LRANGE 'l:__rand_int__' 0 9) ;;
    lockrelease) COMMAND_LINE=(EVALSHA "${SCRIPT_SHA[lockrelease]}" 1 'lock:__rand_int__' token) ;;
    ratelimit) COMMAND_LINE=(EVALSHA "${SCRIPT_SHA[ratelimit]}" 1 'rl:__rand_int__' '__rand_int__' 1000 100 'm:__rand_int__') ;;
    *) return 1 ;;
    esac
}

# preload_hashes MODE NAME PORT DATA_SIZE KEYSPACE: one 10-field hash per
# key h:000000000000 .. (redis-benchmark's __rand_int__ names: 12 digits),
# fields f0..f9 with DATA_SIZE-byte values, through redis-cli --pipe (not
# measured).
preload_hashes() {
    local mode=$1 name=$2 port=$3 data_size=$4 keyspace=$5 summary
    log "  preloading $name: $keyspace hashes of 10 fields (not measured)"
    summary=$(awk -v n="$keyspace" -v vs="$data_size" 'BEGIN {
        v = sprintf("%" vs "s", ""); gsub(/ /, "v", v)
        for (i = 0; i < n; i++) {
            k = sprintf("h:%012d", i)
            printf "*22\r\n$4\r\nHSET\r\n$%d\r\n%s\r\n", length(k), k
            for (f = 0; f < 10; f++) printf "$2\r\nf%d\r\n$%d\r\n%s\r\n", f, vs, v
        }
    }' | timeout "$BENCH_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe 2>&1 | tail -n 1) || true
    [[ $summary == "errors: 0, replies: $keyspace" ]] ||
        die "preloading hashes into $name failed (mode $mode): redis-cli --pipe said: $summary"
}

# preload_zsets MODE NAME PORT KEYSPACE: one 100-member sorted set per key
# zr:000000000000 .. (members m0..m99, scores 0..99), through redis-cli
# --pipe (not measured).
preload_zsets() {
    local mode=$1 name=$2 port=$3 keyspace=$4 summary
    log "  preloading $name: $keyspace sorted sets of 100 members (not measured)"
    summary=$(awk -v n="$keyspace" 'BEGIN {
        for (i = 0; i < n; i++) {
            k = sprintf("zr:%012d", i)
            printf "*202\r\n$4\r\nZADD\r\n$%d\r\n%s\r\n", length(k), k
            for (m = 0; m < 100; m++) printf "$%d\r\n%d\r\n$%d\r\nm%d\r\n", length(m ""), m, length(m "") + 1, m
        }
    }' | timeout "$BENCH_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe 2>&1 | tail -n 1) || true
    [[ $summary == "errors: 0, replies: $keyspace" ]] ||
        die "preloading sorted sets into $name failed (mode $mode): redis-cli --pipe said: $summary"
}

# preload_scripts MODE NAME PORT KEYSPACE: SCRIPT LOAD the two scripts of
# the "scripts" workload (remembering their SHA1s) and set the locks
# lock:000000000000 .. to the token the release script compares with.
preload_scripts() {
    local mode=$1 name=$2 port=$3 keyspace=$4 summary test body sha
    log "  preloading $name: scripts and $keyspace locks (not measured)"
    for test in lockrelease ratelimit; do
        body=$LOCK_RELEASE_SCRIPT
        [[ $test == ratelimit ]] && body=$RATE_LIMIT_SCRIPT
        sha=$(timeout 60 redis-cli -h 127.0.0.1 -p "$port" script load "$body" 2>&1 </dev/null || true)
        [[ $sha =~ ^[0-9a-f]{40}$ ]] || die "SCRIPT LOAD on $name failed (mode $mode): $sha"
        SCRIPT_SHA[$test]=$sha
    done
    summary=$(awk -v n="$keyspace" 'BEGIN {
        for (i = 0; i < n; i++) printf "*3\r\n$3\r\nSET\r\n$17\r\nlock:%012d\r\n$5\r\ntoken\r\n", i
    }' | timeout "$BENCH_TIMEOUT" redis-cli -h 127.0.0.1 -p "$port" --pipe 2>&1 | tail -n 1) || true
    [[ $summary == "errors: 0, replies: $keyspace" ]] ||
        die "preloading locks into $name failed (mode $mode): redis-cli --pipe said: $summary"
}

# preload MODE NAME PORT DATA_SIZE KEYSPACE: fill the keyspace with SETs
# (not measured), so that a GET-only workload reads existing keys.
preload() {
    local mode=$1 name=$2 port=$3 data_size=$4 keyspace=$5
    log "  preloading $name: $((keyspace * 3)) random SETs over $keyspace keys (not measured)"
    run_child "$TMP_DIR/preload.out" "$TMP_DIR/preload.err" timeout "$BENCH_TIMEOUT" redis-benchmark \
        -h 127.0.0.1 -p "$port" -t set -n "$((keyspace * 3))" -P 64 -c 50 -d "$data_size" \
        -r "$keyspace" -q ||
        die "preloading $name failed (mode $mode): $(tail -n 5 "$TMP_DIR/preload.err")"
}

# flush NAME PORT: FLUSHALL, so that each workload starts from an empty server.
flush() {
    local reply
    reply=$(timeout 60 redis-cli -h 127.0.0.1 -p "$2" flushall 2>&1 </dev/null || true)
    [[ $reply == OK ]] || die "FLUSHALL on $1 failed: $reply"
}

# run_memtier MODE NAME PORT PID ROUND: one memtier_benchmark run; rows for
# Sets, Gets and Totals.
run_memtier() {
    local mode=$1 name=$2 port=$3 pid=$4 round=$5
    local prefix=() out rows before after
    mapfile -t prefix < <(pin_prefix "$mode" client)
    out=$TMP_DIR/memtier-$mode-$name-$round.txt

    before=$(proc_cpu_ticks "$pid")
    if ! run_child "$out" "$out.err" timeout "$((MEMTIER_TIME + BENCH_TIMEOUT))" "${prefix[@]}" \
        memtier_benchmark -s 127.0.0.1 -p "$port" --ratio=1:1 --data-size="$DATA_SIZE" \
        --pipeline=30 --threads=2 --clients=20 --distinct-client-seed \
        --test-time="$MEMTIER_TIME" --hide-histogram; then
        tail -n 30 "$out.err" >&2 || true
        tail -n 30 "$out" >&2 || true
        assert_alive "$name" "$pid"
        die "memtier_benchmark against $name failed (mode $mode, round $round)"
    fi
    after=$(proc_cpu_ticks "$pid")
    assert_alive "$name" "$pid"

    # The "ALL STATS" table: Type, Ops/sec, Hits/sec, ... with rows
    # Sets, Gets, Waits, Totals.
    rows=$(awk '$1 ~ /^(Sets|Gets|Totals)$/ && $2 ~ /^[0-9]+(\.[0-9]+)?$/ { print $1, $2 }' "$out")
    [[ -n $rows ]] || { tail -n 30 "$out" >&2; die "no results parsed from memtier_benchmark against $name"; }
    # CPU per million operations: the run's CPU time over the Totals rate x
    # test time (memtier's operation count is not exact, the rate is).
    local test ops total cpu threads
    total=$(awk '$1 == "Totals" { print $2 }' <<<"$rows")
    cpu=$(cpu_per_million "$((after - before))" "$(awk -v r="${total:-0}" -v t="$MEMTIER_TIME" 'BEGIN { printf "%d", r * t }')")
    threads=$(server_threads "$name" "$mode")
    while read -r test ops; do
        RESULTS+="$mode memtier memtier $name $round $test $ops n/a n/a $cpu $threads"$'\n'
        log "  $mode memtier round $round  $name  $test  $ops ops/s  cpu ${cpu}s/Mop"
    done <<<"$rows"
}

# run_workload SPEC TARGET...: one workload ("name P c d tests keyspace")
# against running servers, each TARGET a "MODE NAME PORT PID" line: ROUNDS
# rounds, and in each round every test runs against the TARGETs in turn
# (Redistill, Redis, Redistill, Redis ... or the sweep's thread counts).
run_workload() {
    local workload pipeline clients data_size tests keyspace round test target
    local mode name port pid
    read -r workload pipeline clients data_size tests keyspace <<<"$1"
    shift
    log "workload $workload: -t $tests -P $pipeline -c $clients -d $data_size -r $keyspace -n $REQUESTS"
    for target in "$@"; do
        read -r mode name port pid <<<"$target"
        flush "$name" "$port"
        if [[ ,$tests, == *,get,* && ,$tests, != *,set,* ]]; then
            preload "$mode" "$name" "$port" "$data_size" "$keyspace"
        fi
        if [[ ,$tests, =~ ,(hget|hmget|hgetall), ]]; then
            preload_hashes "$mode" "$name" "$port" "$data_size" "$keyspace"
        fi
        if [[ ,$tests, == *,zrange,* ]]; then
            preload_zsets "$mode" "$name" "$port" "$keyspace"
        fi
        if [[ ,$tests, =~ ,(lockrelease|ratelimit), ]]; then
            preload_scripts "$mode" "$name" "$port" "$keyspace"
        fi
    done
    for ((round = 1; round <= ROUNDS; round++)); do
        for test in ${tests//,/ }; do
            for target in "$@"; do
                read -r mode name port pid <<<"$target"
                run_redis_benchmark "$mode" "$name" "$port" "$pid" "$round" \
                    "$workload" "$pipeline" "$clients" "$data_size" "$keyspace" "$test"
            done
        done
    done
}

# run_mode MODE: start both servers, run the workloads, stop them.
run_mode() {
    local mode=$1 round spec
    local RT_PORT RS_PORT REDISTILL_PID REDIS_PID
    section "mode: $mode"
    start_server redistill "$mode" RT_PORT
    start_server redis "$mode" RS_PORT

    for spec in "${WORKLOAD_SPECS[@]}"; do
        run_workload "$spec" "$mode redistill $RT_PORT $REDISTILL_PID" "$mode redis $RS_PORT $REDIS_PID"
    done
    if [[ $MEMTIER == yes ]]; then
        for ((round = 1; round <= ROUNDS; round++)); do
            run_memtier "$mode" redistill "$RT_PORT" "$REDISTILL_PID" "$round"
            run_memtier "$mode" redis "$RS_PORT" "$REDIS_PID" "$round"
        done
    fi
    stop_servers
}

# run_sweep: the thread sweep. One Redistill per thread count (mode sweep-N,
# unpinned), all started up front; the sweep workloads run against them in
# turn, as run_mode does with Redistill and Redis.
run_sweep() {
    local n spec targets=() SWEEP_PORT REDISTILL_PID
    section "thread sweep: redistill --threads ${SWEEP_THREADS[*]}, unpinned"
    [[ $REDISTILL_STYLE == redistill ]] ||
        warn "REDISTILL_STYLE=$REDISTILL_STYLE: --threads is not passed, every sweep server is the same"
    for n in "${SWEEP_THREADS[@]}"; do
        start_server redistill "sweep-$n" SWEEP_PORT
        targets+=("sweep-$n redistill $SWEEP_PORT $REDISTILL_PID")
    done
    for spec in "${SWEEP_SPECS[@]}"; do
        run_workload "$spec" "${targets[@]}"
    done
    stop_servers
}

# -------------------------------------------------------------- report ---

# Field numbers of RESULTS rows.
F_OPS=7
F_P50=8
F_P99=9
F_CPU=10
# The thread sweep's bar: ops per server CPU-second with 2 threads at least
# this percentage of 1 thread's.
SWEEP_BAR=85

# values MODE TOOL WORKLOAD SERVER TEST FIELD: that combination's numbers in
# FIELD, in round order (unknown ones left out).
values() {
    awk -v m="$1" -v t="$2" -v w="$3" -v s="$4" -v x="$5" -v f="$6" \
        '$1 == m && $2 == t && $3 == w && $4 == s && $6 == x && $f ~ /^[0-9]+(\.[0-9]+)?$/ { print $f }' <<<"$RESULTS"
}

# med MODE TOOL WORKLOAD SERVER TEST FIELD: the median of values ... (n/a if none).
med() {
    values "$@" | median
}

# workload_params TOOL WORKLOAD: one line with the load generator's
# parameters.
workload_params() {
    local tool=$1 workload=$2 params
    local name pipeline clients data_size tests keyspace
    if [[ $tool == redis-benchmark ]]; then
        read -r name pipeline clients data_size tests keyspace <<<"$(spec_of "$workload")"
        params="redis-benchmark -t $tests -n $REQUESTS -P $pipeline -c $clients -d $data_size -r $keyspace"
        params+=" (one run per test)"
        [[ $workload == get-heavy ]] && params+="; keys preloaded; GET-only stands in for a GET-heavy mix"
        [[ $tests =~ (^|,)h(set|get|mget|getall)(,|$) ]] &&
            params+="; hash tests are command lines (HSET hs:__rand_int__ f:__rand_int__ <$data_size bytes>,"`
                `" HGET h:__rand_int__ f4, HMGET of 5 fields, HGETALL of a 10-field hash), reads over preloaded 10-field hashes"
        [[ $workload == collections ]] &&
            params+="; tests are command lines (SADD/SISMEMBER s:__rand_int__ m:__rand_int__, ZADD, ZRANGE 0 9 of"`
                `" preloaded 100-member sorted sets, LPUSH, LPOP and LRANGE 0 9 of the pushed lists)"
        [[ $workload == scripts ]] &&
            params+="; tests are EVALSHA of redis-py's Lock release over preloaded locks and of a sliding-window"`
                `" rate limiter (ZREMRANGEBYSCORE, ZCARD, ZADD, PEXPIRE)"
    else
        params="memtier_benchmark --ratio=1:1 --data-size=$DATA_SIZE --pipeline=30 --threads=2 --clients=20 --test-time=$MEMTIER_TIME"
    fi
    echo "$params; median of $ROUNDS round(s)"
}

# table_header MODE TOOL WORKLOAD: the lines that say what a table measured.
table_header() {
    local mode=$1 tool=$2 workload=$3 threads
    threads=$(redistill_threads "$mode")
    if [[ $mode == pinned ]]; then
        echo "servers on CPU $SERVER_CPUS, load generator on CPU $CLIENT_CPUS; redistill --threads $threads"
    else
        echo "no CPU pinning; redistill --threads $threads"
    fi
    workload_params "$tool" "$workload"
}

# print_table MODE TOOL WORKLOAD: plain-text table.
print_table() {
    local mode=$1 tool=$2 workload=$3 tests
    tests=$(awk -v m="$mode" -v t="$tool" -v w="$workload" '$1 == m && $2 == t && $3 == w && !seen[$6]++ { print $6 }' <<<"$RESULTS")
    [[ -n $tests ]] || return 0
    echo
    echo "### $mode / $tool / $workload"
    table_header "$mode" "$tool" "$workload"
    echo "latency and CPU columns: redistill/$B_NAME"
    echo
    printf '%-12s %15s %15s %6s %15s %15s %15s\n' test "redistill ops/s" "$B_NAME ops/s" ratio "p50 ms" "p99 ms" "CPU s/Mop"
    printf '%-12s %15s %15s %6s %15s %15s %15s\n' ---- --------------- ----------- ----- ------ ------ ---------
    local test a b
    while read -r test; do
        a=$(med "$mode" "$tool" "$workload" redistill "$test" $F_OPS)
        b=$(med "$mode" "$tool" "$workload" redis "$test" $F_OPS)
        printf '%-12s %15s %15s %6s %15s %15s %15s\n' "$test" "$a" "$b" "$(ratio "$a" "$b")" \
            "$(med "$mode" "$tool" "$workload" redistill "$test" $F_P50)/$(med "$mode" "$tool" "$workload" redis "$test" $F_P50)" \
            "$(med "$mode" "$tool" "$workload" redistill "$test" $F_P99)/$(med "$mode" "$tool" "$workload" redis "$test" $F_P99)" \
            "$(med "$mode" "$tool" "$workload" redistill "$test" $F_CPU)/$(med "$mode" "$tool" "$workload" redis "$test" $F_CPU)"
    done <<<"$tests"
    echo
    echo "per round (ops/s):"
    while read -r test; do
        printf '  %-14s redistill: %s\n' "$test" "$(values "$mode" "$tool" "$workload" redistill "$test" $F_OPS | paste -sd' ')"
        printf '  %-14s %-10s %s\n' "" "$B_NAME:" "$(values "$mode" "$tool" "$workload" redis "$test" $F_OPS | paste -sd' ')"
    done <<<"$tests"
}

# markdown_table MODE TOOL WORKLOAD: the same table in Markdown.
markdown_table() {
    local mode=$1 tool=$2 workload=$3 tests
    tests=$(awk -v m="$mode" -v t="$tool" -v w="$workload" '$1 == m && $2 == t && $3 == w && !seen[$6]++ { print $6 }' <<<"$RESULTS")
    [[ -n $tests ]] || return 0
    echo
    echo "### $mode / $tool / $workload"
    echo
    table_header "$mode" "$tool" "$workload" | sed 's/$/  /'
    echo
    echo "| test | Redistill ops/s | $B_TITLE ops/s | ratio | Redistill p50 ms | $B_TITLE p50 ms | Redistill p99 ms | $B_TITLE p99 ms | Redistill CPU s/Mop | $B_TITLE CPU s/Mop |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    local test a b field row
    while read -r test; do
        a=$(med "$mode" "$tool" "$workload" redistill "$test" $F_OPS)
        b=$(med "$mode" "$tool" "$workload" redis "$test" $F_OPS)
        row="| $test | $a | $b | $(ratio "$a" "$b")"
        for field in $F_P50 $F_P99 $F_CPU; do
            row+=" | $(med "$mode" "$tool" "$workload" redistill "$test" "$field")"
            row+=" | $(med "$mode" "$tool" "$workload" redis "$test" "$field")"
        done
        echo "$row |"
    done <<<"$tests"
}

# each_table FUNCTION SWEEP_FUNCTION: call FUNCTION MODE TOOL WORKLOAD for
# every table of the modes, then SWEEP_FUNCTION WORKLOAD for every sweep table.
each_table() {
    local mode spec
    for mode in "${ACTIVE_MODES[@]}"; do
        for spec in "${WORKLOAD_SPECS[@]}"; do
            "$1" "$mode" redis-benchmark "${spec%% *}"
        done
        "$1" "$mode" memtier memtier
    done
    for spec in "${SWEEP_SPECS[@]}"; do
        "$2" "${spec%% *}"
    done
}

# percent A B: A/B as a percentage with 1 decimal and a % sign ("n/a" when
# either is missing or B is 0).
percent() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"
        else printf "%.1f%%\n", 100 * a / b
    }'
}

# ops_per_cpu_second MODE WORKLOAD TEST: Redistill's operations per server
# CPU-second: the median over rounds of 10^6 / CPU s/Mop, no decimals (rounds
# whose CPU time was too short to measure are left out; "n/a" if all were).
ops_per_cpu_second() {
    values "$1" redis-benchmark "$2" redistill "$3" $F_CPU |
        awk '$1 > 0 { printf "%.3f\n", 1e6 / $1 }' | median |
        awk '$1 == "n/a" { print; next } { printf "%.0f\n", $1 }'
}

# sweep_rows WORKLOAD: the thread sweep's figures, one line per test and
# thread count: test threads ops/s cpu_s_per_mop ops_per_cpu_s efficiency,
# efficiency being ops_per_cpu_s as a percentage of the lowest thread count's.
sweep_rows() {
    local workload=$1 tests test n opcs base
    tests=$(awk -v w="$workload" '$1 ~ /^sweep-/ && $2 == "redis-benchmark" && $3 == w && !seen[$6]++ { print $6 }' <<<"$RESULTS")
    [[ -n $tests ]] || return 0
    while read -r test; do
        base=""
        for n in "${SWEEP_THREADS[@]}"; do
            opcs=$(ops_per_cpu_second "sweep-$n" "$workload" "$test")
            base=${base:-$opcs}
            echo "$test $n $(med "sweep-$n" redis-benchmark "$workload" redistill "$test" $F_OPS)" \
                "$(med "sweep-$n" redis-benchmark "$workload" redistill "$test" $F_CPU)" \
                "$opcs $(percent "$opcs" "$base")"
        done
    done <<<"$tests"
}

# sweep_verdict ROWS: with 1 and 2 threads in the sweep, the line that says
# per test whether 2 threads reach SWEEP_BAR% of 1 thread's ops/CPU-s.
sweep_verdict() {
    [[ ${SWEEP_THREADS[0]} == 1 && " ${SWEEP_THREADS[*]} " == *" 2 "* ]] || return 0
    awk -v bar="$SWEEP_BAR" '
        $2 == 2 {
            v = $6; sub(/%$/, "", v)
            verdict = (v == "n/a") ? "" : (v + 0 >= bar ? " (met)" : " (not met)")
            s = s sep $1 " " $6 verdict; sep = ", "
        }
        END { if (s != "") print "bar: ops/CPU-s with 2 threads >= " bar "% of 1 thread: " s }' <<<"$1"
}

# sweep_header WORKLOAD: the lines that say what a sweep table measured.
sweep_header() {
    echo "no CPU pinning; redistill only, --threads $(IFS=,; echo "${SWEEP_THREADS[*]}"): one server per thread count, side by side, runs alternating"
    workload_params redis-benchmark "$1"
    echo "ops/CPU-s: operations per server CPU-second (median over rounds of 10^6 / CPU s/Mop); efficiency: ops/CPU-s as % of the ${SWEEP_THREADS[0]}-thread figure"
    echo "CPU time is counted in clock ticks: one tick is $(cpu_per_million 1 "$REQUESTS") s/Mop at -n $REQUESTS"
}

# print_sweep_table WORKLOAD: plain-text table of the thread sweep.
print_sweep_table() {
    local workload=$1 rows test n ops cpu opcs eff
    rows=$(sweep_rows "$workload")
    [[ -n $rows ]] || return 0
    echo
    echo "### thread sweep / redis-benchmark / $workload"
    sweep_header "$workload"
    echo
    printf '%-12s %7s %15s %10s %12s %10s\n' test threads "ops/s" "CPU s/Mop" "ops/CPU-s" efficiency
    printf '%-12s %7s %15s %10s %12s %10s\n' ---- ------- ----- --------- --------- ----------
    while read -r test n ops cpu opcs eff; do
        printf '%-12s %7s %15s %10s %12s %10s\n' "$test" "$n" "$ops" "$cpu" "$opcs" "$eff"
    done <<<"$rows"
    sweep_verdict "$rows"
    echo
    echo "per round (ops/s; CPU s/Mop):"
    local last=""
    while read -r test n _; do
        printf '  %-12s %3s thr: %s; %s\n' "$([[ $test != "$last" ]] && echo "$test")" "$n" \
            "$(values "sweep-$n" redis-benchmark "$workload" redistill "$test" $F_OPS | paste -sd' ')" \
            "$(values "sweep-$n" redis-benchmark "$workload" redistill "$test" $F_CPU | paste -sd' ')"
        last=$test
    done <<<"$rows"
}

# markdown_sweep_table WORKLOAD: the same table in Markdown.
markdown_sweep_table() {
    local workload=$1 rows test n ops cpu opcs eff verdict
    rows=$(sweep_rows "$workload")
    [[ -n $rows ]] || return 0
    echo
    echo "### thread sweep / redis-benchmark / $workload"
    echo
    sweep_header "$workload" | sed 's/$/  /'
    echo
    echo "| test | threads | ops/s | CPU s/Mop | ops per CPU-second | efficiency |"
    echo "| --- | ---: | ---: | ---: | ---: | ---: |"
    while read -r test n ops cpu opcs eff; do
        echo "| $test | $n | $ops | $cpu | $opcs | $eff |"
    done <<<"$rows"
    verdict=$(sweep_verdict "$rows")
    if [[ -n $verdict ]]; then
        echo
        echo "$verdict"
    fi
}

host_lines() {
    echo "host: $(nproc) CPU(s), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null || echo unknown)"
    echo "redistill: $REDISTILL_CMD ($(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
    if [[ -n $BASELINE_CMD ]]; then
        echo "base:      $BASELINE_CMD (git $COMPARE: $(git -C "$REPO_ROOT" rev-parse --short "$COMPARE"))"
    else
        echo "redis:     $(redis-server --version | head -n1)"
    fi
}

report() {
    section "results" 2>&1
    host_lines
    echo "CPU s/Mop: server CPU seconds (user+system, all threads) per million operations"
    each_table print_table print_sweep_table
    if [[ -n $RESULTS_OUT ]]; then
        {
            echo "mode,tool,workload,server,round,test,ops_per_sec,p50_ms,p99_ms,cpu_s_per_mop,threads"
            awk 'NF { $1 = $1; gsub(/ /, ","); print }' <<<"$RESULTS"
        } >"$RESULTS_OUT"
        log "raw results written to $RESULTS_OUT"
    fi
    if [[ -n $MARKDOWN_OUT ]]; then
        {
            echo "## scripts/bench.sh results"
            echo
            echo "Generated $(date -u '+%Y-%m-%d %H:%M UTC') by \`scripts/bench.sh $BENCH_ARGS\`."
            echo
            host_lines | sed 's/$/  /'
            echo
            echo "Ratio is Redistill ops/s over $B_TITLE ops/s (above 1: Redistill faster)."
            echo "Latencies are redis-benchmark's p50/p99 in milliseconds. CPU s/Mop is the"
            echo "server process's CPU time (user+system, all threads, from /proc/PID/stat)"
            echo "per million operations: lower is cheaper."
            if ((${#SWEEP_THREADS[@]})); then
                echo "The thread sweep runs Redistill alone with each --threads count; its"
                echo "efficiency is operations per server CPU-second relative to the fewest threads."
            fi
            each_table markdown_table markdown_sweep_table
        } >"$MARKDOWN_OUT"
        log "markdown tables written to $MARKDOWN_OUT"
    fi
}

# ---------------------------------------------------------------- main ---

main() {
    BENCH_ARGS="$*"
    parse_args "$@"
    install_traps
    check_tools
    resolve_redistill
    TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/redistill-bench.XXXXXX")
    resolve_baseline
    log "modes: ${ACTIVE_MODES[*]}; rounds: $ROUNDS; requests: $REQUESTS; memtier: $MEMTIER"
    ((${#ACTIVE_MODES[@]} == 0)) || log "workloads: $(printf '%s\n' "${WORKLOAD_SPECS[@]}" | awk '{ print $1 }' | paste -sd' ' -)"
    if ((${#SWEEP_THREADS[@]})); then
        log "thread sweep: --threads ${SWEEP_THREADS[*]}; workloads: $(printf '%s\n' "${SWEEP_SPECS[@]}" | awk '{ print $1 }' | paste -sd' ' -)"
    fi

    local mode
    for mode in "${ACTIVE_MODES[@]}"; do
        run_mode "$mode"
    done
    ((${#SWEEP_THREADS[@]} == 0)) || run_sweep
    report
}

main "$@"

# shellcheck shell=bash
# Shared helpers for scripts/bench.sh and .ci/run.
#
# Source it; it does not change shell options of its own. Everything here is
# written to work under `set -euo pipefail`.

# ---------------------------------------------------------------- logging ---

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
warn() { printf '[%s] WARNING: %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
    printf '[%s] ERROR: %s\n' "$(date +%H:%M:%S)" "$*" >&2
    exit 1
}

# section TITLE: a banner that is easy to find in a long CI log.
section() {
    printf '\n==================================================================\n' >&2
    printf '== %s\n' "$*" >&2
    printf '==================================================================\n' >&2
}

have() { command -v "$1" >/dev/null 2>&1; }

# -------------------------------------------------------------- packages ---

# apt_install PKG...: non-interactive apt-get install (update first), as root
# or through sudo. Never reads stdin.
apt_install() {
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        have sudo || die "need root (or sudo) to apt-get install $*"
        sudo=(sudo -n)
    fi
    have apt-get || die "apt-get not found; install manually: $*"
    log "apt-get install $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
        "$@" </dev/null
}

# ensure_redis_tools: make sure redis-server, redis-cli and redis-benchmark
# exist (Debian packages redis-server + redis-tools). No-op when present.
ensure_redis_tools() {
    if have redis-server && have redis-cli && have redis-benchmark; then
        return 0
    fi
    apt_install redis-server redis-tools
    local tool
    for tool in redis-server redis-cli redis-benchmark; do
        have "$tool" || die "$tool still missing after apt-get install"
    done
}

# ------------------------------------------------------------- processes ---

# port_in_use PORT: true when something accepts TCP connections on it.
port_in_use() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# find_free_port START [EXCLUDE...]: print the first port >= START that
# nothing listens on and that is not in EXCLUDE.
find_free_port() {
    local port=$1
    shift
    local limit=$((port + 200)) ex taken
    while ((port < limit)); do
        taken=0
        for ex in "$@"; do [[ $ex == "$port" ]] && taken=1; done
        if ((taken == 0)) && ! port_in_use "$port"; then
            echo "$port"
            return 0
        fi
        port=$((port + 1))
    done
    die "no free TCP port found in [$1, $limit)"
}

# wait_for_ping PORT PID TIMEOUT_S LOGFILE: wait until the server on PORT
# answers PING with PONG; fail early if PID dies. Prints the log tail on
# failure.
wait_for_ping() {
    local port=$1 pid=$2 timeout_s=$3 logfile=$4
    local deadline=$((SECONDS + timeout_s)) reply
    while ((SECONDS < deadline)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            warn "server (pid $pid, port $port) exited during startup; log tail:"
            tail -n 30 "$logfile" >&2 || true
            return 1
        fi
        reply=$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null </dev/null || true)
        if [[ $reply == PONG ]]; then
            return 0
        fi
        sleep 0.1
    done
    warn "server (pid $pid, port $port) did not answer PING within ${timeout_s}s; log tail:"
    tail -n 30 "$logfile" >&2 || true
    return 1
}

# stop_pid PID: TERM, wait up to 5 s, then KILL. Quiet when already gone.
stop_pid() {
    local pid=$1 i
    kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
}

# proc_cpu_ticks PID: CPU time PID has used so far (utime + stime, all its
# threads), in clock ticks (`getconf CLK_TCK` per second). Prints 0 when the
# process is gone or /proc is not there; never fails.
proc_cpu_ticks() {
    local stat fields
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || {
        echo 0
        return 0
    }
    # The command name (field 2) may contain spaces: split after its ")".
    # Then field 3 (state) is fields[0], utime (14) fields[11], stime (15) fields[12].
    read -r -a fields <<<"${stat##*) }"
    echo $((fields[11] + fields[12]))
}

# clock_ticks: clock ticks per second (getconf CLK_TCK; 100 if unknown).
clock_ticks() {
    local hz
    hz=$(getconf CLK_TCK 2>/dev/null || true)
    [[ $hz =~ ^[1-9][0-9]*$ ]] || hz=100
    echo "$hz"
}

# cpu_per_million TICKS OPS: CPU seconds per million operations, 3 decimals
# ("n/a" when OPS is 0).
cpu_per_million() {
    awk -v t="$1" -v n="$2" -v hz="$(clock_ticks)" 'BEGIN {
        if (n + 0 <= 0) print "n/a"
        else printf "%.3f\n", (t / hz) / (n / 1e6)
    }'
}

# ----------------------------------------------------------------- maths ---

# median: read numbers (one per line or whitespace separated) on stdin,
# print their median with 2 decimals ("n/a" when there are none).
median() {
    tr -s ' \t' '\n' | awk 'NF' | sort -g | awk '
        { v[NR] = $1 }
        END {
            if (NR == 0) { print "n/a"; exit }
            if (NR % 2) m = v[(NR + 1) / 2]
            else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.2f\n", m
        }'
}

# ratio A B: A/B with 2 decimals, "n/a" when either is missing or B is 0.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"
        else printf "%.2f\n", a / b
    }'
}

# ---------------------------------------------------------- script setup ---

LIB_REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# print_usage FILE: FILE's header comment (from line 2 up to the first
# non-comment line), without the leading "# ".
print_usage() {
    awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$1"
}

# setup_pinning: when PIN is 1, there are two CPUs and taskset exists, set
# SERVER_PIN=(taskset -c 0) and CLIENT_PIN=(taskset -c 1); else PIN=0 and
# both empty.
setup_pinning() {
    SERVER_PIN=() CLIENT_PIN=()
    if ((PIN)) && have taskset && (($(nproc) >= 2)); then
        SERVER_PIN=(taskset -c 0)
        CLIENT_PIN=(taskset -c 1)
    else
        PIN=0
    fi
}

# describe_bin COPY SOURCE: which build this is (source path, build time,
# hash, and the state of the tree), recorded when the copy is made.
describe_bin() {
    local dirty=""
    [[ -n $(git -C "$LIB_REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null) ]] && dirty=" + uncommitted changes"
    printf '%s, built %s, sha256 %s; tree at git %s%s' "$2" "$(date -r "$1" '+%F %T')" \
        "$(sha256sum "$1" | cut -c1-12)" "$(git -C "$LIB_REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')" "$dirty"
}

# snapshot_redistill DIR: the Redistill binary to run, copied to DIR/redistill
# (so a rebuild in the tree during the run changes nothing): REDISTILL_BIN if
# set, else target/release/redistill, built first when BUILD is 1. Sets
# BIN_DESC, and REDISTILL_KIND to redis when the binary is a redis-server*
# (to try a script as redis-server vs redis-server), else redistill; returns
# 1 (with a message) when there is no binary.
snapshot_redistill() {
    local src_bin
    if [[ -n ${REDISTILL_BIN:-} ]]; then
        src_bin=$(command -v "$REDISTILL_BIN") || { warn "REDISTILL_BIN '$REDISTILL_BIN' not found"; return 1; }
    else
        if [[ ${BUILD:-1} == 1 ]]; then
            log "cargo build --release"
            (cd "$LIB_REPO_ROOT" && cargo build --release) >&2 || { warn "cargo build --release failed"; return 1; }
        fi
        src_bin=${CARGO_TARGET_DIR:-$LIB_REPO_ROOT/target}/release/redistill
    fi
    [[ -x $src_bin ]] || { warn "$src_bin not found (build it, or drop --no-build)"; return 1; }
    cp -p "$src_bin" "$1/redistill"
    BIN_DESC=$(describe_bin "$1/redistill" "$src_bin")
    REDISTILL_KIND=redistill
    [[ $(basename "$src_bin") == redis-server* ]] && REDISTILL_KIND=redis
    return 0
}

# ------------------------------------------------------------- servers ---

# server_cmd KIND BIN PORT DIR [ARG...]: set SERVER_CMD to the command that
# starts KIND (redistill|redis) from BIN on 127.0.0.1:PORT with DIR as its
# directory. Redistill gets DIR/redistill.toml as its config (created empty
# when missing, so the repository's redistill.toml is never read), redis-server
# no persistence; ARG... are appended (--threads N, --maxmemory N, ...).
server_cmd() {
    local kind=$1 bin=$2 port=$3 dir=$4
    shift 4
    if [[ $kind == redistill ]]; then
        [[ -e $dir/redistill.toml ]] || : >"$dir/redistill.toml"
        SERVER_CMD=("$bin" --port "$port" --bind 127.0.0.1 --config "$dir/redistill.toml" "$@")
    else
        SERVER_CMD=("$bin" --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no
            --dir "$dir" "$@")
    fi
}

# launch_server DIR PORT TIMEOUT_S CMD...: run CMD in DIR (log in
# DIR/server.log) without the REDIS_* / REDISTILL_* variables of the caller's
# environment, wait until PORT answers PING and check that INFO's process_id
# is ours. Sets LAUNCHED_PID (also on failure, for cleanup); returns 1 when
# the server did not come up.
launch_server() {
    local dir=$1 port=$2 timeout_s=$3 pid
    shift 3
    (cd "$dir" && exec env -u REDIS_MAX_MEMORY -u REDISTILL_CONFIG -u REDIS_PASSWORD -u REDISTILL_THREADS \
        -u REDIS_PORT -u REDIS_BIND -u REDISTILL_CLUSTER_ENABLED -u REDISTILL_CLUSTER_NODE_ID \
        -u REDISTILL_CLUSTER_ANNOUNCE_IP -u REDISTILL_CLUSTER_ANNOUNCE_PORT "$@") >"$dir/server.log" 2>&1 </dev/null &
    LAUNCHED_PID=$!
    wait_for_ping "$port" "$LAUNCHED_PID" "$timeout_s" "$dir/server.log" || return 1
    pid=$(info_field "$port" server process_id)
    if [[ $pid != "$LAUNCHED_PID" ]]; then
        warn "port $port is answered by pid '$pid', not by the server just started ($LAUNCHED_PID)"
        return 1
    fi
}

# info_field PORT SECTION FIELD: one INFO field of the server on PORT.
info_field() {
    redis-cli -h 127.0.0.1 -p "$1" info "$2" </dev/null | tr -d '\r' | awk -F: -v f="$3" '$1 == f { print $2 }'
}

# proc_status_bytes PID FIELD: a /proc/PID/status memory field (VmRSS,
# VmHWM) in bytes. Pure bash (no fork), so a sampler can call it every
# 100 ms; fails when the process is gone.
proc_status_bytes() {
    local k v _
    while read -r k v _; do
        if [[ $k == "$2:" ]]; then
            echo $((v * 1024))
            return 0
        fi
    done <"/proc/$1/status"
    return 1
}

# mib BYTES: BYTES in MiB with one decimal.
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# finish_tmp_dir RC: remove TMP_DIR, or keep it (and say where) when RC is
# not 0 or KEEP_TMP is 1. For a script's EXIT trap.
finish_tmp_dir() {
    [[ -n ${TMP_DIR:-} && -d $TMP_DIR ]] || return 0
    if (($1 != 0)) || [[ ${KEEP_TMP:-0} == 1 ]]; then
        log "logs kept in $TMP_DIR"
    else
        rm -rf "$TMP_DIR"
    fi
}

# common_flag FLAG: the flags memory-per-key and write-flood share: --no-pin
# (PIN=0), --no-build (BUILD=0), -h/--help (print usage, exit 0). Returns 1
# for any other FLAG.
common_flag() {
    case $1 in
    --no-pin) PIN=0 ;;
    --no-build) BUILD=0 ;;
    -h | --help) usage; exit 0 ;;
    *) return 1 ;;
    esac
}

# install_traps: run the caller's cleanup function on exit, and exit on
# INT (130) and TERM (143) so that it runs then too.
install_traps() {
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
}

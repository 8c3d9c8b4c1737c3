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

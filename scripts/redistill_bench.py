"""redistill_bench - helpers shared by the Python scripts in scripts/.

Not a script of its own: differential.py, hit-ratio and hostile-clients import
it (they run as `python3 scripts/NAME`, so scripts/ is on sys.path). It holds
what each of them used to carry a copy of:

  * RESP2: encode a command, find where a reply ends, a connection (Conn)
    that reads replies parsed or as their exact bytes, INFO parsing;
  * servers: a Redistill or redis-server process (Server) on a free loopback
    port, started with a scrubbed environment, waited for with PING and
    checked by INFO process_id; stopped with TERM, then KILL;
  * /proc: RSS, peak RSS, open file descriptors of a process;
  * the Redistill binary: build it, take a private copy, describe the build.

Python 3 standard library only.
"""

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Environment variables with these prefixes are dropped from a server's
# environment (REDIS_PORT, REDIS_MAX_MEMORY, REDISTILL_CONFIG,
# REDISTILL_THREADS, ...), so the caller's environment cannot leak in.
SERVER_ENV_PREFIXES = ("REDIS_", "REDISTILL_")


class SetupError(RuntimeError):
    """The run could not be set up (a server did not start, a binary is missing)."""


class ProtocolError(ValueError):
    """Bytes from a server that are not RESP2."""


def log(msg, file=sys.stderr):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), file=file, flush=True)


# ---------------------------------------------------------------------------
# RESP2
# ---------------------------------------------------------------------------


def as_bytes(a):
    return a if isinstance(a, (bytes, bytearray)) else str(a).encode()


def encode(args):
    """The RESP2 array of bulk strings for one command (bytes, str or int)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = as_bytes(a)
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def reply_end(buf, i=0):
    """Offset just past the RESP2 reply starting at buf[i], or None if the
    reply is not complete yet. Raises ProtocolError on bytes that are not RESP2."""
    if i >= len(buf):
        return None
    le = buf.find(b"\r\n", i)
    if le < 0:
        return None
    kind = buf[i:i + 1]
    if kind in (b"+", b"-", b":"):
        return le + 2
    if kind == b"$":
        n = int(buf[i + 1:le])
        if n < 0:
            return le + 2
        end = le + 2 + n + 2
        return end if len(buf) >= end else None
    if kind == b"*":
        n = int(buf[i + 1:le])
        pos = le + 2
        for _ in range(max(n, 0)):
            pos = reply_end(buf, pos)
            if pos is None:
                return None
        return pos
    raise ProtocolError("not a RESP2 reply: %r" % bytes(buf[i:i + 80]))


def array_items(reply):
    """The raw elements of a RESP2 array reply (bytes), or None if it is not one."""
    if not reply.startswith(b"*") or reply.startswith(b"*-1"):
        return None
    le = reply.find(b"\r\n")
    items, pos = [], le + 2
    for _ in range(int(reply[1:le])):
        end = reply_end(reply, pos)
        items.append(reply[pos:end])
        pos = end
    return items


class Err(str):
    """An error reply, parsed (its text without the leading '-')."""


def parse_info(text):
    """INFO's text (bytes or str) as a dict of field -> value (str)."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode(errors="replace")
    fields = {}
    for line in text.splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            fields[k] = v.strip()
    return fields


class Conn:
    """A RESP2 connection to 127.0.0.1:port.

    call() / reply() give parsed replies (bytes, int, None, list or Err);
    call_raw() / read_raw() give each reply as its exact bytes. buf and pos
    are public so a hot loop can parse straight out of the buffer (more()
    reads more bytes into it)."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.pos = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, payload):
        self.sock.sendall(payload)

    def more(self):
        """Read more bytes into buf (dropping what was consumed)."""
        if self.pos:
            del self.buf[: self.pos]
            self.pos = 0
        chunk = self.sock.recv(1 << 18)
        if not chunk:
            raise ConnectionError("server closed the connection (unparsed: %r)" % bytes(self.buf[:200]))
        self.buf += chunk

    def line(self):
        while True:
            e = self.buf.find(b"\r\n", self.pos)
            if e >= 0:
                line = bytes(self.buf[self.pos:e])
                self.pos = e + 2
                return line
            self.more()

    def exact(self, n):
        while len(self.buf) - self.pos < n:
            self.more()
        data = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return data

    def read_raw(self):
        """One reply, as its exact bytes."""
        while True:
            end = reply_end(self.buf, self.pos)
            if end is not None:
                reply = bytes(self.buf[self.pos:end])
                self.pos = end
                return reply
            self.more()

    def reply(self):
        """One reply, parsed: bytes, int, None, list, or an Err."""
        line = self.line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest
        if kind == b"-":
            return Err(rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            if n < 0:
                return None
            return self.exact(n + 2)[:-2]
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ProtocolError("not a RESP2 reply: %r" % line[:100])

    def call(self, *args):
        self.send(encode(args))
        return self.reply()

    def call_raw(self, args):
        self.send(encode(args))
        return self.read_raw()

    def pipeline(self, commands):
        """Send every command at once; the parsed replies, in order."""
        self.send(b"".join(encode(c) for c in commands))
        return [self.reply() for _ in commands]

    def info(self, section):
        return parse_info(self.call("INFO", section))

    def config_get(self, name):
        """CONFIG GET name's value (str), or None."""
        r = self.call("CONFIG", "GET", name)
        return r[1].decode() if isinstance(r, list) and len(r) == 2 else None


def ping(port, timeout=1.0):
    """True when a server on port answers PING with PONG."""
    try:
        c = Conn(port, timeout=timeout)
        try:
            return c.call_raw([b"PING"]) == b"+PONG\r\n"
        finally:
            c.close()
    except (OSError, ProtocolError):
        return False


# ---------------------------------------------------------------------------
# /proc
# ---------------------------------------------------------------------------


def proc_status_bytes(pid, field="VmRSS"):
    """A /proc/PID/status memory field (VmRSS, VmHWM) in bytes; 0 if unknown."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def proc_fds(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def free_port(exclude=()):
    """A TCP port nothing listens on (the kernel's pick), not in exclude."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in exclude:
            return port


def server_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(SERVER_ENV_PREFIXES)}


class Server:
    """One server process, Redistill (kind "redistill") or redis-server
    (kind "redis"), on a loopback port.

    config: Redistill's TOML (written to NAME.toml; empty by default, so the
      repository's redistill.toml is never read); threads: its --threads.
    redis_args: extra redis-server arguments (e.g. --maxmemory N).
    pin_cpu: run under taskset -c pin_cpu.
    port: a fixed port (restarts reuse it); by default a free one per start.
    """

    used_ports = set()  # ports handed to servers of this run

    def __init__(self, kind, binary, workdir, name=None, config="", threads=None, redis_args=(),
                 pin_cpu=None, port=None):
        self.kind, self.binary, self.workdir = kind, binary, workdir
        self.name = name or kind
        self.config, self.threads, self.redis_args = config, threads, list(redis_args)
        self.pin_cpu = pin_cpu
        self.fixed_port = port
        self.port = port
        self.proc = None
        self.log_path = os.path.join(workdir, "%s.log" % self.name)

    def argv(self):
        pin = ["taskset", "-c", str(self.pin_cpu)] if self.pin_cpu is not None else []
        if self.kind == "redistill":
            conf = os.path.join(self.workdir, "%s.toml" % self.name)
            with open(conf, "w") as f:
                f.write(self.config)
            argv = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--config", conf]
            if self.threads is not None:
                argv += ["--threads", str(self.threads)]
            return pin + argv
        rdir = os.path.join(self.workdir, "%s.dir" % self.name)
        os.makedirs(rdir, exist_ok=True)
        return pin + [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--daemonize", "no", "--dir", rdir] + self.redis_args

    def start(self, timeout=20.0):
        """Start and wait for PONG; returns the seconds start-up took."""
        for _ in range(1 if self.fixed_port else 3):
            if not self.fixed_port:
                self.port = free_port(Server.used_ports)
            t0 = time.monotonic()
            with open(self.log_path, "ab") as logf:
                self.proc = subprocess.Popen(self.argv(), cwd=self.workdir, env=server_env(),
                                             stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT)
            while time.monotonic() - t0 < timeout and self.proc.poll() is None:
                if ping(self.port):
                    self._check_pid()
                    Server.used_ports.add(self.port)
                    return time.monotonic() - t0
                time.sleep(0.02)
            self.stop()
        raise SetupError("%s did not start; log %s:\n%s" % (self.name, self.log_path, self.log_tail()))

    def _check_pid(self):
        c = Conn(self.port, timeout=5)
        try:
            pid = int(c.info("server").get("process_id", "-1"))
        finally:
            c.close()
        if pid != self.proc.pid:
            raise SetupError("port %d answered from pid %d, not ours (%d)" % (self.port, pid, self.proc.pid))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def log_tail(self, n=30):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return ""

    def rss(self):
        return proc_status_bytes(self.proc.pid, "VmRSS")

    def fds(self):
        return proc_fds(self.proc.pid)

    def kill9(self):
        if self.alive():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def stop(self, wait=10):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# ---------------------------------------------------------------------------
# Binaries
# ---------------------------------------------------------------------------


def run_out(*argv):
    """The first line argv prints, or "?"."""
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def default_redistill_bin():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO_ROOT, "target"))
    return os.path.join(target, "release", "redistill")


def build_redistill():
    log("cargo build --release")
    if subprocess.call(["cargo", "build", "--release"], cwd=REPO_ROOT, stdout=sys.stderr) != 0:
        raise SetupError("cargo build --release failed")


def redis_server_bin(path=None):
    path = path or shutil.which("redis-server")
    if not path:
        raise SetupError("redis-server not found (apt-get install redis-server, or --redis-bin)")
    return path


def snapshot_binary(path, tmp):
    """Copy path into tmp (a rebuild by someone else mid-run must not change
    the binary between runs); returns (copy, description of the build)."""
    if not os.access(path, os.X_OK):
        raise SetupError("%s not found or not executable" % path)
    snap = os.path.join(tmp, os.path.basename(path))
    shutil.copy2(path, snap)
    return snap, describe_binary(path, snap)


def describe_binary(path, snap):
    """Which build was used: the path, its mtime, a hash, and the tree's state."""
    with open(snap, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    mtime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(snap)))
    head = run_out("git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD")
    dirty = subprocess.run(["git", "-C", REPO_ROOT, "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    return "%s, built %s, sha256 %s; tree at git %s%s" % (path, mtime, digest, head,
                                                           " + uncommitted changes" if dirty else "")

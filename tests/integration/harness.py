"""Shared helpers for integration tests: real processes on 127.0.0.1.

Everything here waits with bounded polls (wait_until), never bare sleeps.
Each test gets a temporary directory that is removed when the test passes
and kept (its path printed) when it fails, together with process logs.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import shutil
import time
import unittest

TOP_SRCDIR = os.environ.get("top_srcdir",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
RS_BIN = os.environ.get("RS_BIN", os.path.join(TOP_SRCDIR, "src", "raft-sentinel"))
REDIS_SERVER = os.environ.get("REDIS_SERVER") or shutil.which("redis-server") or "redis-server"

_used_ports = set()


def free_port():
    """A TCP port that nothing listens on now and that this run has not handed out."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        # Keep port+1000 free too: raft_port defaults to it.
        if port not in _used_ports and port + 1000 <= 65535:
            _used_ports.add(port)
            return port
    raise RuntimeError("no free port")


def wait_until(pred, timeout=10.0, interval=0.02, what="condition"):
    """Polls pred() until it returns a truthy value; fails the test after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


class Proc:
    """A child process with its output in a log file."""

    def __init__(self, args, log_path, cwd=None):
        self.args = args
        self.log_path = log_path
        self._log = open(log_path, "ab")
        self.p = subprocess.Popen(args, stdout=self._log, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, cwd=cwd)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def signal(self, sig):
        self.p.send_signal(sig)

    def wait(self, timeout=10.0):
        """Exit status, or AssertionError if it is still running after timeout."""
        try:
            return self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("%s still running after %.1fs" % (self.args[0], timeout))

    def alive(self):
        return self.p.poll() is None

    def kill(self):
        if self.alive():
            self.p.kill()
            self.p.wait(timeout=10)
        self._log.close()


class TestCase(unittest.TestCase):
    """Base class: a temp dir per test, process cleanup, logs kept on failure."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="rs-it-%s-" % self._testMethodName)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            p.kill()
        failed = self._outcome_failed()
        if failed:
            sys.stderr.write("kept test directory %s\n" % self.dir)
            for p in self.procs:
                sys.stderr.write("---- %s (%s)\n%s\n" % (" ".join(p.args), p.log_path, p.log()[-4000:]))
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _outcome_failed(self):
        # Python 3.11 records a failing test part in the result before
        # tearDown runs (older versions only cleared outcome.success).
        outcome = getattr(self, "_outcome", None)
        if outcome is None:
            return False
        result = getattr(outcome, "result", None)
        if result is not None and any(t is self for t, _ in result.failures + result.errors):
            return True
        return not getattr(outcome, "success", True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)

    def start(self, args, name):
        p = Proc(args, self.path(name + ".log"))
        self.procs.append(p)
        return p

    def run_rs(self, *args, timeout=30):
        """Runs raft-sentinel to completion: (exit status, stdout, stderr)."""
        r = subprocess.run([RS_BIN] + list(args), capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr


def monitor_config(id_, port, raft_port, data_dir, peers, masters=(), extra=""):
    """INI text for one monitor. peers: [(id, raft_port)]; masters: [(name, host, port, quorum)]."""
    lines = ["[sentinel]", "id = %s" % id_, "port = %d" % port, "raft_port = %d" % raft_port,
             "data_dir = %s" % data_dir, extra, "", "[peers]"]
    lines += ["%s = 127.0.0.1:%d" % (pid, pport) for pid, pport in peers]
    for name, host, mport, quorum in masters:
        lines += ["", "[master %s]" % name, "address = %s:%d" % (host, mport), "quorum = %d" % quorum]
    return "\n".join(lines) + "\n"


def main():
    """Runs the calling module's tests and prints the RESULT line scripts/check adds up."""
    module = sys.modules["__main__"]
    names = sys.argv[1:]
    loader = unittest.defaultTestLoader
    suite = (loader.loadTestsFromNames(names, module) if names
             else loader.loadTestsFromModule(module))
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("RESULT: %d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)


# ---- Redis protocol client (admin port and redis-server) -------------------

class RespError(Exception):
    """An error reply (-ERR ...): returned, not raised, by command()."""

    def __eq__(self, other):
        return isinstance(other, RespError) and str(self) == str(other)

    __hash__ = Exception.__hash__


class RespConn:
    """A minimal RESP2 client over one TCP connection, with timeouts."""

    def __init__(self, port, host="127.0.0.1", timeout=5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.buf = b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, *args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by peer")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("connection closed by peer")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def read(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n).decode("utf-8", "replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ValueError("bad RESP reply: %r" % line)

    def command(self, *args):
        self.send(*args)
        return self.read()


def command(port, *args, timeout=5.0):
    """One command on a fresh connection; error replies come back as RespError."""
    with RespConn(port, timeout=timeout) as c:
        return c.command(*args)


def try_command(port, *args, timeout=2.0):
    """Like command(), but None when the port does not answer (process down)."""
    try:
        return command(port, *args, timeout=timeout)
    except (OSError, ConnectionError):
        return None


def replica_count(port, name="mymaster", host="127.0.0.1"):
    """How many replicas SENTINEL REPLICAS lists (-1 while the set is unknown)."""
    with RespConn(port, host=host) as c:
        r = c.command("SENTINEL", "REPLICAS", name)
    return len(r) if isinstance(r, list) else -1


def pairs(flat):
    """A flat [k1, v1, k2, v2, ...] reply as a dict."""
    return dict(zip(flat[0::2], flat[1::2]))


# ---- a monitor group on loopback ----------------------------------------------

class Group:
    """N raft-sentinel monitors with their own ports, data dirs and logs."""

    def __init__(self, tc, n=3, election_timeout_ms=1000, heartbeat_ms=100, extra="",
                 masters=(), peer_secret="", master_extra=""):
        self.tc = tc
        self.ids = ["m%d" % (i + 1) for i in range(n)]
        self.admin = {m: free_port() for m in self.ids}
        self.raft = {m: free_port() for m in self.ids}
        self.election_timeout_ms = election_timeout_ms
        self.heartbeat_ms = heartbeat_ms
        self.extra = extra
        self.masters = list(masters)
        self.master_extra = master_extra
        self.secret = {m: peer_secret for m in self.ids}
        self.procs = {}
        self.initial = list(self.ids)
        self.log_level = "verbose"
        self.hosts = {}         # id -> IP (default 127.0.0.1)
        self.netns = {}         # id -> network namespace to run in
        self.password = ""
        for line in extra.splitlines():
            if line.replace(" ", "").startswith("requirepass="):
                self.password = line.split("=", 1)[1].strip()

    def add_id(self, mid):
        """A new monitor (not yet a member) with its own ports."""
        self.ids.append(mid)
        self.admin[mid] = free_port()
        self.raft[mid] = free_port()
        self.secret[mid] = self.secret[self.ids[0]]

    def host(self, mid):
        return self.hosts.get(mid, "127.0.0.1")

    def config_text(self, mid, join=False):
        peers = self.initial if not join else self.initial + [mid]
        host = self.host(mid)
        bind = host if mid in self.netns or host == "127.0.0.1" else "127.0.0.1 " + host
        lines = ["[sentinel]", "id = %s" % mid, "bind = %s" % bind,
                 "port = %d" % self.admin[mid],
                 "raft_port = %d" % self.raft[mid],
                 "data_dir = %s" % self.tc.path("data-" + mid),
                 "election_timeout_ms = %d" % self.election_timeout_ms,
                 "heartbeat_ms = %d" % self.heartbeat_ms,
                 "log_level = %s" % self.log_level,
                 "peer_secret = %s" % self.secret[mid]]
        if join:
            lines.append("join = yes")
        lines.append(self.extra)
        lines += ["", "[peers]"] + ["%s = %s:%d" % (p, self.host(p), self.raft[p]) for p in peers]
        for name, host, port, quorum in self.masters:
            lines += ["", "[master %s]" % name, "address = %s:%d" % (host, port),
                      "quorum = %d" % quorum, self.master_extra]
        return "\n".join(lines) + "\n"

    def start(self, mid, join=False):
        path = self.tc.write(mid + ".ini", self.config_text(mid, join))
        prefix = ["ip", "netns", "exec", self.netns[mid]] if mid in self.netns else []
        p = self.tc.start(prefix + [RS_BIN, "--config", path], mid + "-%d" % len(self.tc.procs))
        self.procs[mid] = p
        # Any reply will do: with requirepass set, PING answers -NOAUTH.
        wait_until(lambda: self.try_cmd(mid, "PING") is not None or not p.alive(),
                   timeout=20, what="%s admin port" % mid)
        self.tc.assertTrue(p.alive(), "%s exited:\n%s" % (mid, p.log()))
        return p

    def start_all(self):
        for m in list(self.initial):
            self.start(m)

    def running(self):
        return [m for m, p in self.procs.items() if p.alive()]

    def stop(self, mid, sig=signal.SIGTERM, timeout=30):
        p = self.procs[mid]
        p.signal(sig)
        rc = p.wait(timeout)
        p.kill()
        return rc

    def cmd(self, mid, *args, timeout=5.0):
        """A command to monitor mid (on its own address), authenticated if needed."""
        with RespConn(self.admin[mid], host=self.host(mid), timeout=timeout) as c:
            if self.password:
                c.command("AUTH", self.password)
            return c.command(*args)

    def try_cmd(self, mid, *args):
        try:
            return self.cmd(mid, *args, timeout=2.0)
        except (OSError, ConnectionError):
            return None

    def status(self, mid):
        try:
            with RespConn(self.admin[mid], host=self.host(mid), timeout=2.0) as c:
                if self.password:
                    c.command("AUTH", self.password)
                reply = c.command("RAFT", "STATUS")
        except (OSError, ConnectionError):
            return None
        return pairs(reply) if isinstance(reply, list) else None

    def wait_leader(self, members=None, timeout=20):
        """Waits until every running member (or those given) reports the same leader and
        term; returns (leader, term)."""
        def agreed():
            ids = members or self.running()
            sts = [self.status(m) for m in ids]
            if any(s is None for s in sts):
                return None
            views = {(s["leader"], s["term"]) for s in sts}
            if len(views) == 1:
                leader, term = views.pop()
                if leader and self.status(leader) and self.status(leader)["role"] == "leader":
                    return leader, int(term)
            return None
        return wait_until(agreed, timeout=timeout, what="one agreed leader")

    def log(self, mid):
        return self.procs[mid].log()


# ---- real redis-server instances ---------------------------------------------

class RedisSet:
    """A redis-server master with replicas on 127.0.0.1, each in its own dir."""

    def __init__(self, tc, replicas=2, master_args=(), replica_args=None, bind="127.0.0.1",
                 passwords=None):
        self.tc = tc
        self.bind = bind
        self.passwords = passwords or {}
        self.ports = [free_port() for _ in range(replicas + 1)]
        self.procs = [None] * (replicas + 1)
        self.args = [list(master_args)] + [list((replica_args or {}).get(i, ()))
                                          for i in range(1, replicas + 1)]
        for i in range(replicas + 1):
            self.start(i)
        for i in range(1, replicas + 1):
            wait_until(lambda: self.info(i).get("master_link_status") == "up", timeout=20,
                       what="replica %d linked" % i)

    @property
    def master_port(self):
        return self.ports[0]

    def start(self, i):
        d = self.tc.path("redis-%d" % i)
        os.makedirs(d, exist_ok=True)
        # protected-mode off: partition tests reach it on a veth address.
        args = [REDIS_SERVER, "--port", str(self.ports[i]), "--bind", self.bind, "--dir", d,
                "--save", "", "--appendonly", "no", "--daemonize", "no",
                "--protected-mode", "no"]
        if i > 0:
            args += ["--replicaof", "127.0.0.1", str(self.ports[0])]
        args += self.args[i]
        self.procs[i] = self.tc.start(args, "redis-%d-%d" % (i, len(self.tc.procs)))
        wait_until(lambda: self.try_ping(i), timeout=20, what="redis %d up" % i)

    def try_ping(self, i):
        r = try_command(self.ports[i], "PING")
        return r == "PONG" or isinstance(r, RespError)

    def cmd(self, i, *args):
        with RespConn(self.ports[i]) as c:
            if self.passwords.get(i):
                c.command("AUTH", self.passwords[i])
            return c.command(*args)

    def info(self, i, section="replication"):
        try:
            text = self.cmd(i, "INFO", section) or ""
        except (OSError, ConnectionError):
            return {}
        if isinstance(text, RespError):
            return {}
        return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def subscribe(port, *channels, password=""):
    """A connection in subscribe mode; read messages with next_message()."""
    c = RespConn(port, timeout=30)
    if password:
        c.command("AUTH", password)
    c.send("SUBSCRIBE", *channels)
    for _ in channels:
        c.read()
    return c


def next_message(conn, timeout):
    """The next pub/sub message as (channel, data), or None after timeout seconds."""
    conn.sock.settimeout(timeout)
    try:
        msg = conn.read()
    except (socket.timeout, TimeoutError):
        return None
    finally:
        conn.sock.settimeout(30)
    return (msg[1], msg[2]) if isinstance(msg, list) and msg and msg[0] == "message" else None

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
        # unittest records a failing test part in _outcome before tearDown.
        outcome = getattr(self, "_outcome", None)
        return outcome is not None and not outcome.success

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
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules["__main__"])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    print("RESULT: %d passed, %d failed" % (result.testsRun - failed, failed))
    sys.exit(0 if failed == 0 and result.testsRun > 0 else 1)

#!/usr/bin/env python3
"""Monitor group benchmarks (issue: monitor group runtime).

    bench/group_bench.py [--build DIR] [--runs 20] [--sets 2000] [--entries 100000]

Prints, for a 3-monitor group on 127.0.0.1 (election_timeout_ms 1000,
heartbeat_ms 100):
  * re-election time after kill -9 of the leader: from the kill to the moment
    both survivors agree on a new leader (median, max over --runs runs);
  * commit latency of SENTINEL SET on the leader and via a follower
    (p50, p99 over --sets writes, one at a time);
  * restart-to-serving time of a monitor with --entries applied entries:
    from exec to the first RAFT STATUS answer that shows it caught up.
Uses the same harness as the integration tests.
"""
import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
from harness import command, wait_until  # noqa: E402


class Bench(harness.TestCase):
    """Reuses TestCase's temp dir and process cleanup; not run by unittest."""

    def runTest(self):
        pass


def pct(values, p):
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def reelection(runs):
    times = []
    for i in range(runs):
        b = Bench()
        b.setUp()
        try:
            g = harness.Group(b, election_timeout_ms=1000, heartbeat_ms=100)
            g.start_all()
            leader, term = g.wait_leader()
            rest = [m for m in g.ids if m != leader]
            t0 = time.monotonic()
            g.procs[leader].signal(signal.SIGKILL)

            def new_leader():
                sts = [g.status(m) for m in rest]
                if all(s and s["leader"] in rest and int(s["term"]) > term for s in sts) and \
                        len({s["leader"] for s in sts}) == 1:
                    return True
                return False
            wait_until(new_leader, timeout=30, interval=0.005, what="new leader")
            times.append((time.monotonic() - t0) * 1000)
        finally:
            b.tearDown()
    return times


def commit_latency(n):
    b = Bench()
    b.setUp()
    try:
        g = harness.Group(b)
        g.start_all()
        leader, _ = g.wait_leader()
        follower = next(m for m in g.ids if m != leader)
        command(g.admin[leader], "SENTINEL", "MONITOR", "bench", "10.0.0.1", 6379, 2)
        out = {}
        for who, port in (("leader", g.admin[leader]), ("follower", g.admin[follower])):
            with harness.RespConn(port) as c:
                lat = []
                for i in range(n):
                    t0 = time.perf_counter()
                    r = c.command("SENTINEL", "SET", "bench", "down-after-milliseconds",
                                  str(1000 + i))
                    lat.append((time.perf_counter() - t0) * 1000)
                    assert r == "OK", r
            out[who] = lat
        return out
    finally:
        b.tearDown()


def restart_to_serving(entries):
    b = Bench()
    b.setUp()
    try:
        g = harness.Group(b, extra="snapshot_entries = %d" % (entries * 2))
        g.start_all()
        leader, _ = g.wait_leader()
        command(g.admin[leader], "SENTINEL", "MONITOR", "bench", "10.0.0.1", 6379, 2)
        victim = next(m for m in g.ids if m != leader)
        # Each connection's writes are answered in order, one commit at a
        # time; 32 connections let the leader batch them (group commit).
        def writer(k, count):
            with harness.RespConn(g.admin[leader], timeout=60) as c:
                for i in range(count):
                    r = c.command("SENTINEL", "SET", "bench", "quorum", str(1 + (i + k) % 3))
                    assert r == "OK", r
        threads = [threading.Thread(target=writer, args=(k, entries // 32)) for k in range(32)]
        t_fill = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        fill_s = time.monotonic() - t_fill
        print("  (filled %d entries in %.1f s: %.0f commits/s with 32 clients)"
              % (entries, fill_s, entries / fill_s))
        target = int(g.status(leader)["commit_index"])
        wait_until(lambda: int(g.status(victim)["applied_index"]) >= target, timeout=120,
                   what="victim caught up")
        g.stop(victim)
        g.stop(leader)      # nobody can feed it: it serves from its own disk
        t0 = time.monotonic()
        p = harness.Proc([harness.RS_BIN, "--config", b.path(victim + ".ini")],
                         b.path(victim + "-restart.log"))
        b.procs.append(p)
        wait_until(lambda: (harness.try_command(g.admin[victim], "RAFT", "STATUS") or
                            [None])[0] is not None and
                   int(harness.pairs(harness.command(g.admin[victim], "RAFT", "STATUS"))
                       ["applied_index"]) >= target - 1,
                   timeout=120, interval=0.005, what="serving")
        return (time.monotonic() - t0) * 1000, target
    finally:
        b.tearDown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--sets", type=int, default=2000)
    ap.add_argument("--entries", type=int, default=100000)
    args = ap.parse_args()
    print("binary: %s" % harness.RS_BIN)
    t = reelection(args.runs)
    print("re-election after kill -9 (election_timeout_ms 1000, %d runs): median %.0f ms, "
          "min %.0f ms, max %.0f ms" % (len(t), statistics.median(t), min(t), max(t)))
    lat = commit_latency(args.sets)
    for who in ("leader", "follower"):
        v = lat[who]
        print("SENTINEL SET commit latency via %s (%d writes): p50 %.2f ms, p99 %.2f ms"
              % (who, len(v), pct(v, 50), pct(v, 99)))
    ms, n = restart_to_serving(args.entries)
    print("restart-to-serving with %d applied entries: %.0f ms" % (n, ms))


if __name__ == "__main__":
    main()

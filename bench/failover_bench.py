#!/usr/bin/env python3
"""Failover time, side by side with Redis Sentinel.

    bench/failover_bench.py [--runs 10] [--down-after 1000 5000]

For each down_after_ms and each of raft-sentinel (3 monitors) and Redis
Sentinel (3 sentinels, quorum 2), --runs times: a master with 2 replicas,
kill -9 of the master, then
  (a) the first successful write on the new master, found the way a client
      finds it: SENTINEL GET-MASTER-ADDR-BY-NAME on one monitor, then SET
      there (polled every 10 ms);
  (b) the moment every monitor answers the new address.
Reported as the excess over down_after_ms (median, min, max).
"""
import argparse
import os
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, HERE)
import harness  # noqa: E402
from harness import wait_until  # noqa: E402
from monitor_bench import Bench, start_sentinels  # noqa: E402


def get_addr(port):
    r = harness.try_command(port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster", timeout=0.5)
    return (r[0], int(r[1])) if isinstance(r, list) else None


def try_write(addr):
    try:
        with harness.RespConn(addr[1], host=addr[0], timeout=0.2) as c:
            return c.command("SET", "bench", "x") == "OK"
    except (OSError, ConnectionError):
        return False


def one_run(kind, down_after):
    b = Bench()
    b.setUp()
    try:
        rs = harness.RedisSet(b, replicas=2)
        if kind == "raft-sentinel":
            g = harness.Group(b, masters=[("mymaster", "127.0.0.1", rs.master_port, 2)],
                              master_extra="down_after_ms = %d" % down_after)
            g.log_level = "notice"
            g.start_all()
            g.wait_leader()
            ports = [g.admin[m] for m in g.ids]
            wait_until(lambda: all(harness.replica_count(p) == 2 for p in ports), timeout=30,
                       what="replicas")
        else:
            ports = start_sentinels(b, rs.master_port, down_after=down_after)
            wait_until(lambda: all(harness.pairs(harness.command(
                p, "SENTINEL", "MASTER", "mymaster"))["num-other-sentinels"] == "2" and
                harness.pairs(harness.command(p, "SENTINEL", "MASTER", "mymaster"))
                ["num-slaves"] == "2" for p in ports), timeout=60, what="sentinels ready")
        old = ("127.0.0.1", rs.master_port)
        t0 = time.monotonic()
        rs.procs[0].signal(signal.SIGKILL)
        t_write = t_all = None
        deadline = t0 + 120
        while (t_write is None or t_all is None) and time.monotonic() < deadline:
            addrs = [get_addr(p) for p in ports]
            now = time.monotonic()
            if t_all is None and all(a and a != old for a in addrs) and len(set(addrs)) == 1:
                t_all = now
            a = addrs[0]
            if t_write is None and a and a != old and try_write(a):
                t_write = time.monotonic()
            time.sleep(0.01)
        if t_write is None or t_all is None:
            raise RuntimeError("%s: failover did not complete" % kind)
        return (t_write - t0) * 1000 - down_after, (t_all - t0) * 1000 - down_after
    finally:
        b.tearDown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--down-after", type=int, nargs="+", default=[1000, 5000])
    ap.add_argument("--kinds", nargs="+", default=["raft-sentinel", "redis-sentinel"])
    args = ap.parse_args()
    print("binary: %s" % harness.RS_BIN)
    for da in args.down_after:
        for kind in args.kinds:
            w, a = [], []
            for _ in range(args.runs):
                x, y = one_run(kind, da)
                w.append(x)
                a.append(y)
            print("%-14s down_after_ms %5d, %d runs: excess to first write on the new master: "
                  "median %.0f ms (min %.0f, max %.0f); to every monitor answering it: median "
                  "%.0f ms (min %.0f, max %.0f)" % (kind, da, args.runs, statistics.median(w),
                                                     min(w), max(w), statistics.median(a),
                                                     min(a), max(a)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()

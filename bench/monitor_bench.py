#!/usr/bin/env python3
"""Watching Redis: detection latency and idle cost, side by side with Redis Sentinel.

    bench/monitor_bench.py [--runs 10] [--masters 200] [--seconds 30]

1. Detection latency at down_after_ms 1000: 3 monitors (or 3 Redis
   Sentinels, quorum 2) watch a master with one replica; kill -9 of the
   master; time until the first +sdown and the first +odown message on a
   monitor's pub/sub (median, max over --runs runs each).
2. Steady state: one raft-sentinel monitor (a group of one) and one Redis
   Sentinel each watching --masters redis-server masters at down_after 1000;
   CPU (utime+stime over --seconds) and RSS of the monitor process.
"""
import argparse
import os
import signal
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
from harness import next_message, subscribe, wait_until  # noqa: E402

SENTINEL_BIN = "/usr/bin/redis-sentinel"


class Bench(harness.TestCase):
    def runTest(self):
        pass


def start_sentinels(b, master_port, n=3, quorum=2, masters=None, down_after=1000):
    """n Redis Sentinels; masters = [(name, port)] (default one 'mymaster')."""
    masters = masters or [("mymaster", master_port)]
    ports = []
    for k in range(n):
        port = harness.free_port()
        ports.append(port)
        lines = ["port %d" % port, "bind 127.0.0.1", "dir %s" % b.dir,
                 "sentinel resolve-hostnames no"]
        for name, mport in masters:
            lines += ["sentinel monitor %s 127.0.0.1 %d %d" % (name, mport, quorum),
                      "sentinel down-after-milliseconds %s %d" % (name, down_after),
                      "sentinel failover-timeout %s 60000" % name]
        path = b.write("sentinel-%d.conf" % k, "\n".join(lines) + "\n")
        b.start([SENTINEL_BIN, path], "sentinel-%d" % k)
        wait_until(lambda: harness.try_command(port, "PING") == "PONG", what="sentinel up")
    return ports


def detection_run(kind):
    b = Bench()
    b.setUp()
    try:
        rs = harness.RedisSet(b, replicas=1)
        if kind == "raft-sentinel":
            g = harness.Group(b, masters=[("mymaster", "127.0.0.1", rs.master_port, 2)],
                              master_extra="down_after_ms = 1000")
            g.start_all()
            g.wait_leader()
            port = g.admin["m1"]
            wait_until(lambda: "127.0.0.1:%d" % rs.ports[1] in str(
                harness.command(port, "SENTINEL", "REPLICAS", "mymaster")), timeout=30,
                what="replica known")
        else:
            port = start_sentinels(b, rs.master_port)[0]
            # Let the sentinels find each other (hello messages every 2 s).
            wait_until(lambda: harness.pairs(harness.command(
                port, "SENTINEL", "MASTER", "mymaster"))["num-other-sentinels"] == "2",
                timeout=30, what="sentinels discovered")
        c = subscribe(port, "+sdown", "+odown")
        t0 = time.monotonic()
        rs.procs[0].signal(signal.SIGKILL)
        got = {}
        while len(got) < 2:
            msg = next_message(c, timeout=30)
            if msg is None:
                raise RuntimeError("%s: no event after kill" % kind)
            if msg[1].startswith("master mymaster") and msg[0] not in got:
                got[msg[0]] = (time.monotonic() - t0) * 1000
        c.close()
        return got["+sdown"], got["+odown"]
    finally:
        b.tearDown()


def cpu_rss(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return ticks / os.sysconf("SC_CLK_TCK"), rss


def steady_state(nmasters, seconds):
    b = Bench()
    b.setUp()
    try:
        ports = []
        for k in range(nmasters):
            p = harness.free_port()
            ports.append(p)
            d = b.path("r%d" % k)
            os.makedirs(d)
            b.start([harness.REDIS_SERVER, "--port", str(p), "--bind", "127.0.0.1", "--dir", d,
                     "--save", "", "--appendonly", "no"], "r%d" % k)
        for p in ports:
            wait_until(lambda: harness.try_command(p, "PING") == "PONG", what="redis up")
        out = {}
        # raft-sentinel: a group of one monitor.
        g = harness.Group(b, n=1, masters=[("m%d" % k, "127.0.0.1", p, 1)
                                           for k, p in enumerate(ports)],
                          master_extra="down_after_ms = 1000")
        g.log_level = "notice"
        g.start_all()
        g.wait_leader()
        wait_until(lambda: len(harness.command(g.admin["m1"], "SENTINEL", "MASTERS")) == nmasters,
                   timeout=60, what="all masters seeded")
        time.sleep(3)   # settle: links up, first INFO done (not a test wait)
        pid = g.procs["m1"].p.pid
        c0, _ = cpu_rss(pid)
        time.sleep(seconds)
        c1, rss = cpu_rss(pid)
        out["raft-sentinel"] = (100.0 * (c1 - c0) / seconds, rss)
        g.stop("m1")
        sp = start_sentinels(b, 0, n=1, quorum=1,
                             masters=[("m%d" % k, p) for k, p in enumerate(ports)])[0]
        wait_until(lambda: len(harness.command(sp, "SENTINEL", "MASTERS")) == nmasters,
                   what="sentinel masters")
        time.sleep(3)
        spid = b.procs[-1].p.pid
        c0, _ = cpu_rss(spid)
        time.sleep(seconds)
        c1, rss = cpu_rss(spid)
        out["redis-sentinel"] = (100.0 * (c1 - c0) / seconds, rss)
        return out
    finally:
        b.tearDown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--masters", type=int, default=200)
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--skip-detection", action="store_true")
    args = ap.parse_args()
    print("binary: %s" % harness.RS_BIN)
    if not args.skip_detection:
        for kind in ("raft-sentinel", "redis-sentinel"):
            sd, od = [], []
            for _ in range(args.runs):
                s, o = detection_run(kind)
                sd.append(s)
                od.append(o)
            print("%-14s kill -9 -> +sdown: median %.0f ms, max %.0f ms; -> +odown: median "
                  "%.0f ms, max %.0f ms (down_after_ms 1000, %d runs)"
                  % (kind, statistics.median(sd), max(sd), statistics.median(od), max(od),
                     args.runs))
    res = steady_state(args.masters, args.seconds)
    for kind, (cpu, rss) in res.items():
        print("%-14s watching %d masters at down_after_ms 1000: CPU %.1f%% of one core, "
              "RSS %.1f MiB" % (kind, args.masters, cpu, rss / 1024.0))


if __name__ == "__main__":
    main()

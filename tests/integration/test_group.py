"""A monitor group of real raft-sentinel processes on 127.0.0.1: election,
replicated writes through any monitor, crashes, restarts, snapshots,
membership changes, hostile bytes and damaged disks."""
import glob
import os
import random
import signal
import socket
import time

import harness
from harness import RespError, command, pairs, wait_until


def masters(port, name=None):
    reply = command(port, "SENTINEL", "MASTERS")
    return {pairs(m)["name"]: pairs(m) for m in reply}


class GroupTest(harness.TestCase):

    def group(self, **kw):
        g = harness.Group(self, **kw)
        g.start_all()
        return g

    def test_one_leader_everyone_agrees(self):
        g = self.group()
        leader, term = g.wait_leader()
        self.assertIn(leader, g.ids)
        roles = sorted(g.status(m)["role"] for m in g.ids)
        self.assertEqual(roles, ["follower", "follower", "leader"])
        for m in g.ids:
            st = g.status(m)
            self.assertEqual(st["id"], m)
            self.assertEqual(sorted(st["members"].split()), ["m1", "m2", "m3"])
            self.assertEqual(int(st["term"]), term)
        self.assertEqual(command(g.admin[leader], "SENTINEL", "MYID"), leader)

    def test_monitor_via_follower_replicates_and_survives_restart(self):
        g = self.group()
        leader, _ = g.wait_leader()
        follower = next(m for m in g.ids if m != leader)
        reply = command(g.admin[follower], "SENTINEL", "MONITOR", "cache", "10.0.0.7", 6380, 2)
        self.assertEqual(reply, "OK")
        # Replied only after commit: the follower that answered already has it.
        self.assertEqual(command(g.admin[follower], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                 "cache"), ["10.0.0.7", "6380"])
        for m in g.ids:
            wait_until(lambda: "cache" in masters(g.admin[m]), what="cache on %s" % m)
        self.assertEqual(command(g.admin[leader], "SENTINEL", "MONITOR", "cache",
                                 "10.0.0.8", 6380, 2),
                         RespError("ERR Duplicated master name"))
        self.assertEqual(command(g.admin[follower], "SENTINEL", "SET", "cache",
                                 "down-after-milliseconds", "5000"), "OK")
        for m in g.ids:
            g.stop(m)
        g.start_all()
        g.wait_leader()
        for m in g.ids:
            ms = masters(g.admin[m])
            self.assertEqual(ms["cache"]["ip"], "10.0.0.7")
            self.assertEqual(ms["cache"]["down-after-milliseconds"], "5000")
        self.assertIsNone(command(g.admin["m1"], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "nope"))

    def test_kill9_leader_new_leader_and_catch_up_through_snapshot(self):
        g = self.group(extra="snapshot_entries = 20")
        leader, term = g.wait_leader()
        command(g.admin[leader], "SENTINEL", "MONITOR", "s", "10.0.0.1", 6379, 2)
        t0 = time.monotonic()
        g.procs[leader].signal(signal.SIGKILL)
        g.procs[leader].wait()
        rest = [m for m in g.ids if m != leader]
        new_leader, new_term = g.wait_leader(rest, timeout=20)
        elapsed_ms = (time.monotonic() - t0) * 1000
        print("re-election after kill -9: %.0f ms (election_timeout_ms %d)"
              % (elapsed_ms, g.election_timeout_ms))
        self.assertNotEqual(new_leader, leader)
        self.assertGreater(new_term, term)
        # Liveness bound, not a speed test (docs/benchmarks.md has figures):
        # two election timeouts plus slack for sanitizer builds under load.
        self.assertLess(elapsed_ms, 2 * g.election_timeout_ms + 1500)
        # Enough writes while it is down that the log is compacted past it.
        for i in range(60):
            self.assertEqual(command(g.admin[new_leader], "SENTINEL", "SET", "s",
                                     "down-after-milliseconds", str(1000 + i)), "OK")
        st = g.status(new_leader)
        self.assertGreater(int(st["snapshot_index"]), 0)
        g.start(leader)
        target = int(g.status(new_leader)["commit_index"])
        wait_until(lambda: int((g.status(leader) or {"applied_index": 0})["applied_index"])
                   >= target, timeout=20, what="restarted node caught up")
        self.assertEqual(masters(g.admin[leader])["s"]["down-after-milliseconds"], "1059")
        self.assertIn("snapshot", g.log(leader))

    def test_add_and_remove_peer(self):
        g = self.group()
        leader, _ = g.wait_leader()
        g.add_id("m4")
        g.start("m4", join=True)
        follower = next(m for m in g.initial if m != leader)
        self.assertEqual(command(g.admin[follower], "RAFT", "ADD-PEER", "m4",
                                 "127.0.0.1:%d" % g.raft["m4"]), "OK")
        # learner first, then promoted to voter once caught up
        wait_until(lambda: "m4" in g.status(leader)["members"].split(), timeout=20,
                   what="m4 becomes a voter")
        wait_until(lambda: g.status("m4")["role"] == "follower", what="m4 follower")
        self.assertEqual(command(g.admin["m4"], "SENTINEL", "MONITOR", "x", "10.0.0.2",
                                 6379, 2), "OK")
        victim = next(m for m in g.initial if m != leader and m != follower)
        self.assertEqual(command(g.admin[leader], "RAFT", "REMOVE-PEER", victim), "OK")
        wait_until(lambda: victim not in g.status(leader)["members"].split(),
                   what="victim removed")
        g.stop(victim)
        leader, _ = g.wait_leader([m for m in g.ids if m != victim])
        self.assertEqual(command(g.admin[follower], "SENTINEL", "SET", "x", "quorum", "3"), "OK")
        for m in (leader, follower, "m4"):
            wait_until(lambda: masters(g.admin[m])["x"]["quorum"] == "3", what="set on " + m)

    def test_wrong_peer_secret_refused_and_garbage_harmless(self):
        g = harness.Group(self, peer_secret="right-secret")
        g.secret["m3"] = "wrong-secret"
        g.start_all()
        leader, _ = g.wait_leader(["m1", "m2"])
        wait_until(lambda: "authentication" in g.log("m3") or
                   "authentication" in g.log("m1"), what="refusal logged")
        self.assertNotEqual(g.status("m3")["leader"], leader)
        # Random bytes on the raft and admin ports: those connections die, nothing else.
        rnd = random.Random(7)
        for port in (g.raft[leader], g.admin[leader], g.raft["m2"]):
            for _ in range(5):
                with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                    try:
                        s.sendall(bytes(rnd.getrandbits(8) for _ in range(4096)))
                        s.recv(100)
                    except OSError:
                        pass
        self.assertEqual(command(g.admin[leader], "SENTINEL", "MONITOR", "y", "10.0.0.3",
                                 6379, 1), "OK")
        self.assertEqual(g.wait_leader(["m1", "m2"])[0], leader)
        for m in g.ids:
            self.assertTrue(g.procs[m].alive())

    def test_damaged_log_refused_torn_tail_recovered(self):
        g = self.group()
        leader, _ = g.wait_leader()
        for i in range(30):
            command(g.admin[leader], "SENTINEL", "MONITOR", "d%d" % i, "10.0.1.%d" % i, 6379, 2)
        victim = next(m for m in g.ids if m != leader)
        wait_until(lambda: int(g.status(victim)["applied_index"]) >=
                   int(g.status(leader)["commit_index"]), what="victim caught up")
        g.stop(victim)
        segs = sorted(glob.glob(self.path("data-%s/*.seg" % victim)))
        self.assertTrue(segs, os.listdir(self.path("data-" + victim)))
        seg = segs[-1]
        size = os.path.getsize(seg)
        # Torn tail: a crash in the middle of an append that was never
        # synced leaves a partial record after the durable ones; the node
        # cuts it off (with a log line) and recovers.
        with open(seg, "ab") as f:
            f.write(b"\x40\x00\x00\x00\x13\x37")
        g.start(victim)
        wait_until(lambda: "torn" in g.log(victim) or "truncat" in g.log(victim),
                   what="torn tail logged")
        wait_until(lambda: "d29" in masters(g.admin[victim]), what="recovered state")
        g.stop(victim)
        # Damage in the middle: refuses to start, naming the file and offset.
        with open(seg, "r+b") as f:
            f.seek(size // 2)
            b = f.read(1)
            f.seek(size // 2)
            f.write(bytes([b[0] ^ 0xFF]))
        p = self.start([harness.RS_BIN, "--config", self.path(victim + ".ini")],
                       victim + "-damaged")
        self.assertNotEqual(p.wait(30), 0)
        self.assertIn(os.path.basename(seg), p.log())
        self.assertRegex(p.log(), r"offset \d+")

    def test_announced_admin_address(self):
        g = self.group(extra="announce_ip = 127.0.0.2\nannounce_port = 6000")
        leader, _ = g.wait_leader()
        command(g.admin[leader], "SENTINEL", "MONITOR", "a", "10.0.0.9", 6379, 2)

        def others():
            r = command(g.admin["m1"], "SENTINEL", "SENTINELS", "a")
            return sorted((pairs(e)["name"], pairs(e)["ip"], pairs(e)["port"]) for e in r)
        wait_until(lambda: others() == [("m2", "127.0.0.2", "6000"), ("m3", "127.0.0.2", "6000")],
                   what="announced addresses")
        self.assertEqual(g.status("m1")["leader_admin"], "127.0.0.2:6000")

    def test_sigterm_on_leader_hands_over_first(self):
        g = self.group()
        leader, term = g.wait_leader()
        self.assertEqual(g.stop(leader), 0)
        self.assertIn("handing leadership to", g.log(leader))
        rest = [m for m in g.ids if m != leader]
        new_leader, new_term = g.wait_leader(rest, timeout=10)
        self.assertIn(new_leader, rest)
        # A transfer is one clean election: exactly one term later.
        self.assertEqual(new_term, term + 1)

    def test_stale_reads_no_answers_noquorum_when_cut_off(self):
        g = self.group(extra="stale_reads = no\nrequirepass = s3cret")
        leader, _ = g.wait_leader()
        port = g.admin[leader]
        with harness.RespConn(port) as c:
            self.assertEqual(c.command("SENTINEL", "MASTERS"),
                             RespError("NOAUTH Authentication required."))
            self.assertEqual(c.command("AUTH", "s3cret"), "OK")
            self.assertEqual(c.command("SENTINEL", "MONITOR", "z", "10.0.0.4", 6379, 2), "OK")
        survivor = next(m for m in g.ids if m != leader)
        for m in g.ids:
            if m != survivor:
                g.procs[m].signal(signal.SIGKILL)
                g.procs[m].wait()

        def noquorum():
            with harness.RespConn(g.admin[survivor]) as c:
                c.command("AUTH", "s3cret")
                r = c.command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "z")
                return isinstance(r, RespError) and str(r).startswith("NOQUORUM")
        wait_until(noquorum, timeout=15, what="-NOQUORUM from the cut-off monitor")
        with harness.RespConn(g.admin[survivor]) as c:
            c.command("AUTH", "s3cret")
            self.assertEqual(c.command("SENTINEL", "MYID"), survivor)


if __name__ == "__main__":
    harness.main()

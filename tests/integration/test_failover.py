"""Failover end to end: real redis-server master/replicas, a real monitor
group, and clients finding the new master through the admin ports."""
import os
import signal
import time

import harness
from harness import RespError, command, next_message, pairs, subscribe, wait_until

DOWN_AFTER = 1000


def addr(port_reply):
    return (port_reply[0], int(port_reply[1])) if isinstance(port_reply, list) else None


class FailoverTest(harness.TestCase):

    def setup_all(self, replica_args=None, n_replicas=2, extra=""):
        self.rs = harness.RedisSet(self, replicas=n_replicas, replica_args=replica_args)
        self.g = harness.Group(self, masters=[("mymaster", "127.0.0.1", self.rs.master_port, 2)],
                               master_extra="down_after_ms = %d\nfailover_timeout_ms = 10000\n%s"
                               % (DOWN_AFTER, extra))
        self.g.start_all()
        self.g.wait_leader()
        for m in self.g.ids:
            wait_until(lambda: harness.replica_count(self.g.admin[m]) == n_replicas,
                       timeout=30, what="replicas known on " + m)
        return self.rs, self.g

    def master_everywhere(self, port):
        for m in self.g.running():
            wait_until(lambda: addr(command(self.g.admin[m], "SENTINEL",
                                            "GET-MASTER-ADDR-BY-NAME", "mymaster"))
                       == ("127.0.0.1", port), timeout=30, what="%s answers %d" % (m, port))

    def test_kill9_master_one_promotion_everyone_follows(self):
        rs, g = self.setup_all()
        subs = {m: subscribe(g.admin[m], "+switch-master", "+promoted-slave") for m in g.ids}
        old = rs.master_port
        rs.procs[0].signal(signal.SIGKILL)
        switches = {}
        for m, c in subs.items():
            deadline = time.monotonic() + 30
            while m not in switches and time.monotonic() < deadline:
                msg = next_message(c, timeout=30)
                if msg and msg[0] == "+switch-master":
                    switches[m] = msg[1]
            c.close()
        self.assertEqual(len(set(switches.values())), 1, switches)   # exactly one promotion
        name, oip, oport, nip, nport = list(switches.values())[0].split()
        self.assertEqual((name, int(oport)), ("mymaster", old))
        new = int(nport)
        self.assertIn(new, rs.ports[1:])
        self.master_everywhere(new)
        self.assertEqual(rs.info(rs.ports.index(new))["role"], "master")
        other = [i for i in (1, 2) if rs.ports[i] != new][0]
        wait_until(lambda: rs.info(other).get("master_port") == str(new) and
                   rs.info(other).get("master_link_status") == "up", timeout=30,
                   what="the other replica follows the new master")
        # The old master comes back and is converted into a replica.
        rs.start(0)
        wait_until(lambda: rs.info(0).get("role") == "slave" and
                   rs.info(0).get("master_port") == str(new), timeout=30,
                   what="old master demoted")
        for m in g.ids:
            st = pairs(command(g.admin[m], "SENTINEL", "MASTER", "mymaster"))
            self.assertGreater(int(st["config-epoch"]), 0)
        # Exactly one promotion happened, in one epoch.
        for m in g.ids:
            self.assertEqual(g.log(m).count("+switch-master"), 1, m)

    def test_redis_py_client_resumes_writes(self):
        try:
            import redis.sentinel
        except ImportError:
            self.skipTest("python3-redis not installed")
        rs, g = self.setup_all()
        s = redis.sentinel.Sentinel([("127.0.0.1", g.admin[m]) for m in g.ids],
                                    socket_timeout=1)
        client = s.master_for("mymaster", socket_timeout=1)
        client.set("k", "before")
        rs.procs[0].signal(signal.SIGKILL)
        def write_ok():
            try:
                client.set("k", "after")
                return True
            except Exception:
                return False
        wait_until(write_ok, timeout=40, interval=0.1, what="writes resume")
        host, port = s.discover_master("mymaster")
        self.assertNotEqual(port, rs.master_port)

    def test_sigstop_master_then_demoted_on_sigcont(self):
        rs, g = self.setup_all()
        rs.procs[0].signal(signal.SIGSTOP)
        try:
            wait_until(lambda: addr(command(g.admin["m1"], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                            "mymaster"))[1] != rs.master_port,
                       timeout=40, what="failover while stopped")
        finally:
            rs.procs[0].signal(signal.SIGCONT)
        new = addr(command(g.admin["m1"], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"))[1]
        wait_until(lambda: rs.info(0).get("role") == "slave" and
                   rs.info(0).get("master_port") == str(new), timeout=40,
                   what="old master demoted after SIGCONT")
        # Demoted by the failover's reconfiguration (it is a replica in the
        # committed state) or by reconciliation if it came back later.
        logs = "".join(g.log(m) for m in g.ids)
        self.assertTrue("+convert-to-slave slave 127.0.0.1:%d" % rs.master_port in logs or
                        "+slave-reconf-sent slave 127.0.0.1:%d" % rs.master_port in logs)

    def test_kill9_master_and_raft_leader_together(self):
        rs, g = self.setup_all()
        leader, _ = g.wait_leader()
        rs.procs[0].signal(signal.SIGKILL)
        g.procs[leader].signal(signal.SIGKILL)
        rest = [m for m in g.ids if m != leader]
        for m in rest:
            wait_until(lambda: addr(command(g.admin[m], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                            "mymaster"))[1] != rs.master_port,
                       timeout=60, what="failover completed under the next leader on " + m)

    def test_no_good_replica_then_one_appears(self):
        rs, g = self.setup_all(replica_args={1: ["--replica-priority", "0"],
                                             2: ["--replica-priority", "0"]})
        rs.procs[0].signal(signal.SIGSTOP)
        try:
            wait_until(lambda: any("-failover-abort-no-good-slave" in g.log(m) for m in g.ids),
                       timeout=30, what="abort with no good replica")
            leader_log = "".join(g.log(m) for m in g.ids)
            self.assertIn("excluded: replica-priority 0", leader_log)
            reasons = [pairs(command(g.admin[m], "SENTINEL", "MASTER", "mymaster"))
                       .get("failover-exclusions", "") for m in g.ids]
            self.assertTrue(any("replica-priority 0" in r for r in reasons), reasons)
            rs.cmd(2, "CONFIG", "SET", "replica-priority", "10")
            wait_until(lambda: addr(command(g.admin["m1"], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                            "mymaster"))[1] == rs.ports[2],
                       timeout=60, what="failover once a good replica appears")
        finally:
            rs.procs[0].signal(signal.SIGCONT)

    def test_manual_failover_and_parallel_syncs_1_with_3_replicas(self):
        rs, g = self.setup_all(n_replicas=3, extra="parallel_syncs = 1")
        follower = next(m for m in g.ids if g.status(m)["role"] == "follower")
        self.assertEqual(command(g.admin[follower], "SENTINEL", "FAILOVER", "mymaster"), "OK")
        wait_until(lambda: addr(command(g.admin["m1"], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                        "mymaster"))[1] != rs.master_port,
                   timeout=30, what="manual failover")
        new = addr(command(g.admin["m1"], "SENTINEL", "GET-MASTER-ADDR-BY-NAME", "mymaster"))[1]
        for i in range(4):
            if rs.ports[i] == new:
                continue
            wait_until(lambda: rs.info(i).get("master_port") == str(new), timeout=60,
                       what="instance %d follows the new master" % i)
        self.assertIn("+slave-reconf-sent", "".join(g.log(m) for m in g.ids))
        self.assertEqual(command(g.admin["m2"], "SENTINEL", "CKQUORUM", "mymaster"),
                         "OK 3 usable Sentinels. Quorum and failover authorization can be "
                         "reached")
        r = command(g.admin["m1"], "SENTINEL", "FAILOVER", "nope")
        self.assertIsInstance(r, RespError)

    def simulated_crash(self, point):
        rs, g = self.setup_all()
        leader, term = g.wait_leader()
        self.assertEqual(command(g.admin[leader], "SENTINEL", "SIMULATE-FAILURE", point), "OK")
        rs.procs[0].signal(signal.SIGKILL)
        self.assertEqual(g.procs[leader].wait(60), 99)
        self.assertIn("simulated failure", g.log(leader))
        rest = [m for m in g.ids if m != leader]
        for m in rest:
            wait_until(lambda: addr(command(g.admin[m], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                            "mymaster"))[1] != rs.master_port,
                       timeout=60, what="the next leader finished on " + m)
        new = addr(command(g.admin[rest[0]], "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                           "mymaster"))[1]
        # Never two masters in one epoch: exactly one instance is master now.
        masters = [p for i, p in enumerate(rs.ports[1:], 1) if rs.info(i).get("role") == "master"]
        wait_until(lambda: [p for i, p in enumerate(rs.ports[1:], 1)
                            if rs.info(i).get("role") == "master"] == [new], timeout=30,
                   what="a single master (%s)" % masters)
        return g, leader

    def test_crash_after_election_next_leader_retries(self):
        g, crashed = self.simulated_crash("crash-after-election")
        logs = "".join(g.log(m) for m in g.ids if m != crashed)
        self.assertIn("-failover-abort master mymaster", logs)

    def test_crash_after_promotion_next_leader_completes(self):
        g, crashed = self.simulated_crash("crash-after-promotion")
        # The promoted replica is kept: the new leader commits the switch of
        # the old epoch instead of starting another attempt.
        logs = "".join(g.log(m) for m in g.ids if m != crashed)
        self.assertEqual(logs.count("+switch-master"), 2)   # once on each survivor

    def test_scripts_and_auth(self):
        out = self.path("script.out")
        script = self.write("notify.sh", "#!/bin/sh\necho \"$0 $*\" >> %s\n" % out)
        os.chmod(script, 0o755)
        os.symlink(script, self.path("reconfig.sh"))
        rs = harness.RedisSet(self, replicas=2, master_args=["--requirepass", "pw",
                                                             "--masterauth", "pw"],
                              replica_args={1: ["--requirepass", "pw", "--masterauth", "pw"],
                                            2: ["--requirepass", "pw", "--masterauth", "pw"]},
                              passwords={0: "pw", 1: "pw", 2: "pw"})
        self.rs = rs
        g = self.g = harness.Group(
            self, masters=[("mymaster", "127.0.0.1", rs.master_port, 2)],
            master_extra="down_after_ms = %d\nauth_pass = pw\nnotification_script = %s\n"
                         "client_reconfig_script = %s" % (DOWN_AFTER, script,
                                                          self.path("reconfig.sh")))
        g.start_all()
        g.wait_leader()
        wait_until(lambda: harness.replica_count(g.admin["m1"]) == 2, timeout=30, what="replicas")
        rs.procs[0].signal(signal.SIGKILL)
        def lines():
            return open(out).read().splitlines() if os.path.exists(out) else []
        wait_until(lambda: sum("reconfig.sh mymaster" in l for l in lines()) == 3, timeout=60,
                   what="client_reconfig_script ran on every monitor")
        wait_until(lambda: sum("notify.sh +switch-master" in l for l in lines()) == 3,
                   timeout=30, what="notification_script for +switch-master on every monitor")
        text = "\n".join(lines())
        self.assertIn("notify.sh +sdown master mymaster 127.0.0.1 %d" % rs.master_port, text)
        roles = sorted(l.split()[2] for l in lines() if "reconfig.sh mymaster" in l)
        self.assertEqual(roles, ["leader", "observer", "observer"])
        reconf = next(l for l in lines() if "reconfig.sh mymaster leader" in l).split()
        self.assertEqual(reconf[3:6], ["start", "127.0.0.1", str(rs.master_port)])
        new = int(reconf[7])
        self.assertEqual(rs.info(rs.ports.index(new))["role"], "master")


if __name__ == "__main__":
    harness.main()

"""scripts/demo --once brings the whole local deployment up and tears it down."""
import os
import subprocess

import harness


class DemoTest(harness.TestCase):

    def test_demo_once(self):
        env = dict(os.environ, RS_BIN=harness.RS_BIN)
        r = subprocess.run([os.path.join(harness.TOP_SRCDIR, "scripts", "demo"), "--once"],
                           capture_output=True, text=True, timeout=120, env=env,
                           stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("connected_slaves:2", r.stdout)
        self.assertEqual(r.stdout.count("master_link_status:up"), 2, r.stdout)
        for m in ("m1", "m2", "m3"):
            self.assertIn("-- monitor %s: admin port" % m, r.stdout)
        # Shown through the admin ports: one leader, the same term everywhere,
        # and the seeded master answered by every monitor.
        self.assertEqual(r.stdout.count("role\tleader"), 1, r.stdout)
        self.assertEqual(r.stdout.count("role\tfollower"), 2, r.stdout)
        self.assertEqual(r.stdout.count("members\tm1 m2 m3"), 3, r.stdout)
        self.assertRegex(r.stdout, r"GET-MASTER-ADDR-BY-NAME mymaster \(asked on m2\): 127\.0\.0\.1 \d+")
        self.assertIn("quorum\t2", r.stdout)
        # The failover part: the events and one new master on every monitor.
        for event in ("+sdown master mymaster", "+odown master mymaster", "+try-failover",
                      "+selected-slave", "+promoted-slave", "+switch-master mymaster",
                      "+failover-end"):
            self.assertIn(event, r.stdout)
        news = [l.split(":")[-1].strip() for l in r.stdout.splitlines()
                if "says the master is now" in l]
        self.assertEqual(len(news), 3)
        self.assertEqual(len(set(news)), 1, news)
        self.assertIn("stopped; removed", r.stdout)
        demo_dir = r.stdout.split("== raft-sentinel demo in ")[1].split()[0]
        self.assertFalse(os.path.exists(demo_dir))


if __name__ == "__main__":
    harness.main()

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
        self.assertEqual(r.stdout.count("starting: id"), 3, r.stdout)
        self.assertIn("stopped; removed", r.stdout)
        demo_dir = r.stdout.split("== raft-sentinel demo in ")[1].split()[0]
        self.assertFalse(os.path.exists(demo_dir))


if __name__ == "__main__":
    harness.main()

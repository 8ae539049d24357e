"""The daemon as a process: command line, config validation, signals, reload."""
import os
import signal

import harness
from harness import wait_until


class DaemonTest(harness.TestCase):

    def config(self, extra="", masters=True):
        port = harness.free_port()
        self.port = port
        text = harness.monitor_config("m1", port, port + 1000, self.path("data"),
                                      [("m1", port + 1000)],
                                      [("mymaster", "127.0.0.1", 6379, 1)] if masters else (),
                                      extra=extra)
        return self.write("m1.ini", text)

    def test_version_and_help(self):
        rc, out, _ = self.run_rs("--version")
        self.assertEqual(rc, 0)
        self.assertRegex(out, r"^raft-sentinel \d+\.\d+\.\d+\n$")
        rc, out, _ = self.run_rs("--help")
        self.assertEqual(rc, 0)
        self.assertIn("--test-config", out)
        rc, _, err = self.run_rs("--no-such-option")
        self.assertEqual(rc, 1)
        self.assertIn("Usage:", err)

    def test_shipped_examples_are_valid(self):
        for name in ("raft-sentinel.ini", "raft-sentinel-minimal.ini"):
            rc, out, err = self.run_rs("--config", os.path.join(harness.TOP_SRCDIR, "etc", name),
                                       "--test-config")
            self.assertEqual(rc, 0, err)
            self.assertIn("configuration is valid", out)

    def test_banana_quorum_rejected_with_file_line_key_and_range(self):
        path = self.write("bad.ini", "\n".join([
            "[sentinel]", "id = m1", "data_dir = /tmp/x", "",
            "[peers]", "m1 = 127.0.0.1:27379", "m2 = 127.0.0.1:27380", "m3 = 127.0.0.1:27381",
            "", "[master mymaster]", "address = 127.0.0.1:6379",
            "quorum = banana",                                   # line 12
        ]) + "\n")
        rc, _, err = self.run_rs("--config", path, "--test-config")
        self.assertEqual(rc, 1)
        self.assertIn("%s:12: key 'quorum' has value 'banana': expected an integer from 1 to 3"
                      % path, err)

    def test_all_errors_reported_in_one_run(self):
        path = self.write("bad.ini", "[sentinel]\nid = m1\nport = x\nheartbeat_ms = y\n"
                          "[peers]\nm1 = 127.0.0.1:27379\n[bogus]\n")
        rc, _, err = self.run_rs("--config", path)
        self.assertEqual(rc, 1)
        for line in (":3: key 'port'", ":4: key 'heartbeat_ms'", ":7: unknown section [bogus]",
                     ":1: [sentinel] is missing the required key 'data_dir'"):
            self.assertIn(line, err)
        self.assertIn("not starting", err)

    def test_print_config_masks_secrets(self):
        path = self.config(extra="requirepass = hunter2")
        rc, out, _ = self.run_rs("--config", path, "--print-config")
        self.assertEqual(rc, 0)
        self.assertIn("requirepass = ********", out)
        self.assertNotIn("hunter2", out)
        self.assertIn("raft_port = %d" % (self.port + 1000), out)

    def start_daemon(self, path, name="m1"):
        d = self.start([harness.RS_BIN, "--config", path], name)
        wait_until(lambda: "starting" in d.log(), what="startup log line")
        return d

    def test_sigterm_and_sigint_stop_cleanly(self):
        for sig in (signal.SIGTERM, signal.SIGINT):
            d = self.start_daemon(self.config(), name="m1-%d" % sig)
            d.signal(sig)
            self.assertEqual(d.wait(), 0, d.log())
            self.assertIn("shutting down", d.log())
            self.assertIn("stopped", d.log())

    def test_invalid_config_refused(self):
        path = self.write("bad.ini", "[sentinel]\nid = m1\n")
        d = self.start([harness.RS_BIN, "--config", path], "bad")
        self.assertEqual(d.wait(), 1)
        self.assertIn("bad.ini:1: [sentinel] is missing the required key 'data_dir'", d.log())

    def test_sighup_reload_valid_and_invalid(self):
        path = self.config()
        d = self.start_daemon(path)
        # Valid change: reloadable log_level takes effect, port change is refused.
        text = open(path).read().replace("[sentinel]", "[sentinel]\nlog_level = debug", 1)
        text = text.replace("port = %d\n" % self.port, "port = %d\n" % (self.port + 1), 1)
        self.write("m1.ini", text)
        d.signal(signal.SIGHUP)
        wait_until(lambda: "config reloaded: 1 setting changed" in d.log(), what="reload")
        self.assertIn("'port' changed", d.log())
        self.assertIn("'log_level' reloaded", d.log())
        # Invalid file: rejected with the problem, old settings stay, still running.
        self.write("m1.ini", text.replace("log_level = debug", "log_level = loud"))
        d.signal(signal.SIGHUP)
        wait_until(lambda: "keeping the running configuration" in d.log(), what="rejection")
        self.assertIn("key 'log_level' has value 'loud'", d.log())
        self.assertTrue(d.alive())
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait(), 0, d.log())

    def test_log_file_reopened_on_sighup(self):
        logf = self.path("rs.log")
        path = self.config(extra="log_file = %s" % logf)
        d = self.start([harness.RS_BIN, "--config", path], "m1")
        wait_until(lambda: os.path.exists(logf) and "starting" in open(logf).read(),
                   what="log file")
        os.rename(logf, logf + ".1")
        d.signal(signal.SIGHUP)
        wait_until(lambda: os.path.exists(logf) and "config reloaded" in open(logf).read(),
                   what="reopened log file")
        d.signal(signal.SIGTERM)
        self.assertEqual(d.wait(), 0)
        self.assertIn("stopped", open(logf).read())
        self.assertNotIn("stopped", open(logf + ".1").read())


if __name__ == "__main__":
    harness.main()

"""The stats file as operators read it with shoalctl: exact request counts, and totals that
never go backwards while workers are killed and replaced."""

import json
import os
import re
import signal
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, wait_until  # noqa: E402

SHOALCTL = None


def shoalctl(*args):
    return subprocess.run([SHOALCTL] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def prometheus_value(text, metric):
    m = re.search(r"^%s (\d+)$" % re.escape(metric), text, re.M)
    if not m:
        raise AssertionError("%s not in:\n%s" % (metric, text))
    return int(m.group(1))


class StatsTest(unittest.TestCase):
    def server(self, **kw):
        s = harness.Server(**kw)
        self.addCleanup(s.close)
        return s

    def totals(self, s):
        r = shoalctl("-f", s.stats_file, "stats", "--prometheus")
        self.assertEqual(r.returncode, 0, r.stderr)
        return (prometheus_value(r.stdout, "shoal_requests_total"),
                prometheus_value(r.stdout, 'shoal_responses_total{code="200"}'),
                prometheus_value(r.stdout, 'shoal_responses_total{code="404"}'))

    def test_n_requests_count_n(self):
        s = self.server(workers=2)
        before = self.totals(s)
        c = Client(s.port)
        self.addCleanup(c.close)
        for _ in range(37):
            self.assertEqual(c.request("GET", "/file612.txt").status, 200)
        for _ in range(5):
            self.assertEqual(s.request("GET", "/missing").status, 404)
        after = self.totals(s)
        self.assertEqual(after[0] - before[0], 42)
        self.assertEqual(after[1] - before[1], 37)
        self.assertEqual(after[2] - before[2], 5)

    def test_totals_never_decrease_across_kills_and_reloads(self):
        s = self.server(workers=2)
        sent = 0
        last = self.totals(s)
        for round_ in range(6):
            for _ in range(10):
                self.assertEqual(s.request("GET", "/").status, 200)
                sent += 1
            now = self.totals(s)
            self.assertEqual(now[0], sent, "every answered request is counted once")
            self.assertGreaterEqual(now[0], last[0])
            last = now
            if round_ % 2 == 0:
                victim = s.workers_by_slot()[0]
                os.kill(victim, signal.SIGKILL)
                wait_until(lambda: victim not in s.worker_pids(), 5, what="the kill")
            else:
                s.signal(signal.SIGHUP)
                s.wait_for_log(r"generation %d " % (round_ // 2 + 2), timeout=10)
            after = self.totals(s)
            self.assertEqual(after[0], sent, "a replaced worker's requests stay counted")
        r = shoalctl("-f", s.stats_file, "stats", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIsInstance(json.loads(r.stdout), dict)

    def test_master_exports_prometheus_text(self):
        s = harness.Server(workers=1, start=False, stats_interval=1)
        self.addCleanup(s.close)
        path = os.path.join(s.dir, "shoal.prom")
        s.rewrite_config(stats_export=path)
        s.start()
        for _ in range(3):
            self.assertEqual(s.request("GET", "/").status, 200)

        def exported_three():
            try:
                with open(path) as f:
                    return prometheus_value(f.read(), "shoal_requests_total") == 3
            except (OSError, AssertionError):
                return False
        wait_until(exported_three, 5, what="an export counting 3 requests")
        self.assertFalse(os.path.exists(path + ".tmp"))

    def test_status_endpoint(self):
        s = self.server(workers=2, status_path="/-/status")
        for _ in range(4):
            self.assertEqual(s.request("GET", "/").status, 200)
        r = s.request("GET", "/-/status")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type").startswith("text/plain"), r)
        # The status request itself is counted once it is answered, not before.
        self.assertEqual(prometheus_value(r.body.decode(), "shoal_requests_total"), 4)
        r = s.request("GET", "/-/status?format=json")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Type"), "application/json")
        self.assertIsInstance(json.loads(r.body), dict)
        r = s.request("HEAD", "/-/status")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"")
        self.assertEqual(s.request("GET", "/-/status/x").status, 404)

    def test_status_endpoint_refuses_other_clients(self):
        s = self.server(workers=1, status_path="/status", status_allow=["10.0.0.0/8", "::1"])
        self.assertEqual(s.request("GET", "/status").status, 403)
        self.assertEqual(s.request("GET", "/").status, 200)

    def test_workers_table_lists_live_workers(self):
        s = self.server(workers=3)
        r = shoalctl("-f", s.stats_file, "workers")
        self.assertEqual(r.returncode, 0, r.stderr)
        for pid in s.worker_pids():
            self.assertRegex(r.stdout, r"\b%d\b" % pid)

    def test_upstreams_without_a_proxy(self):
        s = self.server(workers=2)
        self.assertEqual(s.request("GET", "/").status, 200)
        r = shoalctl("-f", s.stats_file, "upstreams")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "no upstream servers\n")
        r = shoalctl("-f", s.stats_file, "stats", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["version"], 4)
        self.assertEqual(doc["upstreams"], [])
        self.assertEqual(doc["upstream_dropped"], 0)
        r = shoalctl("-f", s.stats_file, "stats", "--prometheus")
        self.assertNotIn("shoal_upstream_", r.stdout)

    def test_the_file_takes_memory_for_the_slots_used(self):
        # Sized for every slot a master may ever need, backed only where workers have run.
        s = self.server(workers=2)
        st = os.stat(s.stats_file)
        self.assertGreater(st.st_size, 64 << 20)
        self.assertLess(st.st_blocks * 512, 1 << 20)

    def test_missing_or_foreign_file(self):
        r = shoalctl("-f", "/nonexistent/shoal.stats", "stats")
        self.assertEqual(r.returncode, 1)
        self.assertIn("/nonexistent/shoal.stats", r.stderr)
        with open(os.path.join(harness.tempfile.gettempdir(), "not-stats"), "wb") as f:
            f.write(b"x" * 4096)
        r = shoalctl("-f", f.name, "stats")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"not a shoal stats file|magic")
        os.unlink(f.name)


if __name__ == "__main__":
    SHOALCTL = os.environ.get("SHOALCTL") or os.path.join(
        os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")), "shoalctl")
    harness.main()

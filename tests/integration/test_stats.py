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
from origin import Origin  # noqa: E402
from test_limit import limited_config, zone  # noqa: E402
from test_proxy import location, upstream  # noqa: E402

SHOALCTL = None


def shoalctl(*args):
    return subprocess.run([SHOALCTL] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def prometheus_value(text, metric):
    m = re.search(r"^%s (\d+)$" % re.escape(metric), text, re.M)
    if not m:
        raise AssertionError("%s not in:\n%s" % (metric, text))
    return int(m.group(1))


METRIC_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
SAMPLE = re.compile(r"(%s)(\{%s(?:,%s)*\})? (\S+)$" % (METRIC_NAME, LABEL, LABEL))
HISTOGRAM_PARTS = ("_bucket", "_sum", "_count")


def exposition(text):
    """{family: type} of a Prometheus text exposition, after checking what joining the stats'
    and the state's parts could break: every family declared once (HELP, then TYPE), every
    sample well formed and in the group of its family, no series twice."""
    families, series, current = {}, set(), None
    if not text.endswith("\n"):
        raise AssertionError("no final newline")
    for line in text.splitlines():
        help_ = re.match(r"# HELP (%s) \S" % METRIC_NAME, line)
        type_ = re.match(r"# TYPE (\S+) (counter|gauge|histogram)$", line)
        sample = SAMPLE.match(line)
        if help_:
            if help_.group(1) in families:
                raise AssertionError("declared twice: %s" % line)
            current = help_.group(1)
            families[current] = None
        elif type_:
            if type_.group(1) != current or families[current] is not None:
                raise AssertionError("a TYPE not right after its HELP: %s" % line)
            families[current] = type_.group(2)
        elif sample:
            name, key = sample.group(1), sample.group(1) + (sample.group(2) or "")
            names = {current} | ({current + p for p in HISTOGRAM_PARTS}
                                 if families.get(current) == "histogram" else set())
            if current is None or families[current] is None or name not in names:
                raise AssertionError("outside its family's group: %s" % line)
            if not re.fullmatch(r"[-+]?(\d+(\.\d*)?(e[-+]?\d+)?|Inf|NaN)", sample.group(3)):
                raise AssertionError("not a number: %s" % line)
            if key in series:
                raise AssertionError("a series twice: %s" % line)
            series.add(key)
        else:
            raise AssertionError("malformed: %r" % line)
    if not series:
        raise AssertionError("no sample")
    return families


class ExpositionCheckTest(unittest.TestCase):
    def test_it_refuses_what_it_must(self):
        declared = "# HELP a A.\n# TYPE a counter\n"
        for bad in (declared + "a 1\n" + declared + "a 2\n", declared + "b 1\n",
                    declared + 'a{x="1"} 1\na{x="1"} 2\n', declared + 'a{x="1} 1\n',
                    declared + 'a{x="\\q"} 1\n', declared + 'a{1x="1"} 1\n',
                    declared + "a one\n", "# HELP a A.\n# TYPE a gauge\na_bucket 1\n",
                    "# HELP a A.\n# TYPE b counter\nb 1\n", "a 1\n", declared + "a 1",
                    declared + "# HELP b B.\n# TYPE b counter\nb 1\na 1\n"):
            with self.assertRaises(AssertionError, msg=bad):
                exposition(bad)
        self.assertEqual(exposition('# HELP a A.\n# TYPE a histogram\na_bucket{le="+Inf",'
                                    'x="\\""} 1\na_sum 0.5\na_count 1\n'), {"a": "histogram"})


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

    def test_status_export_and_shoalctl_carry_the_zones_and_the_upstreams(self):
        """The three expositions have the stats', the servers' state and the zones' families,
        each declared once, and follow the traffic: a request refused by a zone is counted."""
        origin = Origin("app")
        self.addCleanup(origin.stop)
        s = self.server(workers=2, start=False, status_path="/-/status", stats_interval=1)
        export = os.path.join(s.dir, "shoal.prom")
        s.settings["stats_export"] = export
        s.write_file("f.txt", b"limited\n")
        s.rewrite_config(text=limited_config(
            s, [zone("slow", key="client_ip", rate=0.2, burst=0)],
            [location("/app/", proxy="app"), location("/", root=s.root, limit=["slow"])],
            top="upstreams = ( %s );\n" % upstream("app", [origin.address])))
        s.start()
        server = '{upstream="app",server="%s"}' % origin.address
        rejected = 'shoal_limit_requests_total{zone="slow",result="rejected"}'

        def status():
            r = s.request("GET", "/-/status")
            self.assertEqual(r.status, 200)
            return r.body.decode()
        text = status()
        families = exposition(text)
        for family in ("shoal_requests_total", "shoal_upstream_requests_total",
                       "shoal_upstream_up", "shoal_upstream_checks_total",
                       "shoal_limit_requests_total", "shoal_limit_keys",
                       "shoal_limit_evictions_total"):
            self.assertIn(family, families)
        self.assertEqual(prometheus_value(text, rejected), 0)
        self.assertEqual(prometheus_value(text, "shoal_upstream_up" + server), 1)

        self.assertEqual(s.request("GET", "/app/size/10").status, 200)
        c = Client(s.port)
        self.addCleanup(c.close)
        self.assertEqual([c.request("GET", "/f.txt").status for _ in range(2)], [200, 429])
        text = status()
        self.assertEqual(exposition(text), families)
        self.assertEqual(prometheus_value(text, rejected), 1)
        self.assertEqual(prometheus_value(
            text, 'shoal_limit_requests_total{zone="slow",result="passed"}'), 1)
        self.assertEqual(prometheus_value(text, 'shoal_limit_keys{zone="slow"}'), 1)
        self.assertEqual(prometheus_value(text, "shoal_upstream_requests_total" + server), 1)

        def exported():
            try:
                with open(export) as f:
                    return f.read()
            except OSError:
                return ""
        wait_until(lambda: re.search(r"(?m)^%s 1$" % re.escape(rejected), exported()), 5,
                   what="an export counting the refused request")
        self.assertEqual(exposition(exported()), families)
        self.assertFalse(os.path.exists(export + ".tmp"))
        r = shoalctl("-f", s.stats_file, "--state", s.state_file, "stats", "--prometheus")
        self.assertEqual((r.returncode, r.stderr), (0, ""))
        self.assertEqual(exposition(r.stdout), families)
        self.assertEqual(prometheus_value(r.stdout, rejected), 1)

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
        # Its own state file (with no server nor zone), not the default one of another shoal.
        r = shoalctl("-f", s.stats_file, "--state", s.state_file, "stats", "--prometheus")
        self.assertNotIn("shoal_upstream_", r.stdout)
        self.assertNotIn("shoal_limit_", r.stdout)

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

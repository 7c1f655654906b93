"""The state file (issue 14) end to end: the master makes it with an entry per upstream server,
`shoalctl upstreams` shows each server's state, `shoalctl upstream` drains, takes down, brings
back and reweights a server in every worker at once, the state lives through a reload and a
binary upgrade, and the requests a killed worker had in flight stop counting once the master
reaps it."""

import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, build_request, wait_until  # noqa: E402
from origin import Origin  # noqa: E402
from test_proxy import location, proxy_server, upstream  # noqa: E402

SHOALCTL = None


def shoalctl(*args):
    return subprocess.run([SHOALCTL] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


class StateTest(unittest.TestCase):
    def setUp(self):
        self.a = Origin("a")
        self.b = Origin("b")
        self.addCleanup(self.a.stop)
        self.addCleanup(self.b.stop)

    def server(self, workers=2, servers=None, **settings):
        servers = servers or [self.a.address, self.b.address]
        s = proxy_server([upstream("app", servers)], [location("/api/", proxy="app")],
                         workers=workers, **settings)
        self.addCleanup(s.close)
        return s

    def ctl(self, s, *args):
        return shoalctl("-f", s.stats_file, "--state", s.state_file, *args)

    def servers(self, s):
        """{server: its upstreams --json object} of the group app."""
        r = self.ctl(s, "upstreams", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return {u["server"]: u for u in json.loads(r.stdout)["upstreams"]
                if u["upstream"] == "app"}

    def origins(self, s, n):
        """The X-Origin of n requests, each on a new connection (so over both workers)."""
        out = []
        for _ in range(n):
            r = s.request("GET", "/api/size/10")
            self.assertEqual(r.status, 200)
            out.append(r.header("X-Origin"))
        return out

    def worker_requests(self, s):
        """{pid: requests} of the live workers, from the stats file."""
        r = shoalctl("-f", s.stats_file, "stats", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        return {w["pid"]: w["counters"]["requests"] for w in json.loads(r.stdout)["workers"]}

    def set(self, s, server, *action):
        r = self.ctl(s, "upstream", "app", server, *action)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assert_only_b_within_a_second(self, s):
        """Within a second every request goes to b, then 40 more on both workers do."""
        wait_until(lambda: set(self.origins(s, 4)) == {"b"}, 1.0, interval=0,
                   what="requests to stop going to a")
        before = self.worker_requests(s)
        self.assertEqual(set(self.origins(s, 40)), {"b"})
        after = self.worker_requests(s)
        served = [pid for pid, n in after.items() if n > before.get(pid, 0)]
        self.assertEqual(len(served), 2, "not every worker served: %s -> %s" % (before, after))

    def test_file_and_upstreams_show_the_servers(self):
        s = self.server()
        st = os.stat(s.state_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(set(self.origins(s, 6)), {"a", "b"})
        r = self.ctl(s, "upstreams")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^UPSTREAM .* TTFB-P99 STATE +CHECK +INFLIGHT +WEIGHT "
                         r"+EJECTIONS$")
        for origin in (self.a, self.b):
            self.assertRegex(r.stdout, r"(?m)^app +%s .* up +- +0 +configured +0$"
                             % re.escape(origin.address))
        servers = self.servers(s)
        self.assertEqual(servers[self.a.address]["state"], "up")
        self.assertEqual(servers[self.a.address]["in_flight"], 0)
        self.assertEqual(sum(u["requests"] for u in servers.values()), 6)
        r = self.ctl(s, "upstreams", "--prometheus")
        self.assertRegex(r.stdout, r'(?m)^shoal_upstream_up\{upstream="app",server="%s"\} 1$'
                         % re.escape(self.b.address))
        self.assertRegex(r.stdout, r'(?m)^shoal_upstream_in_flight\{upstream="app",'
                         r'server="%s"\} 0$' % re.escape(self.a.address))
        # The master removes its file when it stops.
        s.signal(signal.SIGQUIT)
        self.assertEqual(s.wait_exit(10), 0)
        self.assertFalse(os.path.exists(s.state_file))

    def test_upstreams_without_a_state_file_show_dashes(self):
        s = self.server(workers=1)
        r = shoalctl("-f", s.stats_file, "--state", s.state_file + ".none", "upstreams")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")
        self.assertRegex(r.stdout, r"(?m)^app +%s .* - +- +- +- +-$" % re.escape(self.a.address))
        r = shoalctl("-f", s.stats_file, "--state", s.state_file + ".none", "upstreams",
                     "--prometheus")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("shoal_upstream_requests_total", r.stdout)
        self.assertNotIn("shoal_upstream_up", r.stdout)

    def test_drain_and_undrain_reach_every_worker(self):
        s = self.server()
        self.assertEqual(set(self.origins(s, 6)), {"a", "b"})
        out = self.set(s, self.a.address, "drain")
        self.assertIn("draining", out)
        self.assert_only_b_within_a_second(s)
        self.assertEqual(self.servers(s)[self.a.address]["state"], "draining")
        s.wait_for_log(r"upstream app server %s: admin up -> drain \(shoalctl\)"
                       % re.escape(self.a.address), timeout=3)
        self.set(s, self.a.address, "undrain")
        wait_until(lambda: "a" in self.origins(s, 4), 1.0, interval=0, what="a back")
        self.assertEqual(self.servers(s)[self.a.address]["state"], "up")
        s.wait_for_log(r"upstream app server %s: admin drain -> up" % re.escape(self.a.address),
                       timeout=3)

    def test_down_up_and_weight(self):
        s = self.server()
        self.set(s, self.a.address, "down")
        self.assert_only_b_within_a_second(s)
        self.assertEqual(self.servers(s)[self.a.address]["state"], "down (admin)")
        self.set(s, self.a.address, "up")
        self.assertEqual(self.servers(s)[self.a.address]["state"], "up")
        self.assertIn("weight 5", self.set(s, self.b.address, "weight", "5"))
        self.assertEqual(self.servers(s)[self.b.address]["admin_weight"], 5)
        s.wait_for_log(r"upstream app server %s: weight configured -> 5"
                       % re.escape(self.b.address), timeout=3)
        self.assertIn("weight configured", self.set(s, self.b.address, "weight", "default"))
        self.assertEqual(self.servers(s)[self.b.address]["admin_weight"], 0)

    def test_unknown_names_and_bad_actions(self):
        s = self.server(workers=1)
        r = self.ctl(s, "upstream", "nope", self.a.address, "drain")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no upstream group 'nope'", r.stderr)
        r = self.ctl(s, "upstream", "app", "127.0.0.1:1", "drain")
        self.assertEqual(r.returncode, 1)
        self.assertIn("upstream 'app' has no server '127.0.0.1:1'", r.stderr)
        for args in (["sideways"], ["weight"], ["weight", "1001"], ["weight", "x"],
                     ["drain", "extra"]):
            r = self.ctl(s, "upstream", "app", self.a.address, *args)
            self.assertEqual(r.returncode, 2, args)
        r = shoalctl("--state", s.state_file + ".none", "upstream", "app", self.a.address,
                     "drain")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no such file", r.stderr)
        self.assertEqual(self.servers(s)[self.a.address]["state"], "up")

    def test_drain_survives_reload_and_upgrade(self):
        s = self.server()
        self.set(s, self.a.address, "drain")
        old = set(s.worker_pids())
        s.signal(signal.SIGHUP)
        s.wait_for_log(r"reloaded .*: generation 2 ", timeout=10)
        wait_until(lambda: not old & set(s.worker_pids()), 10, what="the old workers to exit")
        self.assert_only_b_within_a_second(s)
        master = s.pid
        self.assertNotEqual(s.upgrade(), master)
        self.assertTrue(os.path.exists(s.state_file), "the old master removed the file")
        self.assertEqual(self.servers(s)[self.a.address]["state"], "draining")
        self.assert_only_b_within_a_second(s)
        self.assertNotRegex(s.log(), r"start afresh")
        self.set(s, self.a.address, "undrain")
        wait_until(lambda: "a" in self.origins(s, 4), 1.0, interval=0, what="a back")
        # The new master watches the file: the change is logged once, by it.
        matches = s.wait_for_log(r"(\d+) master: upstream app server %s: admin drain -> up"
                                 % re.escape(self.a.address), timeout=3)
        self.assertEqual(len(matches), 1)
        self.assertEqual(int(matches[0].group(1)), s.pid)

    def test_a_killed_worker_leaves_nothing_in_flight(self):
        s = self.server(workers=1, servers=[self.a.address])
        c = Client(s.port, timeout=10)
        self.addCleanup(c.close)
        c.send(build_request("GET", "/api/slow-head/30"))
        wait_until(lambda: self.servers(s)[self.a.address]["in_flight"] == 1, 5,
                   what="the request in flight")
        worker = s.worker_pids()[0]
        os.kill(worker, signal.SIGKILL)
        s.wait_for_log(r"worker 0 \(pid %d\) killed by signal 9" % worker)
        s.wait_for_log(r"worker 0 \(pid %d\) left 1 requests in flight to upstream app server %s"
                       % (worker, re.escape(self.a.address)))
        self.assertEqual(self.servers(s)[self.a.address]["in_flight"], 0)
        # The new worker counts from there.
        s.wait_for_log(r"is serving", count=2)
        self.assertEqual(s.request("GET", "/api/size/10").status, 200)
        self.assertEqual(self.servers(s)[self.a.address]["in_flight"], 0)


if __name__ == "__main__":
    SHOALCTL = os.environ.get("SHOALCTL") or os.path.join(
        os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")), "shoalctl")
    harness.main()

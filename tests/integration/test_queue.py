"""max_conns and the group's queue (issue 15) end to end, against a slow origin of the tests'
own that counts the requests it works on at once: the bound holds over both workers, the
queue takes `queue` requests over both workers and the rest get 503 with Retry-After at
once, a request waits at most queue_timeout, a client that leaves frees its place, and the
places of a worker that died are taken back."""

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, build_request, wait_until  # noqa: E402
from origin import Origin  # noqa: E402
from test_balance import group  # noqa: E402
from test_proxy import ProxyClient, location, proxy_server  # noqa: E402

SHOALCTL = None


def shoalctl(*args):
    return subprocess.run([SHOALCTL] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


class CountingOrigin(Origin):
    """An origin whose /slow-head/S requests count while they are worked on: the most at
    once is peak."""

    def __init__(self, name):
        super().__init__(name)
        self.now = self.peak = 0

    def _do_slow_head(self, conn, req, *args):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        try:
            return super()._do_slow_head(conn, req, *args)
        finally:
            with self.lock:
                self.now -= 1


class Burst:
    """n clients, each on its own connection, released at once: (status, Retry-After,
    seconds from the release to the answer) of each."""

    def __init__(self, port, n, path):
        self.results, self.lock = [], threading.Lock()
        clients = [ProxyClient(port, timeout=30) for _ in range(n)]
        start = threading.Barrier(n + 1)
        threads = [threading.Thread(target=self._run, args=(c, path, start)) for c in clients]
        for t in threads:
            t.start()
        start.wait()
        self.started = time.monotonic()
        for t in threads:
            t.join(60)
        for c in clients:
            c.close()

    def _run(self, client, path, start):
        start.wait()
        r = client.request("GET", path)
        with self.lock:
            self.results.append((r.status, r.header("retry-after"),
                                 time.monotonic() - self.started))

    def of(self, status):
        return sorted((after, t) for s, after, t in self.results if s == status)


class QueueTest(unittest.TestCase):
    def setUp(self):
        self.origin = CountingOrigin("slow")
        self.addCleanup(self.origin.stop)

    def serve(self, max_conns, queue, queue_timeout, workers=2):
        s = proxy_server([group("app", [(self.origin.address, {"max_conns": max_conns})],
                                queue=queue, queue_timeout=queue_timeout)],
                         [location("/app/", proxy="app")], workers=workers)
        self.addCleanup(s.close)
        return s

    def ctl(self, s, *args):
        r = shoalctl("-f", s.stats_file, "--state", s.state_file, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def queue_stats(self, s):
        """The queue's object of `shoalctl upstreams --json` (stats and state)."""
        entries = [u for u in json.loads(self.ctl(s, "upstreams", "--json"))["upstreams"]
                   if u["upstream"] == "app" and u["server"] == ""]
        self.assertEqual(len(entries), 1, entries)
        return entries[0]

    def server_stats(self, s):
        """The origin's object of `shoalctl upstreams --json`."""
        return [u for u in json.loads(self.ctl(s, "upstreams", "--json"))["upstreams"]
                if u["server"] == self.origin.address][0]

    def test_twenty_clients_six_served_or_queued_the_rest_refused_at_once(self):
        s = self.serve(max_conns=2, queue=4, queue_timeout=3)
        burst = Burst(s.port, 20, "/app/slow-head/1")
        served, refused = burst.of(200), burst.of(503)
        self.assertEqual(len(served), 6, burst.results)
        self.assertEqual(len(refused), 14, burst.results)
        # Refused at once, well before the first slow answer (1 s), and told when to come
        # back: the queue's timeout.
        for after, took in refused:
            self.assertEqual(after, "3")
            self.assertLess(took, 0.5, refused)
        # Two at a time over both workers: answers at about 1, 2 and 3 s.
        took = [t for _, t in served]
        for i, (low, high) in enumerate([(0.9, 1.6), (1.9, 2.6), (2.9, 3.6)]):
            for t in took[2 * i:2 * i + 2]:
                self.assertTrue(low <= t <= high, took)
        self.assertEqual(self.origin.peak, 2)
        self.assertEqual(len(self.origin.requests), 6)
        q = self.queue_stats(s)
        self.assertEqual((q["queued"], q["queue_full"], q["queue_timeout"]), (4, 14, 0), q)
        self.assertEqual((q["connections_active"], q["state"], q["in_flight"]), (0, "queue", 0))
        server = self.server_stats(s)
        self.assertEqual(server["in_flight"], 0)
        self.assertEqual((server["requests"], server["ejections_total"]), (6, 0))
        self.assertRegex(self.ctl(s, "upstreams"), r"\napp +\(queue\) +0 waiting, 4 queued, "
                         r"14 refused when full, 0 timed out +queue +- +0 +- +-\n")
        # Both workers took part (the kernel spread the 20 connections over them).
        workers = json.loads(shoalctl("-f", s.stats_file, "stats", "--json").stdout)["workers"]
        self.assertTrue(all(w["counters"]["requests"] > 0 for w in workers), workers)

    def test_a_request_waits_queue_timeout_then_gets_503(self):
        s = self.serve(max_conns=2, queue=4, queue_timeout=1)
        burst = Burst(s.port, 6, "/app/slow-head/3")
        served, refused = burst.of(200), burst.of(503)
        self.assertEqual(len(served), 2, burst.results)
        self.assertEqual(len(refused), 4, burst.results)
        for after, took in refused:
            self.assertEqual(after, "1")
            self.assertTrue(0.95 <= took <= 1.8, refused)
        for _, took in served:
            self.assertTrue(2.9 <= took <= 4.0, served)
        self.assertEqual(len(self.origin.requests), 2)
        q = self.queue_stats(s)
        self.assertEqual((q["queued"], q["queue_full"], q["queue_timeout"]), (4, 0, 4), q)
        # Not the server's failure.
        server = self.server_stats(s)
        self.assertEqual((server["failures_timeout"], server["ejections_total"]), (0, 0))

    def test_a_client_that_leaves_the_queue_frees_its_place(self):
        s = self.serve(max_conns=1, queue=1, queue_timeout=10, workers=1)
        first = ProxyClient(s.port, timeout=20)
        self.addCleanup(first.close)
        first.send(build_request("GET", "/app/slow-head/2"))
        wait_until(lambda: len(self.origin.requests) == 1, 5, what="the first request")
        leaving = Client(s.port, timeout=5)
        leaving.send(build_request("GET", "/app/slow-head/2"))
        wait_until(lambda: self.queue_stats(s)["in_flight"] == 1, 5, what="a request waiting")
        # The queue is full: a third is refused at once.
        with ProxyClient(s.port, timeout=5) as c:
            self.assertEqual(c.request("GET", "/app/slow-head/2").status, 503)
        leaving.close()
        wait_until(lambda: self.queue_stats(s)["in_flight"] == 0, 5, what="its place freed")
        with ProxyClient(s.port, timeout=20) as c:
            started = time.monotonic()
            r = c.request("GET", "/app/slow-head/0.1")
            self.assertEqual(r.status, 200)
            self.assertGreater(time.monotonic() - started, 1.0)  # it waited for the first
        self.assertEqual(first.read_message().status, 200)
        # The one that left never reached the origin.
        self.assertEqual(len(self.origin.requests), 2)
        self.assertEqual(self.origin.peak, 1)

    def test_a_killed_worker_leaves_nothing_waiting(self):
        s = self.serve(max_conns=1, queue=2, queue_timeout=60, workers=1)
        clients = [Client(s.port, timeout=10) for _ in range(2)]
        for c in clients:
            self.addCleanup(c.close)
            c.send(build_request("GET", "/app/slow-head/30"))
        wait_until(lambda: self.queue_stats(s)["in_flight"] == 1, 5, what="a request waiting")
        worker = s.worker_pids()[0]
        os.kill(worker, signal.SIGKILL)
        s.wait_for_log(r"worker 0 \(pid %d\) left 1 requests in the queue of upstream app;"
                       % worker)
        s.wait_for_log(r"worker 0 \(pid %d\) left 1 requests in flight to upstream app server %s"
                       % (worker, re.escape(self.origin.address)))
        self.assertEqual(self.queue_stats(s)["in_flight"], 0)
        s.wait_for_log(r"is serving", count=2)
        # The places are free again: one request in flight, two waiting, a fourth refused.
        self.origin.answer_all(delay=0.5)
        burst = Burst(s.port, 4, "/app/size/10")
        self.assertEqual(sorted(st for st, _, _ in burst.results), [200, 200, 200, 503])


if __name__ == "__main__":
    SHOALCTL = os.environ.get("SHOALCTL") or os.path.join(
        os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")), "shoalctl")
    harness.main()

"""Active health checks (issue 14) end to end: the one checker process the master runs beside
its workers probes each server once per interval, however many workers there are; a server
failing `fall` probes gets no more requests until `rise` probes pass; a checker that dies is
started again; a reload keeps what was learnt."""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import HarnessError, pid_alive, wait_until  # noqa: E402
from origin import Origin  # noqa: E402
from test_proxy import location, proxy_config, upstream  # noqa: E402

STARTED = r"started checker \(pid (\d+), generation (\d+)\)"


class HealthOrigin(Origin):
    """An origin whose /health answers health_status, and that notes when each probe came."""

    def __init__(self, name):
        self.health_status = 200
        self.probes = []  # (monotonic time, status answered, the request)
        super().__init__(name)

    def _do_health(self, conn, req, *args):
        self._read_body(conn, req)
        with self.lock:
            status = self.health_status
            self.probes.append((time.monotonic(), status, req))
        self._respond(conn, status, b"health %d\n" % status)
        return True

    def set_health(self, status):
        with self.lock:
            self.health_status = status

    def probe_count(self, status=None):
        with self.lock:
            return len([p for p in self.probes if status is None or p[1] == status])

    def served(self):
        """Requests other than probes."""
        with self.lock:
            return len([r for r in self.requests if r.path != "/health"])


def checked_upstream(origins, interval=0.2, rise=2, fall=3):
    """The group "app" of origins, probed on /health."""
    text = upstream("app", [o.address for o in origins])
    return text[:-1] + ('health_check = { type = "http"; path = "/health"; interval = %r; '
                        'timeout = 0.2; rise = %d; fall = %d; status = [ 200, 399 ]; }; }'
                        % (interval, rise, fall))


def checked_server(origins, workers=2, **check):
    s = harness.Server(workers=workers, start=False)
    try:
        s.rewrite_config(text=proxy_config(s, [checked_upstream(origins, **check)],
                                           [location("/app/", proxy="app")]))
        s.start()
    except BaseException:
        s.close()
        raise
    return s


def checker_pid(s, generation=None):
    """The pid of the newest checker started (of generation, if given)."""
    found = [int(m.group(1)) for m in re.finditer(STARTED, s.log())
             if generation is None or int(m.group(2)) == generation]
    if not found:
        raise HarnessError("no checker started\nlog:\n%s" % s.log())
    return found[-1]


def answered_by(s, n=20):
    """Which origin answered each of n proxied requests."""
    return [s.request("GET", "/app/status/200").header("X-Origin") for _ in range(n)]


class HealthCheckTest(unittest.TestCase):
    def setUp(self):
        self.a = HealthOrigin("a")
        self.b = HealthOrigin("b")
        self.addCleanup(self.a.stop)
        self.addCleanup(self.b.stop)

    def wait_down(self, s, origin, count=1):
        return s.wait_for_log(r"upstream app server %s is down \(check: status 503, 3 failures\)"
                              % re.escape(origin.address), timeout=10, count=count)

    def test_one_probe_per_interval_not_per_worker(self):
        with checked_server([self.a], workers=2) as s:
            pid = checker_pid(s, 1)
            self.assertIn(pid, s.worker_pids())
            wait_until(lambda: self.a.probe_count() >= 1, 10, what="a first probe")
            first = self.a.probe_count()
            time.sleep(2.0)
            n = self.a.probe_count() - first
            # One every 0.2 s is 10; a probe per worker would be 20.
            self.assertGreaterEqual(n, 7)
            self.assertLessEqual(n, 12)
            for _, _, req in self.a.probes:
                self.assertEqual((req.method, req.target, req.version),
                                 ("GET", "/health", "HTTP/1.1"))
                self.assertEqual(req.header("User-Agent"), "shoal-health-check")
                self.assertEqual(req.header("Host"), self.a.address)
                self.assertEqual(req.header("Connection"), "close")
            # A stop takes the checker with the rest.
            s.signal(signal.SIGQUIT)
            self.assertEqual(s.wait_exit(20), 0)
            self.assertFalse(pid_alive(pid))

    def test_a_failing_server_gets_no_requests_until_it_recovers(self):
        with checked_server([self.a, self.b]) as s:
            wait_until(lambda: self.a.probe_count() >= 2 and self.b.probe_count() >= 2, 10,
                       what="both origins probed")
            self.assertEqual(set(answered_by(s, 10)), {"a", "b"})
            self.a.set_health(503)
            self.wait_down(s, self.a)
            self.assertGreaterEqual(self.a.probe_count(503), 3)
            before = self.a.served()
            self.assertEqual(answered_by(s), ["b"] * 20)
            self.assertEqual(self.a.served(), before)
            self.a.set_health(200)
            s.wait_for_log(r"upstream app server %s is up \(check: status 200, 2 passes\)"
                           % re.escape(self.a.address), timeout=10)
            self.assertIn("a", answered_by(s))

    def test_a_killed_checker_is_started_again(self):
        with checked_server([self.a]) as s:
            pid = checker_pid(s, 1)
            wait_until(lambda: self.a.probe_count() >= 1, 10, what="a first probe")
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            s.wait_for_log(r"checker \(pid %d\) killed by signal 9, restarting" % pid)
            s.wait_for_log(STARTED, count=2)
            self.assertGreaterEqual(time.monotonic() - killed, 0.9)
            new = checker_pid(s)
            self.assertNotEqual(new, pid)
            self.assertIn(new, s.worker_pids())
            seen = self.a.probe_count()
            wait_until(lambda: self.a.probe_count() > seen + 2, 10, what="probes again")

    def test_a_server_down_stays_down_across_a_reload(self):
        with checked_server([self.a, self.b]) as s:
            old = checker_pid(s, 1)
            wait_until(lambda: self.b.probe_count() >= 2, 10, what="b probed")
            self.a.set_health(503)
            self.wait_down(s, self.a)
            # The new generation probes every 5 s: without the state kept, a would take
            # requests for 15 s before its probes take it down again.
            s.rewrite_config(text=proxy_config(s, [checked_upstream([self.a, self.b],
                                                                    interval=5.0)],
                                               [location("/app/", proxy="app")]))
            served = self.a.served()
            s.signal(signal.SIGHUP)
            s.wait_for_log(r"reloaded .*: generation 2 ", timeout=10)
            s.wait_ready(4)
            self.assertEqual(answered_by(s), ["b"] * 20)
            self.assertEqual(self.a.served(), served)
            new = checker_pid(s, 2)
            # The old checker stops only once the new one probes.
            m = s.wait_for_log(r"stopping checker \(pid %d, generation 1\)" % old)[0]
            probing = s.wait_for_log(r"checker \(pid %d\) is probing" % new)[0]
            self.assertLess(probing.start(), m.start())
            wait_until(lambda: not pid_alive(old), 10, what="the old checker to exit")


if __name__ == "__main__":
    harness.main()

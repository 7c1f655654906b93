"""No failed request while the server reloads, rescales, or loses a worker: keep-alive load
on loopback, bounded in time, through storms of HUP and TTIN/TTOU."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, wait_until, socket_inodes_of  # noqa: E402


class LoadClient:
    """Keep-alive clients in threads, each looping GET; a connection the server closes after
    a Connection: close response is reopened. Anything else is a failure: a request sent on
    an open connection that gets no response, a reset, a non-2xx status.
    The `fresh` threads beyond them open a new connection for every request instead, and send
    it a moment after the connection is made, as a client across a network would: until then
    the connection waits in the listening socket (TCP_DEFER_ACCEPT), so that a socket closed
    with connections still in it fails them, and a refused connection is a failure too."""

    def __init__(self, port, conns=8, path="/file612.txt", fresh=0):
        self.port, self.path = port, path
        self.ok = 0
        self.fresh_ok = 0
        self.failures = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.clients = {}
        self.threads = [threading.Thread(target=self.run, args=(i,)) for i in range(conns)]
        self.threads += [threading.Thread(target=self.run_fresh, args=(conns + i,))
                         for i in range(fresh)]

    def run(self, i):
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    c = Client(self.port, timeout=10)
                    with self.lock:
                        self.clients[i] = c
                r = c.request("GET", self.path)
                self.count(i, r, fresh=False)
                if (r.header("Connection") or "").lower() == "close":
                    c.close()
                    c = None
            except Exception as e:  # any error on an open connection is a failed request
                with self.lock:
                    self.failures.append((i, repr(e)))
                if c:
                    c.close()
                c = None
        if c:
            c.close()

    def run_fresh(self, i):
        while not self.stop.is_set():
            try:
                with Client(self.port, timeout=10) as c:
                    time.sleep(0.005)
                    self.count(i, c.request("GET", self.path, {"Connection": "close"}),
                               fresh=True)
            except Exception as e:  # refused, reset, cut short: all failures
                with self.lock:
                    self.failures.append((i, repr(e)))

    def count(self, i, r, fresh):
        with self.lock:
            if r.status != 200:
                self.failures.append((i, "status %d" % r.status))
            elif fresh:
                self.fresh_ok += 1
            else:
                self.ok += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(20)
        return False


def wrk_run(port, seconds, conns=32):
    """Starts wrk against the server; returns the Popen."""
    return subprocess.Popen(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds,
                             "http://127.0.0.1:%d/file612.txt" % port],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_counts(output):
    """(requests, socket errors, non-2xx) from wrk's report."""
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return requests, errors, int(m.group(1)) if m else 0


class ZeroDowntimeTest(unittest.TestCase):
    def server(self, **kw):
        s = harness.Server(**kw)
        self.addCleanup(s.close)
        return s

    def storm(self, s, hups=20, scale_rounds=5, upgrades=3):
        """HUPs, TTIN/TTOU pairs and binary upgrades, each waited for in the log so that
        every change is really applied under load."""
        for i in range(hups):
            s.signal(signal.SIGHUP)
            s.wait_for_log(r"reloaded .*: generation %d " % (i + 2), timeout=10)
            time.sleep(0.05)
        for i in range(scale_rounds):
            s.signal(signal.SIGTTIN)
            s.wait_for_log(r"adding worker", count=i + 1, timeout=10)
            time.sleep(0.1)
            s.signal(signal.SIGTTOU)
            s.wait_for_log(r"removing worker", count=i + 1, timeout=10)
            time.sleep(0.1)
        for _ in range(upgrades):
            old = s.pid
            self.assertNotEqual(s.upgrade(), old)
            time.sleep(0.2)

    def test_storm_with_own_client(self):
        s = self.server(workers=2, shutdown_timeout=10)
        with LoadClient(s.port, conns=8) as load:
            wait_until(lambda: load.ok > 100, 10, what="load to start")
            self.storm(s)
            done = load.ok
            wait_until(lambda: load.ok > done + 100, 10, what="load after the storm")
        self.assertEqual(load.failures, [], "failed requests during reloads")
        self.assertGreater(load.ok, 500)

    @unittest.skipUnless(shutil.which("wrk"), "wrk is not installed")
    def test_storm_with_wrk(self):
        s = self.server(workers=2, shutdown_timeout=10)
        wrk = wrk_run(s.port, seconds=12)
        self.addCleanup(wrk.kill)
        time.sleep(0.5)
        self.storm(s)
        out, _ = wrk.communicate(timeout=30)
        requests, errors, non2xx = wrk_counts(out)
        self.assertGreater(requests, 1000, out)
        self.assertEqual((errors, non2xx), (0, 0), out)

    def rescale(self, s, rounds, hold, gap, done=0):
        """Rounds of TTIN, `hold` seconds, TTOU, `gap` seconds, each waited for in the log. With
        a gap under a second, every TTIN after the first comes while the worker that the TTOU
        before it removed still accepts from its slot's socket (for a second); with a gap and
        a hold over a second together, that second ends while the slot is back."""
        for i in range(done, done + rounds):
            s.signal(signal.SIGTTIN)
            s.wait_for_log(r"adding worker", count=i + 1, timeout=10)
            time.sleep(hold)
            s.signal(signal.SIGTTOU)
            s.wait_for_log(r"removing worker", count=i + 1, timeout=10)
            time.sleep(gap)
        return done + rounds

    def test_ttin_within_a_second_of_ttou(self):
        """Issue 12: a slot removed and added again within the removed worker's accept grace
        must not leave new connections queued in a socket that is about to close."""
        s = self.server(workers=2, shutdown_timeout=10)
        with LoadClient(s.port, conns=6, fresh=3) as load:
            wait_until(lambda: load.ok > 100 and load.fresh_ok > 100, 10, what="load to start")
            fresh = load.fresh_ok
            done = self.rescale(s, rounds=10, hold=0.3, gap=0.3)
            self.rescale(s, rounds=10, hold=1.0, gap=0.3, done=done)
            fresh = load.fresh_ok - fresh
            done = load.ok
            wait_until(lambda: load.ok > done + 100, 10, what="load after the rescaling")
        self.assertEqual(load.failures, [], "%d failed connections or requests while rescaling "
                         "(%d new connections served meanwhile)" % (len(load.failures), fresh))
        self.assertGreater(fresh, 1000, "too few new connections to mean anything")

    def test_failed_upgrade_keeps_the_old_master(self):
        s = self.server(workers=2)
        workers = sorted(s.worker_pids())
        with open(s.conf) as f:
            s.rewrite_config(text=f.read() + "no_such_key = 1;\n")
        s.signal(signal.SIGUSR2)
        s.wait_for_log(r"cannot start: .*no_such_key")
        s.wait_for_log(r"binary upgrade failed: .* still serving")
        self.assertEqual(sorted(s.worker_pids()), workers)
        with open(s.pid_file) as f:
            self.assertEqual(int(f.read()), s.pid)
        self.assertEqual(s.request("GET", "/").status, 200)

    def test_upgrade_continues_counters_and_sockets(self):
        s = self.server(workers=2)
        inodes = s.listening_inodes()
        for _ in range(5):
            self.assertEqual(s.request("GET", "/").status, 200)
        s.upgrade()
        self.assertEqual(s.listening_inodes(), inodes, "the sockets were handed over, not rebound")
        for _ in range(5):
            self.assertEqual(s.request("GET", "/").status, 200)
        r = subprocess.run([os.environ.get("SHOALCTL") or os.path.join(
            os.path.dirname(harness.BINARY), "shoalctl"), "-f", s.stats_file, "stats",
            "--prometheus"], capture_output=True, text=True, timeout=20)
        self.assertRegex(r.stdout, r"(?m)^shoal_requests_total 10$")

    def test_health_path_fails_while_a_stop_delays(self):
        s = self.server(workers=2, health_path="/healthz", stop_delay=2, shutdown_timeout=5)
        r = s.request("GET", "/healthz")
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        s.signal(signal.SIGQUIT)
        s.wait_for_log(r"stopping: ", count=2)
        started = time.monotonic()
        r = s.request("GET", "/healthz")
        self.assertEqual(r.status, 503)
        r = s.request("GET", "/file612.txt")  # still served, on its last connection
        self.assertEqual((r.status, r.header("Connection")), (200, "close"))
        self.assertLess(time.monotonic() - started, 1.5)
        self.assertEqual(s.wait_exit(10), 0)
        self.assertGreater(time.monotonic() - started, 1.0)

    def server_socket_inode(self, client, port):
        """The inode of the server side of client's connection, from /proc/net/tcp."""
        local_port = client.sock.getsockname()[1]
        with open("/proc/net/tcp") as f:
            for line in f.read().splitlines()[1:]:
                cols = line.split()
                if (int(cols[1].rsplit(":", 1)[1], 16) == port and
                        int(cols[2].rsplit(":", 1)[1], 16) == local_port):
                    return int(cols[9])
        return None

    def test_sigkill_fails_only_the_victims_connections(self):
        s = self.server(workers=2)
        with LoadClient(s.port, conns=12) as load:
            wait_until(lambda: load.ok > 200 and len(load.clients) == 12, 10,
                       what="load on every connection")
            victim = s.workers_by_slot()[0]
            with load.lock:
                held = socket_inodes_of(victim)
                victims = {i for i, c in load.clients.items()
                           if self.server_socket_inode(c, s.port) in held}
                os.kill(victim, signal.SIGKILL)
            wait_until(lambda: victim not in s.worker_pids() and len(s.worker_pids()) == 2, 5,
                       what="the replacement worker")
            done = load.ok
            wait_until(lambda: load.ok > done + 200, 10, what="load after the kill")
        failed = {i for i, _ in load.failures}
        self.assertLessEqual(failed, victims,
                             "connections of the surviving worker failed: %s" % load.failures)


if __name__ == "__main__":
    harness.main()

"""Clients that misbehave on purpose do not stop the server from serving everyone else:
slow heads, clients that never read, and running out of file descriptors."""

import json
import os
import resource
import select
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, wait_until  # noqa: E402

SLOW_CLIENTS = 1000


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def latencies(port, n):
    """Seconds taken by each of n requests on one keep-alive connection."""
    out = []
    with Client(port) as c:
        for _ in range(n):
            t = time.monotonic()
            r = c.request("GET", "/file612.txt")
            out.append(time.monotonic() - t)
            assert r.status == 200, r
    return out


def p99(values):
    values = sorted(values)
    return values[int(len(values) * 0.99) - 1]


class HardeningTest(unittest.TestCase):
    def server(self, **kw):
        s = harness.Server(**kw)
        self.addCleanup(s.close)
        return s

    def stats(self, s):
        ctl = os.environ.get("SHOALCTL") or os.path.join(os.path.dirname(harness.BINARY),
                                                         "shoalctl")
        r = subprocess.run([ctl, "-f", s.stats_file, "stats", "--json"], capture_output=True,
                           text=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        return json.loads(r.stdout)["totals"]

    def test_slow_heads_do_not_slow_others(self):
        raise_nofile(SLOW_CLIENTS + 256)
        s = self.server(workers=2, header_timeout=3)
        slow = []
        for _ in range(SLOW_CLIENTS):
            c = socket.create_connection(("127.0.0.1", s.port))
            c.setblocking(False)
            slow.append(c)
        self.addCleanup(lambda: [c.close() for c in slow])
        head = b"GET /file612.txt HTTP/1.1\r\nHost: x\r\n\r\n"
        times = []
        started = time.monotonic()
        for i in range(3):  # one byte a second from every slow client
            for c in slow:
                try:
                    c.send(head[i:i + 1])
                except OSError:
                    pass
            times += latencies(s.port, 100)
            time.sleep(max(0, started + i + 1 - time.monotonic()))
        self.assertLess(p99(times), 0.050, "p99 of normal requests among slow clients")

        def all_cut():
            r, _, _ = select.select(slow, [], [], 0.2)
            for c in r:
                try:
                    while c.recv(65536):
                        pass
                except BlockingIOError:
                    continue
                except OSError:
                    pass
                slow.remove(c)
                c.close()
            return not slow
        wait_until(all_cut, 15, what="the header timeout to cut every slow client")
        self.assertGreaterEqual(self.stats(s)["errors_timeout"], SLOW_CLIENTS)

    def test_clients_that_never_read(self):
        s = self.server(workers=1, send_timeout=2)
        s.write_file("big.bin", b"x" * (8 << 20))
        stuck = []
        for _ in range(20):
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.connect(("127.0.0.1", s.port))
            c.sendall(harness.build_request("GET", "/big.bin"))
            stuck.append(c)
        self.addCleanup(lambda: [c.close() for c in stuck])
        self.assertLess(p99(latencies(s.port, 100)), 0.050)
        wait_until(lambda: self.stats(s)["connections_active"] <= 1, 10,
                   what="send_timeout to close the clients that do not read")
        self.assertGreaterEqual(self.stats(s)["errors_timeout"], 20)
        self.assertEqual(s.request("GET", "/").status, 200)

    def test_out_of_descriptors_pauses_accepting(self):
        s = self.server(workers=1)
        worker = s.worker_pids()[0]
        # Cached, "/" needs no descriptor of its own, so only connections use them up.
        self.assertEqual(s.request("GET", "/").status, 200)
        wait_until(lambda: self.stats(s)["connections_active"] == 0, 5, what="the warm-up")
        used = len(os.listdir("/proc/%d/fd" % worker))
        resource.prlimit(worker, resource.RLIMIT_NOFILE, (used + 10, used + 10))
        served = [Client(s.port) for _ in range(10)]
        self.addCleanup(lambda: [c.close() for c in served])
        for c in served:  # these use up the descriptors left
            self.assertEqual(c.request("GET", "/").status, 200)
        waiting = [Client(s.port) for _ in range(10)]
        self.addCleanup(lambda: [c.close() for c in waiting])
        for c in waiting:  # queued in the kernel: no descriptor to accept them with
            c.send(harness.build_request("GET", "/"))
        s.wait_for_log(r"accept: Too many open files; pausing accepting")
        before = cpu_seconds(worker)
        time.sleep(1.0)
        self.assertLess(cpu_seconds(worker) - before, 0.2, "the worker spins on EMFILE")
        for c in served:  # free descriptors: the queued connections get served
            c.close()
        for c in waiting:
            self.assertEqual(c.read_response().status, 200)
        self.assertTrue(harness.pid_alive(worker))


if __name__ == "__main__":
    harness.main()

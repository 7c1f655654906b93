"""Several hosts behind a load balancer (issue 16): two shoal hosts on 127.0.0.2 and 127.0.0.3
behind a real HAProxy that sends them the PROXY protocol (v2) and checks their health_path.
shoal's access log names the client behind HAProxy; a client outside proxy_protocol_from is
refused; under wrk -c64 for 30 s, host a stopped gracefully (-s quit, its stop_delay longer
than HAProxy needs to take it out) and started afresh, then host b upgraded in place (-s
upgrade): not one request fails."""

import os
import re
import shutil
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import rolling  # noqa: E402


class ShoalHost:
    """One shoal "host": its own directory, listening on ip with the PROXY protocol from
    HAProxy (127.0.0.1) only."""

    def __init__(self, ip):
        self.ip = ip
        self.server = harness.Server(workers=2, start=False, health_path="/health",
                                     stop_delay=2, shutdown_timeout=5)
        s = self.server
        self.access_log = os.path.join(s.dir, "access.log")
        text = s.config_text(listen=["%s:%d proxy_protocol" % (ip, s.port)],
                             access_log=self.access_log)
        marker = 'index = [ "index.html" ];'
        s.rewrite_config(text=text.replace(
            marker, marker + '\n    proxy_protocol_from = [ "127.0.0.1" ];'))
        self.address = "%s:%d" % (ip, s.port)

    def start(self):
        s = self.server
        serving = len(re.findall(r"is serving", s.log()))
        s.start(wait=False)
        harness.wait_until(lambda: len(re.findall(r"is serving", s.log())) >= serving + 2,
                           harness.START_TIMEOUT, what="%s serving" % self.address)

    def quit(self):
        s = self.server
        harness.run_cli(["-c", s.conf, "-s", "quit"])
        if s.wait_exit(30) is None:
            raise RuntimeError("%s did not stop within 30 s" % self.address)

    def upgrade(self):
        s = self.server
        done = len(re.findall(r"binary upgrade done", s.log()))
        old = s.pid
        harness.run_cli(["-c", s.conf, "-s", "upgrade"])
        m = s.wait_for_log(r"binary upgrade done: this master \(pid (\d+)\)", timeout=15,
                           count=done + 1)
        s.pid = int(m[-1].group(1))
        s._seen_pids.add(s.pid)
        harness.wait_until(lambda: not harness.pid_alive(old), 30, what="the old master to exit")

    def close(self):
        self.server.close()


class RollingTest(unittest.TestCase):
    def setUp(self):
        self.a = ShoalHost("127.0.0.2")
        self.addCleanup(self.a.close)
        self.b = ShoalHost("127.0.0.3")
        self.addCleanup(self.b.close)
        self.a.start()
        self.b.start()
        self.dir = tempfile.mkdtemp(prefix="shoal-haproxy-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.haproxy = rolling.HAProxy(self.dir, harness.free_port(),
                                       [("a", self.a.address), ("b", self.b.address)])
        self.addCleanup(self.haproxy.stop)
        self.haproxy.wait_up(["a", "b"])

    def test_the_access_log_names_the_client_behind_haproxy(self):
        for _ in range(4):
            c = socket.socket()
            c.bind(("127.0.0.5", 0))
            c.settimeout(10)
            c.connect(("127.0.0.1", self.haproxy.port))
            c.sendall(b"GET /file612.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            data = harness.read_to_end(c, timeout=10)
            c.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:60])

        def logged():
            lines = []
            for host in (self.a, self.b):
                if os.path.exists(host.access_log):
                    with open(host.access_log) as f:
                        lines += [ln for ln in f if "/file612.txt" in ln]
            return lines if len(lines) >= 4 else None
        lines = harness.wait_until(logged, 10, what="four access log lines")
        for line in lines:
            self.assertTrue(line.startswith("127.0.0.5 "), line)

    def test_a_client_outside_proxy_protocol_from_is_refused(self):
        c = socket.socket()
        c.bind(("127.0.0.4", 0))
        c.settimeout(10)
        c.connect((self.a.ip, self.a.server.port))
        c.sendall(b"PROXY TCP4 192.0.2.1 127.0.0.2 5555 80\r\n"
                  b"GET /file612.txt HTTP/1.1\r\nHost: t\r\n\r\n")
        try:
            answer = c.recv(65536)
        except ConnectionResetError:  # closed with the request unread: a reset
            answer = b""
        c.close()
        self.assertEqual(answer, b"", "closed without an answer")

    def test_a_rolling_upgrade_under_load_fails_no_request(self):
        counts = rolling.roll(self.haproxy, self.a, self.b, seconds=30, conns=64)
        sys.stderr.write("\nrolling upgrade behind HAProxy: %d requests, %d socket errors, "
                         "%d non-2xx; a stopped at %.1f s, back at %.1f s, b upgraded at "
                         "%.1f s\n" % (counts["requests"], counts["errors"], counts["non2xx"],
                                       counts["a stopped"], counts["a back"],
                                       counts["b upgraded"]))
        self.assertGreater(counts["requests"], 1000, counts["wrk"])
        self.assertEqual((counts["errors"], counts["non2xx"]), (0, 0), counts["wrk"])


if __name__ == "__main__":
    harness.main()

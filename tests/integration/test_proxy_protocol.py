"""PROXY protocol on a listener (issue 16), end to end with headers written by hand: versions 1
and 2 make the header's source the client of the access log, a v2 LOCAL header keeps the real
peer, health_path answers behind it, and keep-alive follows one header; a peer outside
proxy_protocol_from, a malformed header, a request with no header and a header that stalls
past proxy_protocol_timeout are closed with no answer and counted; an address without the
flag is unaffected."""

import json
import os
import re
import socket
import struct
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
TIMEOUT = 0.5  # proxy_protocol_timeout of the server under test


def v1(src, dst, sport, dport):
    family = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (family, src, dst, sport, dport)).encode()


def v2(src=None, dst=None, sport=0, dport=0, tlvs=b""):
    """A version 2 PROXY command over TCP, or with src None the LOCAL command."""
    if src is None:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", len(tlvs)) + tlvs
    family = socket.AF_INET6 if ":" in src else socket.AF_INET
    body = (socket.inet_pton(family, src) + socket.inet_pton(family, dst)
            + struct.pack("!HH", sport, dport) + tlvs)
    return (V2_SIGNATURE + bytes([0x21, 0x21 if family == socket.AF_INET6 else 0x11])
            + struct.pack("!H", len(body)) + body)


def get(path):
    return harness.build_request("GET", path)


def shoalctl(*args):
    ctl = os.environ.get("SHOALCTL") or os.path.join(os.path.dirname(harness.BINARY), "shoalctl")
    return subprocess.run([ctl] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


class ProxyProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        s = harness.Server(workers=1, start=False, health_path="/healthz")
        cls.server = s
        cls.pp_port = harness.free_port()
        cls.access_log = os.path.join(s.dir, "access.log")
        text = s.config_text(access_log=cls.access_log,
                             listen=["127.0.0.1:%d" % s.port,
                                     "127.0.0.1:%d proxy_protocol" % cls.pp_port])
        marker = 'index = [ "index.html" ];'
        text = text.replace(marker, marker + '\n    proxy_protocol_from = [ "127.0.0.1" ];')
        s.rewrite_config(text="proxy_protocol_timeout = %s;\n" % TIMEOUT + text)
        try:
            s.start()
        except BaseException:
            s.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    # -- helpers --

    def client(self):
        c = harness.Client(self.pp_port, timeout=10)
        self.addCleanup(c.sock.close)
        return c

    def log_line(self, path_and_query):
        """The access log line of the request for path_and_query (each test asks its own)."""
        pattern = r'(?m)^.*"GET %s HTTP/1\.1".*$' % re.escape(path_and_query)
        return self.server.wait_for_log(pattern, path=self.access_log)[0].group(0)

    def counts(self):
        r = shoalctl("-f", self.server.stats_file, "stats", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        totals = json.loads(r.stdout)["totals"]
        return {k: totals["proxy_protocol_" + k]
                for k in ("accepted", "refused", "malformed", "timeout")}

    def assert_counted(self, before, what, n=1):
        harness.wait_until(lambda: self.counts()[what] >= before[what] + n, 5,
                           what="%s to be counted" % what)

    def assert_closed_unanswered(self, sock, data):
        sock.sendall(data)
        self.assertEqual(harness.read_to_end(sock), b"")

    # -- the header's client --

    def test_v1_header_and_request_in_one_write(self):
        before = self.counts()
        c = self.client()
        c.send(v1("203.0.113.7", "127.0.0.1", 51000, self.pp_port) + get("/?v1"))
        r = c.read_response()
        self.assertEqual((r.status, r.body), (200, harness.INDEX_BODY))
        self.assertTrue(self.log_line("/?v1").startswith("203.0.113.7 - - ["))
        self.assert_counted(before, "accepted")

    def test_v2_ipv4_with_tlvs_then_the_request_in_a_second_write(self):
        c = self.client()
        authority = b"\x02" + struct.pack("!H", 11) + b"example.com"
        c.send(v2("198.51.100.9", "127.0.0.1", 40000, self.pp_port, tlvs=authority))
        time.sleep(0.1)
        c.send(get("/?v2"))
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(self.log_line("/?v2").startswith("198.51.100.9 - - ["))

    def test_v2_ipv6_and_v1_ipv6(self):
        c = self.client()
        c.send(v2("2001:db8::1", "2001:db8::2", 40000, 443) + get("/?v2-6"))
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(self.log_line("/?v2-6").startswith("2001:db8::1 - - ["))
        c = self.client()
        c.send(v1("2001:db8::7", "2001:db8::2", 40000, 443) + get("/?v1-6"))
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(self.log_line("/?v1-6").startswith("2001:db8::7 - - ["))

    def test_v2_local_keeps_the_real_peer(self):
        before = self.counts()
        c = self.client()
        c.send(v2() + get("/?local"))
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(self.log_line("/?local").startswith("127.0.0.1 - - ["))
        self.assert_counted(before, "accepted")

    def test_health_path_answers_behind_the_header(self):
        c = self.client()
        c.send(v2() + get("/healthz"))
        self.assertEqual(c.read_response().status, 200)
        c = self.client()
        c.send(v1("203.0.113.8", "127.0.0.1", 51000, self.pp_port) + get("/healthz?ha"))
        self.assertEqual(c.read_response().status, 200)

    def test_keep_alive_follows_one_header(self):
        c = self.client()
        c.send(v1("203.0.113.9", "127.0.0.1", 51000, self.pp_port))
        for i in range(3):
            c.send(get("/?ka%d" % i))
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertNotEqual(r.header("connection"), "close")
        for i in range(3):
            self.assertTrue(self.log_line("/?ka%d" % i).startswith("203.0.113.9 - - ["))
        # The header is read once: another one now is a request, and a bad one.
        c.send(v1("203.0.113.10", "127.0.0.1", 51000, self.pp_port) + b"\r\n")
        self.assertEqual(c.read_response().status, 400)

    # -- what is closed without an answer --

    def test_a_peer_outside_proxy_protocol_from_is_closed_and_counted(self):
        before = self.counts()
        told = len(re.findall(r"proxy_protocol: refused \d+ connection", self.server.log()))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(sock.close)
        sock.bind(("127.0.0.2", 0))
        sock.connect(("127.0.0.1", self.pp_port))
        self.assert_closed_unanswered(
            sock, v1("203.0.113.7", "127.0.0.1", 51000, self.pp_port) + get("/?refused"))
        self.assert_counted(before, "refused")
        self.server.wait_for_log(r"proxy_protocol: refused \d+ connections? from peers not in "
                                 r"proxy_protocol_from .*\(the last from 127\.0\.0\.2\)",
                                 count=told + 1)

    def test_a_malformed_header_is_closed_and_counted(self):
        before = self.counts()
        self.assert_closed_unanswered(self.client().sock,
                                      b"PROXY TCP4 203.0.113.7 127.0.0.1 99999 80\r\n"
                                      + get("/?bad"))
        bad_v2 = V2_SIGNATURE + b"\x23\x11\x00\x0c" + b"\x00" * 12  # command 3
        self.assert_closed_unanswered(self.client().sock, bad_v2 + get("/?bad2"))
        self.assert_counted(before, "malformed", 2)

    def test_a_request_without_a_header_is_closed_and_counted(self):
        before = self.counts()
        self.assert_closed_unanswered(self.client().sock, b"GET / HTTP/1.1\r\n\r\n")
        self.assert_counted(before, "malformed")

    def test_a_stalled_header_is_closed_after_proxy_protocol_timeout(self):
        before = self.counts()
        c = self.client()
        started = time.monotonic()
        c.send(b"PROXY TCP4 203.0.113.7 ")
        self.assertEqual(harness.read_to_end(c.sock), b"")
        elapsed = time.monotonic() - started
        self.assertGreaterEqual(elapsed, TIMEOUT - 0.05)
        self.assertLess(elapsed, TIMEOUT + 1.5)
        self.assert_counted(before, "timeout")

    # -- an address without the flag --

    def test_an_address_without_the_flag_is_unaffected(self):
        c = harness.Client(self.server.port, timeout=10)
        self.addCleanup(c.sock.close)
        c.send(get("/?plain"))
        self.assertEqual(c.read_response().status, 200)
        self.assertTrue(self.log_line("/?plain").startswith("127.0.0.1 - - ["))
        # A header there is no header: its line is a bad request line.
        c.send(v1("203.0.113.7", "127.0.0.1", 51000, self.server.port) + get("/?plain2"))
        self.assertEqual(c.read_response().status, 400)

if __name__ == "__main__":
    harness.main()

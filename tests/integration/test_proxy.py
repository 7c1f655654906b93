"""The reverse proxy (issue 13) end to end, against an origin of the tests' own (origin.py):
what is forwarded and what is not, request and response framing, errors and timeouts, the
upstream keep-alive pool, WebSocket tunnels, bounded memory under a slow reader, the access
log, shoalctl, config checks and reloads under proxied load."""

import hashlib
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, HarnessError, Response, build_request, wait_until  # noqa: E402
from origin import Origin, field, parse_head, pattern  # noqa: E402

SHOALCTL = None
MiB = 1 << 20
HOST = "example.test"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="
WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="  # RFC 6455's example for WS_KEY


# ---- configuration ----

def conf_value(value):
    if isinstance(value, float):
        return repr(value)
    return harness._conf_value(value)


def upstream(name, servers, **opts):
    """An entry of upstreams; servers: addresses, or (address, weight) pairs."""
    entries = []
    for s in servers:
        address, weight = s if isinstance(s, tuple) else (s, 1)
        entries.append('{ address = "%s"; weight = %d; }' % (address, weight))
    text = "".join(" %s = %s;" % (k, conf_value(v)) for k, v in opts.items())
    return '{ name = "%s"; servers = ( %s );%s }' % (name, ", ".join(entries), text)


def location(path, **opts):
    text = "".join(" %s = %s;" % (k, conf_value(v)) for k, v in opts.items())
    return '{ path = "%s";%s }' % (path, text)


def proxy_config(server, upstreams, locations):
    """The harness's config for server with upstreams at the top and locations in the server."""
    text = server.config_text()
    marker = 'index = [ "index.html" ];'
    text = text.replace(marker, marker + "\n    locations = (\n      "
                        + ",\n      ".join(locations) + "\n    );")
    return "upstreams = (\n  " + ",\n  ".join(upstreams) + "\n);\n" + text


def proxy_server(upstreams, locations, workers=2, prepare=None, **settings):
    """A started shoal with the given upstreams and locations; prepare(server) runs before the
    config file is written (to add files or settings)."""
    s = harness.Server(workers=workers, start=False, **settings)
    try:
        if prepare:
            prepare(s)
        s.rewrite_config(text=proxy_config(s, upstreams, locations))
        s.start()
    except BaseException:
        s.close()
        raise
    return s


def shoalctl(*args):
    return subprocess.run([SHOALCTL] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def vm_rss(pid):
    """Resident bytes of pid."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise HarnessError("no VmRSS for pid %d" % pid)


# ---- a client that reads any framing ----

class ProxyClient(Client):
    """A Client whose responses are read by their framing: Content-Length, chunked (decoded,
    trailers kept) or until close; interim 1xx responses other than 101 are collected."""

    def read_exact(self, n, deadline=None):
        """As Client.read_exact, without copying the whole buffer at every read."""
        deadline = deadline or time.monotonic() + self.timeout
        buf = bytearray(self.buf)
        while len(buf) < n:
            data = self._recv(deadline, max(65536, n - len(buf)))
            if not data:
                raise HarnessError("connection closed after %d of %d body bytes"
                                   % (len(buf), n))
            buf += data
        out, self.buf = bytes(buf[:n]), bytes(buf[n:])
        return out

    def read_line(self, deadline):
        while b"\r\n" not in self.buf:
            data = self._recv(deadline)
            if not data:
                raise HarnessError("connection closed inside a chunked body: %r" % self.buf[-80:])
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read_chunked(self, deadline):
        body, trailers = bytearray(), []
        while True:
            line = self.read_line(deadline)
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            body += self.read_exact(size, deadline)
            if self.read_line(deadline) != b"":
                raise HarnessError("chunk data not followed by CRLF")
        while True:
            line = self.read_line(deadline)
            if not line:
                return bytes(body), trailers
            name, _, value = line.decode("latin-1").partition(":")
            trailers.append((name.strip(), value.strip()))

    def read_message(self, head_request=False, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        interim = []
        while True:
            version, status, reason, headers = self.read_head(deadline)
            if status == 101 or not 100 <= status < 200:
                break
            interim.append(status)
        r = Response(version, status, reason, headers, b"")
        r.interim, r.trailers = interim, []
        te = r.header("transfer-encoding")
        if head_request or status in (101, 204, 304):
            r.framing = "none"
        elif te is not None:
            if te.lower() != "chunked":
                raise HarnessError("unexpected Transfer-Encoding %r" % te)
            r.framing = "chunked"
            r.body, r.trailers = self.read_chunked(deadline)
        elif r.header("content-length") is not None:
            r.framing = "length"
            r.body = self.read_exact(int(r.header("content-length")), deadline)
        else:
            r.framing = "close"
            while not self.eof:
                self.buf += self._recv(deadline)
            r.body, self.buf = self.buf, b""
        return r

    def request(self, method="GET", path="/", headers=None, body=b"", version="HTTP/1.1"):
        self.send(build_request(method, path, headers, body, version))
        return self.read_message(head_request=(method == "HEAD"))

    def read_until_closed(self, timeout):
        """Every byte until the peer closes; raises if it stays open past timeout."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            self.buf += self._recv(deadline)
        data, self.buf = self.buf, b""
        return data


def echoed(r):
    """(method, target, version, headers, body) of the request an /echo response shows."""
    head, _, body = r.body.partition(b"\r\n\r\n")
    method, target, version, headers = parse_head(head)
    return method, target, version, headers, body


# ---- the origin alone ----

class OriginSelfTest(unittest.TestCase):
    """The origin and ProxyClient by themselves, so that a proxy test failing is the proxy."""

    def setUp(self):
        self.origin = Origin()
        self.addCleanup(self.origin.stop)

    def client(self):
        c = ProxyClient(self.origin.port)
        self.addCleanup(c.close)
        return c

    def test_upload_hash_by_length_and_chunked(self):
        c = self.client()
        body = pattern(300000, offset=7)
        r = c.request("POST", "/upload-hash", body=body)
        got = json.loads(r.body)
        self.assertEqual((got["sha256"], got["length"], got["framing"]),
                         (hashlib.sha256(body).hexdigest(), len(body), "length"))
        chunked = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(p), p)
                           for p in (body[:1], body[1:70000], body[70000:]))
        c.send(build_request("POST", "/upload-hash", [("Transfer-Encoding", "chunked")])
               + chunked + b"0\r\nX-T: 1\r\n\r\n")
        got = json.loads(c.read_message().body)
        self.assertEqual((got["sha256"], got["length"], got["framing"]),
                         (hashlib.sha256(body).hexdigest(), len(body), "chunked"))

    def test_response_framings(self):
        c = self.client()
        for path, framing in (("/size/70000", "length"), ("/chunked/70000", "chunked"),
                              ("/chunked-trailer/70000", "chunked")):
            r = c.request("GET", path)
            self.assertEqual((r.status, r.framing, r.body), (200, framing, pattern(70000)))
        self.assertEqual(c.request("HEAD", "/size/70000").header("Content-Length"), "70000")
        self.assertEqual(c.request("GET", "/info").interim, [103])
        r = c.request("GET", "/close/5000")
        self.assertEqual((r.framing, r.body), ("close", pattern(5000)))

    def test_counts_connections_and_closes_idle_ones(self):
        c = self.client()
        for _ in range(3):
            self.assertEqual(c.request("GET", "/size/10").header("X-Origin-Conn"), "1")
        self.assertEqual(self.origin.accepted(), 1)
        wait_until(lambda: self.origin.close_idle() == 1, 5, what="the idle connection")
        self.assertTrue(c.closed_by_peer())
        self.assertEqual(self.client().request("GET", "/size/10").header("X-Origin-Conn"), "2")


# ---- one proxy, many behaviours ----

class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.files = tempfile.mkdtemp(prefix="shoal-it-proxy-")
        cls.static_dir = os.path.join(cls.files, "static")
        cls.site_dir = os.path.join(cls.files, "site")
        # A location's root takes the whole request path.
        os.makedirs(os.path.join(cls.static_dir, "api", "static"))
        with open(os.path.join(cls.static_dir, "api", "static", "f.txt"), "wb") as f:
            f.write(b"static beside the proxy\n")
        os.makedirs(cls.site_dir)
        with open(os.path.join(cls.site_dir, "index.html"), "wb") as f:
            f.write(b"site\n")
        cls.origin = Origin("app")
        cls.rr_a, cls.rr_b = Origin("rr-a"), Origin("rr-b")
        cls.dead = "127.0.0.1:%d" % harness.free_port()  # nothing listens there
        try:
            cls.server = proxy_server(
                [upstream("app", [cls.origin.address], keepalive=32, connect_timeout=2,
                          send_timeout=60, read_timeout=60, tunnel_timeout=3600),
                 upstream("slow", [cls.origin.address], read_timeout=0.5, tunnel_timeout=1.0),
                 upstream("dead", [cls.dead], connect_timeout=2),
                 upstream("pair", [(cls.rr_a.address, 3), (cls.rr_b.address, 1)])],
                [location("/api/", proxy="app", x_forwarded=True, forwarded=False),
                 location("/api/static/", root=cls.static_dir),
                 location("/fwd/", proxy="app", x_forwarded=False, forwarded=True),
                 location("/host/", proxy="app", x_forwarded=True,
                          proxy_host="backend.internal"),
                 location("/slow/", proxy="slow"),
                 location("/dead/", proxy="dead"),
                 location("/rr/", proxy="pair"),
                 location("/", root=cls.site_dir)],
                workers=2, max_body_size=100 * MiB)
        except BaseException:
            cls.stop_origins()
            raise

    @classmethod
    def stop_origins(cls):
        for o in (cls.origin, cls.rr_a, cls.rr_b):
            o.stop()
        shutil.rmtree(cls.files, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.stop_origins()

    def client(self, timeout=10.0, **kw):
        c = ProxyClient(self.server.port, timeout=timeout, **kw)
        self.addCleanup(c.close)
        return c

    def get(self, path, headers=None, timeout=10.0, **kw):
        return self.client(timeout).request("GET", path, headers=headers, **kw)

    def last_request(self, path_part):
        found = [r for r in self.origin.requests if path_part in r.path]
        self.assertTrue(found, "the origin got no request for %s" % path_part)
        return found[-1]

    def assert_last_on_its_connection(self, path_part):
        """The request was the last its upstream connection carried: a pooled connection may
        have served others before it, none after it."""
        req = self.last_request(path_part)
        on_conn = [r for r in self.origin.requests if r.conn_id == req.conn_id]
        self.assertIs(on_conn[-1], req, "the connection was used again after a bad response")

    def hash_answer(self, r):
        """The JSON of an /upload-hash or /continue answer."""
        self.assertEqual((r.status, r.header("X-Origin")), (200, "app"), r)
        return json.loads(r.body)

    # -- requests --

    def test_forwards_method_target_and_headers(self):
        c = self.client()
        target = "/api/echo/a%20b?q=1&r=%2F&s=a+b"
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
            with self.subTest(method=method):
                body = b"" if method in ("GET", "OPTIONS") else b"body of " + method.encode()
                r = c.request(method, target, body=body, headers=[
                    ("Host", HOST), ("X-A", "1"), ("X-Multi", "a"), ("X-Multi", "b"),
                    ("Cookie", "c=1; d=2"), ("User-Agent", "proxy-test/1")])
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.header("X-Origin"), "app")
                m, t, v, headers, got = echoed(r)
                self.assertEqual((m, t, v), (method, target, "HTTP/1.1"))
                self.assertEqual(got, body)
                self.assertEqual(field(headers, "X-A"), "1")
                self.assertEqual(field(headers, "X-Multi"), "a, b")
                self.assertEqual(field(headers, "Cookie"), "c=1; d=2")
                self.assertEqual(field(headers, "User-Agent"), "proxy-test/1")

    def test_removes_hop_by_hop_fields_of_requests(self):
        r = self.get("/api/echo", headers=[
            ("Host", HOST), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "1"),
            ("Keep-Alive", "timeout=300"), ("TE", "trailers, deflate"), ("Trailer", "X-T"),
            ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic eDp5"),
            ("Proxy-Connection", "keep-alive"), ("X-Kept", "yes")])
        self.assertEqual(r.status, 200, r)
        headers = echoed(r)[3]
        names = {k.lower() for k, _ in headers}
        for gone in ("x-secret", "keep-alive", "trailer", "upgrade", "proxy-authorization",
                     "proxy-connection"):
            self.assertNotIn(gone, names, headers)
        self.assertNotIn("deflate", field(headers, "TE") or "", headers)
        connection = (field(headers, "Connection") or "").lower()
        self.assertNotIn("x-secret", connection)
        self.assertNotIn("upgrade", connection)
        self.assertEqual(field(headers, "X-Kept"), "yes")

    def test_removes_hop_by_hop_fields_of_responses(self):
        c = self.client()
        r = c.request("GET", "/api/hop")
        self.assertEqual((r.status, r.body), (200, b"hop\n"))
        names = {k.lower() for k, _ in r.header_list}
        for gone in ("x-secret", "trailer", "upgrade", "proxy-authenticate", "proxy-connection"):
            self.assertNotIn(gone, names, r.header_list)
        self.assertNotEqual(r.header("Keep-Alive"), "timeout=99", r.header_list)
        self.assertNotIn("x-secret", (r.header("Connection") or "").lower())
        self.assertEqual(r.header("X-Kept"), "yes")
        self.assertEqual(c.request("GET", "/api/size/10").body, pattern(10))

    def test_keeps_host_or_sends_proxy_host(self):
        headers = echoed(self.get("/api/echo", headers=[("Host", HOST)]))[3]
        self.assertEqual(field(headers, "Host"), HOST)
        r = self.get("/host/echo", headers=[("Host", HOST)])
        headers = echoed(r)[3]
        self.assertEqual(field(headers, "Host"), "backend.internal")
        self.assertEqual(field(headers, "X-Forwarded-Host"), HOST)
        # An HTTP/1.0 client may send no Host; an HTTP/1.1 request upstream needs one.
        r = self.get("/api/echo", version="HTTP/1.0")
        self.assertEqual(r.status, 200, r)
        _, _, version, headers, _ = echoed(r)
        hosts = [v for k, v in headers if k.lower() == "host"]
        if version == "HTTP/1.1":
            self.assertEqual(len(hosts), 1, headers)
            self.assertNotEqual(hosts[0], "")

    def test_x_forwarded_fields(self):
        headers = echoed(self.get("/api/echo", headers=[("Host", HOST)]))[3]
        self.assertEqual(field(headers, "X-Forwarded-For"), "127.0.0.1")
        self.assertEqual(field(headers, "X-Forwarded-Proto"), "http")
        self.assertEqual(field(headers, "X-Forwarded-Host"), HOST)
        # The client's own X-Forwarded-For is appended to; Proto and Host are set, not trusted.
        headers = echoed(self.get("/api/echo", headers=[
            ("Host", HOST), ("X-Forwarded-For", "203.0.113.7"),
            ("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "spoofed.test")]))[3]
        self.assertEqual(field(headers, "X-Forwarded-For"), "203.0.113.7, 127.0.0.1")
        self.assertEqual(field(headers, "X-Forwarded-Proto"), "http")
        self.assertEqual(field(headers, "X-Forwarded-Host"), HOST)

    def test_forwarded_field_when_enabled(self):
        headers = echoed(self.get("/fwd/echo", headers=[
            ("Host", HOST), ("Forwarded", "for=192.0.2.60;proto=https")]))[3]
        elements = [e.strip() for e in (field(headers, "Forwarded") or "").split(",")]
        self.assertEqual(len(elements), 2, headers)
        self.assertEqual(elements[0], "for=192.0.2.60;proto=https")
        params = {}
        for pair in elements[1].split(";"):
            name, _, value = pair.partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        self.assertEqual(params.get("for"), "127.0.0.1", elements)
        self.assertEqual(params.get("proto"), "http", elements)
        self.assertEqual(params.get("host", HOST), HOST, elements)
        # x_forwarded = false on that location: none of the X-Forwarded fields.
        names = {k.lower() for k, _ in headers}
        self.assertFalse(names & {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
                         headers)

    def test_longest_prefix_location_wins(self):
        before = len(self.origin.requests)
        r = self.get("/api/static/f.txt")
        self.assertEqual((r.status, r.body), (200, b"static beside the proxy\n"))
        self.assertIsNone(r.header("X-Origin"))
        self.assertEqual(len(self.origin.requests), before, "the static file went upstream")
        r = self.get("/api/staticx")  # not under /api/static/: the proxy's
        self.assertEqual((r.status, r.header("X-Origin")), (404, "app"))
        r = self.get("/index.html")
        self.assertEqual((r.status, r.body), (200, b"site\n"))
        r = self.get("/api")  # not under /api/: the site's, which has no such file
        self.assertIsNone(r.header("X-Origin"))
        self.assertNotEqual(r.status, 200)

    def test_round_robin_by_weight(self):
        c = self.client()  # one connection: one worker's rotation
        names = [c.request("GET", "/rr/size/1").header("X-Origin") for _ in range(40)]
        self.assertAlmostEqual(names.count("rr-a"), 30, delta=1, msg=names)
        self.assertAlmostEqual(names.count("rr-b"), 10, delta=1, msg=names)

    # -- request bodies --

    def test_request_body_by_content_length(self):
        c = self.client()
        body = pattern(3 * MiB, offset=11)
        got = self.hash_answer(c.request("POST", "/api/upload-hash", body=body))
        self.assertEqual((got["sha256"], got["length"]),
                         (hashlib.sha256(body).hexdigest(), len(body)))
        self.assertEqual(c.request("GET", "/api/size/10").body, pattern(10))

    def test_chunked_upload_of_50_mb(self):
        c = self.client(timeout=60)
        c.send(build_request("POST", "/api/upload-hash", [("Transfer-Encoding", "chunked")]))
        digest, sent, i = hashlib.sha256(), 0, 0
        sizes = (1, 100, 65536, MiB, 300007, 7)
        while sent < 50 * MiB:
            data = pattern(min(sizes[i % len(sizes)], 50 * MiB - sent), offset=sent)
            ext = b";n=%d" % i if i % 3 == 0 else b""
            c.send(b"%x%s\r\n%s\r\n" % (len(data), ext, data))
            digest.update(data)
            sent += len(data)
            i += 1
        c.send(b"0\r\nX-Trailer: t\r\n\r\n")
        got = self.hash_answer(c.read_message(timeout=60))
        self.assertEqual((got["sha256"], got["length"]), (digest.hexdigest(), 50 * MiB))
        self.assertEqual(c.request("GET", "/api/size/10").body, pattern(10))

    def test_expect_100_continue(self):
        c = self.client()
        body = pattern(MiB, offset=3)
        c.send(build_request("POST", "/api/continue", [
            ("Expect", "100-continue"), ("Content-Length", str(len(body)))]))
        # The body goes only after the 100: a proxy that waits for it first never answers.
        status = c.read_head(time.monotonic() + 5)[1]
        self.assertEqual(status, 100)
        c.send(body)
        r = c.read_message()
        got = self.hash_answer(r)
        self.assertEqual(r.interim, [], "a second 100 Continue reached the client")
        self.assertEqual((got["sha256"], got["length"]),
                         (hashlib.sha256(body).hexdigest(), len(body)))

    # -- responses --

    def test_response_by_content_length(self):
        c = self.client(timeout=30)
        for n in (0, 1, 65536, 10 * MiB):
            with self.subTest(n=n):
                r = c.request("GET", "/api/size/%d" % n)
                self.assertEqual((r.status, r.framing, r.header("Content-Length")),
                                 (200, "length", str(n)))
                self.assertTrue(r.body == pattern(n), "the body differs")

    def test_chunked_response(self):
        c = self.client()
        for path in ("/api/chunked/300000", "/api/chunked-trailer/300000"):
            with self.subTest(path=path):
                r = c.request("GET", path)
                self.assertEqual((r.status, r.framing), (200, "chunked"))
                self.assertTrue(r.body == pattern(300000), "the body differs")
        self.assertEqual(c.request("GET", "/api/size/10").body, pattern(10))

    def test_response_until_close_is_rechunked(self):
        c = self.client()
        for path in ("/api/close/300000", "/api/close10/300000"):
            with self.subTest(path=path):
                r = c.request("GET", path)
                self.assertEqual((r.status, r.framing), (200, "chunked"), r)
                self.assertTrue(r.body == pattern(300000), "the body differs")
        # The client's connection stayed alive through both.
        self.assertEqual(c.request("GET", "/api/size/10").body, pattern(10))
        # An HTTP/1.0 client cannot take chunks: the end of its body is the close.
        for path in ("/api/close/300000", "/api/chunked/300000"):
            with self.subTest(path=path, client="HTTP/1.0"):
                r = self.get(path, version="HTTP/1.0")
                self.assertNotEqual(r.framing, "chunked")
                self.assertTrue(r.body == pattern(300000), "the body differs")

    def test_head_1xx_204_304_carry_no_body(self):
        c = self.client()
        r = c.request("HEAD", "/api/size/5000")
        self.assertEqual((r.status, r.header("Content-Length")), (200, "5000"))
        self.assertEqual(c.request("GET", "/api/status/204").status, 204)
        self.assertEqual(c.request("GET", "/api/status/304").status, 304)
        r = c.request("GET", "/api/info")
        self.assertEqual((r.status, r.body), (200, b"after hints\n"))
        # A body after any of them would stand in front of this response.
        r = c.request("GET", "/api/size/10")
        self.assertEqual((r.status, r.body), (200, pattern(10)))

    # -- errors --

    def assert_error_page(self, r, status):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.reason, {502: "Bad Gateway", 504: "Gateway Timeout"}[status])
        self.assertIsNone(r.header("X-Origin"))
        self.assertIn(b"%d" % status, r.body)
        self.assertEqual(r.header("Content-Length"), str(len(r.body)))

    def test_bad_content_length_is_502_and_the_connection_dropped(self):
        for kind in ("differ", "same", "list", "plus"):
            with self.subTest(kind=kind):
                self.assert_error_page(self.get("/api/bad-cl/" + kind, timeout=5), 502)
                bad = self.origin.conn(self.last_request("/bad-cl/" + kind).conn_id)
                wait_until(bad.closed.is_set, 5, what="the proxy to close the bad connection")
                self.assertTrue(bad.closed_by_peer)
                self.assert_last_on_its_connection("/bad-cl/" + kind)
                r = self.get("/api/size/10")
                self.assertEqual((r.status, r.body), (200, pattern(10)))

    def test_invalid_head_and_reset_are_502(self):
        for path in ("/api/bad-head", "/api/reset"):
            with self.subTest(path=path):
                self.assert_error_page(self.get(path, timeout=5), 502)
        bad = self.origin.conn(self.last_request("/bad-head").conn_id)
        wait_until(bad.closed.is_set, 5, what="the proxy to close the bad connection")
        self.assert_last_on_its_connection("/bad-head")

    def test_connect_refused_is_502_logged_once(self):
        # The worker's line; the master may also say, a second later, that the server was
        # ejected (issue 14), which is another event.
        line = re.escape(self.dead) + ": connect"
        before = len(re.findall(line, self.server.log()))
        self.assert_error_page(self.get("/dead/x", timeout=5), 502)
        self.server.wait_for_log(line, count=before + 1)
        time.sleep(0.5)
        self.assertEqual(len(re.findall(line, self.server.log())), before + 1, self.server.log())

    def test_read_timeout_is_504(self):
        started = time.monotonic()
        r = self.get("/slow/slow-head/3", timeout=5)
        elapsed = time.monotonic() - started
        self.assert_error_page(r, 504)
        self.assertGreater(elapsed, 0.4)
        self.assertLess(elapsed, 2.5, "read_timeout = 0.5 took %.1f s" % elapsed)

    def test_read_timeout_counts_from_the_upstreams_silence(self):
        c = self.client()
        c.send(build_request("GET", "/slow/silent"))
        # A pipelined next request, a byte every 0.2 s and never whole: the client's side
        # moves all along, the upstream's never does.
        trickle = b"GET /slow/size/10 HTTP/1.1\r\nHost: " + b"h" * 64
        sent, started = 0, time.monotonic()
        while not select.select([c.sock], [], [], 0.2)[0] and time.monotonic() - started < 3:
            c.send(trickle[sent:sent + 1])
            sent += 1
        elapsed = time.monotonic() - started
        self.assertLess(elapsed, 2.5, "read_timeout = 0.5 took %.1f s under a trickling "
                        "client" % elapsed)
        self.assertGreater(elapsed, 0.4)
        self.assertGreater(sent, 0, "the client sent nothing before the answer")
        self.assert_error_page(c.read_message(timeout=2), 504)
        silent = self.origin.conn(self.last_request("/silent").conn_id)
        wait_until(silent.closed.is_set, 5, what="the proxy to close the silent connection")
        self.assertTrue(silent.closed_by_peer)

    def test_client_reset_releases_the_upstream(self):
        # /api/ keeps the default read_timeout (60 s): only the client's reset can end this.
        c = self.client()
        c.send(build_request("GET", "/api/silent"))
        wait_until(lambda: any("/silent" in r.path and r.target.startswith("/api/")
                               for r in self.origin.requests), 5, what="the request upstream")
        silent = self.origin.conn(self.last_request("/api/silent").conn_id)
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.sock.close()
        wait_until(silent.closed.is_set, 3, what="the proxy to give up the upstream connection")
        self.assertTrue(silent.closed_by_peer)

    def test_timeout_after_the_head_closes_the_client(self):
        c = self.client()
        c.send(build_request("GET", "/slow/slow-body/3"))
        _, status, _, headers = c.read_head()
        self.assertEqual(status, 200)
        self.assertIn(("Content-Length", "10"), headers)
        self.assertEqual(c.read_until_closed(2.5), b"01234")

    def test_reset_after_the_response_started_closes_the_client(self):
        n = 1000000
        for framing in ("length", "chunked", "close"):
            with self.subTest(framing=framing):
                c = self.client()
                c.send(build_request("GET", "/api/reset-mid/%s/%d" % (framing, n)))
                _, status, _, headers = c.read_head()
                self.assertEqual(status, 200)
                rest = c.read_until_closed(5)
                if framing == "length":
                    self.assertLess(len(rest), n)
                else:
                    # Whatever the framing sent to the client, it must not end: a chunked
                    # body has no last chunk, a length one is short.
                    lengths = [int(v) for k, v in headers if k.lower() == "content-length"]
                    if lengths:
                        self.assertLess(len(rest), lengths[0])
                    else:
                        self.assertFalse(rest.endswith(b"0\r\n\r\n"),
                                         "a cut body presented as complete")

    # -- the keep-alive pool --

    def test_keepalive_pool_1000_requests(self):
        before = self.origin.accepted()
        c = self.client()
        for i in range(1000):
            # Half on one client connection, half on a new one each: the pool is the
            # worker's, whichever connection the request came on.
            if i % 2:
                r = c.request("GET", "/api/size/100")
            else:
                with ProxyClient(self.server.port) as fresh:
                    r = fresh.request("GET", "/api/size/100")
            self.assertEqual((r.status, r.body), (200, pattern(100)))
        opened = self.origin.accepted() - before
        self.assertLessEqual(opened, 4, "1,000 requests opened %d upstream connections" % opened)

    def test_idle_connection_closed_by_the_origin(self):
        for _ in range(5):
            for _ in range(4):
                self.assertEqual(self.get("/api/size/10").status, 200)
            wait_until(lambda: self.origin.close_idle() > 0, 5, what="an idle connection")
            # An origin thread may turn idle only after its client had the answer: shut
            # those too, until none is left open.
            wait_until(lambda: self.origin.close_idle() == 0 and
                       not any(c.idle for c in self.origin.open_connections()), 5,
                       what="the idle connections to close")
            time.sleep(0.1)
            for _ in range(4):
                r = self.get("/api/size/10")
                self.assertEqual((r.status, r.body), (200, pattern(10)))

    def test_failed_reuse_is_retried_once(self):
        self.addCleanup(self.origin.fail_next_reuse, False)
        c = self.client()
        self.assertEqual(c.request("GET", "/api/size/10").status, 200)
        failures = self.origin.reuse_failures
        self.origin.fail_next_reuse()
        r = c.request("GET", "/api/size/20")  # same worker, its pooled connection
        self.assertEqual((r.status, r.body), (200, pattern(20)))
        self.assertEqual(self.origin.reuse_failures, failures + 1,
                         "the request did not go out on a reused connection")

    # -- WebSocket --

    def upgrade(self, path):
        c = self.client()
        r = c.request("GET", path, headers=[
            ("Connection", "Upgrade"), ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", WS_KEY), ("Sec-WebSocket-Version", "13")])
        self.assertEqual(r.status, 101, r)
        self.assertEqual(r.header("Upgrade", "").lower(), "websocket")
        self.assertEqual(r.header("Sec-WebSocket-Accept"), WS_ACCEPT)
        return c, self.origin.conn(int(r.header("X-Origin-Conn")))

    def test_websocket_echo(self):
        c, conn = self.upgrade("/api/ws")
        c.send(b"hello")
        self.assertEqual(c.read_exact(5), b"hello")
        payload = pattern(MiB, offset=5)
        sender = threading.Thread(target=c.send, args=(payload,), daemon=True)
        sender.start()
        self.assertTrue(c.read_exact(len(payload)) == payload, "the echo differs")
        sender.join(10)
        c.close()
        wait_until(conn.closed.is_set, 5, what="the tunnel's close to reach the origin")
        self.assertTrue(conn.closed_by_peer)

    def test_101_without_upgrade_is_502(self):
        r = self.get("/api/ws/bare", timeout=5, headers=[
            ("Connection", "Upgrade"), ("Upgrade", "websocket"),
            ("Sec-WebSocket-Key", WS_KEY), ("Sec-WebSocket-Version", "13")])
        self.assert_error_page(r, 502)
        bad = self.origin.conn(self.last_request("/ws/bare").conn_id)
        wait_until(bad.closed.is_set, 5, what="the proxy to close the bad connection")
        self.assertTrue(bad.closed_by_peer)

    def test_idle_tunnel_times_out(self):
        c, conn = self.upgrade("/slow/ws")
        time.sleep(0.7)  # beyond read_timeout = 0.5, within tunnel_timeout = 1
        c.send(b"still there")
        self.assertEqual(c.read_exact(11), b"still there")
        started = time.monotonic()
        self.assertEqual(c.read_until_closed(4), b"")
        self.assertGreater(time.monotonic() - started, 0.8)
        wait_until(conn.closed.is_set, 5, what="the origin's side to close")


# ---- bounded memory ----

class ProxyMemoryTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin = Origin("app")
        try:
            cls.server = proxy_server(
                [upstream("app", [cls.origin.address], keepalive=8, read_timeout=60,
                          send_timeout=60)],
                [location("/api/", proxy="app")],
                workers=1, proxy_buffer_size=65536, max_body_size=2147483647)
        except BaseException:
            cls.origin.stop()
            raise
        cls.worker = cls.server.worker_pids()[0]
        for n in (MiB, 10 * MiB):  # the proxy's paths for small and large bodies have run
            with ProxyClient(cls.server.port, timeout=30) as c:
                r = c.request("GET", "/api/big/%d" % n)
                if r.status != 200 or len(r.body) != n:
                    raise HarnessError("warm-up: %r" % r)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.origin.stop()

    def watch_rss(self, baseline, seconds, step):
        """Calls step() for seconds; returns the worker's largest RSS growth meanwhile."""
        grown, deadline = 0, time.monotonic() + seconds
        while time.monotonic() < deadline:
            step()
            grown = max(grown, vm_rss(self.worker) - baseline)
        return grown

    def test_slow_reader_of_1_gib(self):
        n = 1 << 30
        c = ProxyClient(self.server.port, timeout=120, rcvbuf=65536)
        self.addCleanup(c.close)
        baseline = vm_rss(self.worker)
        sent_before = self.origin.big_sent
        c.send(build_request("GET", "/api/big/%d" % n))
        _, status, _, headers = c.read_head()
        self.assertEqual((status, dict(headers).get("Content-Length")), (200, str(n)))
        got = bytearray(c.buf)
        c.buf = b""
        c.sock.settimeout(5)

        def read_slowly():  # about 1 MB/s
            got.extend(c.sock.recv(16384))
            time.sleep(0.016)
        grown = self.watch_rss(baseline, 3.0, read_slowly)
        sent = self.origin.big_sent - sent_before
        self.assertLess(grown, 4 * MiB, "the worker grew by %d bytes" % grown)
        self.assertGreaterEqual(sent, len(got))
        self.assertLess(sent, 64 * MiB, "the origin sent %d bytes to a slow reader" % sent)
        self.assertTrue(bytes(got) == pattern(len(got)), "the body differs")
        total, buf = len(got), bytearray(4 * MiB)
        c.sock.settimeout(60)
        while total < n:
            k = c.sock.recv_into(buf)
            self.assertGreater(k, 0, "closed after %d of %d bytes" % (total, n))
            total += k
        self.assertEqual(total, n)
        self.assertLess(vm_rss(self.worker) - baseline, 4 * MiB)
        self.assertEqual(c.request("GET", "/api/size/10").body, pattern(10))

    def test_slow_upstream_reader_of_an_upload(self):
        n = 1 << 30
        c = ProxyClient(self.server.port, timeout=30)
        self.addCleanup(c.close)
        baseline = vm_rss(self.worker)
        c.send(build_request("POST", "/api/slow-upload", [("Content-Length", str(n))]))
        c.sock.setblocking(False)
        block, sent = memoryview(pattern(MiB)), [0]

        def write_fast():
            try:
                sent[0] += c.sock.send(block[sent[0] % MiB:])
            except BlockingIOError:
                time.sleep(0.005)
        grown = self.watch_rss(baseline, 3.0, write_fast)
        self.assertLess(grown, 4 * MiB, "the worker grew by %d bytes" % grown)
        self.assertLess(sent[0], 64 * MiB, "the proxy took %d bytes from the client ahead of "
                        "an origin reading 1 MB/s" % sent[0])
        self.assertGreater(self.origin.slow_received, 0, "no byte reached the origin")


# ---- operations ----

class ProxyOpsTest(unittest.TestCase):
    def setUp(self):
        self.origin = Origin("app")
        self.addCleanup(self.origin.stop)

    def server(self, locations=None, upstreams=None, **settings):
        s = proxy_server(upstreams or [upstream("app", [self.origin.address])],
                         locations or [location("/api/", proxy="app")], **settings)
        self.addCleanup(s.close)
        return s

    def test_bytes_left_behind_a_response_are_not_the_next_answer(self):
        # The first read of a response asks for the whole 4096-byte window and fills it, so
        # it does not reach EAGAIN: the stray response behind stays in the socket, and no
        # new event tells of it.
        s = self.server(workers=1, proxy_buffer_size=4096)
        c = ProxyClient(s.port, timeout=5)
        self.addCleanup(c.close)
        r = c.request("GET", "/api/stray/4096")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body == pattern(len(r.body)), "the body differs")
        stray = self.origin.conn(int(r.header("X-Origin-Conn")))
        for _ in range(3):
            r = c.request("GET", "/api/size/10")
            self.assertEqual((r.status, r.body), (200, pattern(10)), "a stray answer")
            self.assertNotEqual(r.header("X-Origin-Conn"), str(stray.id))
        # Closed with the stray bytes unread, so by a reset: the origin itself would keep it
        # open for 30 s.
        wait_until(stray.closed.is_set, 5, what="the proxy to close the connection")
        self.assertEqual(stray.requests, 1)

    def test_access_log_has_the_upstream_fields(self):
        path = {}

        def prepare(s):
            path["log"] = os.path.join(s.dir, "access.log")
            s.settings["access_log"] = path["log"]
        s = self.server(workers=1, prepare=prepare)
        self.assertEqual(s.request("GET", "/api/echo").status, 200)
        s.wait_for_log(r'"GET /api/echo HTTP/1\.1" 200 \d+ .*upstream=%s upstream_status=200 '
                       r'upstream_time=\d+\.\d+' % re.escape(self.origin.address),
                       path=path["log"], timeout=5)

    def test_shoalctl_upstreams(self):
        dead = "127.0.0.1:%d" % harness.free_port()
        s = self.server(workers=1, upstreams=[upstream("app", [self.origin.address]),
                                              upstream("dead", [dead])],
                        locations=[location("/api/", proxy="app"),
                                   location("/dead/", proxy="dead")])
        for _ in range(7):
            self.assertEqual(s.request("GET", "/api/size/100").status, 200)
        self.assertEqual(s.request("GET", "/dead/x").status, 502)
        r = shoalctl("-f", s.stats_file, "upstreams")
        self.assertEqual(r.returncode, 0, r.stderr)
        for text in ("app", self.origin.address, "dead", dead):
            self.assertIn(text, r.stdout)

        def labelled(name, value, *labels):
            pattern_ = r"(?m)^%s\{%s[^}]*\} %d$" % (
                name, "".join(r"(?=[^}]*%s)" % re.escape(x) for x in labels), value)

            def found():
                out = shoalctl("-f", s.stats_file, "upstreams", "--prometheus")
                return re.search(pattern_, out.stdout) or None
            try:
                wait_until(found, 5, what=pattern_)
            except HarnessError:
                self.fail("no %s in:\n%s" % (pattern_, shoalctl(
                    "-f", s.stats_file, "upstreams", "--prometheus").stdout))
        labelled(r"shoal_upstream_requests\w*", 7, 'upstream="app"',
                 'server="%s"' % self.origin.address)
        labelled(r"shoal_upstream_\w*fail\w*", 1, 'upstream="dead"', "connect")
        r = shoalctl("-f", s.stats_file, "upstreams", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(self.origin.address, json.dumps(json.loads(r.stdout)))

    def test_check_rejects_bad_references(self):
        s = harness.Server(workers=1, start=False)
        self.addCleanup(s.close)
        good_up = upstream("app", [self.origin.address])
        good_loc = location("/api/", proxy="app")
        cases = [  # (name, upstreams, locations, the bad entry, what must be named)
            ("unknown upstream", [good_up], [good_loc, location("/x/", proxy="nope")],
             'proxy = "nope"', "nope"),
            ("duplicate name", [good_up, upstream("app", ["127.0.0.1:1"])], [good_loc],
             '"127.0.0.1:1"', "app"),
            ("bad address", [good_up, upstream("b", ["nowhere"])], [good_loc],
             '"nowhere"', "nowhere"),
        ]
        path = os.path.join(s.dir, "check.conf")
        with open(path, "w") as f:
            f.write(proxy_config(s, [good_up], [good_loc]))
        r = harness.run_cli(["-t", "-c", path])
        self.assertEqual(r.returncode, 0, r.stderr)
        for name, ups, locs, bad, key in cases:
            with self.subTest(name):
                text = proxy_config(s, ups, locs)
                line = [i + 1 for i, l in enumerate(text.splitlines()) if bad in l]
                self.assertEqual(len(line), 1)
                with open(path, "w") as f:
                    f.write(text)
                r = harness.run_cli(["-t", "-c", path])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("%s:%d" % (path, line[0]), r.stderr)
                self.assertIn(key, r.stderr)
                self.assertNotIn("successful", r.stderr)

    def test_hup_under_proxied_load_loses_nothing(self):
        from test_zero_downtime import LoadClient
        s = self.server(workers=2, shutdown_timeout=10)
        with LoadClient(s.port, conns=2, path="/api/size/1000") as load:
            wait_until(lambda: load.ok > 50, 10, what="load to start")
            for i in range(3):
                s.signal(signal.SIGHUP)
                s.wait_for_log(r"reloaded .*: generation %d " % (i + 2), timeout=10)
                time.sleep(0.3)
            done = load.ok
            wait_until(lambda: load.ok > done + 50, 10, what="load after the reloads")
        self.assertEqual(load.failures, [], "failed proxied requests during reloads")

    def test_quit_lets_proxied_requests_in_flight_finish(self):
        s = self.server(workers=1, shutdown_timeout=10)
        c = Client(s.port)
        self.addCleanup(c.close)
        c.send(build_request("GET", "/api/slow-head/1"))
        wait_until(lambda: any("/slow-head/1" in r.path for r in self.origin.requests), 5,
                   what="the request upstream")
        s.signal(signal.SIGQUIT)
        r = c.read_response(timeout=5)
        self.assertEqual((r.status, r.body), (200, b"slow head\n"))
        # The stop began before the upstream answered: the head says close, as a static
        # answer's would, so the worker need not wait shutdown_timeout (10 s) for the
        # connection to go.
        self.assertEqual(r.header("Connection"), "close")
        started = time.monotonic()
        s.wait_exit(10)
        self.assertFalse(s.alive())
        self.assertLess(time.monotonic() - started, 3)

    def test_reload_applies_upstream_changes(self):
        other = Origin("other")
        self.addCleanup(other.stop)
        s = self.server(workers=2)
        self.assertEqual(s.request("GET", "/api/size/1").header("X-Origin"), "app")
        old = set(s.worker_pids())
        s.rewrite_config(text=proxy_config(s, [upstream("app", [other.address])],
                                           [location("/api/", proxy="app")]))
        s.signal(signal.SIGHUP)
        s.wait_for_log(r"reloaded .*: generation 2 ", timeout=10)
        # A retiring worker keeps accepting from its slot's socket for a moment (nothing
        # queued there is lost), with the configuration it was started with.
        wait_until(lambda: not old & set(s.worker_pids()), 10, what="the old workers to exit")
        for _ in range(10):
            self.assertEqual(s.request("GET", "/api/size/1").header("X-Origin"), "other")


if __name__ == "__main__":
    SHOALCTL = os.environ.get("SHOALCTL") or os.path.join(
        os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")), "shoalctl")
    harness.main()

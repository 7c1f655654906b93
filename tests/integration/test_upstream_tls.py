"""HTTPS upstreams (issue 17): a group with tls = true speaks TLS to its servers, verifies their
certificates against tls_ca for each server's address or tls_server_name (sent as SNI), keeps
the connections in its pool like plain ones, counts a refused handshake as a failed connect
(retried on another server, logged with OpenSSL's reason, 502 when none is left), probes with
TLS too, and puts a PROXY protocol header in clear ahead of the handshake. Against HTTPS origins
of this test's own (Python's ssl module), with certificates made by the openssl command in a
temporary directory."""

import hashlib
import json
import os
import re
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, build_request, wait_until  # noqa: E402

OPENSSL_TIMEOUT = 30


class PKI:
    """Two CAs and three server certificates: "ip" and "name" signed by the good CA, for
    127.0.0.1 and for app.test; "other" signed by the other CA, for 127.0.0.1."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="shoal-pki-")
        self.ca = self._ca("good")
        self._ca("other")
        self.ip = self._leaf("ip", "good", "IP:127.0.0.1")
        self.name = self._leaf("name", "good", "DNS:app.test")
        self.other = self._leaf("other", "other", "IP:127.0.0.1")

    def path(self, name):
        return os.path.join(self.dir, name)

    def _run(self, *args):
        subprocess.run(["openssl"] + list(args), check=True, capture_output=True,
                       timeout=OPENSSL_TIMEOUT, cwd=self.dir)

    def _ca(self, name):
        self._run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-subj", "/CN=%s test CA" % name, "-days", "2",
                  "-addext", "basicConstraints=critical,CA:TRUE",
                  "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                  "-keyout", name + "-ca.key", "-out", name + "-ca.crt")
        return self.path(name + "-ca.crt")

    def _leaf(self, name, ca, san):
        with open(self.path(name + ".ext"), "w") as f:
            f.write("subjectAltName = %s\nbasicConstraints = CA:FALSE\n" % san)
        self._run("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-subj", "/CN=%s" % name, "-keyout", name + ".key",
                  "-out", name + ".csr")
        serial = str(int.from_bytes(os.urandom(8), "big"))
        self._run("x509", "-req", "-in", name + ".csr", "-CA", ca + "-ca.crt",
                  "-CAkey", ca + "-ca.key", "-set_serial", serial, "-days", "2",
                  "-extfile", name + ".ext", "-out", name + ".crt")
        return (self.path(name + ".crt"), self.path(name + ".key"))

    def remove(self):
        shutil.rmtree(self.dir, True)


def read_proxy_header(conn):
    """The PROXY protocol header at the start of conn, taken byte-exact (the TLS handshake
    follows it): ("v1", line) or ("v2", command byte)."""
    first = conn.recv(16, socket.MSG_PEEK)
    if first.startswith(b"PROXY "):
        while True:
            peek = conn.recv(107, socket.MSG_PEEK)
            end = peek.find(b"\r\n")
            if end >= 0:
                return ("v1", conn.recv(end + 2)[:end].decode("ascii"))
            time.sleep(0.01)
    if first.startswith(b"\r\n\r\n\x00\r\nQUIT\n") and len(first) == 16:
        length = struct.unpack("!H", first[14:16])[0]
        head = conn.recv(16 + length, socket.MSG_WAITALL)
        return ("v2", head[12])
    raise ValueError("no PROXY protocol header: %r" % first)


class TLSOrigin:
    """An HTTPS server on 127.0.0.1 with the certificate pair: keep-alive HTTP/1.1, each TLS
    connection recorded in conns ({"sni", "header", "paths"}, or {"error"} for a handshake
    that failed). An upgrade switches to an echo; GET /health answers health; GET .../big/N
    answers N bytes of a pattern; .../drop answers and then closes the connection without
    close_notify; anything else answers a JSON account of the request: the connection's
    number, its SNI, the method, the path and the body's length and SHA-256."""

    def __init__(self, pair, proxy_header=False):
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(*pair)
        self.ctx.sni_callback = self._on_sni
        self.proxy_header = proxy_header
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.address = "127.0.0.1:%d" % self.port
        self.conns = []
        self.health = 200
        self.lock = threading.Lock()
        self.open = []
        threading.Thread(target=self._accept, daemon=True).start()

    @staticmethod
    def _on_sni(sock, name, ctx):
        sock.sni_name = name

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(30)
            with self.lock:
                self.open.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _record(self, record):
        with self.lock:
            self.conns.append(record)
            return len(self.conns)

    def _serve(self, conn):
        record = {"sni": None, "header": None, "paths": []}
        try:
            if self.proxy_header:
                record["header"] = read_proxy_header(conn)
            tls = self.ctx.wrap_socket(conn, server_side=True)
        except (ssl.SSLError, OSError, ValueError) as e:
            self._record({"error": str(e)})
            conn.close()
            return
        record["sni"] = getattr(tls, "sni_name", None)
        record["reused"] = tls.session_reused
        number = self._record(record)
        try:
            self._requests(tls, number, record)
        except OSError:
            pass
        finally:
            tls.close()

    def _requests(self, tls, number, record):
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                data = tls.recv(65536)
                if not data:
                    return
                buf += data
            head, _, buf = buf.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            fields = dict((k.strip().lower(), v.strip()) for k, _, v in
                          (line.partition(":") for line in lines[1:]))
            length = int(fields.get("content-length", "0"))
            while len(buf) < length:
                data = tls.recv(65536)
                if not data:
                    return
                buf += data
            body, buf = buf[:length], buf[length:]
            record["paths"].append(path)
            if "upgrade" in fields:
                self._echo(tls, buf)
                return
            if not self._answer(tls, number, record, method, path, body, fields):
                return

    @staticmethod
    def _echo(tls, buf):
        """Switches protocols, then sends back every byte that comes."""
        tls.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\n"
                    b"Connection: upgrade\r\n\r\n" + buf)
        while True:
            data = tls.recv(65536)
            if not data:
                return
            tls.sendall(data)

    def _answer(self, tls, number, record, method, path, body, fields):
        status, payload = 200, None
        if "/closedelim/" in path:
            return self._close_delimited(tls, int(path.rsplit("/", 1)[1]))
        if path == "/health":
            status, payload = self.health, b"health\n"
        elif "/big/" in path:
            n = int(path.rsplit("/", 1)[1])
            payload = (bytes(range(256)) * (n // 256 + 1))[:n]
        else:
            payload = json.dumps({"conn": number, "sni": record["sni"], "method": method,
                                  "path": path, "length": len(body),
                                  "sha256": hashlib.sha256(body).hexdigest()}).encode()
        asked_close = fields.get("connection", "").lower() == "close"
        tls.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n%s\r\n%s"
                    % (status, len(payload), b"Connection: close\r\n" if asked_close else b"",
                       payload))
        if path.endswith("/drop"):
            time.sleep(0.2)  # shoal has pooled the connection by then
        return not asked_close and not path.endswith("/drop")

    @staticmethod
    def _close_delimited(tls, n):
        """n bytes with no length, ended by close_notify alone: the TCP connection stays
        open until the peer closes it."""
        tls.sendall(b"HTTP/1.1 200 X\r\n\r\n" + (b"c" * n))
        try:
            tls.unwrap()  # close_notify, then waits for the peer's, or for its close
        except (ssl.SSLError, OSError):
            pass
        return False

    def connections(self):
        with self.lock:
            return [r for r in self.conns if "error" not in r]

    def failures(self):
        with self.lock:
            return [r["error"] for r in self.conns if "error" in r]

    def stop(self):
        self.sock.close()
        with self.lock:
            for conn in self.open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class SilentListener:
    """Accepts TCP connections and never says a word: a handshake with it cannot end."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.address = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.held = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                self.held.append(self.sock.accept()[0])
            except OSError:
                return

    def stop(self):
        self.sock.close()
        for c in self.held:
            c.close()


def group(name, addresses, ca, extra=""):
    servers = ", ".join('{ address = "%s"; }' % a for a in addresses)
    return ('  { name = "%s"; servers = ( %s );\n    tls = true; tls_ca = "%s"; %s },\n'
            % (name, servers, ca, extra))


def config(server, groups):
    """Each group g at location /g/."""
    text = server.config_text()
    marker = 'index = [ "index.html" ];'
    locations = ",\n".join('      { path = "/%s/"; proxy = "%s"; }' % (g, g) for g, _ in groups)
    text = text.replace(marker, marker + "\n    locations = (\n%s\n    );" % locations)
    upstreams = "".join(g for _, g in groups).rstrip(",\n")
    return "upstreams = (\n" + upstreams + "\n);\n" + text


def idle_connections(s, address):
    """The idle connections the workers' pools hold to the server at address."""
    ctl = os.environ.get("SHOALCTL") or os.path.join(os.path.dirname(harness.BINARY), "shoalctl")
    r = subprocess.run([ctl, "-f", s.stats_file, "stats", "--prometheus"], capture_output=True,
                       text=True, timeout=20, stdin=subprocess.DEVNULL)
    m = re.search(r'^shoal_upstream_connections\{(?=[^}]*server="%s")(?=[^}]*state="idle")'
                  r'[^}]*\} (\d+)$' % re.escape(address), r.stdout, re.M)
    if not m:
        raise AssertionError("no idle connections of %s in:\n%s%s" % (address, r.stdout, r.stderr))
    return int(m.group(1))


class UpstreamTLSTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pki = PKI()

    @classmethod
    def tearDownClass(cls):
        cls.pki.remove()

    def origin(self, pair, **kw):
        o = TLSOrigin(pair, **kw)
        self.addCleanup(o.stop)
        return o

    def serve(self, groups, workers=1):
        s = harness.Server(workers=workers, start=False)
        self.addCleanup(s.close)
        s.rewrite_config(text=config(s, groups))
        s.start()
        return s

    def client(self, s):
        c = Client(s.port)
        self.addCleanup(c.close)
        return c

    def get_json(self, c, path):
        r = c.request("GET", path, headers=[("Host", "example.test")])
        self.assertEqual(r.status, 200, r.body[:300])
        return json.loads(r.body)

    def test_get_and_post_arrive_intact_over_one_pooled_connection(self):
        o = self.origin(self.pki.ip)
        s = self.serve([("app", group("app", [o.address], self.pki.ca))])
        c = self.client(s)
        got = self.get_json(c, "/app/first")
        self.assertEqual((got["method"], got["path"], got["length"]), ("GET", "/app/first", 0))
        # Verified as an address, and an address is never sent as SNI.
        self.assertIsNone(got["sni"])
        body = os.urandom(300000)
        c.send(build_request("POST", "/app/post", [("Host", "example.test")], body))
        r = c.read_response()
        self.assertEqual(r.status, 200, r.body[:300])
        posted = json.loads(r.body)
        self.assertEqual((posted["method"], posted["length"]), ("POST", len(body)))
        self.assertEqual(posted["sha256"], hashlib.sha256(body).hexdigest())
        # A body long enough to be spliced from a plain server is copied through TLS.
        for n in (100, 70000, 1500000):
            r = c.request("GET", "/app/big/%d" % n, headers=[("Host", "example.test")])
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, (bytes(range(256)) * (n // 256 + 1))[:n])
        # Another client connection takes the same pooled TLS connection.
        for i in range(5):
            self.assertEqual(self.get_json(self.client(s), "/app/again%d" % i)["conn"], 1)
        self.assertEqual(len(o.connections()), 1)
        self.assertEqual(o.connections()[0]["paths"][-1], "/app/again4")
        self.assertEqual(o.failures(), [])

    def test_a_pooled_connection_the_server_closes_is_noticed(self):
        o = self.origin(self.pki.ip)
        s = self.serve([("app", group("app", [o.address], self.pki.ca))])
        c = self.client(s)
        self.assertEqual(self.get_json(c, "/app/first")["conn"], 1)
        self.assertEqual(idle_connections(s, o.address), 1)
        # The server closes the pooled connection without close_notify: it leaves the pool.
        self.assertEqual(self.get_json(c, "/app/drop")["conn"], 1)
        wait_until(lambda: idle_connections(s, o.address) == 0, 5,
                   what="the closed connection dropped from the pool")
        self.assertEqual(self.get_json(c, "/app/next")["conn"], 2)
        self.assertEqual(self.get_json(c, "/app/then")["conn"], 2)
        self.assertEqual(idle_connections(s, o.address), 1)

    def test_a_new_connection_resumes_the_session_of_the_last_one(self):
        # Each connection is closed by the origin after one answer: every next one is new,
        # and resumes the session (a TLS 1.3 ticket) the one before it was issued.
        o = self.origin(self.pki.ip)
        s = self.serve([("app", group("app", [o.address], self.pki.ca))])
        c = self.client(s)
        for i in range(4):
            self.assertEqual(self.get_json(c, "/app/%d/drop" % i)["conn"], i + 1)
            wait_until(lambda: idle_connections(s, o.address) == 0, 5,
                       what="the closed connection dropped from the pool")
        self.assertEqual([r["reused"] for r in o.connections()], [False, True, True, True])

    @unittest.skipUnless(os.geteuid() == 0, "needs root to start workers as another user")
    def test_a_ca_file_only_root_may_read_serves_workers_of_another_user(self):
        # As server keys: the master loads tls_ca as its user and the workers inherit it.
        o = self.origin(self.pki.ip)
        ca = self.pki.path("ca-root-only.pem")
        shutil.copyfile(self.pki.ca, ca)
        os.chmod(ca, 0o600)
        s = harness.Server(workers=1, start=False, user="nobody")
        self.addCleanup(s.close)
        s.rewrite_config(text=config(s, [("app", group("app", [o.address], ca))]))
        s.start()
        self.assertEqual(self.get_json(self.client(s), "/app/x")["path"], "/app/x")
        self.assertNotIn("cannot load", s.log())

    def test_a_server_signed_by_another_ca_is_refused_and_another_server_answers(self):
        good = self.origin(self.pki.ip)
        bad = self.origin(self.pki.other)
        s = self.serve([("app", group("app", [bad.address, good.address], self.pki.ca)),
                        ("alone", group("alone", [bad.address], self.pki.ca))])
        c = self.client(s)
        for i in range(4):
            self.assertIn("/app/r%d" % i, self.get_json(c, "/app/r%d" % i)["path"])
        wait_until(lambda: bad.failures(), 5, what="a handshake with the bad server")
        self.assertEqual(bad.connections(), [])
        s.wait_for_log(r'upstream "app" server %s: tls handshake failed: certificate: '
                       r"unable to get local issuer certificate" % bad.address)
        r = c.request("GET", "/alone/x", headers=[("Host", "example.test")])
        self.assertEqual(r.status, 502)
        s.wait_for_log(r'upstream "alone" server %s: tls handshake failed: certificate: '
                       r"unable to get local issuer certificate" % bad.address)

    def test_the_server_name_is_sent_and_verified(self):
        named = self.origin(self.pki.name)
        s = self.serve([
            ("named", group("named", [named.address], self.pki.ca,
                            'tls_server_name = "app.test";')),
            ("wrong", group("wrong", [named.address], self.pki.ca,
                            'tls_server_name = "other.test";')),
            ("byip", group("byip", [named.address], self.pki.ca)),
        ])
        c = self.client(s)
        self.assertEqual(self.get_json(c, "/named/x")["sni"], "app.test")
        for path, why in (("/wrong/x", "hostname mismatch"), ("/byip/x", "IP address mismatch")):
            r = c.request("GET", path, headers=[("Host", "example.test")])
            self.assertEqual(r.status, 502)
            s.wait_for_log(r"server %s: tls handshake failed: certificate: %s"
                           % (named.address, why))
        self.assertEqual([r["sni"] for r in named.connections()], ["app.test"])

    def test_an_upgrade_tunnels_both_ways_through_tls(self):
        o = self.origin(self.pki.ip)
        s = self.serve([("app", group("app", [o.address], self.pki.ca))])
        c = self.client(s)
        c.send(build_request("GET", "/app/ws", [("Host", "example.test"),
                                                 ("Connection", "Upgrade"), ("Upgrade", "echo")]))
        self.assertEqual(c.read_head()[1], 101)
        for data in (b"hello", os.urandom(200000)):
            c.send(data)
            self.assertEqual(c.read_exact(len(data)), data)

    def test_a_body_ended_by_close_notify_alone_ends_at_once(self):
        # The origin's close_notify comes with the body's last bytes and its socket stays
        # open: no event tells of the end, which must not wait for read_timeout.
        o = self.origin(self.pki.ip)
        s = self.serve([("app", group("app", [o.address], self.pki.ca, "read_timeout = 5;"))])
        c = self.client(s)
        started = time.monotonic()
        # HTTP/1.0: the answer's end is the close, which this client reads to.
        r = c.request("GET", "/app/closedelim/3000", headers=[("Host", "example.test")],
                      version="HTTP/1.0")
        elapsed = time.monotonic() - started
        self.assertEqual(r.status, 200, r.body[:300])
        self.assertEqual(r.body, b"c" * 3000)
        self.assertLess(elapsed, 2.5)

    def test_tls_verify_false_takes_any_certificate(self):
        bad = self.origin(self.pki.other)
        s = self.serve([("app", group("app", [bad.address], self.pki.ca,
                                      "tls_verify = false;"))])
        self.assertEqual(self.get_json(self.client(s), "/app/x")["path"], "/app/x")

    def test_a_handshake_that_never_ends_times_out_within_connect_timeout(self):
        silent = SilentListener()
        self.addCleanup(silent.stop)
        s = self.serve([("app", group("app", [silent.address], self.pki.ca,
                                      "connect_timeout = 0.5;"))])
        start = time.monotonic()
        r = self.client(s).request("GET", "/app/x", headers=[("Host", "example.test")])
        self.assertEqual(r.status, 504)
        self.assertLess(time.monotonic() - start, 3)
        s.wait_for_log(r"server %s: tls handshake timed out" % silent.address)

    def test_proxy_protocol_header_goes_in_clear_before_the_handshake(self):
        for version in (1, 2):
            with self.subTest(version=version):
                o = self.origin(self.pki.ip, proxy_header=True)
                s = self.serve([("pp", group("pp", [o.address], self.pki.ca,
                                             'send_proxy_protocol = "v%d";' % version))])
                c = self.client(s)
                self.assertEqual(self.get_json(c, "/pp/a")["conn"], 1)
                self.assertEqual(self.get_json(c, "/pp/b")["conn"], 1)
                (kind, value), = [r["header"] for r in o.connections()]
                self.assertEqual(kind, "v%d" % version)
                if version == 1:
                    self.assertTrue(value.startswith("PROXY TCP4 127.0.0.1 127.0.0.1 "), value)
                else:
                    self.assertEqual(value, 0x21)
                self.assertEqual(o.failures(), [])

    def test_http_health_checks_speak_tls(self):
        good = self.origin(self.pki.ip)
        bad = self.origin(self.pki.other)
        check = ('health_check = { type = "http"; path = "/health"; interval = 0.3; '
                 "timeout = 0.3; rise = 2; fall = 3; };")
        s = self.serve([("app", group("app", [good.address, bad.address], self.pki.ca,
                                      check))])
        s.wait_for_log(r"upstream app server %s is down \(check: tls handshake failed: "
                       r"certificate: unable to get local issuer certificate, 3 failures\)"
                       % bad.address)
        # The good one answers its probes over TLS: its status decides.
        good.health = 503
        s.wait_for_log(r"upstream app server %s is down \(check: status 503, 3 failures\)"
                       % good.address)
        good.health = 200
        s.wait_for_log(r"upstream app server %s is up \(check: status 200, 2 passes\)"
                       % good.address)
        self.assertTrue(all(r["paths"] == ["/health"] for r in good.connections()))
        self.assertIsNone(good.connections()[0]["sni"])


if __name__ == "__main__":
    harness.main()

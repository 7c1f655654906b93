"""send_proxy_protocol (issue 16): an upstream group whose servers expect a PROXY protocol
header gets one, version 1 or 2, at the start of every new connection, naming the request's
client and the address it connected to; a kept-alive connection serves only the client it
announced; HTTP health checks announce no client. Against an origin of this test's own,
which reads and records the header before it answers HTTP."""

import json
import os
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, HarnessError, build_request, wait_until  # noqa: E402

V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
V1_MAX = 107


def read_exact(sock, n, buf):
    while len(buf) < n:
        data = sock.recv(4096)
        if not data:
            raise EOFError("closed after %d of %d bytes" % (len(buf), n))
        buf += data
    return bytes(buf[:n]), bytearray(buf[n:])


def read_v1(sock, buf):
    """The version 1 line, parsed: the spec's fields, strictly."""
    while b"\r\n" not in buf:
        if len(buf) >= V1_MAX:
            raise ValueError("no line end in %d bytes" % V1_MAX)
        data = sock.recv(4096)
        if not data:
            raise EOFError("closed inside the PROXY line")
        buf += data
    line, _, rest = bytes(buf).partition(b"\r\n")
    if len(line) + 2 > V1_MAX:
        raise ValueError("line of %d bytes" % (len(line) + 2))
    words = line.decode("ascii").split(" ")
    if words[:2] == ["PROXY", "UNKNOWN"]:
        return {"version": 1, "command": "UNKNOWN"}, bytearray(rest)
    if len(words) != 6 or words[0] != "PROXY" or words[1] not in ("TCP4", "TCP6"):
        raise ValueError("bad PROXY line %r" % line)
    family = socket.AF_INET if words[1] == "TCP4" else socket.AF_INET6
    for addr in words[2:4]:
        socket.inet_pton(family, addr)
    for port in words[4:6]:
        if not port.isdigit() or (port != "0" and port[0] == "0") or int(port) > 65535:
            raise ValueError("bad port %r" % port)
    return {"version": 1, "command": words[1], "src": words[2], "dst": words[3],
            "sport": int(words[4]), "dport": int(words[5])}, bytearray(rest)


def read_v2(sock, buf):
    head, buf = read_exact(sock, 16, buf)
    if head[:12] != V2_SIG:
        raise ValueError("bad signature %r" % head[:12])
    ver_cmd, fam, length = head[12], head[13], struct.unpack("!H", head[14:16])[0]
    body, buf = read_exact(sock, length, buf)
    if ver_cmd == 0x20:
        return {"version": 2, "command": "LOCAL", "fam": fam, "length": length}, buf
    if ver_cmd != 0x21 or fam not in (0x11, 0x21):
        raise ValueError("unexpected ver_cmd %#x fam %#x" % (ver_cmd, fam))
    family, size = (socket.AF_INET, 4) if fam == 0x11 else (socket.AF_INET6, 16)
    if length != 2 * size + 4:
        raise ValueError("length %d for family %#x" % (length, fam))
    sport, dport = struct.unpack("!HH", body[2 * size:2 * size + 4])
    return {"version": 2, "command": "PROXY", "fam": fam,
            "src": socket.inet_ntop(family, body[:size]),
            "dst": socket.inet_ntop(family, body[size:2 * size]),
            "sport": sport, "dport": dport}, buf


def content_length(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


class ProxyOrigin:
    """Accepts connections on 127.0.0.1; on each, reads a PROXY protocol header if the first
    byte begins one (else records None), then answers keep-alive GETs with 200 and a JSON
    body: the connection's number (from 1), its header, and the request's path. Every
    connection is recorded in conns as {"header": ..., "paths": [...]}; a malformed header
    is recorded as {"error": ...} and the connection closed."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.lock = threading.Lock()
        self.open = []
        self.stopped = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.stopped:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(30)
            with self.lock:
                record = {"header": None, "paths": []}
                self.conns.append(record)
                self.open.append(conn)
                number = len(self.conns)
            threading.Thread(target=self._serve, args=(conn, number, record),
                             daemon=True).start()

    def _header(self, conn, record):
        buf = bytearray(conn.recv(4096))
        if not buf:
            raise EOFError("closed before any byte")
        if buf[:1] == b"P":
            record["header"], buf = read_v1(conn, buf)
        elif buf[:1] == b"\r":
            record["header"], buf = read_v2(conn, buf)
        return buf

    def _serve(self, conn, number, record):
        try:
            buf = self._header(conn, record)
            while True:
                while b"\r\n\r\n" not in buf:
                    data = conn.recv(4096)
                    if not data:
                        return
                    buf += data
                head, _, rest = bytes(buf).partition(b"\r\n\r\n")
                path = head.split(b" ")[1].decode("latin-1")
                got, buf = read_exact(conn, content_length(head), bytearray(rest))
                record["paths"].append(path)
                body = json.dumps({"conn": number, "header": record["header"], "path": path,
                                   "body": got.decode("latin-1")}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
        except (ValueError, EOFError, UnicodeDecodeError) as e:
            record["error"] = str(e)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopped = True
        self.sock.close()
        with self.lock:
            for conn in self.open:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class BoundClient(Client):
    """A Client whose connection comes from a given loopback address."""

    def __init__(self, port, source, timeout=10.0):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.bind((source, 0))
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.eof = False

    def get(self, path):
        r = self.request("GET", path, headers=[("Host", "example.test")])
        if r.status != 200:
            raise HarnessError("%s: %d %r" % (path, r.status, r.body[:200]))
        return json.loads(r.body)


def config(server, origin, version, health=False):
    """One worker (so that every request meets the same pool); /pp/ goes to a group with
    send_proxy_protocol, /plain/ to one without, both to the origin."""
    check = ('health_check = { type = "http"; path = "/health"; interval = 0.2; };'
             if health else "")
    text = server.config_text()
    marker = 'index = [ "index.html" ];'
    text = text.replace(marker, marker + """
    locations = (
      { path = "/pp/"; proxy = "pp"; },
      { path = "/plain/"; proxy = "plain"; }
    );""")
    return ("upstreams = (\n"
            '  { name = "pp"; servers = ( { address = "127.0.0.1:%d"; } );\n'
            '    send_proxy_protocol = "v%d"; %s },\n'
            '  { name = "plain"; servers = ( { address = "127.0.0.1:%d"; } ); }\n'
            ");\n" % (origin.port, version, check, origin.port)) + text


class SendProxyTest(unittest.TestCase):
    def start(self, version, health=False):
        self.origin = ProxyOrigin()
        self.addCleanup(self.origin.stop)
        server = harness.Server(workers=1, start=False)
        self.addCleanup(server.close)
        server.rewrite_config(text=config(server, self.origin, version, health))
        server.start()
        return server

    def client(self, server, source="127.0.0.1"):
        c = BoundClient(server.port, source)
        self.addCleanup(c.close)
        return c

    def assert_announces(self, answer, version, client, server):
        """The header of answer's connection names client's end as source and the shoal
        listener it connected to as destination."""
        h = answer["header"]
        src, sport = client.sock.getsockname()
        self.assertIsNotNone(h, "no PROXY header on a new connection")
        self.assertEqual(h["version"], version)
        self.assertEqual(h["command"], "TCP4" if version == 1 else "PROXY")
        if version == 2:
            self.assertEqual(h["fam"], 0x11)
        self.assertEqual(h["src"], src)
        self.assertEqual(h["dst"], "127.0.0.1")
        self.assertEqual(h["dport"], server.port)
        self.assertEqual(h["sport"], sport)

    def check_version(self, version):
        server = self.start(version)
        a = self.client(server)
        first = a.get("/pp/one")
        second = a.get("/pp/two")
        self.assert_announces(first, version, a, server)
        # Kept alive and taken again by the same client connection: no second header.
        self.assertEqual(second["conn"], first["conn"])
        self.assertEqual(self.origin.conns[first["conn"] - 1]["paths"], ["/pp/one", "/pp/two"])
        # Two other client connections open beside it, one from another address and one
        # from the same: each gets a connection of its own, announcing it, though a's
        # connection idles in the pool.
        b = self.client(server, "127.0.0.2")
        c = self.client(server)
        got_b, got_c = b.get("/pp/b"), c.get("/pp/c")
        self.assert_announces(got_b, version, b, server)
        self.assert_announces(got_c, version, c, server)
        self.assertEqual(len({first["conn"], got_b["conn"], got_c["conn"]}), 3)
        # Each goes on with its own.
        self.assertEqual(b.get("/pp/b2")["conn"], got_b["conn"])
        self.assertEqual(a.get("/pp/three")["conn"], first["conn"])
        self.assertEqual(c.get("/pp/c2")["conn"], got_c["conn"])
        # A group without the setting sends no header.
        self.assertIsNone(a.get("/plain/x")["header"])
        self.assertFalse([r for r in self.origin.conns if "error" in r], self.origin.conns)

    def test_v1(self):
        self.check_version(1)

    def test_v2(self):
        self.check_version(2)

    def test_request_with_body_after_the_header(self):
        """The header and the head leave together; a body follows them intact."""
        server = self.start(2)
        a = self.client(server)
        a.send(build_request("POST", "/pp/post", [("Host", "example.test")], b"x" * 1000))
        r = a.read_response()
        self.assertEqual(r.status, 200)
        answer = json.loads(r.body)
        self.assert_announces(answer, 2, a, server)
        self.assertEqual(answer["body"], "x" * 1000)
        self.assertEqual(a.get("/pp/after")["conn"], answer["conn"])

    def test_relayed_ends(self):
        """Behind a balancer's header, the ends it named are announced, and a pooled
        connection serves any client connection relaying the very same ends."""
        self.origin = ProxyOrigin()
        self.addCleanup(self.origin.stop)
        server = harness.Server(workers=1, start=False)
        self.addCleanup(server.close)
        listen = 'listen = [ "127.0.0.1:%d" ];' % server.port
        server.rewrite_config(text=config(server, self.origin, 1).replace(
            listen, 'listen = [ "127.0.0.1:%d proxy_protocol" ]; '
            'proxy_protocol_from = [ "127.0.0.1" ];' % server.port))
        server.start()
        answers = []
        for src in ("203.0.113.7", "203.0.113.8", "203.0.113.7"):
            c = self.client(server)
            c.send(b"PROXY TCP4 %s 198.51.100.1 4242 443\r\n" % src.encode())
            answers.append(c.get("/pp/x"))
            c.close()
        for answer, src in zip(answers, ("203.0.113.7", "203.0.113.8")):
            self.assertEqual(answer["header"], {"version": 1, "command": "TCP4", "src": src,
                                                "dst": "198.51.100.1", "sport": 4242,
                                                "dport": 443})
        self.assertNotEqual(answers[0]["conn"], answers[1]["conn"])
        self.assertEqual(answers[2]["conn"], answers[0]["conn"])

    def check_health(self, version, command):
        self.start(version, health=True)

        def probed():
            return [r for r in self.origin.conns if r["paths"] == ["/health"]]
        wait_until(lambda: probed(), 10, what="a health check on the origin")
        for r in probed():
            self.assertEqual(r["header"]["version"], version)
            self.assertEqual(r["header"]["command"], command)

    def test_health_check_v1_announces_no_client(self):
        self.check_health(1, "UNKNOWN")

    def test_health_check_v2_is_local(self):
        self.check_health(2, "LOCAL")


if __name__ == "__main__":
    harness.main()

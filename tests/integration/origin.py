"""A small HTTP/1.1 origin server for the reverse proxy's integration tests. Standard library
only.

A test starts one on a free port of 127.0.0.1 (it listens on nothing else), or of another
loopback address, or on a given port. Each connection is
served by a daemon thread whose socket operations time out, and stop() closes every socket,
so an origin never outlives its test for long.

The request path chooses the behaviour: the first path segment that names one of those below
selects it and the segments after it are its arguments, so a location prefix in front is
ignored (/api/size/10 is /size/10). Every response head carries X-Origin (the origin's name)
and X-Origin-Conn (the number of the TCP connection it went out on, from 1). A connection is
kept alive unless the request asks otherwise or the behaviour closes it; a request body is
always read (and decoded from Content-Length or chunked framing) before the answer, except
where said.

  /echo               200; the body is the request head as received, byte for byte, then the
                      decoded request body
  /size/N             N bytes of pattern(N) by Content-Length; HEAD gets the head alone
  /chunked/N          the same bytes chunked, in chunks of at most 7000 bytes
  /chunked-trailer/N  the same with a trailer field X-Checksum (the body's sha256)
  /close/N            the same bytes without Content-Length: the origin closes after them
  /close10/N          the same with an HTTP/1.0 status line
  /upload-hash        reads the body as it comes; answers the JSON object {"sha256", "length",
                      "framing": "length" | "chunked" | "none", "expect": the Expect field}
  /continue           the same, but to Expect: 100-continue it sends 100 Continue first and
                      only then reads the body
  /slow-upload        the same, reading the body at about 1 MB/s (bytes so far in
                      slow_received)
  /slow-head/S        sleeps S seconds (a float), then answers 200 "slow head\\n"
  /slow-body/S        a head with Content-Length 10 and 5 bytes, S seconds of sleep, 5 bytes
  /bad-cl/KIND        a head with bad framing: Content-Length 5 and 6 (differ), 5 and 5 (same),
                      "5, 6" (list) or "+5" (plus), then 6 body bytes
  /bad-head           bytes that are no HTTP response head, then the connection stays open
  /stray/N            a 200 of exactly N bytes, head included, followed in the same send by a
                      whole second response no request asked for (Content-Length: 5, "STRAY")
  /silent             reads the request and never answers; waits for the peer to close
  /reset              a reset, no answer
  /reset-mid/F/N      a 200 head announcing N bytes framed by F (length, chunked or close),
                      half of them, then a reset
  /ws                 to a request with Connection: Upgrade, 101 Switching Protocols (with the
                      WebSocket accept key), then echoes bytes both ways until the peer closes;
                      426 to any other request; /ws/bare the same, but the 101 has no Upgrade
  /status/N           status N; 204 and 304 carry no body (304 says Content-Length: 100, as a
                      304 may), others "status N\\n"
  /info               103 Early Hints, then 200 "after hints\\n"
  /hop                200 "hop\\n" with every kind of hop-by-hop field beside X-Kept: yes
  /big/N              N bytes of pattern by Content-Length, sent as fast as the peer takes
                      them, 1 MiB a write; bytes sent so far in big_sent

Anything else is 404. answer_all(status, delay) overrides every path from then on: each request
waits delay seconds, then (with a status) gets that status instead of its behaviour; answer_all()
ends it. accepted() counts the connections accepted; close_idle() shuts the ones
waiting for a request; fail_next_reuse() makes the next request that arrives on a connection
already used close that connection unanswered, once (counted in reuse_failures).
"""

import base64
import hashlib
import json
import socket
import struct
import threading
import time

_PERIOD = 251  # a prime: a body shifted, cut or repeated by any usual size does not match
_BLOCK = bytes(i % _PERIOD for i in range(_PERIOD * 4177))  # about 1 MiB, a whole period
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def pattern(n, offset=0):
    """n bytes of the body every sized behaviour sends, from byte offset."""
    out = bytearray()
    offset %= _PERIOD
    while len(out) < n:
        out += _BLOCK[offset:offset + n - len(out)]
        offset = 0
    return bytes(out)


def parse_head(raw):
    """(method or version, target or status, version or reason, [(name, value)]) of a head."""
    lines = raw.decode("latin-1").split("\r\n")
    first = lines[0].split(" ", 2)
    headers = []
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
    return first[0], first[1], first[2] if len(first) > 2 else "", headers


def field(headers, name):
    """Every value of field name, in order, comma-joined; None if absent."""
    values = [v for k, v in headers if k.lower() == name.lower()]
    return ", ".join(values) if values else None


class Request:
    def __init__(self, conn_id, raw_head):
        self.conn_id = conn_id
        self.raw_head = raw_head
        self.method, self.target, self.version, self.headers = parse_head(raw_head)
        self.path = self.target.split("?", 1)[0]

    def header(self, name):
        return field(self.headers, name)

    def tokens(self, name):
        return [t.strip().lower() for t in (self.header(name) or "").split(",") if t.strip()]

    def framing(self):
        if self.tokens("transfer-encoding")[-1:] == ["chunked"]:
            return "chunked"
        return "length" if self.header("content-length") is not None else "none"

    def wants_close(self):
        if self.version == "HTTP/1.0":
            return "keep-alive" not in self.tokens("connection")
        return "close" in self.tokens("connection")


class _Reader:
    """Buffered reads from one socket; EOFError when the peer closed."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def fill(self, size=262144):
        data = self.sock.recv(size)
        if not data:
            raise EOFError
        self.buf += data

    def until(self, delim, limit=1 << 20):
        while True:
            i = self.buf.find(delim)
            if i >= 0:
                out = bytes(self.buf[:i + len(delim)])
                del self.buf[:i + len(delim)]
                return out
            if len(self.buf) > limit:
                raise ValueError("no %r within %d bytes" % (delim, limit))
            self.fill()

    def pieces(self, n, piece=262144):
        """Yields the next n bytes in pieces of at most piece bytes."""
        while n > 0:
            if not self.buf:
                self.fill(min(piece, n))
            take = min(n, len(self.buf), piece)
            out = bytes(self.buf[:take])
            del self.buf[:take]
            n -= take
            yield out

    def body(self, req):
        """Yields the request body's bytes, decoded from its framing."""
        if req.framing() == "length":
            yield from self.pieces(int(req.header("content-length").split(",")[0]))
        elif req.framing() == "chunked":
            while True:
                size = int(self.until(b"\r\n").split(b";")[0].strip(), 16)
                if size == 0:
                    while self.until(b"\r\n") != b"\r\n":  # trailer fields
                        pass
                    return
                yield from self.pieces(size)
                if self.until(b"\r\n") != b"\r\n":
                    raise ValueError("chunk data not followed by CRLF")


class _Conn:
    def __init__(self, conn_id, sock):
        self.id = conn_id
        self.sock = sock
        self.reader = _Reader(sock)
        self.idle = True
        self.requests = 0
        self.closed = threading.Event()
        self.closed_by_peer = False


class Origin:
    def __init__(self, name="origin", timeout=30.0, host="127.0.0.1", port=0):
        self.name = name
        self.timeout = timeout
        self.lock = threading.Lock()
        self.conns = []
        self.requests = []
        self.big_sent = 0
        self.slow_received = 0
        self.reuse_failures = 0
        self._fail_next_reuse = False
        self._all = (None, 0.0)
        self._stopped = threading.Event()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.sock.listen(256)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.address = "%s:%d" % (host, self.port)
        threading.Thread(target=self._accept_loop, daemon=True).start()

    # -- what tests ask --

    def accepted(self):
        with self.lock:
            return len(self.conns)

    def open_connections(self):
        with self.lock:
            return [c for c in self.conns if not c.closed.is_set()]

    def conn(self, conn_id):
        with self.lock:
            return self.conns[conn_id - 1]

    def close_idle(self):
        """Shuts the connections waiting for a request; returns how many."""
        idle = [c for c in self.open_connections() if c.idle]
        for c in idle:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        return len(idle)

    def answer_all(self, status=None, delay=0.0):
        with self.lock:
            self._all = (status, delay)

    def fail_next_reuse(self, armed=True):
        with self.lock:
            self._fail_next_reuse = armed

    def stop(self):
        self._stopped.set()
        self.sock.close()
        for c in self.open_connections():
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- serving --

    def _accept_loop(self):
        while not self._stopped.is_set():
            try:
                sock, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            sock.settimeout(self.timeout)
            with self.lock:
                conn = _Conn(len(self.conns) + 1, sock)
                self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            while not self._stopped.is_set():
                conn.idle = True
                try:
                    raw = conn.reader.until(b"\r\n\r\n", limit=65536)
                except EOFError:
                    conn.closed_by_peer = True
                    return
                conn.idle = False
                conn.requests += 1
                req = Request(conn.id, raw)
                with self.lock:
                    self.requests.append(req)
                    fail = self._fail_next_reuse and conn.requests > 1
                    if fail:
                        self._fail_next_reuse = False
                        self.reuse_failures += 1
                    status, delay = self._all
                if delay:
                    time.sleep(delay)
                if status and not fail:
                    self._read_body(conn, req)
                    self._respond(conn, status, b"answer_all %d\n" % status)
                    continue
                if fail or not self._dispatch(conn, req) or req.wants_close():
                    return
        except (OSError, ValueError, EOFError):
            return
        finally:
            conn.sock.close()
            conn.closed.set()

    def _dispatch(self, conn, req):
        """Answers req; False when the connection must close after it."""
        segments = [s for s in req.path.split("/") if s]
        for i, seg in enumerate(segments):
            handler = getattr(self, "_do_" + seg.replace("-", "_"), None)
            if handler is not None:
                return handler(conn, req, *segments[i + 1:])
        self._read_body(conn, req)
        self._respond(conn, 404, b"no such behaviour\n")
        return True

    # -- helpers --

    def _read_body(self, conn, req):
        return b"".join(conn.reader.body(req))

    def _head(self, conn, status, reason="X", fields=(), version="HTTP/1.1"):
        lines = ["%s %d %s" % (version, status, reason), "X-Origin: %s" % self.name,
                 "X-Origin-Conn: %d" % conn.id]
        lines += ["%s: %s" % kv for kv in fields]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _respond(self, conn, status, body, fields=(), head_only=False):
        fields = list(fields) + [("Content-Length", str(len(body)))]
        conn.sock.sendall(self._head(conn, status, "OK" if status == 200 else "X", fields)
                          + (b"" if head_only else body))

    def _reset(self, conn):
        conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return False

    def _hash_body(self, conn, req, counter=None, rate=None):
        digest, length = hashlib.sha256(), 0
        for piece in conn.reader.body(req):
            digest.update(piece)
            length += len(piece)
            if counter:
                with self.lock:
                    setattr(self, counter, getattr(self, counter) + len(piece))
            if rate:
                time.sleep(len(piece) / rate)
        answer = {"sha256": digest.hexdigest(), "length": length, "framing": req.framing(),
                  "expect": req.header("expect")}
        self._respond(conn, 200, json.dumps(answer).encode(),
                      [("Content-Type", "application/json")])
        return True

    # -- behaviours --

    def _do_echo(self, conn, req, *args):
        self._respond(conn, 200, req.raw_head + self._read_body(conn, req))
        return True

    def _do_size(self, conn, req, n="0", *args):
        self._read_body(conn, req)
        body = pattern(int(n))
        self._respond(conn, 200, body, head_only=req.method == "HEAD")
        return True

    def _chunks(self, body, trailer=None):
        out = bytearray()
        for i in range(0, len(body), 7000):
            piece = body[i:i + 7000]
            out += b"%x\r\n" % len(piece) + piece + b"\r\n"
        out += b"0\r\n"
        if trailer:
            out += b"X-Checksum: " + trailer.encode() + b"\r\n"
        return bytes(out + b"\r\n")

    def _do_chunked(self, conn, req, n="0", *args, trailer=False):
        self._read_body(conn, req)
        body = pattern(int(n))
        fields = [("Transfer-Encoding", "chunked")]
        if trailer:
            fields.append(("Trailer", "X-Checksum"))
        conn.sock.sendall(self._head(conn, 200, "OK", fields) + self._chunks(
            body, hashlib.sha256(body).hexdigest() if trailer else None))
        return True

    def _do_chunked_trailer(self, conn, req, n="0", *args):
        return self._do_chunked(conn, req, n, trailer=True)

    def _do_close(self, conn, req, n="0", *args, version="HTTP/1.1"):
        self._read_body(conn, req)
        conn.sock.sendall(self._head(conn, 200, "OK", version=version) + pattern(int(n)))
        return False

    def _do_close10(self, conn, req, n="0", *args):
        return self._do_close(conn, req, n, version="HTTP/1.0")

    def _do_upload_hash(self, conn, req, *args):
        return self._hash_body(conn, req)

    def _do_continue(self, conn, req, *args):
        if "100-continue" in req.tokens("expect"):
            conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        return self._hash_body(conn, req)

    def _do_slow_upload(self, conn, req, *args):
        return self._hash_body(conn, req, counter="slow_received", rate=1e6)

    def _do_slow_head(self, conn, req, seconds="1", *args):
        self._read_body(conn, req)
        time.sleep(float(seconds))
        self._respond(conn, 200, b"slow head\n")
        return True

    def _do_slow_body(self, conn, req, seconds="1", *args):
        self._read_body(conn, req)
        conn.sock.sendall(self._head(conn, 200, "OK", [("Content-Length", "10")]) + b"01234")
        time.sleep(float(seconds))
        conn.sock.sendall(b"56789")
        return True

    def _do_bad_cl(self, conn, req, kind="differ", *args):
        self._read_body(conn, req)
        fields = {"differ": [("Content-Length", "5"), ("Content-Length", "6")],
                  "same": [("Content-Length", "5"), ("Content-Length", "5")],
                  "list": [("Content-Length", "5, 6")],
                  "plus": [("Content-Length", "+5")]}[kind]
        conn.sock.sendall(self._head(conn, 200, "OK", fields) + b"hello!")
        return True

    def _do_bad_head(self, conn, req, *args):
        self._read_body(conn, req)
        conn.sock.sendall(b"\x00\x01garbage that is no status line\r\n\r\n")
        return True

    def _do_stray(self, conn, req, n="4096", *args):
        self._read_body(conn, req)
        size, length = int(n), 0
        for _ in range(3):  # the head's length depends on the digits of the body's
            head = self._head(conn, 200, "OK", [("Content-Length", str(length))])
            length = size - len(head)
        if length < 0 or len(head) + length != size:
            raise ValueError("no response of exactly %d bytes" % size)
        conn.sock.sendall(head + pattern(length)
                          + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nSTRAY")
        return True

    def _do_silent(self, conn, req, *args):
        self._read_body(conn, req)
        try:
            while True:
                conn.reader.fill()
        except EOFError:
            conn.closed_by_peer = True
        return False

    def _do_reset(self, conn, req, *args):
        return self._reset(conn)

    def _do_reset_mid(self, conn, req, framing="length", n="1000000", *args):
        self._read_body(conn, req)
        body = pattern(int(n) // 2)
        if framing == "length":
            conn.sock.sendall(self._head(conn, 200, "OK", [("Content-Length", n)]) + body)
        elif framing == "chunked":
            conn.sock.sendall(self._head(conn, 200, "OK", [("Transfer-Encoding", "chunked")])
                              + self._chunks(body)[:-5])  # without the last chunk
        else:
            conn.sock.sendall(self._head(conn, 200, "OK") + body)
        time.sleep(0.2)  # the bytes reach the proxy ahead of the reset
        return self._reset(conn)

    def _do_ws(self, conn, req, variant="", *args):
        if "upgrade" not in req.tokens("connection") or not req.header("upgrade"):
            self._read_body(conn, req)
            self._respond(conn, 426, b"upgrade required\n")
            return True
        key = (req.header("sec-websocket-key") or "").encode()
        accept = base64.b64encode(hashlib.sha1(key + _WS_GUID).digest()).decode()
        fields = [("Connection", "Upgrade"), ("Upgrade", req.header("upgrade")),
                  ("Sec-WebSocket-Accept", accept)]
        if variant == "bare":
            del fields[1]
        conn.sock.sendall(self._head(conn, 101, "Switching Protocols", fields))
        if conn.reader.buf:
            conn.sock.sendall(bytes(conn.reader.buf))
            conn.reader.buf.clear()
        while True:
            data = conn.sock.recv(65536)
            if not data:
                conn.closed_by_peer = True
                return False
            conn.sock.sendall(data)

    def _do_status(self, conn, req, n="200", *args):
        self._read_body(conn, req)
        status = int(n)
        if status in (204, 304):
            fields = [("Content-Length", "100")] if status == 304 else []
            conn.sock.sendall(self._head(conn, status, "X", fields))
        else:
            self._respond(conn, status, b"status %d\n" % status)
        return True

    def _do_info(self, conn, req, *args):
        self._read_body(conn, req)
        conn.sock.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n")
        self._respond(conn, 200, b"after hints\n")
        return True

    def _do_hop(self, conn, req, *args):
        self._read_body(conn, req)
        self._respond(conn, 200, b"hop\n", [
            ("Connection", "X-Secret, keep-alive"), ("X-Secret", "1"),
            ("Keep-Alive", "timeout=99"), ("Trailer", "X-Foo"), ("Upgrade", "foo/1"),
            ("Proxy-Authenticate", "Basic realm=x"), ("Proxy-Connection", "keep-alive"),
            ("X-Kept", "yes")])
        return True

    def _do_big(self, conn, req, n="0", *args):
        self._read_body(conn, req)
        left = int(n)
        conn.sock.sendall(self._head(conn, 200, "OK", [("Content-Length", n)]))
        view = memoryview(_BLOCK)
        while left > 0:
            piece = view[:min(left, len(_BLOCK))]
            conn.sock.sendall(piece)
            left -= len(piece)
            with self.lock:
                self.big_sent += len(piece)
        return True

"""A request body whose framing is broken gets 400 and a closed connection, never silence: in
the write that carries the head (the answer the request would have had gives way to the 400)
and after the answer went out (the 400 follows it). Either way the request written behind it
is never answered, and the error counts as a parse error in the stats."""

import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client  # noqa: E402

SHOALCTL = None
MAX_BODY_SIZE = 1024
HEAD = (b"POST /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n")
NEXT = b"GET /index.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

# Every kind of framing error the chunked decoder detects, after a good first chunk.
BROKEN = {
    "bad chunk size": b"zz\r\n\r\n",
    "no CRLF after the data": b"5\r\nhelloXX0\r\n\r\n",
    "chunk longer than declared": b"3\r\nhello\r\n0\r\n\r\n",
    "overflowing size": b"1" + b"0" * 20 + b"\r\nx\r\n0\r\n\r\n",
    "bad trailer": b"0\r\nX-Trailer\r\n\r\n",
    "bare LF after the size": b"5\nhello\r\n0\r\n\r\n",
}
GOOD_CHUNK = b"4\r\nabcd\r\n"


def parse_errors(server):
    r = subprocess.run([SHOALCTL, "-f", server.stats_file, "stats", "--prometheus"],
                       capture_output=True, text=True, timeout=20, stdin=subprocess.DEVNULL)
    m = re.search(r'^shoal_errors_total\{kind="parse"\} (\d+)$', r.stdout, re.M)
    if not m:
        raise AssertionError("no parse error count in:\n" + r.stdout + r.stderr)
    return int(m.group(1))


class BodyFramingTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(workers=1, max_body_size=MAX_BODY_SIZE)

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def assert_400_and_closed(self, c):
        r = c.read_response()
        self.assertEqual(r.status, 400, r)
        self.assertEqual(r.header("Connection", "").lower(), "close", r)
        self.assertTrue(c.closed_by_peer(), "the request written behind it was answered, "
                        "or the connection stayed open")

    def test_broken_in_the_same_write_as_the_head(self):
        for name, body in BROKEN.items():
            for method in (b"POST", b"GET"):
                with self.subTest(name, method=method):
                    before = parse_errors(self.server)
                    with Client(self.server.port) as c:
                        c.send(HEAD.replace(b"POST", method, 1) + GOOD_CHUNK + body + NEXT)
                        self.assert_400_and_closed(c)
                    self.assertEqual(parse_errors(self.server), before + 1)

    def test_broken_after_the_answer_went_out(self):
        for name, body in BROKEN.items():
            with self.subTest(name):
                before = parse_errors(self.server)
                with Client(self.server.port) as c:
                    c.send(HEAD + GOOD_CHUNK)
                    self.assertEqual(c.read_response().status, 405)
                    time.sleep(0.05)
                    c.send(body + NEXT)
                    self.assert_400_and_closed(c)
                self.assertEqual(parse_errors(self.server), before + 1)

    def test_a_chunked_body_over_max_body_size_gets_413(self):
        chunk = b"%x\r\n%s\r\n" % (MAX_BODY_SIZE, b"x" * MAX_BODY_SIZE)
        with Client(self.server.port) as c:
            c.send(HEAD + chunk + chunk + b"0\r\n\r\n" + NEXT)
            r = c.read_response()
            self.assertEqual(r.status, 413, r)
            self.assertTrue(c.closed_by_peer())

    def test_a_good_body_keeps_the_connection(self):
        with Client(self.server.port) as c:
            c.send(HEAD + GOOD_CHUNK + b"0\r\n\r\n" + NEXT)
            self.assertEqual(c.read_response().status, 405)
            r = c.read_response()
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, harness.INDEX_BODY)


if __name__ == "__main__":
    SHOALCTL = os.environ.get("SHOALCTL") or os.path.join(
        os.path.dirname(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".")), "shoalctl")
    harness.main()

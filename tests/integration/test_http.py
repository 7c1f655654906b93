"""HTTP behaviour of a running shoal, over raw sockets."""

import os
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, build_request  # noqa: E402


class HttpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server(workers=2)
        # A link out of the root: following it would serve a file the root does not hold.
        os.symlink(os.path.join(cls.server.dir, "secret.txt"),
                   os.path.join(cls.server.root, "escape.txt"))

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def client(self):
        c = Client(self.server.port)
        self.addCleanup(c.close)
        return c

    def test_get_file(self):
        r = self.server.request("GET", "/file612.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, harness.FILE_612_BODY)
        self.assertEqual(r.header("Content-Length"), "612")
        self.assertTrue(r.header("Content-Type", "").startswith("text/plain"), r)
        r = self.server.request("GET", "/style.css")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.header("Content-Type", "").startswith("text/css"), r)

    def test_head_has_no_body(self):
        c = self.client()
        r = c.request("HEAD", "/file612.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Content-Length"), "612")
        # A body after the HEAD response would show up in front of the next response.
        r = c.request("GET", "/index.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, harness.INDEX_BODY)

    def test_missing_file_is_404(self):
        r = self.server.request("GET", "/no-such-file.html")
        self.assertEqual(r.status, 404)
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        r = self.server.request("GET", "/dir/no-such-file")
        self.assertEqual(r.status, 404)

    def test_directory_without_slash_redirects(self):
        r = self.server.request("GET", "/dir")
        self.assertEqual(r.status, 301)
        self.assertTrue(r.header("Location", "").endswith("/dir/"), r)

    def test_index_files(self):
        r = self.server.request("GET", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, harness.INDEX_BODY)
        self.assertTrue(r.header("Content-Type", "").startswith("text/html"), r)
        r = self.server.request("GET", "/dir/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, harness.DIR_INDEX_BODY)

    def test_malformed_request_is_400(self):
        for raw in (b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1 extra\r\nHost: x\r\n\r\n",
                    b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n"):
            with self.subTest(raw=raw):
                c = self.client()
                c.send(raw)
                r = c.read_response()
                self.assertEqual(r.status, 400)
                self.assertTrue(c.closed_by_peer(), "connection left open after a 400")

    def test_post_is_405_with_allow(self):
        r = self.server.request("POST", "/index.html", body=b"a=1")
        self.assertEqual(r.status, 405)
        allow = [m.strip() for m in r.header("Allow", "").split(",")]
        self.assertIn("GET", allow)
        self.assertIn("HEAD", allow)
        self.assertNotIn("POST", allow)

    def test_keep_alive(self):
        c = self.client()
        first = c.request("GET", "/index.html")
        second = c.request("GET", "/file612.txt")
        self.assertEqual((first.status, second.status), (200, 200))
        self.assertEqual(first.body, harness.INDEX_BODY)
        self.assertEqual(second.body, harness.FILE_612_BODY)
        self.assertNotEqual(second.header("Connection", "").lower(), "close")

    def test_http10_closes_by_default(self):
        c = self.client()
        r = c.request("GET", "/index.html", version="HTTP/1.0")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, harness.INDEX_BODY)
        self.assertTrue(c.closed_by_peer(), "HTTP/1.0 connection left open")

    def test_connection_close_honoured(self):
        c = self.client()
        r = c.request("GET", "/index.html", headers={"Connection": "close"})
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("Connection", "").lower(), "close")
        self.assertTrue(c.closed_by_peer(), "Connection: close not honoured")

    def test_pipelining(self):
        c = self.client()
        paths = ["/file612.txt", "/index.html", "/dir/"]
        c.send(b"".join(build_request("GET", p) for p in paths))
        bodies = [c.read_response().body for _ in paths]
        self.assertEqual(bodies, [harness.FILE_612_BODY, harness.INDEX_BODY,
                                  harness.DIR_INDEX_BODY])

    def test_request_body_is_skipped(self):
        for method, status in (("GET", 200), ("POST", 405)):
            with self.subTest(method=method):
                c = self.client()
                c.send(build_request(method, "/index.html", body=b"0123456789GET / HTTP/1.1")
                       + build_request("GET", "/file612.txt"))
                first = c.read_response()
                second = c.read_response()
                self.assertEqual(first.status, status)
                self.assertEqual(second.status, 200)
                self.assertEqual(second.body, harness.FILE_612_BODY)

    def test_path_traversal(self):
        with open("/etc/passwd", "rb") as f:
            passwd = f.read()
        paths = ["/../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/../../../../../../etc/passwd",
                 "/dir/../../secret.txt", "/../secret.txt", "/%2e%2e/secret.txt",
                 "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/dir/..%2f..%2fsecret.txt",
                 "/escape.txt"]
        for path in paths:
            with self.subTest(path=path):
                r = self.server.request("GET", path)
                self.assertNotEqual(r.status, 200, r)
                self.assertIn(r.status, (400, 403, 404))
                self.assertNotIn(b"root:", r.body)
                self.assertNotIn(harness.SECRET_BODY, r.body)
                self.assertNotEqual(r.body, passwd)
        # Dot segments that stay inside the root are resolved, not refused.
        r = self.server.request("GET", "/dir/../file612.txt")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, harness.FILE_612_BODY)


    def test_special_files_are_refused_without_blocking(self):
        """A FIFO with no writer would block an open(2) for ever; a device may do anything."""
        fifo = os.path.join(self.server.root, "pipe")
        os.mkfifo(fifo)
        self.addCleanup(os.unlink, fifo)
        specials = ["/pipe"]
        if os.geteuid() == 0:
            zero = os.path.join(self.server.root, "zero")
            os.mknod(zero, 0o644 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
            self.addCleanup(os.unlink, zero)
            specials.append("/zero")
        for path in specials:
            with self.subTest(path=path):
                c = self.client()
                started = time.monotonic()
                self.assertEqual(c.request("GET", path).status, 403)
                self.assertLess(time.monotonic() - started, 2)
                self.assertEqual(c.request("GET", "/file612.txt").status, 200)

    def test_double_encoding_and_backslashes_stay_names(self):
        for path in ("/%252e%252e/secret.txt", "/dir\\..\\..\\secret.txt", "/file612.txt%00",
                     "/%00"):
            with self.subTest(path=path):
                r = self.server.request("GET", path)
                self.assertIn(r.status, (400, 404), r)
                self.assertNotIn(harness.SECRET_BODY, r.body)


if __name__ == "__main__":
    harness.main()

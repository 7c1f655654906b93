"""HTTP behaviour that the configuration controls: types, limits, timeouts, keep-alive,
virtual hosts, symlinks, the cache and the access log; and a few statuses through curl."""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, build_request, wait_until  # noqa: E402


class HttpConfigTest(unittest.TestCase):
    def server(self, **kw):
        s = harness.Server(**kw)
        self.addCleanup(s.close)
        return s

    def client(self, s):
        c = Client(s.port)
        self.addCleanup(c.close)
        return c

    def test_types_and_default_type(self):
        s = self.server(workers=1, types=["text/markdown md"], default_type="text/x-unknown")
        s.write_file("notes.md", b"# hi\n")
        s.write_file("blob.zzz", b"?")
        self.assertTrue(s.request("GET", "/notes.md").header("Content-Type")
                        .startswith("text/markdown"))
        # A text type without parameters gets the UTF-8 charset, as the built-in ones do.
        self.assertEqual(s.request("GET", "/blob.zzz").header("Content-Type"),
                         "text/x-unknown; charset=utf-8")

    def test_limits(self):
        s = self.server(workers=1, max_headers=4, max_body_size=10, max_header_size=1024)
        headers = [("X-%d" % i, "v") for i in range(5)]
        self.assertEqual(s.request("GET", "/", headers=headers).status, 431)
        self.assertEqual(s.request("GET", "/", headers=headers[:2]).status, 200)
        self.assertEqual(s.request("GET", "/" + "a" * 2000).status, 414)
        r = s.request("GET", "/", headers=[("Content-Length", "11")], body=b"x" * 11)
        self.assertEqual(r.status, 413)
        self.assertEqual(r.header("Connection"), "close")

    def test_error_pages(self):
        s = harness.Server(workers=1, start=False)
        self.addCleanup(s.close)
        os.makedirs(os.path.join(s.root, "errors"))
        s.write_file("errors/404.html", b"<h1>nothing here</h1>\n")
        s.rewrite_config(text=s.config_text().replace(
            'index = [ "index.html" ];',
            'index = [ "index.html" ]; error_pages = [ "410 404 403 /errors/404.html", '
            '"500 /errors/absent.html", "403 /errors/absent.html" ];'))
        os.makedirs(os.path.join(s.root, "no-index"))
        s.start()
        r = s.request("GET", "/nope")
        self.assertEqual((r.status, r.body), (404, b"<h1>nothing here</h1>\n"))
        # Any code of an entry, and the first entry naming a code wins.
        r = s.request("GET", "/no-index/")
        self.assertEqual((r.status, r.body), (403, b"<h1>nothing here</h1>\n"))
        self.assertTrue(r.header("Content-Type").startswith("text/html"))
        r = s.request("HEAD", "/nope")
        self.assertEqual((r.status, r.header("Content-Length"), r.body), (404, "22", b""))
        r = s.request("DELETE", "/")  # no page for 405: the built-in one
        self.assertEqual(r.status, 405)
        self.assertIn(b"405 Method Not Allowed", r.body)
        c = self.client(s)  # the page, then the connection goes on
        self.assertEqual(c.request("GET", "/nope").status, 404)
        self.assertEqual(c.request("GET", "/").status, 200)

    def test_autoindex(self):
        s = harness.Server(workers=1, start=False)
        self.addCleanup(s.close)
        s.write_file("empty/<b>.txt", b"b")
        s.rewrite_config(text=s.config_text().replace(
            'index = [ "index.html" ];', 'index = [ "index.html" ]; autoindex = true;'))
        s.start()
        r = s.request("GET", "/empty/")
        self.assertEqual(r.status, 200)
        self.assertIn(b'<a href="%3Cb%3E.txt">&lt;b&gt;.txt</a>', r.body)
        self.assertEqual(s.request("GET", "/%3Cb%3E.txt").status, 404)
        self.assertEqual(s.request("GET", "/empty/%3Cb%3E.txt").body, b"b")
        self.assertEqual(s.request("GET", "/dir/").body, harness.DIR_INDEX_BODY)  # index wins

    def test_no_autoindex_by_default(self):
        s = self.server(workers=1)
        self.assertEqual(s.request("GET", "/empty/").status, 403)

    def test_multiple_ranges(self):
        s = self.server(workers=1)
        body = harness.FILE_612_BODY
        r = s.request("GET", "/file612.txt", headers=[("Range", "bytes=0-9,600-,100-109")])
        self.assertEqual(r.status, 206)
        ctype = r.header("Content-Type")
        self.assertTrue(ctype.startswith("multipart/byteranges; boundary="), ctype)
        boundary = ctype.split("boundary=", 1)[1].encode()
        self.assertEqual(int(r.header("Content-Length")), len(r.body))
        parts = r.body.split(b"\r\n--" + boundary)
        self.assertEqual(parts[0], b"")
        self.assertEqual(parts[-1], b"--\r\n")
        got = []
        for part in parts[1:-1]:
            head, data = part.split(b"\r\n\r\n", 1)
            self.assertIn(b"Content-Type: text/plain", head)
            first, last = map(int, head.split(b"Content-Range: bytes ")[1].split(b"/")[0]
                              .split(b"-"))
            self.assertEqual(data, body[first:last + 1])
            got.append((first, last))
        self.assertEqual(got, [(0, 9), (100, 109), (600, 611)])  # sorted, as sent back
        r = s.request("GET", "/file612.txt", headers=[("Range", "bytes=0-4,3-9")])
        self.assertEqual((r.status, r.body), (206, body[0:10]))  # overlapping: coalesced

    def test_multiple_ranges_of_a_large_file(self):
        s = self.server(workers=1, cache_max_file_size=1024)
        body = bytes(range(256)) * 1024
        s.write_file("big.bin", body)
        for attempt in range(2):  # the first request opens the file, the second finds it open
            r = s.request("GET", "/big.bin", headers=[("Range", "bytes=0-9,200000-200099,-5")])
            self.assertEqual(r.status, 206)
            boundary = r.header("Content-Type").split("boundary=", 1)[1].encode()
            self.assertEqual(int(r.header("Content-Length")), len(r.body))
            parts = r.body.split(b"\r\n--" + boundary)
            self.assertEqual((parts[0], parts[-1]), (b"", b"--\r\n"))
            got = []
            for part in parts[1:-1]:
                head, data = part.split(b"\r\n\r\n", 1)
                first, last = map(int, head.split(b"Content-Range: bytes ")[1].split(b"/")[0]
                                  .split(b"-"))
                self.assertEqual(data, body[first:last + 1])
                got.append((first, last))
            self.assertEqual(got, [(0, 9), (200000, 200099), (len(body) - 5, len(body) - 1)])
        # More than shoal reads into memory for the parts: the whole file, as RFC 9110 allows.
        big = s.write_file("huge.bin", b"h" * (3 << 20))
        r = s.request("GET", "/huge.bin", headers=[("Range", "bytes=0-0,2-%d" % ((3 << 20) - 1))])
        self.assertEqual((r.status, len(r.body)), (200, os.path.getsize(big)))

    def test_server_tokens(self):
        s = self.server(workers=1, server_tokens=False)
        self.assertEqual(s.request("GET", "/").header("Server"), "shoal")

    def test_max_keepalive_requests(self):
        s = self.server(workers=1, max_keepalive_requests=3)
        c = self.client(s)
        self.assertIsNone(c.request("GET", "/").header("Connection"))
        self.assertIsNone(c.request("GET", "/").header("Connection"))
        self.assertEqual(c.request("GET", "/").header("Connection"), "close")
        self.assertTrue(c.closed_by_peer(5))

    def test_idle_keepalive_times_out(self):
        s = self.server(workers=1, keepalive_timeout=1)
        c = self.client(s)
        self.assertEqual(c.request("GET", "/").status, 200)
        started = time.monotonic()
        self.assertTrue(c.closed_by_peer(5))
        self.assertLess(time.monotonic() - started, 3.5)

    def test_slow_head_gets_408(self):
        s = self.server(workers=1, header_timeout=1)
        c = self.client(s)
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # never finished
        r = c.read_response(timeout=5)
        self.assertEqual(r.status, 408)
        self.assertTrue(c.closed_by_peer(5))

    def test_partial_head_does_not_spin(self):
        s = self.server(workers=1, header_timeout=5)
        worker = s.worker_pids()[0]

        def cpu_seconds():
            with open("/proc/%d/stat" % worker) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        c = self.client(s)
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n")  # half a head, then nothing
        before = cpu_seconds()
        time.sleep(1.0)
        self.assertLess(cpu_seconds() - before, 0.2, "the worker burns CPU on a waiting head")
        self.assertEqual(s.request("GET", "/").status, 200)

    def test_cache_sees_changed_files(self):
        s = self.server(workers=1, cache_revalidate=0)
        s.write_file("v.txt", b"one")
        self.assertEqual(s.request("GET", "/v.txt").body, b"one")
        time.sleep(0.02)  # a distinct mtime
        s.write_file("v.txt", b"second")
        self.assertEqual(s.request("GET", "/v.txt").body, b"second")

    def test_large_files_stay_open_until_they_change(self):
        s = self.server(workers=1, cache_max_file_size=1024, cache_revalidate=1)
        path = s.write_file("big.bin", b"a" * 200000)
        worker = s.worker_pids()[0]

        def open_in_worker():
            return [t for t in harness.fd_targets_of(worker) if t.startswith(path)]
        self.assertEqual(open_in_worker(), [])
        self.assertEqual(s.request("GET", "/big.bin").body, b"a" * 200000)
        self.assertEqual(open_in_worker(), [path])
        r = s.request("GET", "/big.bin", headers=[("Range", "bytes=10-19")])
        self.assertEqual((r.status, r.body), (206, b"a" * 10))
        self.assertEqual(open_in_worker(), [path], "a second descriptor for the same file")

        # Replaced by rename, as deployments do: the new file is served within
        # cache_revalidate, and the old one is closed, not kept open deleted.
        tmp = s.write_file("big.bin.new", b"b" * 100000)
        os.rename(tmp, path)
        time.sleep(1.1)
        self.assertEqual(s.request("GET", "/big.bin").body, b"b" * 100000)
        self.assertEqual(open_in_worker(), [path])

    def test_no_file_kept_open_when_configured(self):
        s = self.server(workers=1, cache_max_file_size=1024, cache_max_open_files=0)
        path = s.write_file("big.bin", b"c" * 100000)
        self.assertEqual(s.request("GET", "/big.bin").body, b"c" * 100000)
        worker = s.worker_pids()[0]
        # The last bytes reach the client a moment before the worker closes the file.
        wait_until(lambda: not [t for t in harness.fd_targets_of(worker) if t.startswith(path)],
                   2, what="the worker to close the file")
        time.sleep(0.2)
        self.assertEqual([t for t in harness.fd_targets_of(worker) if t.startswith(path)], [])

    def test_symlinks_refused_when_configured(self):
        s = self.server(workers=1, follow_symlinks=None)
        s.rewrite_config(text=s.config_text().replace(
            'index = [ "index.html" ];', 'index = [ "index.html" ]; follow_symlinks = false;'))
        old = set(s.worker_pids())
        s.signal(__import__("signal").SIGHUP)
        s.wait_for_log(r"generation 2 ")
        # Right after the HUP the one worker is still the old one: wait for the new one alone.
        def replaced():
            pids = set(s.worker_pids())
            return len(pids) == 1 and not pids & old
        wait_until(replaced, 5, what="the old worker to be replaced")
        os.symlink("file612.txt", os.path.join(s.root, "link.txt"))
        self.assertEqual(s.request("GET", "/link.txt").status, 403)
        self.assertEqual(s.request("GET", "/file612.txt").status, 200)

    def test_virtual_hosts(self):
        s = harness.Server(workers=1, start=False)
        self.addCleanup(s.close)
        other = os.path.join(s.dir, "other")
        os.makedirs(other)
        with open(os.path.join(other, "index.html"), "wb") as f:
            f.write(b"other site\n")
        listen = '[ "127.0.0.1:%d" ]' % s.port
        text = s.config_text().replace(
            'index = [ "index.html" ];',
            'index = [ "index.html" ]; server_names = [ "main.test" ];')
        text = text.rstrip().rstrip(");").rstrip() + (
            ',\n  { listen = %s; root = "%s"; server_names = [ "*.other.test", "other.test" ];'
            ' default_server = true; }\n);\n' % (listen, other))
        s.rewrite_config(text=text)
        s.start()
        self.assertEqual(s.request("GET", "/", headers=[("Host", "main.test")]).body,
                         harness.INDEX_BODY)
        for host in ("other.test", "www.other.test", "unknown.test"):
            r = s.request("GET", "/", headers=[("Host", host)])
            self.assertEqual(r.body, b"other site\n", host)

    def test_access_log_line(self):
        s = harness.Server(workers=1, start=False)
        self.addCleanup(s.close)
        path = os.path.join(s.dir, "access.log")
        s.rewrite_config(access_log=path)
        s.start()
        s.request("GET", "/file612.txt?x=1", headers=[("User-Agent", 'evil"agent\xff')])
        pattern = (r'127\.0\.0\.1 - - \[[^]]+\] "GET /file612\.txt\?x=1 HTTP/1\.1" 200 612 '
                   r'"-" "evil\\x22agent\\xFF"')
        s.wait_for_log(pattern, path=path, timeout=5)

    @unittest.skipUnless(shutil.which("curl"), "curl is not installed")
    def test_statuses_through_curl(self):
        s = self.server(workers=1)
        base = "http://127.0.0.1:%d" % s.port

        def curl(*args):
            r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"] +
                               list(args), capture_output=True, text=True, timeout=20)
            return int(r.stdout)
        self.assertEqual(curl(base + "/file612.txt"), 200)
        self.assertEqual(curl("-I", base + "/file612.txt"), 200)
        self.assertEqual(curl(base + "/missing"), 404)
        self.assertEqual(curl(base + "/dir"), 301)
        self.assertEqual(curl("-r", "0-9", base + "/file612.txt"), 206)
        self.assertEqual(curl("-r", "9000-", base + "/file612.txt"), 416)
        self.assertEqual(curl("-X", "DELETE", base + "/file612.txt"), 405)
        self.assertEqual(curl("-X", "OPTIONS", base + "/"), 200)
        self.assertEqual(curl("-H", "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT",
                              base + "/file612.txt"), 304)
        self.assertEqual(curl("--http1.0", "-H", "Host:", base + "/"), 200)


if __name__ == "__main__":
    harness.main()

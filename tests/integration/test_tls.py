"""HTTPS on a listener (issue 17) end to end, with certificates this test makes with the openssl
command (ECDSA P-256) in its own directory: static files over TLS (a large one through the copy
path, as this kernel has no kernel TLS), SNI picking each server's certificate, sessions resumed
on the other worker with `openssl s_client -sess_out`/`-sess_in` for TLS 1.3 and 1.2, keep-alive
over one TLS connection, a proxied request from a TLS client to a plain upstream, HTTP to HTTPS
with 308, a client that stalls mid-handshake closed by header_timeout while others are served,
garbage instead of a ClientHello closed, a broken certificate on HUP that keeps the old
generation serving, a renewed one served after HUP, the `shoal -t` warning of an expired
certificate, and the counters all of this moves."""

import hashlib
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from origin import Origin, pattern  # noqa: E402

HEADER_TIMEOUT = 2
OPENSSL_TIMEOUT = 20


def openssl(*args, cwd=None, stdin=b""):
    return subprocess.run(["openssl"] + list(args), cwd=cwd, input=stdin, capture_output=True,
                          timeout=OPENSSL_TIMEOUT)


def make_cert(directory, name, dns, days=90):
    """A self-signed ECDSA P-256 certificate for the names dns: (certificate, key) paths."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    r = openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                "-nodes", "-keyout", key, "-out", cert, "-days", str(days),
                "-subj", "/CN=%s" % dns[0],
                "-addext", "subjectAltName=" + ",".join("DNS:" + d for d in dns))
    if r.returncode != 0:
        raise harness.HarnessError("openssl req: %s" % r.stderr.decode())
    return cert, key


def make_expired_cert(directory, name):
    """A certificate that ended in 2020 (openssl ca can backdate, req cannot)."""
    ca = os.path.join(directory, "ca-" + name)
    os.makedirs(ca)
    with open(os.path.join(ca, "index.txt"), "w"):
        pass
    with open(os.path.join(ca, "serial"), "w") as f:
        f.write("01\n")
    with open(os.path.join(ca, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = d\n[d]\ndatabase = index.txt\nnew_certs_dir = .\n"
                "serial = serial\ndefault_md = sha256\npolicy = p\n[p]\ncommonName = supplied\n")
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    for args in (("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                  "-nodes", "-keyout", key, "-out", "req.csr", "-subj", "/CN=old.test"),
                 ("ca", "-config", "ca.cnf", "-selfsign", "-keyfile", key, "-in", "req.csr",
                  "-out", cert, "-startdate", "20200101000000Z", "-enddate", "20200201000000Z",
                  "-batch", "-notext")):
        r = openssl(*args, cwd=ca)
        if r.returncode != 0:
            raise harness.HarnessError("openssl %s: %s" % (args[0], r.stderr.decode()))
    return cert, key


def fingerprint(cert_path):
    r = openssl("x509", "-in", cert_path, "-noout", "-fingerprint", "-sha256")
    return r.stdout.decode().strip().split("=", 1)[1]


def shoalctl(*args):
    ctl = os.environ.get("SHOALCTL") or os.path.join(os.path.dirname(harness.BINARY), "shoalctl")
    return subprocess.run([ctl] + list(args), capture_output=True, text=True, timeout=20,
                          stdin=subprocess.DEVNULL)


def tls_config(s, tls_port, plain_port, certs, origin_address, pp_port=None):
    """The harness's top-level settings, an upstream group and two servers sharing the tls
    address: a.test (the default, also on the plain address, with https_redirect and a
    proxied location, and on an address with the PROXY protocol before TLS) and b.test with
    a root of its own."""
    top = s.config_text(access_log=os.path.join(s.dir, "access.log"),
                        header_timeout=HEADER_TIMEOUT, health_path="/healthz")
    top = top.split("servers = (")[0]
    return top + """upstreams = ( { name = "app"; servers = ( { address = "%(origin)s"; } ); } );
servers = (
  { listen = [ "127.0.0.1:%(tls)d tls", "127.0.0.1:%(plain)d",
               "127.0.0.1:%(pp)d proxy_protocol tls" ]; root = "%(root)s";
    server_names = [ "a.test" ]; default_server = true; https_redirect = true;
    proxy_protocol_from = [ "127.0.0.1" ];
    tls = { certificate = "%(a_cert)s"; key = "%(a_key)s"; };
    locations = ( { path = "/app/"; proxy = "app"; x_forwarded = true; } ); },
  { listen = [ "127.0.0.1:%(tls)d tls" ]; root = "%(root_b)s"; server_names = [ "b.test" ];
    tls = { certificate = "%(b_cert)s"; key = "%(b_key)s"; }; }
);
""" % {"origin": origin_address, "tls": tls_port, "plain": plain_port, "root": s.root,
       "pp": pp_port or harness.free_port(),
       "root_b": os.path.join(s.dir, "www-b"), "a_cert": certs["a"][0], "a_key": certs["a"][1],
       "b_cert": certs["b"][0], "b_key": certs["b"][1]}


class TlsServer:
    """A shoal with two workers, its tls address on s.port, its certificates in s.dir."""

    def __init__(self, origin, large_file_size=0):
        s = harness.Server(workers=2, start=False, large_file_size=large_file_size)
        self.server = s
        self.plain_port = harness.free_port()
        self.pp_port = harness.free_port()
        os.makedirs(os.path.join(s.dir, "www-b"))
        with open(os.path.join(s.dir, "www-b", "index.html"), "wb") as f:
            f.write(b"site b\n")
        self.certs = {"a": make_cert(s.dir, "a", ["a.test"]),
                      "b": make_cert(s.dir, "b", ["b.test", "www.b.test"])}
        self.origin = origin
        s.rewrite_config(text=tls_config(s, s.port, self.plain_port, self.certs, origin.address,
                                         self.pp_port))
        try:
            s.start()
        except BaseException:
            s.close()
            raise

    def close(self):
        self.server.close()


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class TlsConn:
    """One TLS connection with Python's ssl: requests in turn on it, read like harness.Client."""

    def __init__(self, port, server_name="a.test", timeout=10.0):
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = client_context().wrap_socket(raw, server_hostname=server_name)
        self.client = harness.Client.__new__(harness.Client)
        self.client.sock, self.client.timeout, self.client.buf = self.sock, timeout, b""
        self.client.eof = False

    def request(self, path, headers=None):
        hdrs = {"Host": "a.test"}
        hdrs.update(headers or {})
        return self.client.request("GET", path, headers=list(hdrs.items()))

    def peer_subject(self):
        der = self.sock.getpeercert(binary_form=True)
        return hashlib.sha256(der).hexdigest()

    def close(self):
        self.sock.close()


def stats_json(server):
    r = shoalctl("-f", server.stats_file, "stats", "--json")
    if r.returncode != 0:
        raise harness.HarnessError("shoalctl: %s" % r.stderr)
    return json.loads(r.stdout)


def totals(server):
    return stats_json(server)["totals"]


def per_worker(server, key):
    """{pid: counter} of the live workers."""
    return {w["pid"]: w["counters"][key] for w in stats_json(server)["workers"]}


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin = Origin("app")
        try:
            cls.tls = TlsServer(cls.origin, large_file_size=3 * 1024 * 1024 + 17)
        except BaseException:
            cls.origin.stop()
            raise
        cls.server = cls.tls.server

    @classmethod
    def tearDownClass(cls):
        cls.tls.close()
        cls.origin.stop()

    def conn(self, server_name="a.test"):
        c = TlsConn(self.server.port, server_name)
        self.addCleanup(c.close)
        return c

    def access_log(self):
        try:
            with open(os.path.join(self.server.dir, "access.log")) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def s_client(self, *args):
        """One HTTP/1.0 request through s_client, which then waits for the server's close: a
        TLS 1.3 ticket comes after the handshake, and a client that quit at once would miss
        it."""
        return openssl("s_client", "-connect", "127.0.0.1:%d" % self.server.port, "-ign_eof",
                       *args, stdin=b"GET / HTTP/1.0\r\nHost: a.test\r\n\r\n")

    # -- static files --

    def test_static_files_over_tls_small_and_large(self):
        r = self.conn().request("/index.html")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, harness.INDEX_BODY)
        out = subprocess.run(["curl", "-sk", "--max-time", "30", "--resolve",
                              "a.test:%d:127.0.0.1" % self.server.port,
                              "https://a.test:%d/big.bin" % self.server.port],
                             capture_output=True, timeout=40)
        with open(os.path.join(self.server.root, "big.bin"), "rb") as f:
            want = f.read()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(len(out.stdout), len(want))
        self.assertEqual(hashlib.sha256(out.stdout).hexdigest(), hashlib.sha256(want).hexdigest())

    # -- SNI --

    def test_sni_picks_the_certificate_of_the_named_server(self):
        want = {n: fingerprint(self.tls.certs[n][0]).replace(":", "").lower() for n in "ab"}
        for name, server in (("a.test", "a"), ("b.test", "b"), ("www.b.test", "a"),
                             ("unknown.test", "a")):
            with self.subTest(name=name):
                self.assertEqual(self.conn(name).peer_subject(), want[server])
        r = self.s_client("-noservername")
        self.assertIn(b"CN = a.test", r.stdout)
        r = self.conn("b.test").request("/", headers={"Host": "b.test"})
        self.assertEqual(r.body, b"site b\n")

    # -- resumption --

    def resumes_on_the_other_worker(self, version_flag, version_name):
        sess = os.path.join(self.server.dir, "session-%s.pem" % version_flag)
        full_before = per_worker(self.server, "tls_handshakes_full")
        r = self.s_client("-servername", "a.test", version_flag, "-sess_out", sess)
        self.assertIn(b"New, " + version_name.encode(), r.stdout, r.stdout.decode())
        full_after = per_worker(self.server, "tls_handshakes_full")
        made_on = [pid for pid in full_after if full_after[pid] > full_before.get(pid, 0)]
        self.assertEqual(len(made_on), 1, (full_before, full_after))
        others = [pid for pid in full_after if pid != made_on[0]]
        resumed_before = per_worker(self.server, "tls_handshakes_resumed")
        # The kernel spreads connections over the workers' sockets by their source port: a
        # few tries land on the other worker; every one of them must resume.
        for attempt in range(40):
            r = self.s_client("-servername", "a.test", version_flag, "-sess_in", sess)
            self.assertIn(b"Reused, " + version_name.encode(), r.stdout,
                          "attempt %d: %s%s" % (attempt, r.stdout.decode(), r.stderr.decode()))
            resumed = per_worker(self.server, "tls_handshakes_resumed")
            if any(resumed[pid] > resumed_before.get(pid, 0) for pid in others):
                return
        self.fail("no connection of 40 landed on another worker than %d" % made_on[0])

    def test_tls13_sessions_resume_on_another_worker(self):
        self.resumes_on_the_other_worker("-tls1_3", "TLSv1.3")

    def test_tls12_tickets_resume_on_another_worker(self):
        self.resumes_on_the_other_worker("-tls1_2", "TLSv1.2")

    def test_a_resumed_tls13_session_brings_the_next_ticket(self):
        # A TLS 1.3 client uses a ticket once (RFC 8446 C.4), so every resumption must bring
        # a new one: a chain of connections, each offering the ticket the last one got.
        sess = [os.path.join(self.server.dir, "chain-%d.pem" % i) for i in range(5)]
        r = self.s_client("-servername", "a.test", "-tls1_3", "-sess_out", sess[0])
        self.assertIn(b"New, TLSv1.3", r.stdout, r.stdout.decode())
        for i in range(1, 5):
            r = self.s_client("-servername", "a.test", "-tls1_3", "-sess_in", sess[i - 1],
                              "-sess_out", sess[i], "-msg")
            self.assertIn(b"Reused, TLSv1.3", r.stdout, "link %d: %s" % (i, r.stdout.decode()))
            self.assertTrue(b"NewSessionTicket" in r.stdout, "link %d brought no ticket" % i)

    # -- connections --

    def test_keep_alive_serves_several_requests_over_one_tls_connection(self):
        before = totals(self.server)
        c = self.conn()
        for path in ("/index.html", "/file612.txt", "/dir/", "/index.html", "/style.css"):
            r = c.request(path)
            self.assertEqual(r.status, 200, path)
        after = totals(self.server)
        handshakes = (after["tls_handshakes_full"] + after["tls_handshakes_resumed"]
                      - before["tls_handshakes_full"] - before["tls_handshakes_resumed"])
        self.assertEqual(handshakes, 1)
        self.assertEqual(after["requests"] - before["requests"], 5)

    def test_a_tls_client_is_proxied_to_a_plain_upstream(self):
        c = self.conn()
        r = c.request("/app/echo")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.header("X-Origin"), "app")
        self.assertIn(b"X-Forwarded-Proto: https\r\n", r.body)
        r = c.request("/app/size/300000")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, pattern(300000))

    def test_plain_http_is_redirected_to_https_with_308(self):
        with harness.Client(self.tls.plain_port) as c:
            r = c.request("GET", "/dir/x?y=1", headers=[("Host", "a.test:%d" % self.tls.plain_port)])
            self.assertEqual(r.status, 308)
            self.assertEqual(r.header("Location"),
                             "https://a.test:%d/dir/x?y=1" % self.server.port)
            r = c.request("GET", "/healthz", headers=[("Host", "a.test")])
            self.assertEqual(r.status, 200)

    def test_a_stalled_handshake_is_closed_by_header_timeout_without_blocking_others(self):
        before = totals(self.server)["tls_failed_timeout"]
        stalled = harness.Client(self.server.port, timeout=HEADER_TIMEOUT + 5)
        self.addCleanup(stalled.close)
        # A handshake record announcing 512 bytes, of which one comes.
        stalled.send(b"\x16\x03\x01\x02\x00\x01")
        start = time.monotonic()
        for _ in range(4):
            r = self.conn().request("/index.html")
            self.assertEqual(r.status, 200)
        self.assertLess(time.monotonic() - start, HEADER_TIMEOUT - 0.5)
        self.assertTrue(stalled.closed_by_peer(timeout=HEADER_TIMEOUT + 3))
        self.assertGreaterEqual(time.monotonic() - start, HEADER_TIMEOUT - 0.2)
        harness.wait_until(lambda: totals(self.server)["tls_failed_timeout"] == before + 1, 3,
                           what="the timeout counted")

    def test_garbage_instead_of_a_client_hello_is_closed(self):
        before = totals(self.server)
        with harness.Client(self.server.port, timeout=5) as c:
            c.send(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")
            data = b""
            while not c.eof:
                data += c._recv(time.monotonic() + 5)
        self.assertNotIn(b"HTTP/1.1", data)
        after = totals(self.server)
        self.assertEqual(after["tls_failed_garbage"] - before["tls_failed_garbage"], 1)
        self.assertEqual(after["requests"], before["requests"])
        self.assertEqual(self.conn().request("/").status, 200)

    def test_the_proxy_protocol_header_comes_before_the_handshake(self):
        raw = socket.create_connection(("127.0.0.1", self.tls.pp_port), timeout=10)
        raw.sendall(b"PROXY TCP4 192.0.2.7 127.0.0.1 5555 443\r\n")
        sock = client_context().wrap_socket(raw, server_hostname="a.test")
        self.addCleanup(sock.close)
        sock.sendall(harness.build_request("GET", "/behind-a-balancer",
                                           headers=[("Host", "a.test")]))
        self.assertTrue(sock.recv(65536).startswith(b"HTTP/1.1 404 "))
        harness.wait_until(lambda: re.search(r"(?m)^192\.0\.2\.7 .*GET /behind-a-balancer ",
                                             self.access_log()), 5,
                           what="the access log line naming the header's client")

    def test_counters_in_text_and_prometheus(self):
        self.conn().request("/")
        r = shoalctl("-f", self.server.stats_file, "stats")
        self.assertRegex(r.stdout, r"\ntls +\d+ full, \d+ resumed \(TLSv1\.2 \d+, TLSv1\.3 [1-9]")
        r = shoalctl("-f", self.server.stats_file, "stats", "--prometheus")
        self.assertRegex(r.stdout, r'\nshoal_tls_handshakes_total\{kind="full"\} [1-9]')
        self.assertRegex(r.stdout, r'\nshoal_tls_versions_total\{version="TLSv1.3"\} [1-9]')


class TlsReloadTest(unittest.TestCase):
    """Each test changes the certificate files: a server of its own."""

    def setUp(self):
        self.origin = Origin("app")
        self.addCleanup(self.origin.stop)
        self.tls = TlsServer(self.origin)
        self.addCleanup(self.tls.close)
        self.server = self.tls.server

    def served_fingerprint(self):
        c = TlsConn(self.server.port, "a.test")
        try:
            r = c.request("/index.html")
            self.assertEqual(r.status, 200)
            return c.peer_subject()
        finally:
            c.close()

    def test_a_broken_certificate_on_hup_keeps_the_old_generation_serving(self):
        old = self.served_fingerprint()
        a_cert, _ = self.tls.certs["a"]
        shutil.copy(self.tls.certs["b"][0], a_cert)  # a certificate that is not the key's
        self.server.signal(signal.SIGHUP)
        self.server.wait_for_log(r"reload failed, still serving the previous configuration: "
                                 r"[^\n]*shoal\.conf:\d+: servers\[0\]\.tls: ")
        self.assertEqual(self.served_fingerprint(), old)
        with open(a_cert, "w") as f:
            f.write("not a certificate\n")
        self.server.signal(signal.SIGHUP)
        self.server.wait_for_log(r"reload failed", count=2)
        self.assertEqual(self.served_fingerprint(), old)

    def test_a_renewed_certificate_is_served_after_hup_with_no_failed_request(self):
        old = self.served_fingerprint()
        failures, done = [], threading.Event()

        def load():
            while not done.is_set():
                try:
                    self.served_fingerprint()
                except Exception as e:  # noqa: BLE001 - every failure is what is looked for
                    failures.append(repr(e))
        t = threading.Thread(target=load, daemon=True)
        t.start()
        renewed = os.path.join(self.server.dir, "renewed")
        os.makedirs(renewed)
        cert, key = make_cert(renewed, "a", ["a.test"])
        shutil.copy(cert, self.tls.certs["a"][0])
        shutil.copy(key, self.tls.certs["a"][1])
        want = fingerprint(cert).replace(":", "").lower()
        self.server.signal(signal.SIGHUP)
        # The old generation's workers accept for a moment more, with the old certificate;
        # then only the new one is served.
        try:
            harness.wait_until(lambda: all(self.served_fingerprint() == want for _ in range(6)),
                               15, what="only the renewed certificate served")
        finally:
            done.set()
            t.join(10)
        self.assertNotEqual(want, old)
        self.assertEqual(failures, [])

    def resumes(self, sess, version_flag):
        r = openssl("s_client", "-connect", "127.0.0.1:%d" % self.server.port, "-ign_eof",
                    "-servername", "a.test", version_flag, "-sess_in", sess,
                    stdin=b"GET / HTTP/1.0\r\nHost: a.test\r\n\r\n")
        return b"Reused, " in r.stdout

    def test_sessions_resume_across_a_reload_and_a_binary_upgrade(self):
        sessions = {}
        for flag in ("-tls1_3", "-tls1_2"):
            sessions[flag] = os.path.join(self.server.dir, "s%s.pem" % flag)
            r = openssl("s_client", "-connect", "127.0.0.1:%d" % self.server.port, "-ign_eof",
                        "-servername", "a.test", flag, "-sess_out", sessions[flag],
                        stdin=b"GET / HTTP/1.0\r\nHost: a.test\r\n\r\n")
            self.assertIn(b"New, ", r.stdout)
        self.server.signal(signal.SIGHUP)
        self.server.wait_for_log(r"reloaded .*generation 2")
        self.server.wait_for_log(r"worker \d \(pid \d+\) exited", count=2)
        for flag, sess in sessions.items():
            self.assertTrue(self.resumes(sess, flag), "after the reload, %s" % flag)
        self.server.upgrade()
        for flag, sess in sessions.items():
            self.assertTrue(self.resumes(sess, flag), "after the upgrade, %s" % flag)

    def test_shoal_t_warns_of_an_expired_certificate_and_fails_on_a_broken_one(self):
        cert, key = make_expired_cert(self.server.dir, "old")
        text = tls_config(self.server, self.server.port, self.tls.plain_port,
                          {"a": (cert, key), "b": self.tls.certs["b"]}, self.origin.address)
        conf = os.path.join(self.server.dir, "check.conf")
        with open(conf, "w") as f:
            f.write(text)
        r = harness.run_cli(["-t", "-c", conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"shoal: warning: [^\n]*old\.pem: the certificate expired on "
                                   r"2020-02-01")
        with open(conf, "w") as f:
            f.write(text.replace(key, self.tls.certs["b"][1]))
        r = harness.run_cli(["-t", "-c", conf])
        self.assertEqual(r.returncode, 1)
        line = text[:text.index(cert)].count("\n") + 1
        self.assertRegex(r.stderr, r"check\.conf:%d: servers\[0\]\.tls: " % line)


if __name__ == "__main__":
    harness.main()

"""The real client address (issue 16) end to end: a server with real_ip_from = 127.0.0.1
takes the client from X-Forwarded-For when the request comes from there, and then that
client is what the access log shows, what status_allow admits, what a limit zone keyed on
client_ip counts and what X-Forwarded-For tells the upstream (cut after the client); from
127.0.0.2, a peer it does not trust, X-Forwarded-For changes nothing."""

import os
import re
import socket
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from origin import Origin  # noqa: E402

TRUSTED = "127.0.0.1"
OTHER = "127.0.0.2"  # a loopback address too: status_allow's default admits it


def request(port, path, xff=None, source=TRUSTED):
    """One GET from source with X-Forwarded-For xff (None: none) on a connection of its own:
    (status, body)."""
    fields = "Host: t\r\nConnection: close\r\n"
    if xff is not None:
        fields += "X-Forwarded-For: %s\r\n" % xff
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.bind((source, 0))
        s.connect(("127.0.0.1", port))
        s.sendall(("GET %s HTTP/1.1\r\n%s\r\n" % (path, fields)).encode())
        data = harness.read_to_end(s, timeout=10)
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def forwarded_for(echo):
    """The X-Forwarded-For of a request head the origin echoed."""
    m = re.search(rb"(?im)^x-forwarded-for: *(.*?)\r$", echo)
    return m.group(1).decode() if m else None


class RealIpTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.origin = Origin()
        s = harness.Server(workers=2, start=False)
        cls.server = s
        cls.access_log = os.path.join(s.dir, "access.log")
        os.makedirs(os.path.join(s.root, "limited"))
        s.write_file("limited/f.txt", b"limited\n")
        text = s.config_text(access_log=cls.access_log, status_path="/status")
        marker = 'index = [ "index.html" ];'
        text = text.replace(marker, marker + """
    real_ip_from = [ "%s" ];
    locations = (
      { path = "/api/"; proxy = "app"; },
      { path = "/limited/"; root = "%s"; limit = [ "perip" ]; }
    );""" % (TRUSTED, s.root))
        text = ('limit_zones = ( { name = "perip"; key = "client_ip"; rate = 0.01; '
                'burst = 2; } );\n'
                'upstreams = ( { name = "app"; servers = ( { address = "%s"; } ); } );\n'
                % cls.origin.address) + text
        s.rewrite_config(text=text)
        try:
            s.start()
        except BaseException:
            s.close()
            cls.origin.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.server.close()
        cls.origin.stop()

    def assert_logged(self, client, path):
        self.server.wait_for_log(r"(?m)^%s - - \[[^]]+\] \"GET %s HTTP/1\.1\" " %
                                 (re.escape(client), re.escape(path)),
                                 path=self.access_log, timeout=5)

    def test_access_log_shows_the_found_client(self):
        self.assertEqual(request(self.server.port, "/?a", "203.0.113.9, 192.0.2.44")[0], 200)
        self.assert_logged("192.0.2.44", "/?a")
        # Every hop trusted: the leftmost is the client.
        self.assertEqual(request(self.server.port, "/?b", "127.0.0.1, 127.0.0.1")[0], 200)
        self.assert_logged("127.0.0.1", "/?b")
        self.assertEqual(request(self.server.port, "/?c", "[2001:db8::7]:4711")[0], 200)
        self.assert_logged("2001:db8::7", "/?c")
        # Nothing named, or a peer not trusted: the peer is the client.
        self.assertEqual(request(self.server.port, "/?d", "unknown")[0], 200)
        self.assert_logged(TRUSTED, "/?d")
        self.assertEqual(request(self.server.port, "/?e", "192.0.2.44", source=OTHER)[0], 200)
        self.assert_logged(OTHER, "/?e")

    def test_status_allow_sees_the_found_client(self):
        # status_allow is the default, the loopback addresses.
        self.assertEqual(request(self.server.port, "/status", "192.0.2.44")[0], 403)
        self.assertEqual(request(self.server.port, "/status", "192.0.2.44, 127.0.0.1")[0], 403)
        self.assertEqual(request(self.server.port, "/status", "127.0.0.9")[0], 200)
        self.assertEqual(request(self.server.port, "/status")[0], 200)
        # From a peer not trusted, the field cannot shut out a client the ACL admits.
        self.assertEqual(request(self.server.port, "/status", "192.0.2.44", source=OTHER)[0],
                         200)

    def test_each_found_client_has_its_own_budget(self):
        def statuses(xff, source=TRUSTED, n=4):
            return [request(self.server.port, "/limited/f.txt", xff, source)[0]
                    for _ in range(n)]
        # burst = 2 at 0.01 per second: three requests each, then 429 for minutes.
        self.assertEqual(statuses("192.0.2.1"), [200, 200, 200, 429])
        self.assertEqual(statuses("198.51.100.1, 192.0.2.2"), [200, 200, 200, 429])
        self.assertEqual(statuses("192.0.2.1, 127.0.0.1", n=1), [429])
        # From a peer not trusted, every field is the peer's one key.
        self.assertEqual(statuses("192.0.2.3", source=OTHER, n=3), [200, 200, 200])
        self.assertEqual(statuses("192.0.2.4", source=OTHER, n=1), [429])

    def test_upstream_gets_the_list_cut_after_the_client(self):
        def sent(xff, source=TRUSTED, path="/api/echo"):
            status, body = request(self.server.port, path, xff, source)
            self.assertEqual(status, 200)
            return forwarded_for(body)
        self.assertEqual(sent("198.51.100.1, 192.0.2.7, 127.0.0.1, 127.0.0.1",
                              path="/api/echo?cut"),
                         "198.51.100.1, 192.0.2.7")
        # The proxy's answer goes on after its handler returned: logged with the client too.
        self.assert_logged("192.0.2.7", "/api/echo?cut")
        self.assertEqual(sent("192.0.2.7:4711"), "192.0.2.7")
        self.assertEqual(sent(None), TRUSTED)
        # Nothing named: the list goes on whole, the peer appended.
        self.assertEqual(sent("192.0.2.7, junk"), "192.0.2.7, junk, " + TRUSTED)
        # A peer not trusted is appended as any client is.
        self.assertEqual(sent("192.0.2.7", source=OTHER), "192.0.2.7, " + OTHER)


if __name__ == "__main__":
    harness.main()

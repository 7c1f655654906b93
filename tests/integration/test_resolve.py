"""resolve = true (issue 14) end to end: an upstream server given by a host name whose address
changes while shoal runs. shoal runs in a mount namespace of its own, where /etc/hosts is a
bind mount of the test's file; the test rewrites that file in place (a bind mount follows the
inode) to move backend.test from the origin on 127.0.0.2 to the one on 127.0.0.3. Within a
few seconds requests reach the new origin, without a reload, while a request in flight on
the old one completes."""

import os
import re
import shlex
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_until  # noqa: E402
from origin import Origin  # noqa: E402
from test_proxy import location, proxy_config  # noqa: E402

NAME = "backend.test"
OLD, NEW = "127.0.0.2", "127.0.0.3"


def in_namespace(hosts):
    """A wrap for harness.Server: the command inside a private mount namespace whose
    /etc/hosts is hosts."""
    def wrap(argv):
        return ["unshare", "-m", "sh", "-c", "mount --bind %s /etc/hosts && exec %s"
                % (shlex.quote(hosts), " ".join(shlex.quote(a) for a in argv))]
    return wrap


class ResolveTest(unittest.TestCase):
    def setUp(self):
        if os.geteuid() != 0:
            self.skipTest("needs root, to bind-mount a hosts file in a mount namespace")
        fd, self.hosts = tempfile.mkstemp(prefix="shoal-it-hosts-")
        os.close(fd)
        self.addCleanup(os.unlink, self.hosts)
        self.write_hosts("%s %s\n" % (OLD, NAME))
        try:
            probe = subprocess.run(in_namespace(self.hosts)(["getent", "hosts", NAME]),
                                   capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired) as e:
            self.skipTest("unshare or mount cannot run here: %s" % e)
        if probe.returncode != 0 or not probe.stdout.startswith(OLD):
            self.skipTest("unshare -m or mount --bind fails here: %s"
                          % (probe.stderr.strip() or probe.stdout.strip()))
        self.old = Origin("old", host=OLD)
        self.addCleanup(self.old.stop)
        self.new = Origin("new", host=NEW, port=self.old.port)
        self.addCleanup(self.new.stop)
        self.server = "%s:%d" % (NAME, self.old.port)

    def write_hosts(self, text):
        """Rewrites the file in place: a bind mount shows the inode it was made with. The new
        text is written over the old before the rest is cut, so that no lookup finds the file
        empty."""
        with open(self.hosts, "r+") as f:
            f.write(text)
            f.truncate(len(text))

    def start(self):
        s = harness.Server(workers=2, start=False)
        try:
            group = ('{ name = "app"; resolve_interval = 1; servers = ( { resolve = true; '
                     'address = "%s"; } ); }' % self.server)
            s.rewrite_config(text=proxy_config(s, [group], [location("/app/", proxy="app")]))
            s.wrap = in_namespace(self.hosts)
            s.start()
        except BaseException:
            s.close()
            raise
        return s

    def answered_by(self, s, n):
        out = []
        for _ in range(n):
            r = s.request("GET", "/app/status/200")
            self.assertEqual(r.status, 200)
            out.append(r.header("X-Origin"))
        return out

    def test_a_new_address_takes_the_traffic_and_a_request_in_flight_completes(self):
        with self.start() as s:
            s.wait_for_log(r"looking up the names of 1 upstream server")
            self.assertEqual(self.answered_by(s, 10), ["old"] * 10)
            slow = {}
            t = threading.Thread(target=lambda: slow.setdefault(
                "r", s.request("GET", "/app/slow-head/3", timeout=15)))
            t.start()
            wait_until(lambda: any(r.path == "/app/slow-head/3" for r in self.old.requests),
                       5, what="the slow request at the old origin")
            moved = time.monotonic()
            self.write_hosts("%s %s\n" % (NEW, NAME))
            wait_until(lambda: self.answered_by(s, 1) == ["new"], 5,
                       what="a request answered by the new address")
            self.assertLess(time.monotonic() - moved, 3.5)
            s.wait_for_log(r"upstream app server %s now resolves to %s:%d\n"
                           % (re.escape(self.server), re.escape(NEW), self.old.port))
            # Pooled connections to the old address are not reused: nothing goes there.
            before = len(self.old.requests)
            self.assertEqual(self.answered_by(s, 10), ["new"] * 10)
            self.assertEqual(len(self.old.requests), before)
            t.join(15)
            self.assertFalse(t.is_alive())
            self.assertEqual(slow["r"].status, 200)
            self.assertEqual(slow["r"].body, b"slow head\n")
            self.assertEqual(slow["r"].header("X-Origin"), "old")
            self.assertNotIn("error]", s.log())

    def test_a_name_that_stops_resolving_keeps_its_addresses(self):
        with self.start() as s:
            s.wait_for_log(r"looking up the names of 1 upstream server")
            self.write_hosts("# %s is gone\n" % NAME)
            s.wait_for_log(r"upstream app server %s: cannot resolve: .*; keeping %s:%d\n"
                           % (re.escape(self.server), re.escape(OLD), self.old.port),
                           timeout=15)
            self.assertEqual(self.answered_by(s, 5), ["old"] * 5)
            # Once per new error, not once per interval.
            time.sleep(2.5)
            self.assertEqual(len(re.findall(r"cannot resolve", s.log())), 1)
            self.write_hosts("%s %s\n" % (OLD, NAME))
            s.wait_for_log(r"upstream app server %s resolves again, to %s:%d\n"
                           % (re.escape(self.server), re.escape(OLD), self.old.port),
                           timeout=15)

    def test_a_name_that_does_not_resolve_at_start_is_an_error(self):
        self.write_hosts("# nothing\n")
        s = harness.Server(workers=1, start=False)
        try:
            group = ('{ name = "app"; servers = ( { resolve = true; address = "%s"; } ); }'
                     % self.server)
            s.rewrite_config(text=proxy_config(s, [group], [location("/app/", proxy="app")]))
            s.wrap = in_namespace(self.hosts)
            s.start(wait=False)
            self.assertNotEqual(s.wait_exit(20), 0)
            self.assertRegex(s.stderr() + s.log(), r"%s:\d+: upstreams\[0\]\.servers\[0\]\."
                             r"address: cannot resolve '%s'"
                             % (re.escape(s.conf), re.escape(self.server)))
        finally:
            s.close()


if __name__ == "__main__":
    harness.main()

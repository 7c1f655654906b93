"""The systemd readiness protocol: READY=1 once workers serve, RELOADING=1 / READY=1 around
a reload, STOPPING=1 on stop."""

import os
import signal
import socket
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


class NotifyTest(unittest.TestCase):
    def setUp(self):
        d = tempfile.mkdtemp(prefix="shoal-notify-")
        self.path = os.path.join(d, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(10)
        self.addCleanup(self.sock.close)
        os.environ["NOTIFY_SOCKET"] = self.path
        self.addCleanup(os.environ.pop, "NOTIFY_SOCKET", None)

    def next_message(self):
        return self.sock.recv(4096).decode()

    def test_ready_reload_stop(self):
        s = harness.Server(workers=2)
        self.addCleanup(s.close)
        self.assertIn("READY=1", self.next_message())
        # The sockets' workers answered before READY=1 was sent: the service really serves.
        self.assertEqual(s.request("GET", "/").status, 200)
        s.signal(signal.SIGHUP)
        self.assertIn("RELOADING=1", self.next_message())
        self.assertIn("READY=1", self.next_message())
        s.wait_for_log(r"generation 2")
        s.signal(signal.SIGTERM)
        self.assertIn("STOPPING=1", self.next_message())
        self.assertEqual(s.wait_exit(10), 0)

    def test_failed_reload_is_ready_again_at_once(self):
        s = harness.Server(workers=1)
        self.addCleanup(s.close)
        self.assertIn("READY=1", self.next_message())
        s.rewrite_config("workers = nonsense;\n")
        s.signal(signal.SIGHUP)
        self.assertIn("RELOADING=1", self.next_message())
        self.assertIn("READY=1", self.next_message())
        s.wait_for_log(r"reload failed")
        self.assertEqual(s.request("GET", "/").status, 200)


if __name__ == "__main__":
    harness.main()

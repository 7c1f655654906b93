"""The command line of shoal: options, config checks, signals to a running master, pid file
and daemon handling, start-up errors."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import run_cli, wait_until, pid_alive  # noqa: E402

ALL_KEYS = ["workers", "user", "group", "pid_file", "error_log", "log_level", "shutdown_timeout",
            "stats_file", "max_connections", "header_timeout", "keepalive_timeout", "send_timeout",
            "max_keepalive_requests", "max_header_size", "servers", "listen", "backlog", "root",
            "index"]


def dead_pid():
    """A pid that belonged to a process which has exited and been reaped."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


class CliTest(unittest.TestCase):
    def workspace(self, **kw):
        """A prepared server directory that nothing runs on yet."""
        s = harness.Server(start=False, **kw)
        self.addCleanup(s.close)
        return s

    def server(self, **kw):
        s = harness.Server(**kw)
        self.addCleanup(s.close)
        return s

    def write(self, ws, name, text):
        path = os.path.join(ws.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_version(self):
        r = run_cli(["-V"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^shoal \d+\.\d+")
        r = run_cli(["--version"])
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^shoal \d+\.\d+")

    def test_help(self):
        r = run_cli(["-h"])
        self.assertEqual(r.returncode, 0)
        self.assertIn("usage: shoal", r.stdout)
        for opt in ("-c", "-t", "-T", "-s", "--daemon", "-V", "-h"):
            self.assertIn(opt, r.stdout)

    def test_bad_usage_exits_2(self):
        for args in (["--no-such-option"], ["-x"], ["-s", "explode"], ["stray-argument"],
                     ["-c"]):
            with self.subTest(args=args):
                r = run_cli(args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertNotEqual(r.stderr.strip(), "")
                self.assertEqual(r.stdout, "")

    def test_check_good_config(self):
        ws = self.workspace()
        r = run_cli(["-t", "-c", ws.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("successful", r.stderr)
        self.assertIn(ws.conf, r.stderr)
        self.assertFalse(os.path.exists(ws.pid_file), "-t must not start anything")

    def test_check_bad_configs(self):
        ws = self.workspace()
        head = ws.config_text()
        base_lines = head.count("\n")
        server = ('servers = ( { listen = [ "127.0.0.1:%d" ]; root = "%s"; } );\n'
                  % (ws.port, ws.root))
        # (name, text, line, what must be named). The bad line is always the last one.
        cases = [
            ("unknown key", head + "no_such_key = 1;\n", base_lines + 1, "no_such_key"),
            ("wrong type", head + 'keepalive_timeout = "soon";\n', base_lines + 1,
             "keepalive_timeout"),
            ("out of range", head + "max_header_size = 10;\n", base_lines + 1,
             "max_header_size"),
            ("bad log level", head + 'log_level = "loud";\n', base_lines + 1, "log_level"),
            ("bad address", "workers = 1;\n" + server.replace("127.0.0.1:%d" % ws.port,
                                                               "localhost-ish"),
             2, "listen"),
            ("port out of range", "workers = 1;\n" + server.replace(":%d" % ws.port, ":70000"),
             2, "listen"),
            ("syntax error", head + "workers = = 3\n", base_lines + 1, None),
        ]
        for name, text, line, key in cases:
            with self.subTest(name):
                path = self.write(ws, "bad.conf", text)
                r = run_cli(["-t", "-c", path])
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("%s:%d" % (path, line), r.stderr)
                if key:
                    self.assertIn(key, r.stderr)
                self.assertNotIn("successful", r.stderr)

    def test_check_missing_file(self):
        ws = self.workspace()
        path = os.path.join(ws.dir, "does-not-exist.conf")
        r = run_cli(["-t", "-c", path])
        self.assertEqual(r.returncode, 1)
        self.assertIn(path, r.stderr)
        self.assertIn("No such file", r.stderr)

    def test_dump_fills_defaults_and_reloads(self):
        ws = self.workspace()
        minimal = self.write(ws, "minimal.conf",
                             'servers = ( { listen = [ "127.0.0.1:%d" ]; root = "www"; } );\n'
                             % ws.port)
        r = run_cli(["-T", "-c", minimal])
        self.assertEqual(r.returncode, 0, r.stderr)
        dump = r.stdout
        for key in ALL_KEYS:
            self.assertRegex(dump, r"(?m)^\s*#?\s*%s\b" % key)
        for default in ("shutdown_timeout = 30;", "max_connections = 10000;",
                        "header_timeout = 10;", "keepalive_timeout = 75;", "send_timeout = 60;",
                        "max_header_size = 8192;", "backlog = 4096;", 'index = [ "index.html" ];',
                        'log_level = "info";', 'error_log = "stderr";',
                        'root = "%s";' % ws.root, 'pid_file = "%s";' % os.path.join(ws.dir,
                                                                                   "shoal.pid")):
            self.assertIn(default, dump)
        dumped = self.write(ws, "dumped.conf", dump)
        r = run_cli(["-t", "-c", dumped])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("successful", r.stderr)
        r = run_cli(["-T", "-c", dumped])
        self.assertEqual(r.returncode, 0, r.stderr)
        # The same effective values again; "auto" was resolved to a count in the first dump.
        self.assertEqual(self.dump_values(r.stdout), self.dump_values(dump))

    @staticmethod
    def dump_values(text):
        return [line.split("  #")[0] for line in text.splitlines()
                if not line.startswith("# effective")]

    def test_signal_reload_and_stop(self):
        s = self.server(workers=2)
        r = run_cli(["-s", "reload", "-c", s.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(str(s.pid), r.stderr)
        s.wait_for_log(r"reloaded .*generation 2")
        s.wait_for_log(r"started worker \d+ \(pid \d+, generation 2\)", count=2)
        r = run_cli(["-s", "stop", "-c", s.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(str(s.pid), r.stderr)
        self.assertEqual(s.wait_exit(10), 0, s.log())
        self.assertFalse(os.path.exists(s.pid_file))

    def test_signal_without_master(self):
        ws = self.workspace()
        r = run_cli(["-s", "stop", "-c", ws.conf])
        self.assertEqual(r.returncode, 1)
        self.assertIn(ws.pid_file, r.stderr)
        # A pid file nobody holds a lock on is stale, whatever pid it names.
        with open(ws.pid_file, "w") as f:
            f.write("%d\n" % dead_pid())
        r = run_cli(["-s", "stop", "-c", ws.conf])
        self.assertEqual(r.returncode, 1)
        self.assertIn("stale", r.stderr)

    def test_second_master_refused(self):
        s = self.server(workers=1)
        with open(s.stderr_path + ".2", "wb") as err:
            p = subprocess.Popen([harness.BINARY, "-c", s.conf], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        try:
            rc = p.wait(timeout=harness.CLI_TIMEOUT)
        finally:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        with open(s.stderr_path + ".2") as f:
            message = f.read()
        self.assertEqual(rc, 1, message)
        self.assertIn("pid %d" % s.pid, message)
        self.assertTrue(s.alive())
        with open(s.pid_file) as f:
            self.assertEqual(int(f.read()), s.pid)
        self.assertEqual(s.request("GET", "/").status, 200)

    def test_stale_pid_file_taken_over(self):
        ws = self.workspace(workers=1)
        with open(ws.pid_file, "w") as f:
            f.write("%d\n" % dead_pid())
        ws.start()
        with open(ws.pid_file) as f:
            self.assertEqual(int(f.read()), ws.pid)
        self.assertEqual(ws.request("GET", "/").status, 200)

    def test_daemon(self):
        ws = self.workspace(workers=2)
        self.addCleanup(self.kill_daemon, ws)
        with open(ws.stderr_path, "wb") as err:
            # The daemon keeps stderr: a pipe there would never reach end of file.
            p = subprocess.Popen([harness.BINARY, "--daemon", "-c", ws.conf],
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
            rc = p.wait(timeout=harness.START_TIMEOUT + 15)
        self.assertEqual(rc, 0, ws.stderr() + ws.log())
        with open(ws.pid_file) as f:
            pid = int(f.read())
        self.assertNotEqual(pid, p.pid)
        self.assertTrue(pid_alive(pid))
        # Returning 0 promises that the workers already serve.
        self.assertEqual(len(re.findall("is serving", ws.log())), 2)
        self.assertEqual(ws.request("GET", "/").body, harness.INDEX_BODY)
        r = run_cli(["-s", "stop", "-c", ws.conf])
        self.assertEqual(r.returncode, 0, r.stderr)
        wait_until(lambda: not pid_alive(pid), 10, what="the daemon to exit")
        wait_until(lambda: not os.path.exists(ws.pid_file), 5, what="the pid file to go")

    def kill_daemon(self, ws):
        try:
            with open(ws.pid_file) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            return
        if not pid_alive(pid):
            return
        for child in harness.children_of(pid):
            harness.kill_quietly(child)
        harness.kill_quietly(pid)

    def test_bind_error(self):
        ws = self.workspace(workers=1)
        blocker = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(blocker.close)
        blocker.bind(("127.0.0.1", ws.port))
        blocker.listen(1)
        ws.start(wait=False)
        rc = ws.wait_exit(harness.CLI_TIMEOUT)
        self.assertEqual(rc, 1, ws.log())
        self.assertIn("in use", ws.stderr())
        self.assertIn("127.0.0.1:%d" % ws.port, ws.stderr())
        self.assertFalse(os.path.exists(ws.pid_file))


if __name__ == "__main__":
    harness.main()

"""Supervision by the master: listening sockets per slot, respawn, reload, graceful and fast
stop, log reopening, adding and removing workers, crash-loop backoff."""

import os
import re
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Client, wait_until, pid_alive, socket_inodes_of  # noqa: E402


class SignalTest(unittest.TestCase):
    def server(self, **kw):
        s = harness.Server(**kw)
        self.addCleanup(s.close)
        return s

    def assert_serves(self, s, n=20):
        """n fresh connections, each answered: SO_REUSEPORT spreads them over every socket."""
        for _ in range(n):
            r = s.request("GET", "/file612.txt")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, harness.FILE_612_BODY)

    def wait_counts(self, s, n, timeout=15):
        """Waits until the port has n listening sockets and the master n workers."""
        def settled():
            return len(s.listening_inodes()) == n and len(s.worker_pids()) == n
        try:
            wait_until(settled, timeout, what="%d sockets and %d workers" % (n, n))
        except harness.HarnessError as e:
            raise AssertionError("%s: sockets %s, workers %s\nlog:\n%s"
                                 % (e, s.listening_inodes(), s.worker_pids(), s.log()))

    def listen_inode_of(self, s, pid):
        mine = socket_inodes_of(pid) & s.listening_inodes()
        self.assertEqual(len(mine), 1, "worker %d holds listeners %s" % (pid, mine))
        return mine.pop()

    def test_watchdog_kills_a_hung_worker(self):
        s = self.server(workers=2, worker_timeout=2)
        hung = s.workers_by_slot()[1]
        inode = self.listen_inode_of(s, hung)
        os.kill(hung, signal.SIGSTOP)  # alive, but its loop no longer turns
        s.wait_for_log(r"worker 1 \(pid %d\) is hung: no heartbeat" % hung, timeout=10)
        wait_until(lambda: not pid_alive(hung), 5, what="the hung worker to be killed")
        s.wait_for_log(r"started worker 1 ", count=2, timeout=5)
        replacement = s.workers_by_slot()[1]
        self.assertNotEqual(replacement, hung)
        # Until it serves, a new worker may still hold the master's descriptors.
        s.wait_for_log(r"worker 1 \(pid %d\) is serving" % replacement, timeout=10)
        self.assertEqual(self.listen_inode_of(s, replacement), inode)
        self.assert_serves(s)

    def test_one_listening_socket_per_worker(self):
        s = self.server(workers=3)
        inodes = s.listening_inodes()
        self.assertEqual(len(inodes), 3, inodes)
        workers = s.worker_pids()
        self.assertEqual(len(workers), 3)
        held = {self.listen_inode_of(s, pid) for pid in workers}
        self.assertEqual(held, inodes, "each worker has its own slot's socket")
        self.assertEqual(socket_inodes_of(s.pid) & inodes, inodes, "the master owns them all")
        self.assert_serves(s)

    def test_killed_worker_respawns_on_same_socket(self):
        s = self.server(workers=2)
        old = s.workers_by_slot()[0]
        inode = self.listen_inode_of(s, old)
        os.kill(old, signal.SIGKILL)
        killed_at = time.monotonic()

        def respawned():
            pid = s.workers_by_slot().get(0)
            return pid if pid and pid != old else None
        new = wait_until(respawned, 5, interval=0.01, what="a new worker in slot 0")
        self.assertLess(time.monotonic() - killed_at, 1.0, "respawn took too long")
        s.wait_for_log(r"worker 0 \(pid %d\) is serving" % new)
        self.assertEqual(self.listen_inode_of(s, new), inode)
        self.assertEqual(len(s.listening_inodes()), 2)
        self.assertRegex(s.log(), r"worker 0 \(pid %d\) killed by signal 9, restarting" % old)
        self.assert_serves(s)

    def test_hup_changes_worker_count(self):
        s = self.server(workers=2)
        old = set(s.worker_pids())
        for gen, n in ((2, 4), (3, 1)):
            with self.subTest(workers=n):
                s.rewrite_config(workers=n)
                s.signal(signal.SIGHUP)
                s.wait_for_log(r"reloaded .*: generation %d with %d workers" % (gen, n))
                # The old generation finishes and exits: only then are there n workers,
                # all of them new (mid-reload, old and new together can also count n).
                wait_until(lambda: not set(s.worker_pids()) & old, 15,
                           what="the old generation to exit")
                self.wait_counts(s, n)
                new = set(s.worker_pids())
                self.assertFalse(new & old, "old workers still running")
                for pid in new:
                    self.listen_inode_of(s, pid)
                self.assert_serves(s)
                old = new

    def test_hup_with_broken_config_keeps_serving(self):
        s = self.server(workers=2)
        before = sorted(s.worker_pids())
        inodes = s.listening_inodes()
        broken = [
            s.config_text() + "workers = = 3\n",
            s.config_text(workers=0),
            s.config_text(root=os.path.join(s.dir, "no-such-root")),
        ]
        for i, text in enumerate(broken, 1):
            with self.subTest(config=text.splitlines()[-1]):
                s.rewrite_config(text)
                s.signal(signal.SIGHUP)
                s.wait_for_log(r"reload failed, still serving the previous configuration: .*"
                               + re.escape(s.conf), count=i)
                time.sleep(0.3)
                self.assertEqual(sorted(s.worker_pids()), before)
                self.assertEqual(s.listening_inodes(), inodes)
                self.assert_serves(s)
        self.assertNotRegex(s.log(), r"generation 2")

    def test_quit_finishes_slow_download(self):
        size = 32 * 1024 * 1024
        s = self.server(workers=2, shutdown_timeout=30, large_file_size=size)
        c = Client(s.port, timeout=20, rcvbuf=64 * 1024)
        self.addCleanup(c.close)
        c.send(harness.build_request("GET", "/big.bin"))
        version, status, reason, headers = c.read_head()
        self.assertEqual(status, 200)
        self.assertEqual(dict((k.lower(), v) for k, v in headers)["content-length"], str(size))
        got = c.read_exact(64 * 1024)
        s.signal(signal.SIGQUIT)
        s.wait_for_log(r"graceful stop")
        # Read the rest slowly: the transfer lasts well beyond the signal.
        chunk = 512 * 1024
        while len(got) < size:
            got += c.read_exact(min(chunk, size - len(got)))
            if len(got) == 2 * 1024 * 1024:
                self.assertTrue(s.alive(), "master gone while a response was in flight")
            time.sleep(0.03)
        self.assertEqual(len(got), size)
        with open(os.path.join(s.root, "big.bin"), "rb") as f:
            self.assertTrue(got == f.read(), "body differs from the file")
        c.close()
        rc = s.wait_exit(15)
        self.assertEqual(rc, 0, s.log())
        self.assertFalse(os.path.exists(s.pid_file))
        self.assertNotRegex(s.log(), r"did not exit in time|shutdown timeout")

    def test_quit_closes_idle_keepalive(self):
        s = self.server(workers=1, shutdown_timeout=20)
        c = Client(s.port)
        self.addCleanup(c.close)
        self.assertEqual(c.request("GET", "/").status, 200)
        started = time.monotonic()
        s.signal(signal.SIGQUIT)
        self.assertTrue(c.closed_by_peer(5), "idle connection kept open after QUIT")
        self.assertEqual(s.wait_exit(5), 0, s.log())
        self.assertLess(time.monotonic() - started, 5)

    def test_term_stops_fast(self):
        s = self.server(workers=2, shutdown_timeout=30)
        workers = s.worker_pids()
        # An idle keep-alive connection must not delay a fast stop.
        c = Client(s.port)
        self.addCleanup(c.close)
        self.assertEqual(c.request("GET", "/").status, 200)
        started = time.monotonic()
        s.signal(signal.SIGTERM)
        rc = s.wait_exit(5)
        elapsed = time.monotonic() - started
        self.assertEqual(rc, 0, s.log())
        self.assertLess(elapsed, 1.5)
        wait_until(lambda: not any(pid_alive(p) for p in workers), 1, what="workers to exit")
        self.assertFalse(os.path.exists(s.pid_file))

    def test_usr1_reopens_log(self):
        s = self.server(workers=2)
        workers = s.worker_pids()
        rotated = s.error_log + ".1"
        os.rename(s.error_log, rotated)
        s.signal(signal.SIGUSR1)
        s.wait_for_log(r"reopened log files")
        self.assertTrue(os.path.exists(s.error_log))

        def workers_reopened():
            targets = [t for pid in workers for t in harness.fd_targets_of(pid)]
            return s.error_log in targets and not any(t.startswith(rotated) for t in targets)
        wait_until(workers_reopened, 5, what="workers to reopen the log")
        victim = workers[0]
        os.kill(victim, signal.SIGKILL)
        s.wait_for_log(r"worker \d+ \(pid %d\) killed by signal 9" % victim)
        with open(rotated) as f:
            old_text = f.read()
        self.assertNotIn("pid %d) killed" % victim, old_text)
        self.assertNotIn("reopened log files", old_text)

    def test_ttin_ttou(self):
        s = self.server(workers=2)
        before = set(s.listening_inodes())
        s.signal(signal.SIGTTIN)
        s.wait_for_log(r"adding worker 2")
        s.wait_for_log(r"worker 2 \(pid \d+\) is serving")
        self.wait_counts(s, 3)
        self.assertTrue(before < s.listening_inodes())
        added = s.workers_by_slot()[2]
        self.assert_serves(s)
        s.signal(signal.SIGTTOU)
        s.wait_for_log(r"removing worker 2")
        self.wait_counts(s, 2)
        self.assertEqual(s.listening_inodes(), before)
        self.assertFalse(pid_alive(added))
        # One worker more than configured and back: slots 0 and 1 never changed hands.
        self.assertEqual(len(re.findall(r"started worker", s.log())), 3)
        self.assert_serves(s)

    def test_workers_dying_at_birth_during_reloads(self):
        """Reloads whose new workers are killed the moment they exist, often before the master
        has even registered their start-up pipes: the master must survive and keep serving."""
        s = self.server(workers=32, shutdown_timeout=2)
        known = set(s.worker_pids())
        for _ in range(25):
            s.signal(signal.SIGHUP)
            end = time.monotonic() + 0.4
            while time.monotonic() < end and s.alive():
                for pid in harness.children_of(s.pid):
                    if pid not in known:
                        harness.kill_quietly(pid)
                        known.add(pid)
            if not s.alive():
                break
        self.assertTrue(s.alive(), "master died (status %s):\n%s\n%s"
                        % (s.proc.returncode, s.stderr()[-3000:], s.log()[-3000:]))
        self.assert_serves(s, 5)

    def test_crash_loop_backoff(self):
        s = self.server(workers=1)
        killed = []

        def kill_next_worker():
            """Kills the slot's next worker as soon as it exists, well within 1 s of its start."""
            def fresh():
                pids = [p for p in s.worker_pids() if p not in killed]
                return pids[0] if pids else None
            pid = wait_until(fresh, 10, interval=0.005, what="a new worker")
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
            return time.monotonic()

        # A worker that lived longer than 1 s does not count; the two quick deaths after it
        # do, and the second of them is answered with a delay.
        time.sleep(1.2)
        kill_next_worker()
        kill_next_worker()
        kill_next_worker()
        s.wait_for_log(r"worker 0 failed 2 times within 1000 ms of starting; next start in 1000 ms")
        last_kill = kill_next_worker()
        s.wait_for_log(r"worker 0 failed 3 times within 1000 ms of starting; next start in 2000 ms")

        def restarted():
            if not s.alive():
                raise AssertionError("the master died during the crash loop:\n%s\n%s"
                                     % (s.stderr()[-3000:], s.log()))
            return [p for p in s.worker_pids() if p not in killed]
        wait_until(restarted, 10, what="the worker after the backoff")
        self.assertGreater(time.monotonic() - last_kill, 1.8, "backoff of 2000 ms not applied")
        s.wait_for_log(r"is serving", count=2)
        self.assert_serves(s, 5)


if __name__ == "__main__":
    harness.main()

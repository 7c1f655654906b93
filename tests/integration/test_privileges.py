"""Workers of a master started as root run as the configured user."""

import os
import pwd
import stat
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.split()
    return fields


@unittest.skipUnless(os.geteuid() == 0, "needs root to start workers as another user")
class PrivilegeTest(unittest.TestCase):
    def setUp(self):
        self.user = pwd.getpwnam("nobody")
        s = harness.Server(workers=2, start=False, user="nobody")
        self.addCleanup(s.close)
        # The workers must be able to reach the root; the temp dir is 0700 by default.
        os.chmod(s.dir, 0o755)
        s.access_log = os.path.join(s.dir, "access.log")
        s.rewrite_config(access_log=s.access_log)
        self.server = s.start()

    def test_workers_drop_to_the_configured_user(self):
        s = self.server
        for pid in s.worker_pids():
            st = proc_status(pid)
            self.assertEqual(st["Uid"], [str(self.user.pw_uid)] * 4, st["Uid"])
            self.assertEqual(st["Gid"], [str(self.user.pw_gid)] * 4, st["Gid"])
            self.assertEqual(st["Groups"], [str(self.user.pw_gid)], st["Groups"])
            self.assertEqual(st["NoNewPrivs"], ["1"])
            self.assertEqual(st["CapEff"], ["0000000000000000"])
        self.assertEqual(proc_status(s.pid)["Uid"][0], "0")  # the master keeps root
        self.assertEqual(s.request("GET", "/").status, 200)

    def test_files_root_opened_before_the_drop_stay_usable(self):
        s = self.server
        self.assertEqual(s.request("GET", "/file612.txt").status, 200)
        # The access log lives in a directory the workers could not create files in.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if os.path.exists(s.access_log) and b"/file612.txt" in open(s.access_log, "rb").read():
                break
            time.sleep(0.1)
        self.assertIn(b"GET /file612.txt HTTP/1.1\" 200 612", open(s.access_log, "rb").read())
        mode = os.stat(s.access_log).st_mode
        self.assertFalse(mode & stat.S_IWOTH, "access log is world-writable")

    def test_root_without_user_is_refused(self):
        s = harness.Server(workers=1, start=False, allow_root=None)
        self.addCleanup(s.close)
        r = harness.run_cli(["-c", s.conf])
        self.assertEqual(r.returncode, 1)
        self.assertIn("refusing to serve as root", r.stderr)
        self.assertIn("allow_root", r.stderr)

    def test_stats_file_belongs_to_the_workers_user(self):
        st = os.stat(self.server.stats_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_uid, self.user.pw_uid)
        self.assertEqual(st.st_gid, self.user.pw_gid)

    def test_state_file_belongs_to_the_workers_user(self):
        st = os.stat(self.server.state_file)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o640)
        self.assertEqual(st.st_uid, self.user.pw_uid)
        self.assertEqual(st.st_gid, self.user.pw_gid)


if __name__ == "__main__":
    harness.main()

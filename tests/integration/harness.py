"""Shared helpers for shoal's integration tests: a server under test, /proc inspection and a
raw HTTP client. Standard library only.

Every wait here is bounded by a deadline, and a Server kills whatever it started when it is
closed, so that a failing test neither hangs nor leaves processes behind.
"""

import atexit
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

BINARY = os.environ.get("SHOAL_BIN", "")

# Generous: the binary may be built with AddressSanitizer, which starts and runs slower.
START_TIMEOUT = 20.0
CLI_TIMEOUT = 20.0

INDEX_BODY = b"<html><body>shoal root index</body></html>\n"
DIR_INDEX_BODY = b"<html><body>dir index</body></html>\n"
FILE_612_BODY = (b"0123456789abcdef" * 40)[:611] + b"\n"
SECRET_BODY = b"secret outside the root: do not serve\n"

_live_servers = []


class HarnessError(AssertionError):
    """A wait ran out or the server did not behave; fails the test that caused it."""


def main():
    """Entry point of a test file: the binary comes from argv[1] or SHOAL_BIN."""
    global BINARY
    if len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        BINARY = sys.argv.pop(1)
    if not BINARY:
        sys.exit("usage: %s /path/to/shoal [unittest options] (or set SHOAL_BIN)" % sys.argv[0])
    BINARY = os.path.abspath(BINARY)
    if not os.access(BINARY, os.X_OK):
        sys.exit("%s is not an executable" % BINARY)
    unittest.main(verbosity=2)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout, interval=0.02, what="condition"):
    """Polls predicate until it returns a true value, which is returned; raises at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise HarnessError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


def run_cli(args, timeout=CLI_TIMEOUT, cwd=None):
    """Runs the binary with args to completion; returns a CompletedProcess with text output."""
    return subprocess.run([BINARY] + list(args), capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, stdin=subprocess.DEVNULL)


# ---- /proc ----

def pid_alive(pid):
    """True for a running process; a zombie counts as gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def children_of(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def socket_inodes_of(pid):
    """Inodes of the sockets pid has open."""
    inodes = set()
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return inodes
    for fd in fds:
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]$", link)
        if m:
            inodes.add(int(m.group(1)))
    return inodes


def fd_targets_of(pid):
    targets = []
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except OSError:
        return targets
    for fd in fds:
        try:
            targets.append(os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            pass
    return targets


def listening_inodes(port):
    """Distinct inodes of the TCP sockets in LISTEN state on port (IPv4 and IPv6)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) < 10 or cols[3] != "0A":
                continue
            if int(cols[1].rsplit(":", 1)[1], 16) == port and int(cols[9]) != 0:
                inodes.add(int(cols[9]))
    return inodes


def read_to_end(sock, timeout=5.0):
    """Everything the server sends until it closes (a reset counts as closing)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        except socket.timeout:
            raise HarnessError("the server did not close within %.1f s (got %r)"
                                       % (timeout, data))
        if not chunk:
            return data
        data += chunk


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except OSError:
        pass


# ---- the server under test ----

def _conf_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[ " + ", ".join(_conf_value(v) for v in value) + " ]"
    return '"%s"' % str(value).replace("\\", "\\\\").replace('"', '\\"')


class Server:
    """A temporary directory with a config and a www root, and a shoal master started on it.

    Use as a context manager; start=False prepares the files without starting anything.
    """

    def __init__(self, workers=2, shutdown_timeout=5, large_file_size=0, start=True, **extra):
        self.workers = workers
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="shoal-it-")
        self.root = os.path.join(self.dir, "www")
        self.conf = os.path.join(self.dir, "shoal.conf")
        self.error_log = os.path.join(self.dir, "error.log")
        self.pid_file = os.path.join(self.dir, "shoal.pid")
        self.stats_file = os.path.join(self.dir, "shoal.stats")
        self.state_file = os.path.join(self.dir, "shoal.state")
        self.stdout_path = os.path.join(self.dir, "stdout.txt")
        self.stderr_path = os.path.join(self.dir, "stderr.txt")
        self.settings = {"workers": workers, "shutdown_timeout": shutdown_timeout}
        self.settings.update(extra)
        self.proc = None
        self.pid = None
        self.returncode = None
        # None, or a function of the command line that returns the one to run instead (to
        # start shoal inside another command, such as unshare); set before start().
        self.wrap = None
        self._seen_pids = set()
        self._make_root(large_file_size)
        self.rewrite_config()
        _live_servers.append(self)
        if start:
            try:
                self.start()
            except BaseException:
                self.close()
                raise

    # -- files --

    def _make_root(self, large_file_size):
        os.makedirs(os.path.join(self.root, "dir"))
        os.makedirs(os.path.join(self.root, "empty"))
        self.write_file("index.html", INDEX_BODY)
        self.write_file("file612.txt", FILE_612_BODY)
        self.write_file("style.css", b"body { color: black; }\n")
        self.write_file("dir/index.html", DIR_INDEX_BODY)
        with open(os.path.join(self.dir, "secret.txt"), "wb") as f:
            f.write(SECRET_BODY)
        if large_file_size:
            self.large_file_size = large_file_size
            pattern = bytes(range(256)) * 4096  # 1 MiB
            with open(os.path.join(self.root, "big.bin"), "wb") as f:
                left = large_file_size
                while left > 0:
                    f.write(pattern[:left])
                    left -= len(pattern)

    def write_file(self, rel, data):
        path = os.path.join(self.root, rel)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def config_text(self, **overrides):
        settings = dict(self.settings)
        settings.update(overrides)
        settings.setdefault("error_log", self.error_log)
        settings.setdefault("pid_file", self.pid_file)
        settings.setdefault("stats_file", self.stats_file)
        settings.setdefault("state_file", self.state_file)
        if os.geteuid() == 0 and "user" not in settings:
            settings.setdefault("allow_root", True)
        listen = settings.pop("listen", ["127.0.0.1:%d" % self.port])
        root = settings.pop("root", self.root)
        lines = ["%s = %s;" % (k, _conf_value(v)) for k, v in settings.items() if v is not None]
        lines += ["servers = (", "  {",
                  "    listen = %s;" % _conf_value(listen),
                  "    root = %s;" % _conf_value(root),
                  '    index = [ "index.html" ];',
                  "  }", ");"]
        return "\n".join(lines) + "\n"

    def rewrite_config(self, text=None, **overrides):
        """Writes the config file: text as given, or the defaults with overrides applied
        (a value of None drops the key)."""
        if text is None:
            text = self.config_text(**overrides)
        tmp = self.conf + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.conf)

    # -- process --

    def start(self, wait=True):
        argv = [BINARY, "-c", self.conf]
        if self.wrap:
            argv = self.wrap(argv)
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, start_new_session=True)
        self.pid = self.proc.pid
        if wait:
            self.wait_ready(self.workers)
        return self

    def wait_ready(self, n, timeout=START_TIMEOUT):
        """Waits for n "is serving" lines and for the port to accept a connection."""
        def ready():
            if self.proc.poll() is not None:
                raise HarnessError("shoal exited with %s during start-up\nstderr:\n%s\nlog:\n%s"
                                   % (self.proc.returncode, self.stderr(), self.log()))
            if len(re.findall(r"is serving", self.log())) < n:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False
        try:
            wait_until(ready, timeout, what="%d workers serving" % n)
        except HarnessError as e:
            raise HarnessError("%s\nlog:\n%s" % (e, self.log()))

    def log(self):
        try:
            with open(self.error_log, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr(self):
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_for_log(self, regex, timeout=10.0, count=1, path=None):
        """Waits until regex matches at least count times in the log; returns the matches."""
        pattern = re.compile(regex)

        def found():
            if path is None:
                text = self.log()
            else:
                try:
                    with open(path, "rb") as f:
                        text = f.read().decode("utf-8", "replace")
                except OSError:
                    text = ""
            matches = list(pattern.finditer(text))
            return matches if len(matches) >= count else None
        try:
            return wait_until(found, timeout, what="log /%s/ x%d" % (regex, count))
        except HarnessError as e:
            raise HarnessError("%s\nlog:\n%s" % (e, self.log()))

    def worker_pids(self):
        """Live children of the master."""
        if self.pid is None:
            return []
        pids = [p for p in children_of(self.pid) if pid_alive(p)]
        self._seen_pids.update(pids)
        return pids

    def workers_by_slot(self):
        """{slot: pid} of the live workers, from the master's "started worker" lines; a slot
        with two live workers (old and new generation) maps to the newest."""
        live = set(self.worker_pids())
        slots = {}
        for m in re.finditer(r"started worker (\d+) \(pid (\d+), generation (\d+)\)", self.log()):
            slot, pid = int(m.group(1)), int(m.group(2))
            if pid in live:
                slots[slot] = pid
        return slots

    def listening_inodes(self):
        return listening_inodes(self.port)

    def signal(self, sig):
        os.kill(self.pid, sig)

    def upgrade(self, timeout=15.0):
        """Binary upgrade (USR2): waits until the new master owns the pid file and follows it
        from then on (self.pid); returns the new master's pid."""
        done = len(re.findall(r"binary upgrade done", self.log()))
        old = self.pid
        self.signal(signal.SIGUSR2)
        matches = self.wait_for_log(r"binary upgrade done: this master \(pid (\d+)\)",
                                    timeout=timeout, count=done + 1)
        self.pid = int(matches[-1].group(1))
        self._seen_pids.add(self.pid)
        with open(self.pid_file) as f:
            if int(f.read().strip()) != self.pid:
                raise HarnessError("pid file does not name the new master %d" % self.pid)
        wait_until(lambda: not pid_alive(old), timeout, what="the old master to exit")
        return self.pid

    def wait_exit(self, timeout):
        """Returns the master's exit status, or None if it still runs at the deadline."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def request(self, method="GET", path="/", headers=None, body=b"", version="HTTP/1.1",
                timeout=10.0):
        with Client(self.port, timeout=timeout) as c:
            return c.request(method, path, headers=headers, body=body, version=version)

    def close(self):
        """Kills everything this server started, whatever state it is in."""
        if self.proc is not None:
            self.worker_pids()
            # The group of the process this server started: after a binary upgrade the master
            # (self.pid) leads none, but it and its workers are still in that one, and one
            # signal to the group leaves no master the time to fork a worker in place of one
            # killed before it (which, unseen, would outlive the test).
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            for pid in self._seen_pids:
                kill_quietly(pid)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
        if self in _live_servers:
            _live_servers.remove(self)
        if os.environ.get("SHOAL_KEEP_TMP"):
            sys.stderr.write("kept %s\n" % self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@atexit.register
def _kill_leftovers():
    for server in list(_live_servers):
        server.close()


# ---- a raw HTTP client ----

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = headers
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "<Response %s %d %r, %d body bytes>" % (self.version, self.status, self.headers,
                                                        len(self.body))


def build_request(method="GET", path="/", headers=None, body=b"", version="HTTP/1.1"):
    given = list(headers.items()) if isinstance(headers, dict) else list(headers or [])
    has_host = any(k.lower() == "host" for k, _ in given)
    hdrs = [("Host", "127.0.0.1")] if version == "HTTP/1.1" and not has_host else []
    hdrs += given
    if body and not any(k.lower() in ("content-length", "transfer-encoding") for k, _ in hdrs):
        hdrs.append(("Content-Length", str(len(body))))
    head = "%s %s %s\r\n" % (method, path, version)
    head += "".join("%s: %s\r\n" % (k, v) for k, v in hdrs) + "\r\n"
    return head.encode("latin-1") + body


class Client:
    """One TCP connection; responses are read with every step bounded by timeout."""

    def __init__(self, port, timeout=10.0, rcvbuf=None):
        self.timeout = timeout
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""
        self.eof = False

    def send(self, data):
        self.sock.sendall(data)

    def _recv(self, deadline, size=65536):
        left = deadline - time.monotonic()
        if left <= 0:
            raise HarnessError("timed out reading from the server")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(size)
        except socket.timeout:
            raise HarnessError("timed out reading from the server")
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
        return data

    def read_head(self, deadline=None):
        """Reads up to the end of a response head; returns (version, status, reason, headers)."""
        deadline = deadline or time.monotonic() + self.timeout
        while b"\r\n\r\n" not in self.buf:
            data = self._recv(deadline)
            if not data:
                raise HarnessError("connection closed before a full response head: %r" % self.buf)
            self.buf += data
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        m = re.match(r"(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        if not m:
            raise HarnessError("bad status line %r" % lines[0])
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers.append((name.strip(), value.strip()))
        return m.group(1), int(m.group(2)), m.group(3), headers

    def read_exact(self, n, deadline=None):
        deadline = deadline or time.monotonic() + self.timeout
        while len(self.buf) < n:
            data = self._recv(deadline, max(65536, n - len(self.buf)))
            if not data:
                raise HarnessError("connection closed after %d of %d body bytes"
                                   % (len(self.buf), n))
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_response(self, head_request=False, timeout=None):
        deadline = time.monotonic() + (timeout or self.timeout)
        version, status, reason, headers = self.read_head(deadline)
        resp = Response(version, status, reason, headers, b"")
        length = resp.header("content-length")
        if head_request or status in (204, 304) or 100 <= status < 200:
            return resp
        if length is not None:
            resp.body = self.read_exact(int(length), deadline)
        else:
            while not self.eof:
                self.buf += self._recv(deadline)
            resp.body, self.buf = self.buf, b""
        return resp

    def request(self, method="GET", path="/", headers=None, body=b"", version="HTTP/1.1"):
        self.send(build_request(method, path, headers, body, version))
        return self.read_response(head_request=(method == "HEAD"))

    def closed_by_peer(self, timeout=5.0):
        """True if the server closes the connection (EOF or reset) with no further bytes
        before the deadline; False if bytes arrive or the connection stays open."""
        if self.buf:
            return False
        deadline = time.monotonic() + timeout
        try:
            data = self._recv(deadline)
        except HarnessError:
            return False
        return data == b""

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

"""A rolling upgrade of two hosts behind a real HAProxy, under wrk (issue 16): what
test_rolling.py asserts for shoal and what scripts/rolling-bench runs for shoal and nginx side
by side. A host is any object with start(), quit() (a graceful stop, waited for), upgrade() (a
binary upgrade in place, waited for) and the address HAProxy sends to; HAProxy sends it the
PROXY protocol (v2) and checks it on /health every 200 ms, as an operator would run it."""

import os
import re
import signal
import socket
import subprocess
import time

HAPROXY_CONFIG = """global
  maxconn 4096
  stats socket {dir}/haproxy.sock mode 600 level admin

defaults
  mode http
  timeout connect 1s
  timeout client 30s
  timeout server 30s
  timeout check 1s
{retries}  default-server check inter 200ms fall 2 rise 2 send-proxy-v2 source 127.0.0.1

frontend fe
  bind 127.0.0.1:{port}
  default_backend hosts

backend hosts
  balance roundrobin
  http-reuse safe
  option httpchk GET /health
  http-check expect status 200
{servers}
"""


# What HAProxy does about a request that fails on a host: "default" leaves HAProxy 2.6's
# defaults (3 retries of a connection that fails to open, on the same server), "redispatch"
# also retries on another server and after an empty response or a timeout, as an operator
# who knows the hosts restart would set it.
RETRIES = {
    "default": "",
    "redispatch": "  option redispatch 1\n  retries 3\n"
                  "  retry-on conn-failure empty-response response-timeout\n",
}


class HAProxy:
    """HAProxy in the foreground, in front of hosts (name, address) on port."""

    def __init__(self, directory, port, hosts, retries="redispatch"):
        self.port = port
        self.dir = directory
        self.conf = os.path.join(directory, "haproxy.cfg")
        servers = "".join("  server %s %s\n" % (name, addr) for name, addr in hosts)
        with open(self.conf, "w") as f:
            f.write(HAPROXY_CONFIG.format(dir=directory, port=port, servers=servers,
                                          retries=RETRIES[retries]))
        self.log = open(os.path.join(directory, "haproxy.log"), "wb")
        self.proc = subprocess.Popen(["haproxy", "-db", "-f", self.conf], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def servers_up(self):
        """{name: status} from the stats socket ("UP", "DOWN", ...)."""
        status = {}
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(os.path.join(self.dir, "haproxy.sock"))
                s.sendall(b"show stat\n")
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError:
            return status
        for line in data.decode("latin-1").splitlines():
            cols = line.split(",")
            if len(cols) > 17 and cols[0] == "hosts" and cols[1] not in ("BACKEND", "FRONTEND"):
                status[cols[1]] = cols[17]
        return status

    def wait_up(self, names, timeout=15.0):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("haproxy exited: %s" % self.proc.returncode)
            st = self.servers_up()
            if all(st.get(n, "").startswith("UP") for n in names):
                return
            time.sleep(0.1)
        raise RuntimeError("haproxy does not see %s up: %s" % (names, self.servers_up()))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def wrk_start(port, seconds, conns=64, path="/file612.txt"):
    return subprocess.Popen(["wrk", "-t2", "-c%d" % conns, "-d%ds" % seconds, "--timeout", "5s",
                             "http://127.0.0.1:%d%s" % (port, path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wrk_counts(output):
    """{requests, errors (connect, read, write, timeout), non2xx} from wrk's report."""
    m = re.search(r"(\d+) requests in", output)
    if not m:
        raise RuntimeError("no wrk report:\n" + output)
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", output))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"requests": int(m.group(1)), "errors": errors,
            "non2xx": int(bad.group(1)) if bad else 0}


def roll(haproxy, a, b, seconds=30, conns=64, say=lambda text: None):
    """Under wrk for seconds: host a stopped gracefully and started afresh, then host b
    upgraded in place; returns wrk's counts plus each step's time (s from the start)."""
    wrk = wrk_start(haproxy.port, seconds, conns)
    t0 = time.time()
    steps = {}
    try:
        time.sleep(3)
        say("quit a")
        a.quit()
        steps["a stopped"] = time.time() - t0
        a.start()
        haproxy.wait_up(["a"])
        steps["a back"] = time.time() - t0
        say("upgrade b")
        b.upgrade()
        steps["b upgraded"] = time.time() - t0
        haproxy.wait_up(["a", "b"])
    finally:
        out, _ = wrk.communicate(timeout=seconds + 60)
    counts = wrk_counts(out)
    counts.update(steps)
    counts["wrk"] = out
    return counts

"""The operators' documentation and packaging: shoal.conf(5) documents exactly the keys the
parser has, with their true defaults and ranges; the man pages render without a warning; a
staged install puts the binaries, the pages and the etc files in place."""

import decimal
import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import run_cli  # noqa: E402

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MAN_DIR = os.path.join(SOURCE_DIR, "man")
PAGES = {"shoal.8": 8, "shoal.conf.5": 5, "shoalctl.1": 1}
SECTIONS = {"GLOBAL SETTINGS": "top", "SERVER SETTINGS": "server",
            "UPSTREAM SETTINGS": "upstream", "UPSTREAM SERVER SETTINGS": "upstream_server",
            "LOCATION SETTINGS": "location", "HEALTH CHECK SETTINGS": "health_check",
            "LIMIT ZONES": "limit_zone"}
# The lists of groups, by the scope they are in and their key: the scope of their keys.
LISTS = {("top", "servers"): "server", ("top", "upstreams"): "upstream",
         ("upstream", "servers"): "upstream_server", ("server", "locations"): "location",
         ("top", "limit_zones"): "limit_zone"}
# The single groups ( key = { ... } ), likewise.
GROUPS = {("upstream", "health_check"): "health_check"}
# Keys the base configuration below sets (every configuration has the first ones), the
# root of a location, which cannot be set beside the proxy the base location has, and the
# conn of a zone, which cannot be set beside the rate the base zone has. The base group
# hashes, so that the keys only a hash group may set are printed and can be set.
# A server's tls group is left out: it needs an address with the tls flag and files the
# check loads (integration/tls sets it).
BASE = {"top": {"servers", "upstreams", "limit_zones"},
        "server": {"listen", "root", "locations", "tls"},
        "upstream": {"name", "servers", "balance", "health_check"},
        "upstream_server": {"address"}, "location": {"path", "proxy", "root"},
        "health_check": {"type"}, "limit_zone": {"name", "key", "rate", "conn"}}
# What the base zone limits by; a line that sets rate or conn takes its place.
ZONE_RATE = "rate = 10;"
INSTALL_TIMEOUT = 50

_ESCAPES = [(r"\(dq", '"'), (r"\(aq", "'"), (r"\-", "-"), (r"\%", ""), (r"\&", ""),
            (r"\e", "\\")]


def roff_text(line):
    """The text of a roff line: fonts and escapes resolved, a macro and its quotes dropped."""
    line = re.sub(r"\\f[BIRP]", "", line)
    for escape, text in _ESCAPES:
        line = line.replace(escape, text)
    if line.startswith("."):
        line = line.split(None, 1)[1] if " " in line else ""
        if line.startswith('"') and line.endswith('"'):
            line = line[1:-1]
    return line.strip()


def documented_keys():
    """{scope: {key: {"Type": ..., "Default": ..., "Reload": ...}}} from the page, a scope per
    section of SECTIONS."""
    with open(os.path.join(MAN_DIR, "shoal.conf.5")) as f:
        lines = f.read().splitlines()
    keys = {scope: {} for scope in SECTIONS.values()}
    scope, entry = None, None
    for i, line in enumerate(lines):
        if line.startswith(".SH"):
            scope = SECTIONS.get(roff_text(line))
            entry = None
        elif scope and line == ".TP" and i + 1 < len(lines) and lines[i + 1].startswith(".B "):
            entry = keys[scope].setdefault(roff_text(lines[i + 1]), {})
        elif scope and line.startswith(".IP"):
            entry = None
        elif entry is not None:
            m = re.match(r"(Type|Default|Reload): (.*)$", roff_text(line))
            if m:
                entry[m.group(1)] = m.group(2)
    return keys


def dumped_entries(text):
    """Yields (scope, key, line) for each key of `shoal -T`: top-level keys at column 0, the
    keys of the groups of a list four columns right of the list's key, those of a single
    group two columns right of its key; an unset key is printed as a comment."""
    scopes = {0: "top"}
    for line in text.splitlines():
        m = re.match(r"( *)(?:# )?([a-z_]+)(?: = | is unset$)", line)
        if not m or len(m.group(1)) not in scopes:
            continue
        indent, key = len(m.group(1)), m.group(2)
        yield scopes[indent], key, line
        if line.endswith(" = ("):
            scopes[indent + 4] = LISTS[(scopes[indent], key)]
        elif line.endswith(" = {"):
            scopes[indent + 2] = GROUPS[(scopes[indent], key)]


def dumped_keys(text):
    """{scope: [key, ...]} from `shoal -T`."""
    keys = {scope: [] for scope in SECTIONS.values()}
    for scope, key, _ in dumped_entries(text):
        keys[scope].append(key)
    return keys


def dumped_line(text, scope, key):
    """The first line of `shoal -T` that prints key in scope, stripped, or None."""
    for where, name, line in dumped_entries(text):
        if (where, name) == (scope, key):
            return line.strip()
    return None


def literal(value):
    """The documented default if it is a value in configuration syntax, else None."""
    if re.fullmatch(r'-?\d+|true|false|"[^"]*"|\[.*\]', value):
        return value
    return None


def sample_values():
    """Values for the keys that have no default, in configuration syntax."""
    return {"user": '"%s"' % pwd.getpwuid(os.getuid()).pw_name,
            "group": '"%s"' % grp.getgrgid(os.getgid()).gr_name,
            "status_path": '"/status"', "health_path": '"/healthz"',
            "proxy_host": '"app.internal:8080"', "host": '"app.internal"',
            "send_proxy_protocol": '"v2"', "tls_ca": '"ca.pem"',
            "tls_server_name": '"app.internal"', "tls_ciphers": '"ECDHE+AESGCM"',
            "tls_ciphersuites": '"TLS_AES_128_GCM_SHA256"'}


def out_of_range(low, high, kind):
    """Values just outside [low, high]: by one for integers, by a millisecond for seconds."""
    step = decimal.Decimal(1 if kind == "integer" else "0.001")
    return (low - step, high + step)


# The second server bounds its requests, so that the group may have a queue.
BASE_CONFIG = """%(top)s
limit_zones = (
  {
    name = "perip";
    key = "client_ip";
    %(limit_zone)s
  }
);
upstreams = (
  {
    name = "app";
    servers = (
      {
        address = "127.0.0.1:9";
        %(upstream_server)s
      },
      {
        address = "127.0.0.1:10";
        max_conns = 1;
      }
    );
    balance = "hash";
    health_check = {
      type = "http";
      %(health_check)s
    };
    %(upstream)s
  }
);
servers = (
  {
    listen = [ "127.0.0.1:%(port)d" ];
    root = "www";
    locations = (
      {
        path = "/api/";
        proxy = "app";
        %(location)s
      }
    );
    %(server)s
  }
);
"""


class ConfigPageTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shoal-docs-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.mkdir(os.path.join(self.dir, "www"))
        self.conf = os.path.join(self.dir, "shoal.conf")
        self.keys = documented_keys()
        self.port = harness.free_port()

    def config(self, top="", server="", upstream="", upstream_server="", location="",
               health_check="", limit_zone=ZONE_RATE):
        """Writes the least configuration with one group of each list and of each single
        group, with a line added in any of them (in place of the zone's rate for a zone)."""
        with open(self.conf, "w") as f:
            f.write(BASE_CONFIG % {"top": top, "server": server, "upstream": upstream,
                                   "upstream_server": upstream_server, "location": location,
                                   "health_check": health_check, "limit_zone": limit_zone,
                                   "port": self.port})
        return self.conf

    def line_for(self, scope, key, value):
        if key == "group":
            return {scope: "user = %s;\ngroup = %s;" % (sample_values()["user"], value)}
        if scope == "limit_zone" and key not in ("rate", "conn"):
            return {scope: "%s\n%s = %s;" % (ZONE_RATE, key, value)}
        if scope == "upstream" and key.startswith("tls_"):
            if key == "tls_ca":
                self.make_ca()
            return {scope: "tls = true;\n%s = %s;" % (key, value)}
        return {scope: "%s = %s;" % (key, value)}

    def make_ca(self):
        """A CA certificate beside the configuration, as tls_ca's sample names it."""
        ca = os.path.join(self.dir, "ca.pem")
        if not os.path.exists(ca):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=Docs CA",
                            "-days", "1", "-keyout", os.path.join(self.dir, "ca.key"),
                            "-out", ca], check=True, capture_output=True, timeout=30)

    def dump(self, **lines):
        r = run_cli(["-T", "-c", self.config(**lines)])
        self.assertEqual(r.returncode, 0, "shoal -T failed for %r:\n%s" % (lines, r.stderr))
        return r.stdout

    def test_page_documents_every_key_of_the_parser(self):
        dumped = dumped_keys(self.dump())
        for scope in SECTIONS.values():
            documented = set(self.keys[scope])
            self.assertTrue(dumped[scope], "shoal -T printed no %s keys" % scope)
            missing = [k for k in dumped[scope] if k not in documented]
            extra = sorted(documented - set(dumped[scope]) - BASE[scope])
            self.assertEqual(missing, [], "%s keys printed by shoal -T but not documented in "
                             "shoal.conf(5)" % scope)
            self.assertEqual(extra, [], "%s keys documented in shoal.conf(5) that shoal -T "
                             "does not print" % scope)

    def test_every_entry_has_type_default_and_reload(self):
        for scope, keys in self.keys.items():
            for key, entry in keys.items():
                for field in ("Type", "Default", "Reload"):
                    self.assertIn(field, entry, "%s: no %s: line in shoal.conf(5)" % (key, field))

    def test_documented_defaults_are_the_defaults(self):
        baseline = self.dump()
        samples = sample_values()
        for scope, keys in self.keys.items():
            for key, entry in keys.items():
                if key in BASE[scope]:
                    continue
                value = literal(entry["Default"])
                with self.subTest(key=key, default=entry["Default"]):
                    if value is None:
                        self.assertTrue(entry["Default"].startswith("unset"),
                                        "not a value, nor unset: %r" % entry["Default"])
                        self.assertIn(key, samples, "no sample value for %s in this test" % key)
                        self.dump(**self.line_for(scope, key, samples[key]))
                        self.assertRegex(dumped_line(baseline, scope, key), r"^# %s is unset$" % key)
                        continue
                    out = self.dump(**self.line_for(scope, key, value))
                    self.assertEqual(dumped_line(out, scope, key),
                                     dumped_line(baseline, scope, key))

    def test_documented_ranges_are_the_ranges(self):
        checked = 0
        for scope, keys in self.keys.items():
            for key, entry in keys.items():
                m = re.match(r"(integer|seconds) from (-?[\d.]+) to (\d+)", entry.get("Type", ""))
                if not m:
                    continue
                low, high = decimal.Decimal(m.group(2)), decimal.Decimal(m.group(3))
                with self.subTest(key=key, range=(low, high)):
                    for value in (low, high):
                        r = run_cli(["-t", "-c", self.config(**self.line_for(scope, key, value))])
                        self.assertEqual(r.returncode, 0, "%s = %s: %s" % (key, value, r.stderr))
                    for value in out_of_range(low, high, m.group(1)):
                        r = run_cli(["-t", "-c", self.config(**self.line_for(scope, key, value))])
                        self.assertEqual(r.returncode, 1, "%s = %s was accepted" % (key, value))
                        self.assertIn(key, r.stderr)
                checked += 1
        self.assertGreater(checked, 10)

    def test_documented_choices_are_accepted(self):
        entry = self.keys["top"]["log_level"]
        choices = re.findall(r'"([a-z]+)"', entry["Type"])
        self.assertGreater(len(choices), 1)
        for choice in choices:
            r = run_cli(["-t", "-c", self.config(top='log_level = "%s";' % choice)])
            self.assertEqual(r.returncode, 0, r.stderr)
        r = run_cli(["-t", "-c", self.config(top='log_level = "verbose";')])
        self.assertEqual(r.returncode, 1)


class RenderTest(unittest.TestCase):
    def test_pages_render_without_warnings(self):
        if not shutil.which("groff"):
            self.skipTest("groff is not installed")
        for page in PAGES:
            path = os.path.join(MAN_DIR, page)
            # Without -t as the brief check runs it, and with tbl as man(1) runs it.
            for args in (["groff", "-ww", "-z", "-man", path],
                         ["groff", "-t", "-ww", "-z", "-man", path]):
                with self.subTest(page=page, tbl="-t" in args):
                    r = subprocess.run(args, capture_output=True, text=True, timeout=30)
                    self.assertEqual(r.returncode, 0)
                    self.assertEqual(r.stdout + r.stderr, "")


def build_dir_of(binary):
    d = os.path.dirname(binary)
    return d if os.path.isdir(os.path.join(d, "meson-info")) else None


def meson_info(build_dir, name):
    with open(os.path.join(build_dir, "meson-info", "intro-%s.json" % name)) as f:
        return json.load(f)


class InstallTest(unittest.TestCase):
    def setUp(self):
        self.build = build_dir_of(harness.BINARY)
        if not self.build:
            self.skipTest("%s is not in a meson build directory" % harness.BINARY)
        if not shutil.which("meson"):
            self.skipTest("meson is not installed")
        plan = meson_info(self.build, "install_plan")
        installs = [d["destination"] for part in plan.values() for d in part.values()]
        if not any(d.endswith("/shoal.8") for d in installs):
            self.skipTest("the build directory has no install rules for the man pages: "
                          "meson.build needs subdir('man') and subdir('etc')")
        self.opts = {o["name"]: o["value"] for o in meson_info(self.build, "buildoptions")}
        self.stage = tempfile.mkdtemp(prefix="shoal-stage-")
        self.addCleanup(shutil.rmtree, self.stage, True)

    def path(self, *parts):
        """Where the install puts a file, prefix and directory options applied."""
        full = os.path.join(self.opts["prefix"], *parts)
        return os.path.join(self.stage, full.lstrip("/"))

    def test_staged_install(self):
        r = subprocess.run(["meson", "install", "-C", self.build, "--destdir", self.stage,
                            "--no-rebuild", "--quiet"], capture_output=True, text=True,
                           timeout=INSTALL_TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        o = self.opts
        shoal = self.path(o["sbindir"], "shoal")
        conf = self.path(o["sysconfdir"], "shoal", "shoal.conf")
        unit = self.path("lib", "systemd", "system", "shoal.service")
        logrotate = self.path(o["sysconfdir"], "logrotate.d", "shoal")
        for exe in (shoal, self.path(o["bindir"], "shoalctl")):
            self.assertTrue(os.access(exe, os.X_OK), exe)
        for page, section in PAGES.items():
            self.assertTrue(os.path.isfile(self.path(o["mandir"], "man%d" % section, page)), page)
        for f in (conf, unit, logrotate):
            self.assertTrue(os.path.isfile(f), f)
        self.check_paths(unit, logrotate)
        self.check_installed_config(conf)

    def check_paths(self, unit, logrotate):
        """The unit and the logrotate script name the installed binary and configuration."""
        o = self.opts
        sbin_shoal = os.path.join(o["prefix"], o["sbindir"], "shoal")
        conf = os.path.join(o["prefix"], o["sysconfdir"], "shoal", "shoal.conf")
        with open(unit) as f:
            unit_text = f.read()
        with open(logrotate) as f:
            logrotate_text = f.read()
        for text in (unit_text, logrotate_text):
            self.assertNotRegex(text, r"@[A-Z_]+@", "a placeholder was not substituted")
        self.assertIn("\nExecStart=%s -c %s\n" % (sbin_shoal, conf), unit_text)
        self.assertIn("\nExecStartPre=%s -t -c %s\n" % (sbin_shoal, conf), unit_text)
        self.assertIn("\nType=notify\n", unit_text)
        self.assertIn("\nKillSignal=SIGQUIT\n", unit_text)
        self.assertIn("%s -s reopen -c %s" % (sbin_shoal, conf), logrotate_text)

    def check_installed_config(self, conf):
        """The installed file is the example with its "installed:" lines applied, and loads
        once its user and root are replaced by ones that exist here."""
        with open(conf) as f:
            text = f.read()
        self.assertNotIn("installed:", text)
        www = os.path.join(self.stage, "www")
        os.mkdir(www)
        text = re.sub(r"^(user|group) = .*$", "", text, flags=re.M)
        text = re.sub(r'^( *)root = ".*";', r'\1root = "%s";' % www, text, flags=re.M)
        local = os.path.join(self.stage, "check.conf")
        with open(local, "w") as f:
            f.write(text)
        r = run_cli(["-T", "-c", local])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('pid_file = "/run/shoal/shoal.pid";', r.stdout)
        self.assertIn('access_log = "/var/log/shoal/access.log";', r.stdout)


if __name__ == "__main__":
    harness.main()

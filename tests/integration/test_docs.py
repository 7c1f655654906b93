"""The operators' documentation and packaging: shoal.conf(5) documents exactly the keys the
parser has, with their true defaults and ranges; the man pages render without a warning; a
staged install puts the binaries, the pages and the etc files in place."""

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
SECTIONS = {"GLOBAL SETTINGS": "top", "SERVER SETTINGS": "server"}
# Keys every configuration has; the base configuration below sets them.
REQUIRED = {"servers", "listen", "root"}
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
    """{"top"|"server": {key: {"Type": ..., "Default": ..., "Reload": ...}}} from the page."""
    with open(os.path.join(MAN_DIR, "shoal.conf.5")) as f:
        lines = f.read().splitlines()
    keys = {"top": {}, "server": {}}
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


def dumped_keys(text):
    """{"top"|"server": [key, ...]} from `shoal -T`: top-level keys at column 0, server keys
    indented by four; an unset key is printed as a comment."""
    keys = {"top": [], "server": []}
    for line in text.splitlines():
        m = re.match(r"( *)(?:# )?([a-z_]+)(?: = | is unset$)", line)
        if m and m.group(1) in ("", "    "):
            keys["top" if m.group(1) == "" else "server"].append(m.group(2))
    return keys


def dumped_line(text, scope, key):
    indent = "" if scope == "top" else "    "
    for line in text.splitlines():
        if line.startswith(indent + key + " = ") or line == "%s# %s is unset" % (indent, key):
            return line
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
            "status_path": '"/status"', "health_path": '"/healthz"'}


class ConfigPageTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="shoal-docs-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.mkdir(os.path.join(self.dir, "www"))
        self.conf = os.path.join(self.dir, "shoal.conf")
        self.keys = documented_keys()
        self.port = harness.free_port()

    def config(self, top="", server=""):
        """Writes the least configuration there is, with one line added at either level."""
        with open(self.conf, "w") as f:
            f.write("%s\nservers = (\n  {\n    listen = [ \"127.0.0.1:%d\" ];\n"
                    "    root = \"www\";\n    %s\n  }\n);\n" % (top, self.port, server))
        return self.conf

    def line_for(self, scope, key, value):
        if key == "group":
            return {scope: "user = %s;\ngroup = %s;" % (sample_values()["user"], value)}
        return {scope: "%s = %s;" % (key, value)}

    def dump(self, **lines):
        r = run_cli(["-T", "-c", self.config(**lines)])
        self.assertEqual(r.returncode, 0, "shoal -T failed for %r:\n%s" % (lines, r.stderr))
        return r.stdout

    def test_page_documents_every_key_of_the_parser(self):
        dumped = dumped_keys(self.dump())
        for scope in ("top", "server"):
            documented = set(self.keys[scope])
            self.assertTrue(dumped[scope], "shoal -T printed no %s keys" % scope)
            missing = [k for k in dumped[scope] if k not in documented]
            extra = sorted(documented - set(dumped[scope]) - REQUIRED)
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
                if key in REQUIRED:
                    continue
                value = literal(entry["Default"])
                with self.subTest(key=key, default=entry["Default"]):
                    if value is None:
                        self.assertTrue(entry["Default"].startswith("unset"),
                                        "not a value, nor unset: %r" % entry["Default"])
                        self.assertIn(key, samples, "no sample value for %s in this test" % key)
                        self.dump(**self.line_for(scope, key, samples[key]))
                        self.assertRegex(dumped_line(baseline, scope, key), r"# %s is unset" % key)
                        continue
                    out = self.dump(**self.line_for(scope, key, value))
                    self.assertEqual(dumped_line(out, scope, key),
                                     dumped_line(baseline, scope, key))

    def test_documented_ranges_are_the_ranges(self):
        checked = 0
        for scope, keys in self.keys.items():
            for key, entry in keys.items():
                m = re.match(r"integer from (-?\d+) to (\d+)", entry.get("Type", ""))
                if not m:
                    continue
                low, high = int(m.group(1)), int(m.group(2))
                with self.subTest(key=key, range=(low, high)):
                    for value in (low, high):
                        r = run_cli(["-t", "-c", self.config(**self.line_for(scope, key, value))])
                        self.assertEqual(r.returncode, 0, "%s = %d: %s" % (key, value, r.stderr))
                    for value in (low - 1, high + 1):
                        r = run_cli(["-t", "-c", self.config(**self.line_for(scope, key, value))])
                        self.assertEqual(r.returncode, 1, "%s = %d was accepted" % (key, value))
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

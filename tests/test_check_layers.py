"""scripts/check-layers: passes on the tree, and fails on each kind of bad include."""
import os
import subprocess
import sys
import tempfile
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
SCRIPT = os.path.join(ROOT, 'scripts', 'check-layers')


def run(root):
    return subprocess.run([sys.executable, SCRIPT, root], capture_output=True, text=True)


class CheckLayers(unittest.TestCase):
    def tree(self, files):
        d = tempfile.mkdtemp(prefix='check-layers-')
        self.addCleanup(subprocess.run, ['rm', '-rf', d])
        for rel, text in files.items():
            os.makedirs(os.path.join(d, os.path.dirname(rel)), exist_ok=True)
            with open(os.path.join(d, rel), 'w') as f:
                f.write(text)
        return d

    def assert_bad(self, files, why):
        r = run(self.tree(files))
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn(why, r.stdout)

    def test_the_tree_passes(self):
        r = run(ROOT)
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_downward_and_own_layer_pass(self):
        r = run(self.tree({'src/handler/a.c': '#include "shoal/net/out.h"\n#include "shoal/handler/b.h"\n',
                           'src/main.c': '#include "shoal/master/master.h"\n'}))
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_upward_include_fails(self):
        self.assert_bad({'src/net/out.c': '#include "shoal/handler/file_cache.h"\n'},
                        'net may not include handler')

    def test_sideways_include_fails(self):
        self.assert_bad({'include/shoal/http/parser.h': '#include "shoal/net/event.h"\n'},
                        'http may not include net')

    def test_shoalctl_sees_only_base_stats_and_state(self):
        self.assert_bad({'src/shoalctl.c': '#include "shoal/config/config.h"\n'},
                        'may not include config')

    def test_tls_sees_only_base_and_net(self):
        self.assert_bad({'src/tls/conn.c': '#include "shoal/http/parser.h"\n'}, 'tls may not include http')
        self.assert_bad({'src/tls/conn.c': '#include "shoal/config/config.h"\n'}, 'tls may not include config')
        r = run(self.tree({'src/tls/conn.c': '#include "shoal/net/transport.h"\n#include "shoal/base/log.h"\n',
                           'src/config/a.c': '#include "shoal/tls/context.h"\n'}))
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_flat_and_unknown_headers_fail(self):
        self.assert_bad({'src/base/a.c': '#include "shoal/log.h"\n'}, 'not a header of a layer')
        self.assert_bad({'src/nowhere/a.c': '#include "shoal/base/log.h"\n'}, 'not in a known layer')

    def test_local_header_must_sit_beside(self):
        self.assert_bad({'src/worker/a.c': '#include "conn_int.h"\n'}, 'must sit beside')
        r = run(self.tree({'src/worker/a.c': '#include "conn_int.h"\n', 'src/worker/conn_int.h': ''}))
        self.assertEqual(r.returncode, 0, r.stdout)


if __name__ == '__main__':
    unittest.main()

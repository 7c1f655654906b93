"""scripts/check-calls: finds two files that call each other, and only those."""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'scripts', 'check-calls')


class CheckCalls(unittest.TestCase):
    def archive(self, sources):
        d = tempfile.mkdtemp(prefix='check-calls-')
        self.addCleanup(subprocess.run, ['rm', '-rf', d])
        objs = []
        for name, text in sources.items():
            with open(os.path.join(d, name + '.c'), 'w') as f:
                f.write(text)
            subprocess.run(['cc', '-c', '-o', name + '.o', name + '.c'], cwd=d, check=True)
            objs.append(name + '.o')
        subprocess.run(['ar', 'rc', 'libt.a'] + objs, cwd=d, check=True)
        return os.path.join(d, 'libt.a')

    def run_on(self, sources):
        return subprocess.run([sys.executable, SCRIPT, self.archive(sources)],
                              capture_output=True, text=True)

    def test_one_way_calls_pass(self):
        r = self.run_on({'a': 'void b(void);\nvoid a(void);\nvoid a(void) { b(); }\n',
                         'b': 'void b(void);\nvoid b(void) {}\n'})
        self.assertEqual(r.returncode, 0, r.stdout)

    def test_mutual_calls_fail(self):
        r = self.run_on({'a': 'void a(void);\nvoid b(void);\nvoid a(void) { b(); }\n',
                         'b': 'void a(void);\nvoid b(void);\nvoid b(void) { a(); }\n',
                         'c': 'void a(void);\nvoid c(void);\nvoid c(void) { a(); }\n'})
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn('a and b call each other', r.stdout)
        self.assertNotIn('c and', r.stdout)


if __name__ == '__main__':
    unittest.main()

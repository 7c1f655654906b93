#!/usr/bin/env python3
"""Counts meson test results in a testlog.json: prints "PASSED FAILED"."""
import json
import sys

passed = failed = 0
try:
    with open(sys.argv[1]) as log:
        for line in log:
            if not line.strip():
                continue
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result != "SKIP":
                failed += 1
except FileNotFoundError:
    failed += 1
print(passed, failed)

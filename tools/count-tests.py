#!/usr/bin/env python3
"""Counts every test case in meson's JUnit logs (TAP subtests included) and
prints the closing line "N passed, N failed". Exits 1 if any failed or none ran.

meson's JUnit writer records a test that timed out (and one that crashed
before it printed a TAP line) as a plain, passing test case: the verdict of
each test is therefore also read from the JSON log beside each JUnit file
(NAME.junit.xml -> NAME.json), and a test whose verdict is a failure counts
at least one failed case, whatever its JUnit entry says."""
import json
import os
import sys
import xml.etree.ElementTree as ET

BAD = {"FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"}


def verdicts(junit_path):
    """{test name: meson's result} from the JSON log beside junit_path."""
    base = junit_path[: -len(".junit.xml")] if junit_path.endswith(".junit.xml") else None
    out = {}
    if not base or not os.path.exists(base + ".json"):
        return out
    with open(base + ".json") as f:
        for line in f:
            try:
                t = json.loads(line)
            except ValueError:
                continue
            out[t.get("name")] = t.get("result")
    return out


passed = failed = skipped = 0
for path in sys.argv[1:]:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as e:
        print(f"{path}: {e}")
        failed += 1
        continue
    result = verdicts(path)
    # failed cases per test: a TAP test is a testsuite "PROJECT.NAME" of
    # subtests; any other test is a testcase named NAME
    failed_in = {}
    plain_case = {}
    for suite in root.iter("testsuite"):
        sname = suite.get("name", "")
        for case in suite.iter("testcase"):
            owner = case.get("name") if case.get("classname") == sname and "." not in sname \
                else sname.split(".", 1)[-1]
            if case.get("classname") == sname and "." not in sname:
                plain_case[owner] = case
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
                failed_in[owner] = failed_in.get(owner, 0) + 1
            elif case.find("skipped") is not None:
                skipped += 1
            else:
                passed += 1
    for name, res in result.items():
        if res in BAD and not failed_in.get(name):
            print(f"{name}: {res}")
            failed += 1
            if name in plain_case:
                passed -= 1
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed or passed == 0 else 0)

"""check_reports.py - checks, field by field, what the installed harness
reported for examples/user-suite (tests/harness/user_suite.sh): its text
output, build/junit.xml and build/results.tap.

    python3 check_reports.py PROJECT_DIR TEXT_OUTPUT
"""
import os
import re
import sys
import xml.etree.ElementTree as ET

PROJECT, TEXT = sys.argv[1], sys.argv[2]
errors = []

FAIL_REASON = "expect/transfer_deadlock.expect: 2 directives failed"
FAIL_DIFFS = [
    "expect/transfer_deadlock.expect:3: `expect no-stuck`: 1 cycle and 1 stuck task",
    "expect/transfer_deadlock.expect:4: `expect no-cycle`: 1 cycle",
]
# Artefacts a failure must list (each must exist).
ARTEFACTS = ["core", "core-deadlocks.json", "core-tasks.json", "core-frames.json",
             "diff.txt", "gdb-attached.out", "gdb-core.out", "live.json",
             "observed.expect", "scenario.stderr"]


def check(cond, what):
    if not cond:
        errors.append(what)


def eq(got, want, what):
    check(got == want, "%s: got %r, expected %r" % (what, got, want))


def check_text():
    lines = [l.rstrip() for l in open(TEXT)]
    norm = [re.sub(r"^(ok|FAIL) +(\S+) +[0-9.]+s *", r"\1 \2: ", l).strip() for l in lines]
    for want in ["ok echo_ok:", "FAIL transfer_deadlock: " + FAIL_REASON] + FAIL_DIFFS + [
            "(dumps, core and outputs kept in asynctrace-harness.out/transfer_deadlock/)"]:
        check(want in norm, "text output: no line %r" % want)
    check(any(re.fullmatch(r"1 passed, 1 failed \([0-9.]+s\)", l) for l in lines),
          "text output: no closing line `1 passed, 1 failed (T s)`")


def check_counts(el, what):
    eq(el.get("name"), "user-suite", what + " name")
    eq(el.get("tests"), "2", what + " tests")
    eq(el.get("failures"), "1", what + " failures")
    eq(el.get("errors"), "0", what + " errors")
    eq(el.get("skipped"), "0", what + " skipped")
    check(re.fullmatch(r"[0-9]+\.[0-9]{3}", el.get("time") or ""), what + " time: " + str(el.get("time")))


def check_artefacts(lines, what):
    for name in ARTEFACTS:
        path = "asynctrace-harness.out/transfer_deadlock/" + name
        check(path in lines, "%s: artefact %s not listed" % (what, path))
        check(os.path.exists(os.path.join(PROJECT, path)), "%s: %s does not exist" % (what, path))


def check_junit():
    root = ET.parse(os.path.join(PROJECT, "build/junit.xml")).getroot()
    eq(root.tag, "testsuites", "junit root")
    check_counts(root, "testsuites")
    suites = root.findall("testsuite")
    eq(len(suites), 1, "junit testsuite count")
    suite = suites[0]
    check_counts(suite, "testsuite")
    check(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", suite.get("timestamp") or ""),
          "testsuite timestamp: %r" % suite.get("timestamp"))
    check(suite.get("hostname"), "testsuite hostname missing")
    cases = suite.findall("testcase")
    eq([c.get("name") for c in cases], ["echo_ok", "transfer_deadlock"], "testcase names")
    eq([c.get("classname") for c in cases], ["user-suite"] * 2, "testcase classnames")
    for c in cases:
        check(re.fullmatch(r"[0-9]+\.[0-9]{3}", c.get("time") or ""), "testcase time")
    ok, bad = cases
    eq(list(ok), [], "echo_ok children (no failure, no skipped)")
    eq([e.tag for e in bad], ["failure", "system-out"], "transfer_deadlock children")
    failure = bad.find("failure")
    eq(failure.get("message"), FAIL_REASON, "failure message")
    eq(failure.get("type"), "mismatch", "failure type")
    eq(failure.text.splitlines(), FAIL_DIFFS, "failure text")
    out = bad.find("system-out").text.splitlines()
    eq(out[0], "artefacts:", "system-out first line")
    check_artefacts([l.strip() for l in out[1:]], "junit system-out")


def check_tap():
    lines = open(os.path.join(PROJECT, "build/results.tap")).read().splitlines()
    eq(lines[:2], ["TAP version 13", "1..2"], "tap header")
    results = [l for l in lines if re.match(r"(not )?ok \d", l)]
    eq(sorted(l.split(" - ")[0].split()[-1] for l in results), ["1", "2"], "tap test numbers")
    eq(sorted(re.sub(r"ok \d+ - ", "ok N - ", l) for l in results),
       ["not ok N - transfer_deadlock", "ok N - echo_ok"], "tap result lines")
    i = lines.index([l for l in lines if l.startswith("not ok")][0])
    block = lines[i + 1:lines.index("  ...", i)]
    eq(block[0], "  ---", "tap yaml start")
    eq(block[1], "  message: '%s'" % FAIL_REASON, "tap message")
    check(re.fullmatch(r"  duration_ms: \d+", block[2]), "tap duration_ms: %r" % block[2])
    d = block.index("  diffs:")
    eq(block[d + 1:d + 3], ["    - '%s'" % x for x in FAIL_DIFFS], "tap diffs")
    a = block.index("  artefacts:")
    check_artefacts([l[len("    - '"):-1] for l in block[a + 1:]], "tap artefacts")
    check(re.fullmatch(r"# 1 passed, 1 failed \([0-9.]+s\)", lines[-1]), "tap closing comment")


for part in (check_text, check_junit, check_tap):
    try:
        part()
    except Exception as e:  # a missing element is a failed check, not a crash
        errors.append("%s: %s: %s" % (part.__name__, type(e).__name__, e))
for e in errors:
    print("user-suite: " + e)
sys.exit(1 if errors else 0)

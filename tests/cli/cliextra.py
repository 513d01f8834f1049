"""More tests of tests/cli/run.py (diff, exports, watch, native frames):
TESTS is a list of (name, function(ctx)); error_cases(ctx) adds rows to the
error table."""

TESTS = []


def error_cases(ctx):
    return []

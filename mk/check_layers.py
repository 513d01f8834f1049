#!/usr/bin/env python3
"""check_layers.py - the runtime's shape, checked at every `make test`.

1. The call graph between the folders of runtime/src, read with `nm` from
   the library's objects (build/obj/FOLDER/*.o): folder A calls folder B
   when an object of A needs a symbol an object of B defines.  It is
   printed, and any circle fails the check, as does a call against the
   declared order of layers (LAYERS, lowest first; each folder's README.md
   says the same in words).
2. Function length: no C function longer than MAX_LINES lines (from the
   line of its name to its closing brace) in the library, the harness or
   the examples; tests and generated code are exempt.  KNOWN lists the
   ones owned by other work, reported but not failed.

Usage: check_layers.py BUILD_DIR
"""
import os
import re
import subprocess
import sys

# Lowest first: a folder may call the folders before it, never after.
LAYERS = ["trace", "core", "sched", "sync", "dump", "rt"]
MAX_LINES = 80
FUNC_ROOTS = ["runtime", "harness", "examples"]
# Long functions owned by other work in progress: "path:function".
KNOWN = {
    "harness/run.c:run_checked",
    "harness/main.c:main",
    "harness/expect.c:parse_line",
}


def folder_objects(root, build):
    """{folder: [object]} for every current source of runtime/src (objects
    left behind by moved or deleted sources are ignored)."""
    src = os.path.join(root, "runtime", "src")
    out = {}
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if not f.endswith(".c"):
                continue
            rel = os.path.relpath(os.path.join(dirpath, f), src)
            folder = os.path.dirname(rel) or "(top)"
            obj = os.path.join(build, "obj", rel[:-2] + ".o")
            if not os.path.exists(obj):
                sys.exit("check_layers: %s is missing: build the library first" % obj)
            out.setdefault(folder, []).append(obj)
    return out


def nm_symbols(obj):
    """(defined, undefined) global symbol sets of one object."""
    res = subprocess.run(["nm", obj], capture_output=True, text=True, check=True)
    defined, undefined = set(), set()
    for line in res.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
        elif len(parts) == 3 and parts[1] in "TDBRVWGS":
            defined.add(parts[2])
    return defined, undefined


def call_graph(root, build):
    objs = folder_objects(root, build)
    owner, needs = {}, {}
    for folder, files in objs.items():
        needs[folder] = set()
        for o in files:
            d, u = nm_symbols(o)
            for s in d:
                owner[s] = folder
            needs[folder] |= u
    edges = {}
    for folder, syms in needs.items():
        for s in sorted(syms):
            to = owner.get(s)
            if to and to != folder:
                edges.setdefault((folder, to), []).append(s)
    return sorted(objs), edges


def find_cycle(nodes, edges):
    succ = {n: sorted({b for (a, b) in edges if a == n}) for n in nodes}
    state, stack = {}, []

    def dfs(n):
        state[n] = 1
        stack.append(n)
        for m in succ[n]:
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if not state.get(m):
                c = dfs(m)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in nodes:
        if not state.get(n):
            c = dfs(n)
            if c:
                return c
    return None


def check_graph(root, build):
    nodes, edges = call_graph(root, build)
    ok = True
    print("layers (lowest first): " + " < ".join(LAYERS))
    for (a, b), syms in sorted(edges.items()):
        shown = ", ".join(syms[:4]) + (", ..." if len(syms) > 4 else "")
        bad = (a not in LAYERS or b not in LAYERS or LAYERS.index(a) < LAYERS.index(b))
        print("  %-6s -> %-6s %3d symbol(s): %s%s" % (a, b, len(syms), shown,
                                                      "   <-- against the layers" if bad else ""))
        ok = ok and not bad
    cycle = find_cycle(nodes, edges)
    if cycle:
        print("FAIL: call circle between folders: " + " -> ".join(cycle))
        ok = False
    return ok


# ---- function length ----

_STRIP = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:\\.|[^"\\\n])*"|\'(?:\\.|[^\'\\\n])*\'', re.S)
_NAME = re.compile(r"([A-Za-z_]\w*)\s*\([^;{}]*\)\s*(?:__attribute__\s*\(\(.*?\)\)\s*)*$", re.S)


def _blank(m):
    # Keep the newlines so line numbers stay right.
    return re.sub(r"[^\n]", " ", m.group(0))


def functions(text):
    """(name, first line, last line) of every function definition."""
    src = _STRIP.sub(_blank, text)
    src = re.sub(r"^[ \t]*#[^\n]*(?:\\\n[^\n]*)*", _blank, src, flags=re.M)
    out, depth, start, head_from = [], 0, 0, 0
    for i, ch in enumerate(src):
        if ch == "{":
            if depth == 0:
                head = src[head_from:i]
                m = _NAME.search(head)
                if m and not re.search(r"=\s*$|\b(struct|union|enum)\s+\w*\s*$", head):
                    start = src.count("\n", 0, head_from + m.start(1)) + 1
                    name = m.group(1)
                else:
                    name = None
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                if name:
                    out.append((name, start, src.count("\n", 0, i) + 1))
                head_from = i + 1
        elif ch == ";" and depth == 0:
            head_from = i + 1
    return out


def check_lengths(root):
    ok, n = True, 0
    for top in FUNC_ROOTS:
        for dirpath, _, files in os.walk(os.path.join(root, top)):
            for f in sorted(files):
                if not f.endswith((".c", ".h")):
                    continue
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, root)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for name, a, b in functions(fh.read()):
                        n += 1
                        lines = b - a + 1
                        if lines <= MAX_LINES:
                            continue
                        key = "%s:%s" % (rel, name)
                        if key in KNOWN:
                            print("  known: %s:%d %s is %d lines" % (rel, a, name, lines))
                        else:
                            print("FAIL: %s:%d %s is %d lines (at most %d)" %
                                  (rel, a, name, lines, MAX_LINES))
                            ok = False
    print("function lengths: %d functions scanned, limit %d lines" % (n, MAX_LINES))
    return ok


def main():
    if len(sys.argv) != 2:
        print("usage: check_layers.py BUILD_DIR", file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ok = check_graph(root, sys.argv[1])
    ok = check_lengths(root) and ok
    print("check-layers: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

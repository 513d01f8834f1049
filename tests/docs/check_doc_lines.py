#!/usr/bin/env python3
"""check_doc_lines.py - source lines quoted in the docs are current.

Every `name ... file.c:LINE` in docs/*.md and README.md (and every
`"function": "name", ... "file": "f.c", "line": N` of a JSON excerpt) is
checked against
the source file of that name (found by base name anywhere under runtime/,
examples/, scenarios/ and tests/): LINE must exist and lie in the function
`name` (its AT_ASYNC_FN or C definition encloses the line), or the line
must name it (a site record or a call).  Quotes of files that are not in
the tree (glibc's read.c) are skipped; a quote with a directory that does
not exist is an error.

A listing copied from a source file is marked in the Markdown with
`<!-- listing: PATH -->` on the line before its fence and must equal that
file exactly, so the lines quoted from it stay right too.

Usage: tests/docs/check_doc_lines.py [ROOT]   (exit 1 and one line per
stale quote when anything is wrong)
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))
SEARCH = ("runtime", "examples", "scenarios", "tests")
IDENT = r"[A-Za-z_]\w*"
FILE = r"((?:[\w.-]+/)*[\w.-]+\.[ch]):(\d+)"
# The name a quote claims, by the shapes the docs use.
PATTERNS = [
    re.compile(r"\bat %s \(in (%s)\)" % (FILE, IDENT)),          # at f.c:9 (in fn)
    re.compile(r"\b(%s)(?:\+0x[0-9a-f]+)? \(%s\)" % (IDENT, FILE)),  # fn+0x1 (f.c:9)
    re.compile(r"\b(%s)(?: \([\w-]+\))? at %s" % (IDENT, FILE)),     # fn (kind) at f.c:9
    re.compile(r"\b(%s) +%s" % (IDENT, FILE)),                        # fn  f.c:9 (tables)
]
# JSON excerpts: {"function"|"symbol": "fn", ..., "file": "f.c", "line": 9}.
JSON_QUOTE = re.compile(r'"(?:function|symbol)": "(%s)"[^{}]*?"file": "%s", "line": (\d+)'
                        % (IDENT, r"((?:[\w.-]+/)*[\w.-]+\.[ch])"))
ANY = re.compile(r"\b" + FILE)
DEF = re.compile(r"^(?:AT_ASYNC_FN(?:_DROP)?\((%s)|(?:[A-Za-z_][\w \t\*]*?[\s\*])?(%s)\s*\([^;]*$)"
                 % (IDENT, IDENT))


def index_sources():
    found = {}
    for top in SEARCH:
        for d, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [x for x in dirs if x not in ("build", "__pycache__")]
            for f in files:
                if f.endswith((".c", ".h")):
                    found.setdefault(f, []).append(os.path.relpath(os.path.join(d, f), ROOT))
    return found


def resolve(sources, quoted):
    cands = sources.get(os.path.basename(quoted), [])
    if "/" in quoted:
        cands = [c for c in cands if c.endswith(quoted)]
    return cands


_lines = {}


def lines_of(path):
    if path not in _lines:
        with open(os.path.join(ROOT, path), encoding="utf-8", errors="replace") as f:
            _lines[path] = f.read().split("\n")
    return _lines[path]


def enclosing(lines, n):
    """The function whose definition is the nearest above line n (1-based)."""
    for i in range(n - 1, -1, -1):
        m = DEF.match(lines[i])
        if m and not lines[i].startswith((" ", "\t", "#", "}")):
            return m.group(1) or m.group(2)
    return None


def matches(name, lines, n):
    text = lines[n - 1]
    variants = {name, name[:-5] if name.endswith("_poll") else name + "_poll"}
    if any(re.search(r"\b%s\b" % re.escape(v), text) for v in variants):
        return True
    return enclosing(lines, n) in variants


# Words before "at f.c:9" that are not function names.
NOT_NAMES = {"leaf", "at", "in", "by", "spawned", "started", "block_on", "and", "or"}


def claims(line):
    """{(file, line): claimed name or None} for the quotes on a line."""
    found = {}
    for i, pat in enumerate(PATTERNS):
        for m in pat.finditer(line):
            name, f, n = (m.group(3), m.group(1), m.group(2)) if i == 0 else m.groups()
            found.setdefault((f, int(n)), None if name in NOT_NAMES else name)
    for m in JSON_QUOTE.finditer(line):
        found.setdefault((m.group(2), int(m.group(3))), m.group(1))
    for m in ANY.finditer(line):
        found.setdefault((m.group(1), int(m.group(2))), None)
    return found


def check_listings(md, text, errors):
    lines = text.split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"<!-- listing: (\S+) -->$", line.strip())
        if not m:
            continue
        if i + 1 >= len(lines) or not lines[i + 1].startswith("```"):
            errors.append("%s:%d: a listing marker must precede a code fence" % (md, i + 1))
            continue
        end = next((j for j in range(i + 2, len(lines)) if lines[j].startswith("```")), None)
        block = "\n".join(lines[i + 2:end]) + "\n"
        path = os.path.join(ROOT, m.group(1))
        if not os.path.exists(path):
            errors.append("%s:%d: listing of a missing file %s" % (md, i + 1, m.group(1)))
            continue
        with open(path, encoding="utf-8") as f:
            if f.read() != block:
                errors.append("%s:%d: the listing differs from %s" % (md, i + 1, m.group(1)))


TOP_DIRS = frozenset(d for d in os.listdir(ROOT)
                     if os.path.isdir(os.path.join(ROOT, d)) and not d.startswith("."))


def main():
    sources = index_sources()
    errors, checked = [], 0
    docs = sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                  if f.endswith(".md")) + ["README.md"]
    for md in docs:
        with open(os.path.join(ROOT, md), encoding="utf-8") as f:
            text = f.read()
        check_listings(md, text, errors)
        for ln, line in enumerate(text.split("\n"), 1):
            for (f, n), name in claims(line).items():
                cands = resolve(sources, f)
                if not cands:
                    # A path into the tree that names no file there is stale;
                    # others (a C library's own sources) are not ours.
                    if "/" in f and f.split("/", 1)[0] in TOP_DIRS:
                        errors.append("%s:%d: %s:%d: no such file in the tree" % (md, ln, f, n))
                    continue
                if len(cands) > 1:
                    errors.append("%s:%d: %s is ambiguous (%s)" % (md, ln, f, ", ".join(cands)))
                    continue
                src = lines_of(cands[0])
                checked += 1
                if n < 1 or n > len(src):
                    errors.append("%s:%d: %s:%d: past the end of %s" % (md, ln, f, n, cands[0]))
                elif name and not matches(name, src, n):
                    errors.append("%s:%d: %s:%d is not in %s (line: %r; in %s)"
                                  % (md, ln, f, n, name, src[n - 1].strip(),
                                     enclosing(src, n)))
    for e in errors:
        print(e)
    print("doc line quotes: %d checked, %d stale" % (checked, len(errors)))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

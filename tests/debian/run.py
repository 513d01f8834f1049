#!/usr/bin/env python3
"""tests/debian/run.py - the Debian packages, as a distribution would ship
them: `dpkg-buildpackage -us -uc -b` on a copy of the tree builds
libasynctrace1, libasynctrace-dev, asynctrace-gdb and asynctrace-tools
with the expected files; then (as root, under a machine-wide lock, purged at the end) they
are installed with dpkg -i, and a program built with `pkg-config --cflags
--libs asynctrace` is debuggable with plain `gdb -p PID` (a clean HOME, no
~/.gdbinit): shared and static links, attached and on a core.

Skipped, with a line saying so, when dpkg-buildpackage or debhelper is
missing or when not root.  usage: tests/debian/run.py [--keep]
"""

import argparse
import fcntl
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "gdb"))
sys.path.insert(0, os.path.join(ROOT, "tests", "install"))
from gdbrun import TestFailure  # noqa: E402
from run import check_commands_load, clean_home, sh  # noqa: E402  (tests/install/run.py)

PACKAGES = ["libasynctrace1", "libasynctrace-dev", "asynctrace-gdb", "asynctrace-tools"]
LOCK = "/var/lock/asynctrace-debian-test.lock"
PROG = os.path.join(ROOT, "tests", "gdb", "progs", "deadlock.c")


def tools_missing():
    missing = [t for t in ("dpkg-buildpackage", "dh", "fakeroot", "dpkg-deb")
               if shutil.which(t) is None]
    if os.geteuid() != 0:
        missing.append("root (to install the packages)")
    return missing


def copy_tree(dst):
    """The files git knows about (committed or not, not ignored), without build/."""
    names = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                           stdout=subprocess.PIPE, check=True).stdout.split(b"\0")
    for raw in names:
        name = raw.decode()
        if not name or name.startswith("build/") or not os.path.isfile(os.path.join(ROOT, name)):
            continue
        os.makedirs(os.path.join(dst, os.path.dirname(name)), exist_ok=True)
        shutil.copy2(os.path.join(ROOT, name), os.path.join(dst, name))


def contents(deb):
    out = sh(["dpkg-deb", "-c", deb])
    return [re.sub(r"^\./", "/", line.split()[5]) for line in out.splitlines()
            if line.split() and not line.startswith("d")]


def t_build(ctx):
    """dpkg-buildpackage -us -uc -b: four packages with the right files."""
    src = os.path.join(ctx.tmp, "asynctrace-1.0.0")
    copy_tree(src)
    # The packaging is what is tested here, not the optimiser: -O0 and no
    # dbgsym packages keep the build short.
    env = dict(os.environ, DEB_BUILD_OPTIONS="nocheck noopt noautodbgsym parallel=2")
    t0 = time.time()
    sh(["dpkg-buildpackage", "-us", "-uc", "-b"], env=env, cwd=src)
    ctx.build_seconds = time.time() - t0
    arch = sh(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).strip()
    ctx.arch = arch
    ctx.debs = {}
    for pkg in PACKAGES:
        hits = glob.glob(os.path.join(ctx.tmp, "%s_1.0.0_*.deb" % pkg))
        if len(hits) != 1:
            raise TestFailure("dpkg-buildpackage made %r for %s" % (hits, pkg))
        ctx.debs[pkg] = hits[0]
    want = {
        "libasynctrace1": ["/usr/lib/%s/libasynctrace.so.1.0.0" % arch,
                           "/usr/share/gdb/auto-load/usr/lib/%s/libasynctrace.so.1.0.0-gdb.py"
                           % arch],
        "libasynctrace-dev": ["/usr/include/asynctrace.h", "/usr/include/asynctrace/abi.h",
                              "/usr/lib/%s/libasynctrace.a" % arch,
                              "/usr/lib/%s/pkgconfig/asynctrace.pc" % arch],
        "asynctrace-gdb": ["/usr/share/gdb/auto-load/asynctrace-gdb.py"],
        "asynctrace-tools": ["/usr/bin/asynctrace",
                             "/usr/share/asynctrace/python/asynctrace/commands.py",
                             "/usr/share/asynctrace/python/asynctrace/cli/main.py"],
    }
    for pkg, files in want.items():
        have = contents(ctx.debs[pkg])
        for f in files:
            if f not in have:
                raise TestFailure("%s lacks %s; it has:\n  %s" % (pkg, f, "\n  ".join(have)))
    links = sh(["dpkg-deb", "-c", ctx.debs["libasynctrace1"]])
    if not re.search(r"libasynctrace\.so\.1 -> libasynctrace\.so\.1\.0\.0", links):
        raise TestFailure("libasynctrace1 has no libasynctrace.so.1 link:\n" + links)
    info = sh(["dpkg-deb", "-f", ctx.debs["libasynctrace-dev"], "Depends"])
    if "libasynctrace1 (= 1.0.0)" not in info:
        raise TestFailure("libasynctrace-dev Depends: %s" % info)
    shlibs = sh(["dpkg-deb", "-I", ctx.debs["libasynctrace1"], "shlibs"])
    if not re.search(r"^libasynctrace 1 libasynctrace1 ", shlibs, re.M):
        raise TestFailure("libasynctrace1 shlibs: %r" % shlibs)


def t_installed(ctx):
    """dpkg -i, then gdb -p PID with stock settings: the commands are there."""
    if not getattr(ctx, "debs", None):
        raise TestFailure("no packages (the build failed)")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            sh(["dpkg", "-i"] + [ctx.debs[p] for p in PACKAGES])
            home = clean_home(ctx.tmp, [])
            os.unlink(os.path.join(home["HOME"], ".gdbinit"))
            cflags = sh(["pkg-config", "--cflags", "asynctrace"], env=home).split()
            libs = sh(["pkg-config", "--libs", "asynctrace"], env=home).split()
            static = sh(["pkg-config", "--libs", "--static", "asynctrace"], env=home).split()
            if cflags:
                raise TestFailure("pkg-config --cflags asynctrace is %r: /usr/include needs "
                                  "no flag" % cflags)
            shared = os.path.join(ctx.tmp, "deadlock-shared")
            sh(["cc", "-g", "-O1", "-I", os.path.dirname(PROG), PROG, "-o", shared] + libs,
               env=home)
            used = re.search(r"libasynctrace\.so\.1 => (\S+)", sh(["ldd", shared]))
            if not used or os.path.realpath(used.group(1)) != \
                    "/usr/lib/%s/libasynctrace.so.1.0.0" % ctx.arch:
                raise TestFailure("the program does not use the installed library: %s"
                                  % (used.group(1) if used else "not linked"))
            static_exe = os.path.join(ctx.tmp, "deadlock-static")
            sh(["cc", "-g", "-O1", "-I", os.path.dirname(PROG), PROG, "-o", static_exe] +
               [("-l:libasynctrace.a" if a == "-lasynctrace" else a) for a in static], env=home)
            check_commands_load(home, shared, ctx.tmp, "Debian packages, shared")
            check_commands_load(home, static_exe, ctx.tmp, "Debian packages, static")
        finally:
            purge = subprocess.run(["dpkg", "--purge"] + PACKAGES, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT)
        left = [p for p in ("/usr/include/asynctrace.h", "/usr/share/asynctrace",
                            "/usr/share/gdb/auto-load/asynctrace-gdb.py",
                            "/usr/lib/%s/libasynctrace.so.1" % ctx.arch) if os.path.exists(p)]
        if purge.returncode != 0 or left:
            raise TestFailure("dpkg --purge: %s; left: %r" % (purge.stdout.decode(), left))


CASES = [("dpkg-buildpackage: four packages", t_build),
         ("installed packages: gdb -p PID just works", t_installed)]


class Context(object):
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="asynctrace-deb.")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--debs", help="test the packages already built in DIR")
    args = ap.parse_args()
    missing = tools_missing()
    if missing:
        print("debian tests: skipped (missing: %s; `make deps` installs the tools)"
              % ", ".join(missing))
        return 0
    ctx = Context()
    cases = CASES
    if args.debs:
        ctx.arch = sh(["dpkg-architecture", "-qDEB_HOST_MULTIARCH"]).strip()
        ctx.debs = {p: glob.glob(os.path.join(args.debs, "%s_*.deb" % p))[0] for p in PACKAGES}
        cases = CASES[1:]
    passed = failed = 0
    for name, fn in cases:
        t0 = time.time()
        try:
            fn(ctx)
        except TestFailure as e:
            failed += 1
            print("FAIL %s (%.1fs)\n  %s" % (name, time.time() - t0,
                                            str(e).replace("\n", "\n  ")))
        else:
            passed += 1
            print("ok   %s (%.1fs)" % (name, time.time() - t0))
        sys.stdout.flush()
    print("debian tests: %d passed, %d failed (package build %.1fs)"
          % (passed, failed, getattr(ctx, "build_seconds", 0)))
    if failed or args.keep:
        print("files kept in %s" % ctx.tmp)
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

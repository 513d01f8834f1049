"""Tests of `make install` / `make uninstall` as a user meets them: install
into a temporary prefix, build a program with pkg-config (linked with the
shared library, and with the static one), and run real GDB with a clean
HOME (stock auto-load settings, no -nx) whose ~/.gdbinit holds only the line
`make install` printed: the commands must load by themselves, attached and
on core files.  Then a DESTDIR staging install with PREFIX=/usr and a
multiarch LIBDIR (the layout GDB trusts without any line), and uninstall.

The library objects of the main build are reused (copied with their
times), so only the object naming the installed loader is rebuilt."""

import argparse
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
from gdbrun import Program, TestFailure  # noqa: E402

PROG = os.path.join(ROOT, "tests", "gdb", "progs", "deadlock.c")
DEADLOCK_LINE = (r'deadlock: task 2 "a" -> mutex 0x[0-9a-f]+ -> task 3 "b" -> '
                 r'mutex 0x[0-9a-f]+ -> task 2')
BAD = ("Traceback", "Python Exception", "Missing auto-load script", "Undefined info command",
       "declined by your `auto-load safe-path'")


def sh(args, env=None, cwd=ROOT, check=True):
    p = subprocess.run(args, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    out = p.stdout.decode("utf-8", "replace")
    if check and p.returncode != 0:
        raise TestFailure("%s failed (%d):\n%s" % (" ".join(args), p.returncode, out[-3000:]))
    return out


def clean_home(tmp, gdbinit_lines):
    """A HOME with nothing but the given ~/.gdbinit lines."""
    home = tempfile.mkdtemp(prefix="home.", dir=tmp)
    with open(os.path.join(home, ".gdbinit"), "w") as f:
        f.write("".join(line + "\n" for line in gdbinit_lines))
    env = dict(os.environ)
    env.update({"HOME": home, "XDG_CONFIG_HOME": os.path.join(home, ".config"),
                "XDG_CACHE_HOME": os.path.join(home, ".cache")})
    env.pop("PKG_CONFIG_PATH", None)
    return env


def gdb_batch(env, target, commands):
    """GDB as a user starts it (no -nx): stock settings plus ~/.gdbinit."""
    args = ["gdb", "-batch"] + target
    for c in commands:
        args += ["-ex", c]
    return sh(args, env=env, check=False)


def expect(text, pattern, what):
    if not re.search(pattern, text, re.M):
        raise TestFailure("%s: no line matching %r in:\n%s" % (what, pattern, text[-3000:]))


def no_bad(text, what):
    for bad in BAD:
        if bad in text:
            raise TestFailure("%s printed %r:\n%s" % (what, bad, text[-3000:]))


def check_commands_load(env, exe, tmp, what):
    """Attached and on a core: the commands are there and see the deadlock."""
    prog = Program(exe, env=env)
    core = os.path.join(tmp, os.path.basename(exe) + ".core")
    try:
        out = gdb_batch(env, ["-p", str(prog.pid)],
                        ["info async-deadlocks", "generate-core-file %s" % core,
                         "info auto-load python-scripts"])
    finally:
        prog.kill()
    no_bad(out, what + ", attached")
    expect(out, DEADLOCK_LINE, what + ", attached")
    expect(out, r"^Yes\s+\S*(asynctrace-gdb\.py|libasynctrace\.so\.[0-9.]+-gdb\.py)\s*$",
           what + ", auto-load list")
    out = gdb_batch(env, [exe, core], ["info async-deadlocks"])
    no_bad(out, what + ", core")
    expect(out, DEADLOCK_LINE, what + ", core")
    os.unlink(core)


def t_prefix(ctx):
    """make install PREFIX=tmp: files, pkg-config, the printed line, and
    shared, static and core cases loading with exactly that line."""
    prefix = os.path.join(ctx.tmp, "prefix")
    out = ctx.make("install", "PREFIX=" + prefix)
    lines = re.findall(r"^  (add-auto-load-safe-path .*)$", out, re.M)
    want = "add-auto-load-safe-path %s/share/gdb/auto-load" % prefix
    if lines != [want]:
        raise TestFailure("make install printed %r, expected [%r]:\n%s" % (lines, want, out))
    for rel in ("include/asynctrace.h", "include/asynctrace/abi.h", "lib/libasynctrace.a",
                "lib/libasynctrace.so.1.0.0", "lib/pkgconfig/asynctrace.pc",
                "share/asynctrace/python/asynctrace/commands.py",
                "share/gdb/auto-load/asynctrace-gdb.py",
                "share/gdb/auto-load%s/lib/libasynctrace.so.1.0.0-gdb.py" % prefix):
        if not os.path.isfile(os.path.join(prefix, rel)):
            raise TestFailure("make install did not install %s" % rel)
    for link, target in (("libasynctrace.so.1", "libasynctrace.so.1.0.0"),
                         ("libasynctrace.so", "libasynctrace.so.1")):
        got = os.readlink(os.path.join(prefix, "lib", link))
        if got != target:
            raise TestFailure("lib/%s -> %s, expected %s" % (link, got, target))

    env = clean_home(ctx.tmp, [want])
    env["PKG_CONFIG_PATH"] = os.path.join(prefix, "lib", "pkgconfig")
    cflags = sh(["pkg-config", "--cflags", "asynctrace"], env=env).split()
    if cflags != ["-I%s/include" % prefix]:
        raise TestFailure("pkg-config --cflags gives %r: only the include dir expected" % cflags)
    libs = sh(["pkg-config", "--libs", "asynctrace"], env=env).split()
    if libs != ["-L%s/lib" % prefix, "-lasynctrace"]:
        raise TestFailure("pkg-config --libs gives %r" % libs)
    static = sh(["pkg-config", "--libs", "--static", "asynctrace"], env=env).split()
    for lib in ("-lunwind", "-lcapstone", "-ldw", "-pthread"):
        if lib not in static:
            raise TestFailure("pkg-config --libs --static lacks %s: %r" % (lib, static))
    loader = sh(["pkg-config", "--variable=gdbloader", "asynctrace"], env=env).strip()
    if loader != "%s/share/gdb/auto-load/asynctrace-gdb.py" % prefix:
        raise TestFailure("gdbloader variable is %r" % loader)

    shared = os.path.join(ctx.tmp, "deadlock-shared")
    sh(["cc", "-g", "-O1", "-I", os.path.dirname(PROG)] + cflags +
       [PROG, "-o", shared] + libs + ["-Wl,-rpath,%s/lib" % prefix], env=env)
    static_exe = os.path.join(ctx.tmp, "deadlock-static")
    sh(["cc", "-g", "-O1", "-I", os.path.dirname(PROG)] + cflags + [PROG, "-o", static_exe] +
       [("-l:libasynctrace.a" if a == "-lasynctrace" else a) for a in static], env=env)
    if "libasynctrace.so" in sh(["ldd", static_exe]):
        raise TestFailure("the static program is linked with the shared library")
    check_commands_load(env, shared, ctx.tmp, "shared library, PREFIX=tmp")
    check_commands_load(env, static_exe, ctx.tmp, "static library, PREFIX=tmp")

    # Without the line, GDB refuses the script (the install is not trusted
    # by default), and says so instead of failing silently.
    bare = clean_home(ctx.tmp, [])
    prog = Program(shared, env=bare)
    try:
        out = gdb_batch(bare, ["-p", str(prog.pid)], ["info async-deadlocks"])
    finally:
        prog.kill()
    expect(out, r"declined by your `auto-load safe-path'", "no safe-path line")

    ctx.make("uninstall", "PREFIX=" + prefix)
    left = [os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs]
    if left:
        raise TestFailure("make uninstall left %s" % left)


def t_destdir_usr(ctx):
    """make install DESTDIR=stage PREFIX=/usr LIBDIR=/usr/lib/<multiarch>:
    GDB's own layout, nothing to add to ~/.gdbinit, uninstall leaves nothing."""
    stage = os.path.join(ctx.tmp, "stage")
    arch = sh(["gcc", "-print-multiarch"]).strip() or "x86_64-linux-gnu"
    libdir = "/usr/lib/" + arch
    out = ctx.make("install", "DESTDIR=" + stage, "PREFIX=/usr", "LIBDIR=" + libdir)
    if "add-auto-load-safe-path" in out:
        raise TestFailure("PREFIX=/usr must need no safe-path line:\n" + out)
    for rel in ("usr/share/gdb/auto-load/usr/lib/%s/libasynctrace.so.1.0.0-gdb.py" % arch,
                "usr/share/gdb/auto-load/asynctrace-gdb.py",
                "usr/lib/%s/libasynctrace.so.1.0.0" % arch, "usr/include/asynctrace.h",
                "usr/lib/%s/pkgconfig/asynctrace.pc" % arch):
        if not os.path.isfile(os.path.join(stage, rel)):
            raise TestFailure("make install DESTDIR did not install %s" % rel)
    so = os.path.join(stage, "usr/lib/%s/libasynctrace.so.1.0.0" % arch)
    section = sh(["readelf", "-p", ".debug_gdb_scripts", so])
    expect(section, r"\]\s+/usr/share/gdb/auto-load/asynctrace-gdb.py$", ".debug_gdb_scripts")
    with open(os.path.join(stage, "usr/share/gdb/auto-load/asynctrace-gdb.py")) as f:
        expect(f.read(), r'^_PYTHON_DIR = "/usr/share/asynctrace/python"$', "installed loader")
    with open(os.path.join(stage, "usr/lib/%s/pkgconfig/asynctrace.pc" % arch)) as f:
        pc = f.read()
    expect(pc, r"^libdir=%s$" % libdir, "asynctrace.pc")
    expect(pc, r"^includedir=/usr/include$", "asynctrace.pc")
    ctx.make("uninstall", "DESTDIR=" + stage, "PREFIX=/usr", "LIBDIR=" + libdir)
    left = [os.path.join(d, f) for d, _, fs in os.walk(stage) for f in fs]
    if left:
        raise TestFailure("make uninstall left %s" % left)


class Context(object):
    def __init__(self, build):
        self.tmp = tempfile.mkdtemp(prefix="asynctrace-install.")
        self.build = os.path.join(self.tmp, "build")
        main_obj = os.path.join(ROOT, build, "obj")
        if os.path.isdir(main_obj):  # reuse the objects: only gdb_autoload.o differs
            shutil.copytree(main_obj, os.path.join(self.build, "obj"), symlinks=True)

    def make(self, *args):
        return sh(["make", "--no-print-directory", "BUILD=" + self.build] + list(args))


CASES = [("install PREFIX=tmp: pkg-config, shared, static, core, uninstall", t_prefix),
         ("install DESTDIR PREFIX=/usr: GDB's layout", t_destdir_usr)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("-k", dest="only", default=None)
    args = ap.parse_args()
    ctx = Context(args.build)
    passed = failed = 0
    for name, fn in CASES:
        if args.only and args.only not in name:
            continue
        t0 = time.time()
        try:
            fn(ctx)
        except TestFailure as e:
            failed += 1
            print("FAIL %s\n  %s" % (name, str(e).replace("\n", "\n  ")))
        else:
            passed += 1
            print("ok   %s (%.1fs)" % (name, time.time() - t0))
        sys.stdout.flush()
    print("install tests: %d passed, %d failed" % (passed, failed))
    if failed:
        print("files kept in %s" % ctx.tmp)
    else:
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Helpers of the GDB extension's test runner: running test programs to their
checkpoint, running GDB in batch mode with marked commands, source markers,
and reading/patching core files through their PT_LOAD segments."""

import os
import re
import select
import struct
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOADER = os.path.join(ROOT, "gdb", "asynctrace-gdb.py")
MARK = "@@ATMARK "
GDB_TIMEOUT = 60


class TestFailure(Exception):
    pass


def markers(path):
    """{"kind:name": line} for every `@kind:name` in the file's comments."""
    out = {}
    with open(path) as f:
        for number, line in enumerate(f, 1):
            for m in re.finditer(r"@(\w+):(\w+)", line):
                key = "%s:%s" % (m.group(1), m.group(2))
                if key in out:
                    raise TestFailure("marker %s appears twice in %s" % (key, path))
                out[key] = number
    return out


def _allow_cores():
    import resource
    resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))


class Program(object):
    """A test program run to its checkpoint ("ready <pid>")."""

    def __init__(self, path, env=None, timeout=20, cwd=None, cores=False):
        """`cores`: the kernel may write a core file (RLIMIT_CORE
        unlimited), into `cwd` with the usual core_pattern."""
        full_env = dict(os.environ)
        # One malloc arena: threads' 64 MiB arena reservations would make
        # every core 150 MB for nothing.
        full_env["MALLOC_ARENA_MAX"] = "1"
        full_env.update(env or {})
        self.proc = subprocess.Popen([path], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=full_env, cwd=cwd,
                                     preexec_fn=_allow_cores if cores else None)
        self.output = b""
        deadline = time.time() + timeout
        while b"ready " not in self.output:
            left = deadline - time.time()
            if left <= 0 or self.proc.poll() is not None:
                self.kill()
                raise TestFailure("%s never reached its checkpoint (output %r)"
                                  % (path, self.output))
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    continue
                self.output += chunk
        m = re.search(rb"ready (\d+)", self.output)
        self.pid = int(m.group(1))

    def release(self, timeout=20):
        """Send "go", wait for the exit; returns (exit code, stdout text)."""
        try:
            out, err = self.proc.communicate(b"go\n", timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise TestFailure("the program did not finish after being released")
        return self.proc.returncode, (self.output + out).decode(), err.decode()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run_gdb(target_args, commands, source=True, extra=(), timeout=GDB_TIMEOUT, cwd=None):
    """Run `gdb -batch -nx` with marked commands (in directory `cwd`, by
    default ours); returns ({name: output}, whole output).  `commands` is a
    list of (name, command)."""
    args = ["gdb", "-batch", "-nx"] + list(extra) + list(target_args)
    if source:
        args += ["-ex", "source %s" % LOADER]
    for name, cmd in commands:
        args += ["-ex", "echo %s%s@@\\n" % (MARK, name), "-ex", cmd]
    args += ["-ex", "echo %send@@\\n" % MARK]
    try:
        p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise TestFailure("gdb did not finish within %d s: %s" % (timeout, " ".join(args)))
    text = p.stdout.decode("utf-8", "replace")
    parts = {}
    pieces = re.split(re.escape(MARK) + r"(\S+)@@\n", text)
    for i in range(1, len(pieces) - 1, 2):
        parts[pieces[i]] = pieces[i + 1]
    return parts, text


# -- core files ------------------------------------------------------------------

_PHDR = struct.Struct("<IIQQQQQQ")


def _load_segments(data):
    if data[:4] != b"\x7fELF":
        raise TestFailure("not an ELF file")
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    segs = []
    for i in range(phnum):
        ptype, _, off, vaddr, _, filesz, memsz, _ = _PHDR.unpack_from(data, phoff + i * phentsize)
        if ptype == 1:
            segs.append((vaddr, memsz, off, filesz))
    return segs


def _section_addr(data, name):
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    hdrs = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    stroff = hdrs[shstrndx][4]
    for h in hdrs:
        end = data.index(b"\0", stroff + h[0])
        if data[stroff + h[0]:end].decode() == name:
            return h[3]
    return None


class CoreImage(object):
    """The memory of a core file (writable copy), with read-only data the
    core leaves out read from the executable."""

    def __init__(self, core_path, exe_path, descriptor):
        with open(core_path, "rb") as f:
            self.data = bytearray(f.read())
        self.segs = _load_segments(self.data)
        with open(exe_path, "rb") as f:
            self.exe = f.read()
        self.exe_segs = _load_segments(self.exe)
        link = _section_addr(self.exe, ".asynctrace_debug")
        self.bias = descriptor - link
        self.descriptor = descriptor

    def _offset(self, addr, size):
        for vaddr, memsz, off, filesz in self.segs:
            if vaddr <= addr and addr + size <= vaddr + filesz:
                return off + addr - vaddr
        return None

    def read(self, addr, size):
        off = self._offset(addr, size)
        if off is not None:
            return bytes(self.data[off:off + size])
        link = addr - self.bias
        for vaddr, memsz, off, filesz in self.exe_segs:
            if vaddr <= link and link + size <= vaddr + filesz:
                return self.exe[off + link - vaddr:off + link - vaddr + size]
        raise TestFailure("address 0x%x is neither in the core nor in the program" % addr)

    def u32(self, addr):
        return struct.unpack("<I", self.read(addr, 4))[0]

    def u64(self, addr):
        return struct.unpack("<Q", self.read(addr, 8))[0]

    def cstring(self, addr):
        out = b""
        while True:
            c = self.read(addr + len(out), 1)
            if c == b"\0" or len(out) > 200:
                return out.decode()
            out += c

    def write(self, addr, raw):
        off = self._offset(addr, len(raw))
        if off is None:
            raise TestFailure("address 0x%x is not in the core's writable segments" % addr)
        self.data[off:off + len(raw)] = raw

    def put_u32(self, addr, value):
        self.write(addr, struct.pack("<I", value))

    def put_u64(self, addr, value):
        self.write(addr, struct.pack("<Q", value))

    def save(self, path):
        with open(path, "wb") as f:
            f.write(self.data)

    def layout(self):
        """{record: {field: offset}} from the layout table in the core."""
        count = self.u32(self.descriptor + 20)
        table = self.u64(self.descriptor + 24)
        out = {}
        for i in range(count):
            rec = table + 24 * i
            name = self.cstring(self.u64(rec))
            nfields = self.u32(rec + 12)
            fields = self.u64(rec + 16)
            out[name] = {}
            for j in range(nfields):
                fld = fields + 16 * j
                out[name][self.cstring(self.u64(fld))] = self.u32(fld + 8)
        return out

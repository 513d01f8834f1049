"""The corruption fuzzer's mutations: where a core's asynctrace records are,
and deterministic damage to them (run inside GDB by driver.py).

targets() lists every field of every record one unmutated reading finds
(descriptor, layout table, runtimes, tasks, frames, leaves' wait records,
resource objects, thread contexts, root frames) with its kind: pointer,
magic, string or value.  mutation(rng) picks one and returns byte patches
(address -> bytes) and a description.  Pointer fields get garbage, NULL,
self, another record of the same or another type, a misaligned neighbour
or an earlier node of the same list (a cycle); magics get zero, garbage,
the freed magic or another record's magic; values get bit flips, huge
counts and zeros (class "count" for counts and times, "value" for values
that decide a verdict and have no second copy to check, "random" for the
rest); names get unterminated or control-character bytes; the
layout table gets impossible counts, sizes and offsets; random bytes
around the records get random values.
"""

import struct

POINTERS = frozenset((
    "root", "runtime", "owned_next", "owned_prev", "spawn_site", "site", "parent",
    "child", "sibling", "resume", "next", "prev", "active", "current", "task", "wait.object",
    "function", "file", "owned_head", "collector", "owner", "runtimes", "threads",
    "layouts", "enums"))
# Counts, times, lines, code addresses and labels: a changed one may change
# a printed value, never a verdict (a verdict change from one of these is
# "silent", a failure).  Class "count".
VALUE_ONLY = frozenset((
    "poll_count", "created_ns", "state_ns", "poll_start_ns", "poll_end_ns", "worker",
    "now_ns", "spawned_total", "since_ns", "wait.since_ns", "resume_line",
    "resume_addr", "line", "waiters", "max_permits", "lock_line",
    "generation", "clock_ns", "tid", "role", "workers", "flavor",
    "wait.detail[1]", "wait.detail[2]", "send_waiters", "recv_waiters",
    "poll", "drop", "inner_addr", "clock_mono_ns", "clock_real_ns"))
# Values that decide a verdict and that the ABI keeps no second copy of to
# check them against: a channel's fill, capacity, senders and receiver, a
# task's state among the known ones, a wait's kind among those that take
# the same object, state and flag bits (a channel's closed bit), a
# semaphore's free permits, a mutex's owner id when it names no live task (a
# live holder is checked against the owner pointer; a freed one's memory may
# be reused, so the pointer proves nothing).  Mutations of these may change a verdict: tallied as "value" (the
# tally shows how many did).  Class "value".
DECISIVE_VALUES = frozenset((
    "owner_id", "locked", "rx_task_id", "tx_task_id", "len", "capacity", "senders",
    "state", "wait.kind", "wait.detail[0]", "kind", "flags", "wait.flags", "permits",
    "permit", "untracked", "tx_untracked", "notified", "last_notifier"))

MAGICS = (0x53A7E1F1, 0x7A5C0DE5, 0x2B7E1516, 0x6C0FFEE1, 0x4D757478, 0x4368616E,
          0xDEADF4EE)


class Target(object):
    __slots__ = ("record", "addr", "field", "off", "size", "kind")

    def __init__(self, record, addr, field, off, size, kind):
        self.record = record
        self.addr = addr
        self.field = field
        self.off = off
        self.size = size
        self.kind = kind


def field_kind(name):
    if name == "magic":
        return "magic"
    if name == "name":
        return "string"
    if name in POINTERS:
        return "pointer"
    return "value"


class Targets(object):
    """Every field of every record found in one unmutated reading."""

    def __init__(self, snap):
        abi = snap.abi
        w = snap.walker
        self.fields = []
        self.by_record = {}  # record name -> [addresses]
        self.lists = {}  # list name -> [node addresses in order]
        self.low = None
        self.high = None
        self._add("descriptor", abi.address, abi.records["descriptor"])
        for rt, addr, _, _, _ in w.runtimes(abi.read_head(snap.mem)[0], []):
            self._add("runtime", addr, abi.records["runtime"])
        self.lists["runtime"] = list(self.by_record.get("runtime", []))
        for rt, items, _ in snap.runtimes:
            self.lists.setdefault("owned", []).extend(i[1] for i in items)
            for tasks in snap.batches(items):
                for t in tasks:
                    self._task(abi, t)
        for tid, records, current in snap.raw_threads:
            for r, _ in records:
                self._add("root_frame", r, abi.records["root_frame"])
        head = abi.read_head(snap.mem)[1]
        seen = set()
        while head and head not in seen and len(seen) < 64:
            seen.add(head)
            self._add("context", head, abi.records["context"])
            head = w.CONTEXT.unpack(snap.mem, head)[7]
        self.lists["context"] = list(self.by_record.get("context", []))
        self._layout(snap)

    def _add(self, record, addr, rec, fields=None):
        if addr in self.by_record.setdefault(record, []):
            return
        self.by_record[record].append(addr)
        for name, (off, size) in rec.fields.items():
            if fields is not None and name not in fields:
                continue
            self.fields.append(Target(record, addr, name, off, size, field_kind(name)))
        if self.low is None or addr < self.low:
            self.low = addr
        if self.high is None or addr > self.high:
            self.high = addr

    def _task(self, abi, t):
        self._add("task", t.address, abi.records["task"])
        frames = []
        if t.chain is not None:
            frames = list(zip(t.frames, t.chain.heads))
            if t.resource is not None and t.resource.object:
                self._object(abi, t.resource)
        stack = [t.tree] if t.tree is not None else []
        while stack:
            f = stack.pop()
            if f.head is not None:
                frames.append((f.address, f.head))
                if f.resource is not None and f.resource.object:
                    self._object(abi, f.resource)
            stack.extend(f.children)
        for addr, head in frames:
            self._add("frame", addr, abi.records["frame"])
            if head.leaf:
                self._add("leaf", addr, abi.records["leaf"])

    def _object(self, abi, res):
        record = {"mutex": "mutex", "semaphore": "semaphore", "notify": "notify",
                  "channel-send": "chan", "channel-recv": "chan",
                  "oneshot": "oneshot"}.get(res.kind)
        if record is not None and record in abi.records:
            self._add(record, res.object, abi.records[record])

    def _layout(self, snap):
        """The layout table's own entries (name, size, count, fields *) and
        each field entry (name, offset, size)."""
        mem = snap.mem
        desc = snap.abi.address
        count = mem.u32(desc + 20)
        base = mem.u64(desc + 24)
        for i in range(count):
            rec = base + 24 * i
            self.fields.append(Target("layout", rec, "record.size", 8, 4, "table"))
            self.fields.append(Target("layout", rec, "record.count", 12, 4, "table"))
            self.fields.append(Target("layout", rec, "record.fields", 16, 8, "table"))
            nfields = mem.u32(rec + 12)
            fields = mem.u64(rec + 16)
            for j in range(min(nfields, 64)):
                fld = fields + 16 * j
                self.fields.append(Target("layout", fld, "field.offset", 8, 4, "table"))
                self.fields.append(Target("layout", fld, "field.size", 12, 4, "table"))
        for off, size, name in ((8, 4, "abi"), (12, 4, "ptr_size"), (16, 4, "size"),
                                (20, 4, "nlayout"), (24, 8, "layouts")):
            self.fields.append(Target("descriptor", desc, name, off, size, "table"))


def _pack(value, size):
    value &= (1 << (8 * size)) - 1
    return value.to_bytes(size, "little")


def _pointer(rng, t, targets):
    op = rng.choice(("garbage", "unmapped", "null", "self", "same", "other", "misaligned",
                     "cycle", "small"))
    if op == "garbage":
        v = rng.getrandbits(64)
    elif op == "unmapped":
        v = 0xdead0000 + rng.randrange(0, 0x10000, 8)
    elif op == "null":
        v = 0
    elif op == "self":
        v = t.addr
    elif op == "small":
        v = rng.randrange(1, 0x1000)
    elif op == "misaligned":
        v = t.addr + rng.choice((-8, 8, 16, 24, 1, 3))
    elif op == "cycle":
        nodes = targets.lists.get({"runtime": "runtime", "task": "owned",
                                   "context": "context"}.get(t.record, ""), [])
        v = rng.choice(nodes) if nodes else t.addr
    else:
        records = targets.by_record.get(t.record if op == "same" else
                                        rng.choice(list(targets.by_record)), [])
        v = rng.choice(records) if records else t.addr
    return op, _pack(v, t.size)


def _value(rng, t):
    op = rng.choice(("bitflip", "huge", "zero", "plus1", "random"))
    if op == "bitflip":
        return op, None  # applied on the current bytes by the caller
    if op == "huge":
        return op, b"\xff" * t.size
    if op == "zero":
        return op, b"\0" * t.size
    if op == "plus1":
        return op, None
    return op, bytes(rng.getrandbits(8) for _ in range(t.size))


def mutation(rng, targets, read):
    """(description, {address: bytes}, class) of one deterministic
    mutation; `read(addr, size)` gives the current bytes."""
    roll = rng.random()
    if roll < 0.12:
        return _random_bytes(rng, targets, read)
    t = rng.choice(targets.fields)
    where = "%s 0x%x .%s" % (t.record, t.addr, t.field)
    addr = t.addr + t.off
    if t.kind == "pointer":
        op, raw = _pointer(rng, t, targets)
        cls = "pointer"
    elif t.kind == "magic":
        op = rng.choice(("zero", "random", "freed", "other"))
        v = {"zero": 0, "random": rng.getrandbits(32), "freed": 0xDEADF4EE,
             "other": rng.choice(MAGICS)}[op]
        raw = _pack(v, t.size)
        cls = "magic"
    elif t.kind == "string":
        op = rng.choice(("unterminated", "control", "utf8"))
        if op == "unterminated":
            raw = bytes(rng.randrange(0x21, 0x7f) for _ in range(t.size))
        elif op == "control":
            raw = (b"x\x1b[2J\x1b]0;pwn\x07\n\r\"" + b"\0" * t.size)[:t.size]
        else:
            raw = (b"\xff\xfe\xc3(\xed\xa0\x80" + b"\0" * t.size)[:t.size]
        cls = "string"
    elif t.kind == "table":
        op = rng.choice(("huge", "zero", "bitflip", "random"))
        if op in ("bitflip",):
            cur = int.from_bytes(read(addr, t.size), "little")
            raw = _pack(cur ^ (1 << rng.randrange(8 * t.size)), t.size)
        else:
            raw = {"huge": b"\xff" * t.size, "zero": b"\0" * t.size,
                   "random": bytes(rng.getrandbits(8) for _ in range(t.size))}[op]
        cls = "table"
    else:
        op, raw = _value(rng, t)
        cur = int.from_bytes(read(addr, t.size), "little")
        if op == "bitflip":
            raw = _pack(cur ^ (1 << rng.randrange(8 * t.size)), t.size)
        elif op == "plus1":
            raw = _pack(cur + 1, t.size)
        cls = ("count" if t.field in VALUE_ONLY else
               "value" if t.field in DECISIVE_VALUES else "random")
    return "%s %s" % (where, op), {addr: raw}, cls


def _random_bytes(rng, targets, read):
    """A few random bytes somewhere around the records (heap and stacks the
    records live in): a byte, a bit flip, or a pointer-sized word."""
    low, high = targets.low - 4096, targets.high + 4096
    for _ in range(20):
        addr = rng.randrange(low, high)
        try:
            cur = read(addr, 8)
        except Exception:
            continue
        op = rng.choice(("byte", "bitflip", "word"))
        if op == "byte":
            raw = bytes([rng.getrandbits(8)])
        elif op == "bitflip":
            raw = bytes([cur[0] ^ (1 << rng.randrange(8))])
        else:
            addr &= ~7
            raw = struct.pack("<Q", rng.choice((0, rng.getrandbits(64),
                                                rng.choice(targets.fields).addr)))
        return "random %s at 0x%x" % (op, addr), {addr: raw}, "random"
    t = rng.choice(targets.fields)
    return "random zero at 0x%x" % t.addr, {t.addr: b"\0"}, "random"

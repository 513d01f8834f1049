"""A task profile in pprof's format (profile.proto, gzipped), encoded by
hand: one sample per task (or per group of tasks with the same stack, state
and wait kind), the await path as the stack (leaf first, as pprof wants),
state and wait kind as labels, the task count and the nanoseconds spent in
the current state as the values.  `go tool pprof` reads it; profiles of
several processes merge with pprof's own tools.
"""

import gzip

# profile.proto field numbers.
P_SAMPLE_TYPE, P_SAMPLE, P_LOCATION, P_FUNCTION, P_STRINGS = 1, 2, 4, 5, 6
P_TIME, P_PERIOD_TYPE, P_PERIOD, P_COMMENT, P_DEFAULT_TYPE = 9, 11, 12, 13, 14


def _varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _field_varint(num, value):
    return _varint(num << 3) + _varint(value)


def _field_bytes(num, data):
    return _varint((num << 3) | 2) + _varint(len(data)) + data


def _packed(num, values):
    return _field_bytes(num, b"".join(_varint(v) for v in values))


class _Strings(object):
    def __init__(self):
        self.table = [""]
        self.index = {"": 0}

    def __call__(self, s):
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.table)
            self.table.append(s)
        return i


class Profile(object):
    """Builds the message: add() samples, then encode()."""

    def __init__(self):
        self.s = _Strings()
        self.functions = {}  # (name, file) -> id
        self.locations = {}  # (function id, line) -> id
        self.samples = []
        self.parts = []

    def _location(self, function, file, line):
        fid = self.functions.get((function, file))
        if fid is None:
            fid = self.functions[(function, file)] = len(self.functions) + 1
        key = (fid, line)
        lid = self.locations.get(key)
        if lid is None:
            lid = self.locations[key] = len(self.locations) + 1
        return lid

    def add(self, frames, values, labels):
        """frames root first [(function, file, line)]; values [count, ns];
        labels [(key, str value or int)]."""
        locs = [self._location(*f) for f in reversed(frames)]
        body = _packed(1, locs) + _packed(2, values)
        for key, value in labels:
            if isinstance(value, int):
                lab = _field_varint(1, self.s(key)) + _field_varint(3, value)
            else:
                lab = _field_varint(1, self.s(key)) + _field_varint(2, self.s(value))
            body += _field_bytes(3, lab)
        self.samples.append(_field_bytes(P_SAMPLE, body))

    def encode(self, time_ns=0, comment=None):
        s = self.s
        out = [_field_bytes(P_SAMPLE_TYPE, _field_varint(1, s("tasks")) +
                            _field_varint(2, s("count"))),
               _field_bytes(P_SAMPLE_TYPE, _field_varint(1, s("wait")) +
                            _field_varint(2, s("nanoseconds")))]
        out += self.samples
        for (fid, line), lid in self.locations.items():
            out.append(_field_bytes(P_LOCATION, _field_varint(1, lid) + _field_bytes(
                4, _field_varint(1, fid) + _field_varint(2, line))))
        for (name, file), fid in self.functions.items():
            out.append(_field_bytes(P_FUNCTION, _field_varint(1, fid) +
                                    _field_varint(2, s(name)) + _field_varint(3, s(name)) +
                                    _field_varint(4, s(file))))
        if time_ns:
            out.append(_field_varint(P_TIME, time_ns))
        out.append(_field_bytes(P_PERIOD_TYPE, _field_varint(1, s("tasks")) +
                                _field_varint(2, s("count"))))
        out.append(_field_varint(P_PERIOD, 1))
        if comment:
            out.append(_field_varint(P_COMMENT, s(comment)))
        out.append(_field_varint(P_DEFAULT_TYPE, s("tasks")))
        # The string table last: every string is known by now.
        out.extend(_field_bytes(P_STRINGS, t.encode("utf-8")) for t in s.table)
        return b"".join(out)


def profile(task_stacks, grouped=False, time_ns=0, comment=None):
    """The gzipped profile of TaskStacks (stacks.py)."""
    p = Profile()
    if grouped:
        groups = {}
        for ts in task_stacks:
            key = (ts.frames, ts.state, ts.wait)
            g = groups.get(key)
            if g is None:
                groups[key] = [1, ts.wait_ns]
            else:
                g[0] += 1
                g[1] += ts.wait_ns
        for (frames, state, wait), (count, ns) in groups.items():
            p.add(frames, [count, ns], [("state", state)] + ([("wait", wait)] if wait else []))
    else:
        for ts in task_stacks:
            t = ts.task
            labels = [("task", t.id), ("name", t.name), ("state", ts.state)]
            if ts.wait:
                labels.append(("wait", ts.wait))
            p.add(ts.frames, [1, ts.wait_ns], labels)
    return gzip.compress(p.encode(time_ns, comment), mtime=0)


"""Two readings of one program compared ("is it hung or just slow?"): the
tasks that appeared, those that finished, those that made progress (were
polled) and those stuck on the same await for the whole interval, from the
records of any two sources (two documents, two readings of a PID).
"""

from . import stacks, text

FINISHED = ("complete", "cancelled")


def _where(task, now, names):
    return text.task_where(task, now, names) or "-"


def compare(a, b):
    """The diff of Snapshots `a` (earlier) and `b`: a dict of lists of
    per-task dicts (appeared, finished, progressed, stuck, other) plus the
    interval in nanoseconds (None when the clocks cannot be compared)."""
    ta = {t.id: t for _, t in a.tasks()}
    tb = {t.id: t for _, t in b.tasks()}
    interval = b.now - a.now if a.now and b.now and b.now >= a.now else None
    out = {"interval_ns": interval, "appeared": [], "finished": [], "progressed": [],
           "stuck": [], "other": []}
    names = dict(a.names)
    names.update(b.names)
    for tid in sorted(set(ta) | set(tb)):
        x, y = ta.get(tid), tb.get(tid)
        if x is None:
            if y.state not in FINISHED:
                out["appeared"].append(_entry(y, b.now, names))
            continue
        if y is None or (y.state in FINISHED and x.state not in FINISHED):
            e = _entry(x, a.now, names)
            e["now"] = y.state if y is not None else "gone"
            out["finished"].append(e)
            continue
        if y.state in FINISHED:
            continue
        e = _entry(y, b.now, names)
        polls = y.polls - x.polls
        e["polls_delta"] = polls
        if polls > 0:
            e["polls_per_s"] = polls * 1e9 / interval if interval else None
            out["progressed"].append(e)
        elif (x.state == y.state and
              stacks.task_stack(x, a.now).frames == stacks.task_stack(y, b.now).frames):
            e["stuck_ns"] = b.now - y.state_ns if b.now and y.state_ns else None
            out["stuck"].append(e)
        else:
            out["other"].append(e)
    return out


def _entry(t, now, names):
    return {"id": t.id, "name": t.name, "state": t.state, "polls": t.polls,
            "where": _where(t, now, names)}


def report_text(d, label_a, label_b):
    """The diff in words: one section per kind of change."""
    iv = d["interval_ns"]
    lines = ["%s -> %s: %s" % (label_a, label_b, "interval %s" % text.duration(iv)
                                if iv is not None else "interval unknown")]
    lines.append("%d appeared, %d finished, %d made progress, %d stuck on the same "
                 "await%s" % (len(d["appeared"]), len(d["finished"]), len(d["progressed"]),
                             len(d["stuck"]), ", %d changed without a poll" % len(d["other"])
                             if d["other"] else ""))

    def section(title, rows, header, row):
        if not rows:
            return
        lines.append("")
        lines.append(title)
        table = [header] + [row(e) for e in rows]
        widths = [max(len(r[i]) for r in table) for i in range(len(header) - 1)]
        for r in table:
            lines.append("  " + "  ".join(c.ljust(widths[i]) if i < len(widths) else c
                                          for i, c in enumerate(r)).rstrip())

    section("appeared:", d["appeared"], ("ID", "STATE", "NAME", "WHERE"),
            lambda e: ("%d" % e["id"], e["state"], '"%s"' % e["name"], e["where"]))
    section("finished:", d["finished"], ("ID", "NOW", "NAME", "WAS"),
            lambda e: ("%d" % e["id"], e["now"], '"%s"' % e["name"], e["where"]))
    section("made progress:", d["progressed"], ("ID", "POLLS", "POLLS/S", "NAME", "WHERE"),
            lambda e: ("%d" % e["id"], "+%d" % e["polls_delta"],
                       "%.1f" % e["polls_per_s"] if e.get("polls_per_s") is not None
                       else "?", '"%s"' % e["name"], e["where"]))
    section("stuck on the same await for the whole interval:", d["stuck"],
            ("ID", "STATE", "STUCK FOR", "NAME", "WHERE"),
            lambda e: ("%d" % e["id"], e["state"], text.duration(e["stuck_ns"])
                       if e.get("stuck_ns") else "?", '"%s"' % e["name"], e["where"]))
    section("changed without a poll:", d["other"], ("ID", "STATE", "NAME", "WHERE"),
            lambda e: ("%d" % e["id"], e["state"], '"%s"' % e["name"], e["where"]))
    return "\n".join(lines)

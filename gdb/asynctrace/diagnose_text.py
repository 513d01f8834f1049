"""The text of `info async-diagnose`: a diagnosis (diagnose.py) on one
screen, whatever the number of tasks.  Findings in rank order, each with its
certainty in words, at most a few tasks each ("and N more"), then what could
not be settled.  Never a verdict of "no deadlock" on a program that waits.
"""

from . import text

MAX_FINDINGS = 8  # findings printed (the JSON has them all)
MAX_TASKS = 4  # tasks printed per finding
MAX_BEHIND = 3  # tasks named behind a finding
MAX_UNSETTLED = 4  # reasons printed under "cannot be settled"


def _fmt(ns):
    fmt = getattr(text, "fmt_duration", None) or text.duration
    return fmt(ns)


def _name(name):
    quote = getattr(text, "quote_name", None)
    if quote is not None:
        return quote(name)
    return '"%s"' % name if name is not None else "(no name)"


def _task(ref):
    return "task %d %s" % (ref["task"], _name(ref.get("name")))


def _where(at):
    if not at:
        return ""
    return " at %s %s:%s" % (at["function"], text.short_file(at["file"]), at["line"])


class _Clock(object):
    def __init__(self, clock):
        self.exact = clock.get("exact")

    def dur(self, ns):
        if ns is None:
            return ""
        return " for %s%s" % ("" if self.exact else "at least ", _fmt(ns))


def _task_line(e, clock):
    line = "  " + _task(e)
    if e.get("state") not in ("idle", None):
        line += " (%s)" % e["state"]
    if e.get("lwp"):
        line += " on LWP %d" % e["lwp"]
    if e.get("syscall"):
        line += " in %s()" % e["syscall"]
    waits = e.get("waits")
    if waits is not None:
        line += " waits%s%s on %s %s" % (_where(e.get("at")), clock.dur(e.get("for_ns")),
                                         waits["kind"], waits["object"] or "")
        if e.get("waits_on_task"):
            line += " (for task %d)" % e["waits_on_task"]
    else:
        line += "%s%s" % (_where(e.get("at")), clock.dur(e.get("for_ns")))
    if e.get("due_in_ns") is not None:
        line += ", due in %s" % _fmt(e["due_in_ns"])
    return line.rstrip()


def _more(shown, total, what):
    return "  and %d more %s" % (total - shown, what) if total > shown else None


def _behind_line(b):
    if not b["count"]:
        return None
    parts = []
    for r in b["tasks"][:MAX_BEHIND]:
        w = r.get("waits")
        how = " (%s on task %d)" % (w["kind"], w["task"]) if w else ""
        parts.append("%d %s%s" % (r["task"], _name(r.get("name")), how))
    extra = b["count"] - len(parts)
    return "  stuck behind it: %s: %s%s" % (
        text.count(b["count"], "task"), ", ".join(parts),
        ", and %d more" % extra if extra > 0 else "")


def certainty_words(f):
    if f["certainty"] == "unsettled":
        return "cannot be settled from memory: " + f["why"]
    return "%s: %s" % (f["certainty"], f["why"])


def finding_lines(num, f, clock):
    lines = ["%d. %s" % (num, f["title"]), "  " + certainty_words(f)]
    for e in f["tasks"][:MAX_TASKS]:
        lines.append(_task_line(e, clock))
    more = _more(min(MAX_TASKS, len(f["tasks"])), f["count"], "tasks")
    if more:
        lines.append(more)
    behind = _behind_line(f["behind"])
    if behind:
        lines.append(behind)
    return lines


def _headline(rep):
    n = len(rep["findings"])
    proven = sum(1 for f in rep["findings"] if f["certainty"] == "proven")
    behind = sum(f["behind"]["count"] for f in rep["findings"])
    head = "asynctrace diagnosis: %s in %s, %d waiting" % (
        text.count(rep["tasks"], "task"), text.count(len(rep["runtimes"]), "runtime"),
        rep["waiting"])
    if n:
        head += "; %s (%d proven), %s stuck behind them" % (
            text.count(n, "finding"), proven, text.count(behind, "task"))
    return head


def _clock_line(clock):
    words = {"stopped": "the moment the process stopped",
             "core": "the moment the core was written",
             "runtime-clock": "the program's last clock reading",
             "document": "the document's time",
             "live": "the debugger's clock when the command ran",
             "recorded": "the program's last clock reading"}
    src = words.get(clock.get("source"), clock.get("source"))
    if clock.get("exact"):
        return "(durations measured to %s)" % src
    return "(durations measured to %s: lower bounds, said \"at least\")" % src


def _unsettled_lines(rep, clock):
    items = rep["unsettled"]
    total = sum(u["count"] for u in items)
    if not total:
        return []
    lines = ["cannot be settled from memory: %s wait%s on what this analysis cannot "
             "decide:" % (text.count(total, "task"), "s" if total == 1 else "")]
    for u in items[:MAX_UNSETTLED]:
        ex = ", ".join(_task(r) for r in u["tasks"][:2])
        lines.append("  %d on %s (%s)%s: %s%s%s" % (
            u["count"], u["kind"], u["why"],
            "" if u["longest_ns"] is None else ", the longest" + clock.dur(u["longest_ns"]),
            ex, ", ..." if u["count"] > 2 else "",
            "; %s behind" % text.count(u["behind"]["count"], "task")
            if u["behind"]["count"] else ""))
    more = _more(MAX_UNSETTLED, len(items), "reasons")
    if more:
        lines.append(more)
    return lines


def report_text(rep):
    """The report of diagnose.diagnose() as text."""
    clock = _Clock(rep["clock"])
    lines = [_headline(rep)]
    findings = rep["findings"]
    for i, f in enumerate(findings[:MAX_FINDINGS]):
        lines.extend(finding_lines(i + 1, f, clock))
    if len(findings) > MAX_FINDINGS:
        lines.append("and %d more findings (info async-diagnose --json lists them all)"
                     % (len(findings) - MAX_FINDINGS))
    if not findings:
        lines.append(_nothing_proven(rep))
    lines.extend(_unsettled_lines(rep, clock))
    lines.extend(_tail_lines(rep))
    lines.append(_clock_line(rep["clock"]))
    for e in rep["errors"][:5]:
        lines.append("note: %s (the analysis covers what was readable)" % e)
    return "\n".join(lines)


def _nothing_proven(rep):
    if not rep["waiting"]:
        return "no task is waiting: nothing to diagnose"
    return ("nothing proven stuck: no wait-for cycle, no lock or permit held by a task "
            "that is gone, no thread stuck inside a poll")


def _tail_lines(rep):
    lines = []
    mov = rep["waiting_on_movable"]["count"]
    if mov:
        lines.append("%s wait%s on other tasks that are not proven stuck" % (
            text.count(mov, "task"), "s" if mov == 1 else ""))
    sl = rep["sleeping"]
    if sl["count"]:
        due = sl["next_due_ns"]
        lines.append("%s asleep%s" % (text.count(sl["count"], "task"),
                                      "" if due is None else " (the next due in %s)"
                                      % (_fmt(due) if due >= 0 else "-" + _fmt(-due))))
    return lines

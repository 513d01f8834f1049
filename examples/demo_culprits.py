# demo_culprits.py - sourced into GDB by examples/demo.sh.
#
# Defines `demo-culprits`: finds the tasks worth a backtrace (every task
# on a deadlock cycle, and every task running on a thread: stuck in a
# blocking call or a busy loop) from the extension's JSON output, shows
# the command, and runs `async-bt` on them.
import json

import gdb


def _json(command):
    return json.loads(gdb.execute(command, to_string=True))


class DemoCulprits(gdb.Command):
    """Backtrace the deadlocked and the thread-blocking tasks."""

    def __init__(self):
        super(DemoCulprits, self).__init__("demo-culprits", gdb.COMMAND_USER)

    def invoke(self, arg, from_tty):
        ids = []
        for cycle in _json("info async-deadlocks --json").get("cycles", []):
            ids.extend(member["task"] for member in cycle)
        for rt in _json("info async-tasks --json --state running").get("runtimes", []):
            ids.extend(t["id"] for t in rt.get("tasks", []))
        ids = sorted(set(ids))
        if not ids:
            gdb.write("(no deadlocked or running task)\n")
            return
        command = "async-bt " + " ".join(str(i) for i in ids)
        gdb.write("(gdb) %s\n" % command)
        gdb.execute(command)


DemoCulprits()

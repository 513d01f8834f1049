"""ABI constants of asynctrace/abi.h that the descriptor does not carry.

The layout table gives every offset and the enum tables give every name, but
record magics and flag bits are fixed by the ABI version itself.  These values
are checked against runtime/include/asynctrace/abi.h by tests/gdb/run.py, so
they cannot drift from the header.
"""

ABI_VERSION = 3
# Versions this package reads.  Version 1 lacks the fields ABI 2 added
# (holder tables, lock sites, the clock pair, blocking jobs): the walker
# reads those only when the layout table lists them.  Version 3 has 40-byte
# frames pointing to static await records (frame.resume, record "await")
# instead of resume_line, and one wait detail word: the walker reads
# whichever the layout table lists.
ABI_VERSIONS = (1, 2, 3)
DEBUG_MAGIC = b"ATDEBUG\0"
DEBUG_SYMBOL = "asynctrace_debug"
# The descriptor's ELF section; older builds used the name without the dot.
DEBUG_SECTIONS = (".asynctrace_debug", "asynctrace_debug")

SITE_MAGIC = 0x53A7E1F1
TASK_MAGIC = 0x7A5C0DE5
RUNTIME_MAGIC = 0x2B7E1516
CONTEXT_MAGIC = 0x6C0FFEE1
MUTEX_MAGIC = 0x4D757478
SEM_MAGIC = 0x53656D61
NOTIFY_MAGIC = 0x4E6F7466
CHAN_MAGIC = 0x4368616E
ONESHOT_MAGIC = 0x4F6E6553
JOB_MAGIC = 0x4A6F6273
DEAD_MAGIC = 0xDEADF4EE

# Task state names in value order (abi.h's AT_TASK_STATES; a program
# carries them in its enum table, these serve where there is no program:
# documents, completion before a process is loaded).  Checked against
# abi.h by tests/gdb/run.py.
TASK_STATES = ("idle", "scheduled", "running", "complete", "cancelled")

# Task flags (at_task.flags), in the order the trace format lists them.
TASK_FLAGS = (
    (0x01, "in-flux"),
    (0x02, "notified"),
    (0x04, "abort"),
    (0x08, "detached"),
    (0x10, "joined"),
    (0x20, "tracing"),
    (0x40, "block-on"),
)
TF_IN_FLUX = 0x01

# Runtime flags (at_runtime.flags).
RTF_SHUTDOWN = 0x1

# at_frame.resume of a finished frame (ABI 3; 0 is "in no await").
RESUME_DONE = 1

# Channel and oneshot flags.
CHAN_CLOSED = 0x1
CHAN_UNBOUNDED = 0x2
CHAN_RX_DROPPED = 0x4
ONESHOT_SENT = 0x1
ONESHOT_TX_DROPPED = 0x2
ONESHOT_RX_DROPPED = 0x4

# The readers' rules on those flags: abi.h's AT_CHAN_IS_CLOSED,
# AT_ONESHOT_IS_CLOSED and AT_ONESHOT_SENDER_GONE, which the in-process
# snapshot applies; tests/gdb/run.py evaluates the macros' bodies and
# compares them with these for every combination of the flags.
CHAN_CLOSED_MASK = CHAN_CLOSED | CHAN_RX_DROPPED


def chan_is_closed(flags):
    """Closed for its senders: closed, or its receiver is gone."""
    return (flags & CHAN_CLOSED_MASK) != 0


def oneshot_is_closed(flags):
    """Closed for its receiver: the sender is gone unsent."""
    return (flags & ONESHOT_TX_DROPPED) != 0 and not flags & ONESHOT_SENT


def oneshot_sender_gone(flags):
    """The sender was used (sent) or dropped."""
    return (flags & (ONESHOT_TX_DROPPED | ONESHOT_SENT)) != 0


# Names the C header uses for the values above (for the consistency check).
HEADER_NAMES = {
    "AT_ABI_VERSION": ABI_VERSION,
    "AT_SITE_MAGIC": SITE_MAGIC,
    "AT_TASK_MAGIC": TASK_MAGIC,
    "AT_RUNTIME_MAGIC": RUNTIME_MAGIC,
    "AT_CONTEXT_MAGIC": CONTEXT_MAGIC,
    "AT_MUTEX_MAGIC": MUTEX_MAGIC,
    "AT_SEM_MAGIC": SEM_MAGIC,
    "AT_NOTIFY_MAGIC": NOTIFY_MAGIC,
    "AT_CHAN_MAGIC": CHAN_MAGIC,
    "AT_ONESHOT_MAGIC": ONESHOT_MAGIC,
    "AT_JOB_MAGIC": JOB_MAGIC,
    "AT_DEAD_MAGIC": DEAD_MAGIC,
    "AT_TF_IN_FLUX": 0x01,
    "AT_TF_NOTIFIED": 0x02,
    "AT_TF_ABORT": 0x04,
    "AT_TF_DETACHED": 0x08,
    "AT_TF_JOINED": 0x10,
    "AT_TF_TRACING": 0x20,
    "AT_TF_BLOCK_ON": 0x40,
    "AT_RTF_SHUTDOWN": RTF_SHUTDOWN,
    "AT_RESUME_DONE": RESUME_DONE,
    "AT_CHAN_CLOSED": CHAN_CLOSED,
    "AT_CHAN_UNBOUNDED": CHAN_UNBOUNDED,
    "AT_CHAN_RX_DROPPED": CHAN_RX_DROPPED,
    "AT_ONESHOT_SENT": ONESHOT_SENT,
    "AT_ONESHOT_TX_DROPPED": ONESHOT_TX_DROPPED,
    "AT_ONESHOT_RX_DROPPED": ONESHOT_RX_DROPPED,
    "AT_CHAN_CLOSED_MASK": CHAN_CLOSED_MASK,
}

# The flag rules above by the name of the C macro they mirror.
HEADER_RULES = {
    "AT_CHAN_IS_CLOSED": chan_is_closed,
    "AT_ONESHOT_IS_CLOSED": oneshot_is_closed,
    "AT_ONESHOT_SENDER_GONE": oneshot_sender_gone,
}

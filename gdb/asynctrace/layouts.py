"""The expected layout of every record, and the enum name tables, of each
debugger ABI version this package reads.

The descriptor carries a layout table, but a damaged table would make the
walker read the wrong field without a word (an offset moved to another
aligned, free place in its record passes every plausibility check).  So the
layout of each version is known here: abi.py compares the descriptor's
table with it, reports every difference as corruption of the layout table,
and reads with the layout below.

The entry of the current version is generated from the C definitions
(`make layouts`: tests/abi/layout_dump.c prints what the compiler lays out)
and `make test` checks it against them (tests/abi/check_layouts.py), so it
cannot drift from abi.h.  The entries of older versions are frozen copies of
what their abi.h generated: they never change.

LAYOUTS[version][record] = (record size or None, {field: (offset, size)})
ENUMS[version][table] = (names in value order)

A record's size is part of the ABI only where a reader steps by it (the
rows of a holder table): the others end in private fields the runtime may
change without a new version, so their size is None here and a table only
has to give them room for every field.
"""

SIZED_RECORDS = ("holder",)
LAYOUTS = {}
ENUMS = {}

# -- ABI 1: frozen (generated from abi.h of ABI 1, commit c5fda77^) --
LAYOUTS[1] = {
    'descriptor': (None, {
        'magic': (0, 8),
        'abi_version': (8, 4),
        'pointer_size': (12, 4),
        'descriptor_size': (16, 4),
        'layout_count': (20, 4),
        'layouts': (24, 8),
        'runtimes': (32, 8),
        'threads': (40, 8),
        'generation': (48, 8),
        'enums': (56, 8),
        'enum_count': (64, 4),
        'flags': (68, 4),
        'clock_ns': (72, 8),
        'next_task_id': (80, 8),
    }),
    'site': (None, {
        'magic': (0, 4),
        'kind': (4, 4),
        'function': (8, 8),
        'file': (16, 8),
        'line': (24, 4),
        'flags': (28, 4),
        'poll': (32, 8),
        'drop': (40, 8),
    }),
    'frame': (None, {
        'site': (0, 8),
        'parent': (8, 8),
        'child': (16, 8),
        'sibling': (24, 8),
        'resume_addr': (32, 8),
        'resume_line': (40, 4),
        'flags': (44, 4),
    }),
    'leaf': (None, {
        'wait.kind': (48, 4),
        'wait.flags': (52, 4),
        'wait.object': (56, 8),
        'wait.since_ns': (64, 8),
        'wait.detail[0]': (72, 8),
        'wait.detail[1]': (80, 8),
        'wait.detail[2]': (88, 8),
    }),
    'root_frame': (None, {
        'inner_addr': (0, 8),
        'parent': (8, 8),
        'task': (16, 8),
    }),
    'task': (None, {
        'magic': (0, 4),
        'state': (4, 4),
        'id': (8, 8),
        'parent_id': (16, 8),
        'spawn_site': (24, 8),
        'root': (32, 8),
        'runtime': (40, 8),
        'owned_next': (48, 8),
        'owned_prev': (56, 8),
        'poll_count': (64, 8),
        'created_ns': (72, 8),
        'state_ns': (80, 8),
        'poll_start_ns': (88, 8),
        'poll_end_ns': (96, 8),
        'worker': (104, 4),
        'flags': (108, 4),
        'name': (112, 32),
    }),
    'runtime': (None, {
        'magic': (0, 4),
        'flavor': (4, 4),
        'id': (8, 8),
        'next': (16, 8),
        'owned_head': (24, 8),
        'task_count': (32, 8),
        'workers': (40, 4),
        'flags': (44, 4),
        'now_ns': (48, 8),
        'spawned_total': (56, 8),
    }),
    'context': (None, {
        'magic': (0, 4),
        'role': (4, 4),
        'tid': (8, 4),
        'worker': (12, 4),
        'active': (16, 8),
        'current': (24, 8),
        'runtime': (32, 8),
        'next': (40, 8),
        'prev': (48, 8),
        'collector': (56, 8),
        'poll_start_ns': (64, 8),
    }),
    'mutex': (None, {
        'magic': (0, 4),
        'locked': (4, 4),
        'owner_id': (8, 8),
        'owner': (16, 8),
        'waiters': (24, 4),
    }),
    'semaphore': (None, {
        'magic': (0, 4),
        'waiters': (4, 4),
        'permits': (8, 8),
        'max_permits': (16, 8),
    }),
    'notify': (None, {
        'magic': (0, 4),
        'waiters': (4, 4),
        'permit': (8, 4),
    }),
    'chan': (None, {
        'magic': (0, 4),
        'flags': (4, 4),
        'capacity': (8, 8),
        'len': (16, 8),
        'senders': (24, 8),
        'rx_task_id': (32, 8),
        'send_waiters': (40, 4),
        'recv_waiters': (44, 4),
    }),
    'oneshot': (None, {
        'magic': (0, 4),
        'flags': (4, 4),
        'rx_task_id': (8, 8),
    }),
}
ENUMS[1] = {
    'task_state': ('idle', 'scheduled', 'running', 'complete', 'cancelled'),
    'frame_kind': ('async', 'leaf', 'join-all', 'select', 'timeout', 'spawn', 'block-on'),
    'resource_kind': ('none', 'sleep', 'mutex', 'semaphore', 'notify', 'channel-send', 'channel-recv', 'oneshot', 'join', 'read', 'write', 'yield', 'blocking', 'dump'),
    'flavor': ('current-thread', 'multi-thread'),
    'thread_role': ('block-on', 'worker', 'blocking'),
}
# -- end of ABI 1 --
# -- ABI 2: generated by tests/abi/check_layouts.py --write (make layouts) from runtime/include/asynctrace/abi.h --
LAYOUTS[2] = {
    'descriptor': (None, {
        'magic': (0, 8),
        'abi_version': (8, 4),
        'pointer_size': (12, 4),
        'descriptor_size': (16, 4),
        'layout_count': (20, 4),
        'layouts': (24, 8),
        'runtimes': (32, 8),
        'threads': (40, 8),
        'generation': (48, 8),
        'enums': (56, 8),
        'enum_count': (64, 4),
        'flags': (68, 4),
        'clock_ns': (72, 8),
        'next_task_id': (80, 8),
        'clock_mono_ns': (88, 8),
        'clock_real_ns': (96, 8),
    }),
    'site': (None, {
        'magic': (0, 4),
        'kind': (4, 4),
        'function': (8, 8),
        'file': (16, 8),
        'line': (24, 4),
        'flags': (28, 4),
        'poll': (32, 8),
        'drop': (40, 8),
    }),
    'frame': (None, {
        'site': (0, 8),
        'parent': (8, 8),
        'child': (16, 8),
        'sibling': (24, 8),
        'resume_addr': (32, 8),
        'resume_line': (40, 4),
        'flags': (44, 4),
    }),
    'leaf': (None, {
        'wait.kind': (48, 4),
        'wait.flags': (52, 4),
        'wait.object': (56, 8),
        'wait.since_ns': (64, 8),
        'wait.detail[0]': (72, 8),
        'wait.detail[1]': (80, 8),
        'wait.detail[2]': (88, 8),
    }),
    'root_frame': (None, {
        'inner_addr': (0, 8),
        'parent': (8, 8),
        'task': (16, 8),
    }),
    'task': (None, {
        'magic': (0, 4),
        'state': (4, 4),
        'id': (8, 8),
        'parent_id': (16, 8),
        'spawn_site': (24, 8),
        'root': (32, 8),
        'runtime': (40, 8),
        'owned_next': (48, 8),
        'owned_prev': (56, 8),
        'poll_count': (64, 8),
        'created_ns': (72, 8),
        'state_ns': (80, 8),
        'poll_start_ns': (88, 8),
        'poll_end_ns': (96, 8),
        'worker': (104, 4),
        'flags': (108, 4),
        'name': (112, 32),
    }),
    'runtime': (None, {
        'magic': (0, 4),
        'flavor': (4, 4),
        'id': (8, 8),
        'next': (16, 8),
        'owned_head': (24, 8),
        'task_count': (32, 8),
        'workers': (40, 4),
        'flags': (44, 4),
        'now_ns': (48, 8),
        'spawned_total': (56, 8),
    }),
    'context': (None, {
        'magic': (0, 4),
        'role': (4, 4),
        'tid': (8, 4),
        'worker': (12, 4),
        'active': (16, 8),
        'current': (24, 8),
        'runtime': (32, 8),
        'next': (40, 8),
        'prev': (48, 8),
        'collector': (56, 8),
        'poll_start_ns': (64, 8),
    }),
    'mutex': (None, {
        'magic': (0, 4),
        'locked': (4, 4),
        'owner_id': (8, 8),
        'owner': (16, 8),
        'waiters': (24, 4),
        'lock_site': (32, 8),
        'lock_line': (40, 4),
    }),
    'semaphore': (None, {
        'magic': (0, 4),
        'waiters': (4, 4),
        'permits': (8, 8),
        'max_permits': (16, 8),
        'untracked': (24, 8),
        'holders': (32, 128),
    }),
    'notify': (None, {
        'magic': (0, 4),
        'waiters': (4, 4),
        'permit': (8, 4),
        'last_notifier': (16, 8),
        'notified': (24, 8),
    }),
    'chan': (None, {
        'magic': (0, 4),
        'flags': (4, 4),
        'capacity': (8, 8),
        'len': (16, 8),
        'senders': (24, 8),
        'rx_task_id': (32, 8),
        'send_waiters': (40, 4),
        'recv_waiters': (44, 4),
        'tx_untracked': (48, 8),
        'tx_holders': (56, 128),
    }),
    'oneshot': (None, {
        'magic': (0, 4),
        'flags': (4, 4),
        'rx_task_id': (8, 8),
        'tx_task_id': (16, 8),
    }),
    'holder': (16, {
        'task_id': (0, 8),
        'count': (8, 8),
    }),
    'blocking_job': (None, {
        'magic': (0, 4),
        'state': (4, 4),
        'id': (8, 8),
        'tid': (16, 4),
    }),
}
ENUMS[2] = {
    'task_state': ('idle', 'scheduled', 'running', 'complete', 'cancelled'),
    'frame_kind': ('async', 'leaf', 'join-all', 'select', 'timeout', 'spawn', 'block-on'),
    'resource_kind': ('none', 'sleep', 'mutex', 'semaphore', 'notify', 'channel-send', 'channel-recv', 'oneshot', 'join', 'read', 'write', 'yield', 'blocking', 'dump'),
    'flavor': ('current-thread', 'multi-thread'),
    'thread_role': ('block-on', 'worker', 'blocking'),
}
# -- end of ABI 2 --
# -- end of generated entries --

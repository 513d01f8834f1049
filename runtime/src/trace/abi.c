/* abi.c - the debugger descriptor `asynctrace_debug`, the layout table and
 * the enum name tables, all generated from the lists in asynctrace/abi.h.
 * Every offset and size in the table is pinned here with _Static_assert, so
 * a layout change cannot go unnoticed (and must bump AT_ABI_VERSION). */
#include <stddef.h>

#include "asynctrace/abi.h"

#define AT__FIELD_SIZE(type, field) sizeof(((type *)0)->field)

/* Pin every listed field: offset and size as written in the list. */
#define AT__PIN(rec, type, field, off, size)                                   \
    _Static_assert(offsetof(type, field) == (off),                             \
                   #type "." #field " moved: update abi.h and AT_ABI_VERSION"); \
    _Static_assert(AT__FIELD_SIZE(type, field) == (size),                      \
                   #type "." #field " changed size: update abi.h and AT_ABI_VERSION");
#define AT__PIN_RECORD(rec, type, list) list(AT__PIN)
AT_LAYOUT_RECORDS(AT__PIN_RECORD)

_Static_assert(sizeof(void *) == 8, "the debugger ABI is defined for 64-bit targets");
_Static_assert(sizeof(at_frame) == 40, "at_frame size is part of the ABI");
_Static_assert(sizeof(at_await) == 16, "at_await size is part of the ABI");
_Static_assert(sizeof(at_leaf) == 72, "at_leaf size is part of the ABI");
_Static_assert(sizeof(at_runtime) == 64, "at_runtime is its debugger-visible head only");
_Static_assert(offsetof(at_task, name) + AT_TASK_NAME_MAX == 144, "task head");

/* AT_TASK_FLAG_NAMES lists the flags in bit order, one per bit. */
enum { AT__FLAG_INDEX_BASE = __COUNTER__ + 1 };
#define AT__FLAG_IN_ORDER(flag, name)                                          \
    _Static_assert((flag) == 1u << (__COUNTER__ - AT__FLAG_INDEX_BASE),        \
                   #flag " is not the next bit of AT_TASK_FLAG_NAMES");
AT_TASK_FLAG_NAMES(AT__FLAG_IN_ORDER)
#undef AT__FLAG_IN_ORDER

/* The field tables, one array per record. */
#define AT__FIELD_ENTRY(rec, type, field, off, size) {#field, (off), (size)},
#define AT__FIELD_TABLE(rec, type, list)                                       \
    static const at_layout_field at__fields_##rec[] = {list(AT__FIELD_ENTRY)};
AT_LAYOUT_RECORDS(AT__FIELD_TABLE)

#define AT__RECORD_ENTRY(rec, type, list)                                      \
    {#rec, (uint32_t)sizeof(type),                                             \
     (uint32_t)(sizeof(at__fields_##rec) / sizeof(at_layout_field)),           \
     at__fields_##rec},
static const at_layout_record at__layouts[] = {AT_LAYOUT_RECORDS(AT__RECORD_ENTRY)};

/* Enum name tables. */
#define AT__ENUM_NAME(value, name) name,
#define AT__ENUM_NAMES(table, list)                                            \
    static const char *const at__names_##table[] = {list(AT__ENUM_NAME)};
AT_ENUM_TABLES(AT__ENUM_NAMES)

#define AT__ENUM_ENTRY(table, list)                                            \
    {#table, (uint32_t)(sizeof(at__names_##table) / sizeof(char *)), 0,        \
     at__names_##table},
static const at_enum_table at__enums[] = {AT_ENUM_TABLES(AT__ENUM_ENTRY)};

/* The descriptor: statically initialised (readable before main runs, and in
 * a core of a process that never started a runtime), exported with default
 * visibility, and placed in its own section so a stripped binary yields it
 * through its section header. */
__attribute__((used, visibility("default"), section(AT_DEBUG_SECTION)))
at_debug_descriptor asynctrace_debug = {
    .magic = AT_DEBUG_MAGIC,
    .abi_version = AT_ABI_VERSION,
    .pointer_size = sizeof(void *),
    .descriptor_size = sizeof(at_debug_descriptor),
    .layout_count = sizeof(at__layouts) / sizeof(at__layouts[0]),
    .layouts = at__layouts,
    .runtimes = 0,
    .threads = 0,
    .generation = 0,
    .enums = at__enums,
    .enum_count = sizeof(at__enums) / sizeof(at__enums[0]),
    .flags = 0,
    .clock_ns = 0,
    .next_task_id = 1,
};

#define AT__NAME_FN(fn, table)                                                 \
    const char *fn(uint32_t v)                                                 \
    {                                                                          \
        return v < sizeof(at__names_##table) / sizeof(char *)                  \
                   ? at__names_##table[v]                                      \
                   : "?";                                                      \
    }
AT__NAME_FN(at_task_state_name, task_state)
AT__NAME_FN(at_frame_kind_name, frame_kind)
AT__NAME_FN(at_resource_kind_name, resource_kind)
AT__NAME_FN(at_flavor_name, flavor)
AT__NAME_FN(at_thread_role_name, thread_role)

/* Keep the .debug_gdb_scripts entry (gdb_autoload.c) in static links. */
extern const char at__gdb_autoload;
__attribute__((used)) static const char *const at__keep_gdb_autoload = &at__gdb_autoload;

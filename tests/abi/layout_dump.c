/* layout_dump.c - print the debugger ABI as the C compiler lays it out:
 * AT_ABI_VERSION, every record of AT_LAYOUT_RECORDS with sizeof and each
 * listed field's offset and size (offsetof/sizeof, not the numbers written
 * in the lists), and every enum name table, as one JSON document.
 * tests/abi/check_layouts.py compares it with the expected layouts the GDB
 * extension carries (gdb/asynctrace/layouts.py) and regenerates them. */
#include <stddef.h>
#include <stdio.h>

#include "asynctrace/abi.h"

#define FIELD_SIZE(type, field) sizeof(((type *)0)->field)

static int first_field;
static int first_record = 1;

static void field(const char *name, size_t off, size_t size)
{
    printf("%s[\"%s\", %zu, %zu]", first_field ? "" : ", ", name, off, size);
    first_field = 0;
}

#define DUMP_FIELD(rec, type, fld, off, size)                                  \
    field(#fld, offsetof(type, fld), FIELD_SIZE(type, fld));
#define DUMP_RECORD(rec, type, list)                                           \
    printf("%s\n  [\"%s\", %zu, [", first_record ? "" : ",", #rec,             \
           sizeof(type));                                                      \
    first_record = 0;                                                          \
    first_field = 1;                                                           \
    list(DUMP_FIELD) printf("]]");

#define DUMP_NAME(value, name) printf("%s\"%s\"", (value) ? ", " : "", name);
#define DUMP_ENUM(table, list)                                                 \
    printf("%s\n  [\"%s\", [", first_record ? "" : ",", #table);               \
    first_record = 0;                                                          \
    list(DUMP_NAME) printf("]]");

int main(void)
{
    printf("{\"abi\": %d, \"records\": [", (int)AT_ABI_VERSION);
    AT_LAYOUT_RECORDS(DUMP_RECORD)
    printf("],\n\"enums\": [");
    first_record = 1;
    AT_ENUM_TABLES(DUMP_ENUM)
    printf("]}\n");
    return 0;
}

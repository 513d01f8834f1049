/* error.c - names and descriptions of the AT_E* error codes, both from the
 * one list AT_ERRORS (asynctrace/future.h). */
#include "core/internal.h"

const char *at_error_name(int err)
{
    switch (err) {
#define AT__ERROR_NAME(name, value, message)                                   \
    case value:                                                                \
        return #name;
        AT_ERRORS(AT__ERROR_NAME)
#undef AT__ERROR_NAME
    }
    return NULL;
}

const char *at_strerror(int err)
{
    switch (err) {
#define AT__ERROR_TEXT(name, value, message)                                   \
    case value:                                                                \
        return message;
        AT_ERRORS(AT__ERROR_TEXT)
#undef AT__ERROR_TEXT
    }
    return "unknown error";
}

/* 14_mt_mutex_abba - scenario 02 on the multi-thread flavor (2 workers).
 * SKIP until at_runtime_new() accepts AT_FLAVOR_MULTI_THREAD. */
#define SCN_MT 1
#include "02_mutex_abba.c"

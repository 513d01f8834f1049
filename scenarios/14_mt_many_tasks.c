/* 14_mt_many_tasks - scenario 11 on the multi-thread flavor (2 workers).
 * SKIP until at_runtime_new() accepts AT_FLAVOR_MULTI_THREAD. */
#define SCN_MT 1
#include "11_many_tasks.c"

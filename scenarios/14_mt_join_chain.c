/* 14_mt_join_chain - scenario 05 on the multi-thread flavor (2 workers).
 * SKIP until at_runtime_new() accepts AT_FLAVOR_MULTI_THREAD. */
#define SCN_MT 1
#include "05_join_chain.c"

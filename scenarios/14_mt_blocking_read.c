/* 14_mt_blocking_read - scenario 07 on the multi-thread flavor (2
 * workers): one worker is stuck in read(), the runtime's other threads are
 * not.  SKIP until at_runtime_new() accepts AT_FLAVOR_MULTI_THREAD. */
#define SCN_MT 1
#include "07_blocking_read.c"

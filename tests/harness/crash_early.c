/* crash_early - dies of SIGSEGV before its checkpoint. */
#include <signal.h>

#include "scenario.h"

int main(void)
{
    raise(SIGSEGV);
    return 0;
}

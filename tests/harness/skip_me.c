/* skip_me - skips itself with a reason. */
#include "scenario.h"

int main(void)
{
    scn_skip("nothing to test on this machine");
}

/* good_napper - a correct scenario: the harness's tests run it with a
 * right expect file (ok), a wrong one (a diff naming task and frame), an
 * unparsable one, and with broken GDB output. */
#include "napper.h"

int main(void)
{
    napper_run();
}

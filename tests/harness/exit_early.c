/* exit_early - exits with status 3 before its checkpoint, after a message
 * on stderr (the harness quotes it). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "exit_early: configuration missing\n");
    return 3;
}

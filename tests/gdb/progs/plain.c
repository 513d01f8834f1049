/* plain.c - GDB test program without the asynctrace runtime: the extension
 * must say so plainly.  Prints "ready <pid>", waits for a line, exits 0. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    char line[64];
    printf("ready %d\n", (int)getpid());
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin))
        return 0;
    printf("done\n");
    return 0;
}

/* never_ready - never reaches its checkpoint, and leaves a child process
 * behind in its process group (its pid on stdout): the harness must time
 * it out and kill both. */
#include <stdio.h>
#include <unistd.h>

int main(void)
{
    pid_t child = fork();
    if (child == 0) {
        for (;;)
            pause();
    }
    printf("child %d\n", (int)child);
    fflush(stdout);
    for (;;)
        pause();
}

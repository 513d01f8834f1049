/* bad_live_json - says `ready live` but its live dump is not JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
    const char *path = getenv("ASYNCTRACE_HARNESS_DUMP");
    const char *fd = getenv("ASYNCTRACE_HARNESS_FD");
    if (!path || !fd)
        return 2;
    FILE *f = fopen(path, "w");
    if (!f)
        return 2;
    fputs("{\"format\": \"asynctrace-trace\", \"runtimes\": [", f);
    fclose(f);
    const char *line = "ready live\n";
    if (write(atoi(fd), line, strlen(line)) < 0)
        return 2;
    for (;;)
        pause();
}

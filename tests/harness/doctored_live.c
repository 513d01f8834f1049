/* doctored_live - a correct scene whose live dump is altered before it is
 * written (task 2 renamed, its sleeping frame moved to another line): the
 * live-versus-offline comparison must name both differences. */
#include <string.h>

#include "napper.h"

static void doctor(at_dump *d)
{
    for (size_t r = 0; r < d->nruntimes; r++)
        for (size_t i = 0; i < d->runtimes[r].ntasks; i++) {
            at_dump_task *t = &d->runtimes[r].tasks[i];
            if (t->id != 2)
                continue;
            strcpy(t->name, "renamed");
            if (t->await)
                t->await->line += 1000;
        }
}

int main(void)
{
    scn_set_live_hook(doctor);
    napper_run();
}

/* 24_oneshot_never_sent - a reply that will never come.
 *
 * "server" (task 2) creates the oneshot `reply` (so it holds the sender),
 * then finishes without sending and without dropping the sender (handle
 * kept: complete).  "client" (task 3) waits for the reply forever; main
 * (task 1) joins the client.  The oneshot is not closed (its sender was
 * never dropped); when the runtime records which task created a oneshot,
 * info async-diagnose names the client stuck on a sender held by a task
 * that exited.  Checkpoint (quiet, live). */
#include "scenario.h"

static at_oneshot *reply;

typedef struct {
    AT_FRAME;
} server_state;

/* The bug on show: an early return that forgets the reply. */
AT_ASYNC_FN(server, server_state)
{
    AT_BEGIN(server_state);
    reply = at_oneshot_new(sizeof(int));
    SCN_CHECK(reply);
    AT_END;
}

static at_frame *server(server_state *s) { return AT_START(s, server); }

typedef struct {
    AT_FRAME;
    int value;
    at_oneshot_recv_fut recv;
} client_state;

AT_ASYNC_FN(client, client_state)
{
    AT_BEGIN(client_state);
    AT_AWAIT(at_oneshot_recv(&self->recv, reply, &self->value)); /* @await:client */
    AT_END;
}

static at_frame *client(client_state *s) { return AT_START(s, client); }

typedef struct {
    AT_FRAME;
    at_join_handle server, client;
    at_join_fut join;
} main_state;

AT_ASYNC_FN(main_task, main_state)
{
    AT_BEGIN(main_state);
    self->server = AT_SPAWN(NULL, "server", server_state, server);
    SCN_CHECK(self->server.task);
    AT_AWAIT(at_join(&self->join, self->server));
    self->client = AT_SPAWN(NULL, "client", client_state, client);
    SCN_CHECK(self->client.task);
    AT_AWAIT(at_join(&self->join, self->client));
    AT_END;
}

int main(void)
{
    at_runtime *rt = scn_runtime(0, 0);
    static main_state st;
    scn_checkpoint_quiet1(rt, 3);
    at_block_on(rt, AT_START(&st, main_task), "main");
    scn_fail("the main task returned");
}

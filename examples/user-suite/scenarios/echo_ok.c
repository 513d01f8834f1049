/* echo_ok - a tiny request/reply service: "server" (task 2) doubles the
 * numbers it receives on a request channel and sends them back on a reply
 * channel.  main (task 1) sends three requests, checks the three replies,
 * and says the sequence is done; the checkpoint then proves that nothing
 * is stuck and the server waits for the next request. */
#include <asynctrace/scenario.h>

static at_chan *requests, *replies;

typedef struct {
    AT_FRAME;
    int n;
    union {
        at_chan_recv_fut recv;
        at_chan_send_fut send;
    } aw;
} serve_state;

AT_ASYNC_FN(serve, serve_state)
{
    AT_BEGIN(serve_state);
    for (;;) {
        AT_AWAIT(at_chan_recv(&self->aw.recv, requests, &self->n));
        if (self->aw.recv.status)
            AT_RETURN;
        self->n *= 2;
        AT_AWAIT(at_chan_send(&self->aw.send, replies, &self->n));
    }
    AT_END;
}

static at_frame *serve(serve_state *s) { return AT_START(s, serve); }

typedef struct {
    AT_FRAME;
    at_join_handle server;
    int i, reply;
    union {
        at_chan_send_fut send;
        at_chan_recv_fut recv;
        at_sleep_fut nap;
    } aw;
} client_state;

AT_ASYNC_FN(client, client_state)
{
    AT_BEGIN(client_state);
    self->server = AT_SPAWN(NULL, "server", serve_state, serve);
    AT_SCENARIO_CHECK(self->server.task);
    for (self->i = 1; self->i <= 3; self->i++) {
        AT_AWAIT(at_chan_send(&self->aw.send, requests, &self->i));
        AT_AWAIT(at_chan_recv(&self->aw.recv, replies, &self->reply));
        AT_SCENARIO_CHECK(self->aw.recv.status == 0 && self->reply == 2 * self->i);
    }
    at_scenario_done();
    AT_AWAIT(at_sleep(&self->aw.nap, 3600 * AT_SEC));
    AT_END;
}

int main(void)
{
    at_runtime *rt = at_scenario_runtime(0, 0);
    static client_state st;
    requests = at_chan_new_unbounded(sizeof(int), NULL);
    replies = at_chan_new_unbounded(sizeof(int), NULL);
    AT_SCENARIO_CHECK(requests && replies);
    at_scenario_checkpoint_done(rt, 2);
    at_block_on(rt, AT_START(&st, client), "main");
    at_scenario_fail("the main task returned");
}

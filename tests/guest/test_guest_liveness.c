/* Liveness and honesty of the guest connection against a scripted guest (script-guest.h):
 * a stop waits for the guest's answer, not only for the exit; a stop whose exit never
 * comes ends within COW_TIMEOUT_STOP; console resizes reach the guest one at a time, the
 * newest size last; a create whose stdio the guest never connects ends within the stdio
 * bound or at the bridge's death, with its listeners gone; after a lost connection every
 * call on every handle fails with COW_EBRIDGE_CLOSED and every error names the cause. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cow/sys/container.h"
#include "cow/sys/op.h"
#include "cow/sys/process.h"
#include "guest/host-results.h"
#include "guest/script-guest.h"

#define CID     "c1"
#define OK_BODY "{\"Result\":0}"

static cow_container_t *create_container(sg_t *g)
{
  char *doc = sg_container_doc("/b");
  cow_container_t *c = NULL;
  sg_res_t r = {0};
  assert_int_equal(cow_guest_create_container(&c, g->host, CID, doc, sg_on_cont, &r), 0);
  free(doc);
  sg_run_until(g, &r.calls);
  assert_int_equal(r.status, 0);
  return c;
}

static void guest_create(sg_t *g)
{
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_CREATE, &id));
  sg_send(g, COW__MSG_CREATE_RESPONSE, id, OK_BODY);
}

/* ======================= a stop waits for the answer ======================= */

/* The agent sends the exit notification while it still handles the shutdown (it serves
 * requests in parallel); it answers only after the host showed, with a marker request,
 * that it has seen the exit. Whatever the host does when its stop completes (here:
 * DeleteContainerState, as lcow-exec and a shim do) must come after that answer. */
static void s_answer_after_exit(sg_t *g)
{
  sg_negotiate(g, NULL);
  guest_create(g);
  uint64_t s, id;
  json_decref(sg_expect(g, COW__MSG_SHUTDOWN_GRACEFUL, &s));
  sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0,
          "{\"ContainerId\":\"" CID "\",\"Type\":\"GracefulExit\",\"Operation\":\"None\","
          "\"Result\":0}");
  cow__frame_t f = {0};
  if (sg_read(g, &f) != 1) {
    sg_fail(g, "bridge ended before the marker");
    return;
  }
  if (f.hdr.type == COW__MSG_DELETE_CONTAINER_STATE)
    sg_fail(g, "DeleteContainerState arrived while ShutdownGraceful was still unanswered");
  else if (f.hdr.type != COW__MSG_GET_PROPERTIES)
    sg_fail(g, "expected the GetProperties marker, got 0x%08X", (unsigned)f.hdr.type);
  id = f.hdr.id;
  cow__frame_release(&f);
  sg_send(g, COW__MSG_GET_PROPERTIES_RESPONSE, id, "{\"Result\":0,\"Properties\":\"{}\"}");
  sg_send(g, COW__MSG_SHUTDOWN_GRACEFUL_RESPONSE, s, OK_BODY);
  json_decref(sg_expect(g, COW__MSG_DELETE_CONTAINER_STATE, &id));
  sg_send(g, COW__MSG_DELETE_CONTAINER_STATE_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

struct stop_ctx {
  sg_t *g;
  cow_container_t *c;
  sg_res_t stop, exit, marker, del;
  int stop_done_at_marker;
};

static void send_marker(void *object, void *payload)
{
  (void)object;
  struct stop_ctx *x = payload;
  /* Two loop-queue hops after the exit: a stop that completed on the exit alone has been
   * delivered by now, and its DeleteContainerState is already on the wire. */
  x->stop_done_at_marker = x->stop.calls;
  assert_int_equal(cow_container_properties(x->c, NULL, sg_on_json, &x->marker), 0);
}

static void on_exit_seen(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct stop_ctx *x = data;
  sg_res_set(&x->exit, status, err);
  assert_int_equal(cow_event_post(cow_container_event_id(c), send_marker, x), 0);
}

static void on_stop_then_delete(cow_container_t *c, int status, int forced, const cow_error_t *err,
                                void *data)
{
  (void)c;
  struct stop_ctx *x = data;
  sg_res_set(&x->stop, status, err);
  x->stop.forced = forced;
  assert_int_equal(cow_guest_delete_container_state(x->g->host, CID, sg_on_host, &x->del), 0);
}

static void stop_waits_for_the_shutdown_answer(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_answer_after_exit, NULL, 0);
  struct stop_ctx x = {0};
  x.g = &g;
  x.c = create_container(&g);
  assert_int_equal(cow_container_stop(x.c, 60000, on_stop_then_delete, &x), 0);
  /* Registered after the stop's own waiter, so it is released after it. */
  assert_int_equal(cow_container_wait(x.c, on_exit_seen, &x), 0);
  sg_run_until(&g, &x.del.calls);
  assert_int_equal(x.exit.status, 0);
  assert_int_equal(x.stop_done_at_marker, 0);
  assert_int_equal(x.marker.calls, 1);
  assert_int_equal(x.stop.calls, 1);
  assert_int_equal(x.stop.status, 0);
  assert_int_equal(x.stop.forced, 0);
  assert_int_equal(x.del.status, 0);
  sg_close_container(&g, x.c);
  sg_finish(&g);
  assert_int_equal(x.stop.calls + x.exit.calls + x.marker.calls + x.del.calls, 4);
}

/* ======================= a stop is bounded ======================= */

/* Shutdown and terminate acknowledged, the exit notification never sent. */
static void s_no_exit(sg_t *g)
{
  sg_negotiate(g, NULL);
  guest_create(g);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_SHUTDOWN_GRACEFUL, &id));
  sg_send(g, COW__MSG_SHUTDOWN_GRACEFUL_RESPONSE, id, OK_BODY);
  json_decref(sg_expect(g, COW__MSG_SHUTDOWN_FORCED, &id));
  sg_send(g, COW__MSG_SHUTDOWN_FORCED_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

static void stop_without_exit_is_bounded(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_no_exit, NULL, 0);
  cow_container_t *c = create_container(&g);
  assert_int_equal(cow_container_set_timeout(c, COW_TIMEOUT_STOP, 40), 0);
  sg_res_t st = {0};
  assert_int_equal(cow_container_stop(c, 20, sg_on_cstop, &st), 0);
  sg_run_until(&g, &st.calls);
  assert_int_equal(st.status, COW_ETIMEDOUT);
  assert_int_equal(st.forced, 1);
  if (strstr(st.msg, "no exit") == NULL || strstr(st.msg, "COW_TIMEOUT_STOP") == NULL)
    fail_msg("the stop's error does not say what was missing: \"%s\"", st.msg);
  assert_int_equal(sg_bridge_error(&g, NULL, 0), 0); /* the connection is fine */
  assert_false(cow_container_exited(c));
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(st.calls, 1);
}

/* A process: the kill acknowledged, the wait never answered. */
static void s_kill_no_exit(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":9}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  json_decref(sg_expect(g, COW__MSG_SIGNAL_PROCESS, &id));
  sg_send(g, COW__MSG_SIGNAL_PROCESS_RESPONSE, id, OK_BODY);
  sg_drain_bridge(g);
}

static void process_stop_without_exit_is_bounded(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_kill_no_exit, NULL, 0);
  cow_process_t *p = NULL;
  sg_res_t cr = {0}, st = {0};
  assert_int_equal(
      cow_host_create_process(&p, g.host, "{\"CommandArgs\":[\"x\"]}", sg_on_proc, &cr), 0);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  assert_int_equal(cow_process_set_timeout(p, COW_TIMEOUT_STOP, 30), 0);
  assert_int_equal(cow_process_stop(p, NULL, 0, sg_on_pstop, &st), 0);
  sg_run_until(&g, &st.calls);
  assert_int_equal(st.status, COW_ETIMEDOUT);
  if (strstr(st.msg, "no exit") == NULL)
    fail_msg("the stop's error does not say what was missing: \"%s\"", st.msg);
  sg_close_process(&g, p);
  sg_finish(&g);
  assert_int_equal(st.calls + cr.calls, 2);
}

/* ======================= resizes in order ======================= */

/* Collects the resizes that arrive before the SignalProcess marker, answers in reverse
 * order of arrival (as a parallel agent may), then answers what follows. Leaves the
 * widths seen, in order, in result[1..], their count in result[0]. */
static void s_resizes(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id, held[8];
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":9}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  int n = 0, nheld = 0;
  for (;;) {
    cow__frame_t f = {0};
    if (sg_read(g, &f) != 1) {
      sg_fail(g, "bridge ended before the marker");
      return;
    }
    json_t *j = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
    uint32_t type = f.hdr.type;
    if (nheld < 8)
      held[nheld++] = f.hdr.id;
    cow__frame_release(&f);
    if (type == COW__MSG_SIGNAL_PROCESS) {
      json_decref(j);
      break;
    }
    SG_CHECK(g, type == COW__MSG_RESIZE_CONSOLE);
    if (n < 15)
      g->result[1 + n++] = (int)json_integer_value(json_object_get(j, "Width"));
    json_decref(j);
  }
  /* Reverse order: the marker first, then the resizes, newest first. */
  sg_send(g, COW__MSG_SIGNAL_PROCESS_RESPONSE, held[--nheld], OK_BODY);
  while (nheld > 0)
    sg_send(g, COW__MSG_RESIZE_CONSOLE_RESPONSE, held[--nheld], OK_BODY);
  /* Whatever the host sends next is a resize carrying the newest size (or nothing). */
  cow__frame_t f = {0};
  while (sg_read(g, &f) == 1) {
    json_t *j = json_loadb((const char *)f.payload, f.payload_len, 0, NULL);
    if (f.hdr.type == COW__MSG_RESIZE_CONSOLE) {
      if (n < 15)
        g->result[1 + n++] = (int)json_integer_value(json_object_get(j, "Width"));
      sg_send(g, COW__MSG_RESIZE_CONSOLE_RESPONSE, f.hdr.id, OK_BODY);
    }
    json_decref(j);
    cow__frame_release(&f);
  }
  g->result[0] = n;
}

static void resizes_one_at_a_time_newest_last(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_resizes, NULL, 0);
  cow_process_t *p = NULL;
  sg_res_t cr = {0}, r[3] = {{0}}, sig = {0};
  assert_int_equal(cow_host_create_process(&p, g.host,
                                           "{\"CommandArgs\":[\"x\"],\"EmulateConsole\":true}",
                                           sg_on_proc, &cr),
                   0);
  sg_run_until(&g, &cr.calls);
  assert_int_equal(cr.status, 0);
  static const uint16_t widths[3] = {80, 100, 120};
  for (int i = 0; i < 3; i++)
    assert_int_equal(cow_process_resize_console(p, widths[i], 40, sg_on_proc, &r[i]), 0);
  assert_int_equal(cow_process_signal(p, "{\"Signal\":28}", sg_on_proc, &sig), 0);
  sg_run_until(&g, &r[2].calls);
  sg_run_until(&g, &sig.calls);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].status, 0);
  }
  sg_close_process(&g, p);
  sg_finish(&g);
  /* The guest saw 80 alone, and 120 (100 coalesced into it) only after answering 80. */
  assert_int_equal(g.result[0], 2);
  assert_int_equal(g.result[1], 80);
  assert_int_equal(g.result[2], 120);
  for (int i = 0; i < 3; i++)
    assert_int_equal(r[i].calls, 1);
}

/* A resize in flight and one waiting behind it when the process is closed: both callers
 * get COW_ECANCELED, once; nothing leaks. */
static void s_resize_unanswered(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":9}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  json_decref(sg_expect(g, COW__MSG_RESIZE_CONSOLE, &id));
  sg_drain_bridge(g);
}

static void resize_queue_cancelled_at_close(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_resize_unanswered, NULL, 0);
  cow_process_t *p = NULL;
  sg_res_t cr = {0}, r[3] = {{0}};
  assert_int_equal(cow_host_create_process(&p, g.host,
                                           "{\"CommandArgs\":[\"x\"],\"EmulateConsole\":true}",
                                           sg_on_proc, &cr),
                   0);
  sg_run_until(&g, &cr.calls);
  for (int i = 0; i < 3; i++)
    assert_int_equal(cow_process_resize_console(p, (uint16_t)(10 + i), 5, sg_on_proc, &r[i]), 0);
  sg_run_for(&g, 10);
  sg_close_process(&g, p);
  for (int i = 0; i < 3; i++) {
    assert_int_equal(r[i].calls, 1);
    assert_int_equal(r[i].status, COW_ECANCELED);
  }
  sg_finish(&g);
  for (int i = 0; i < 3; i++)
    assert_int_equal(r[i].calls, 1);
}

/* ======================= a create that never ends ======================= */

/* ExecuteProcess and WaitForProcess answered, stdout never dialled; then, with iarg, the
 * bridge closed by the guest. */
static void s_no_dial(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":9}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, id, "{\"Result\":0,\"ExitCode\":0}");
  if (g->iarg) {
    shutdown(g->fd, SHUT_RDWR);
    return;
  }
  sg_drain_bridge(g);
}

static void create_without_stdio_dials(int close_bridge, int expect, const char *part)
{
  sg_t g = {0};
  g.iarg = close_bridge;
  cow_guest_options_t opts = COW_GUEST_OPTIONS_INIT;
  if (!close_bridge)
    opts.stdio_timeout_ms = 50;
  sg_start_ok(&g, s_no_dial, &opts, 1);
  cow_process_t *p = NULL;
  sg_res_t cr = {0}, w = {0};
  assert_int_equal(cow_host_create_process(&p, g.host,
                                           "{\"CommandArgs\":[\"x\"],\"CreateStdOutPipe\":true}",
                                           sg_on_proc, &cr),
                   0);
  assert_int_equal(cow_process_wait(p, sg_on_wait, &w), 0);
  sg_run_until(&g, &cr.calls);
  sg_run_until(&g, &w.calls);
  assert_int_equal(cr.status, expect);
  if (strstr(cr.msg, part) == NULL)
    fail_msg("create's error \"%s\" lacks \"%s\"", cr.msg, part);
  assert_int_equal(w.status, expect); /* the waiters learn why */
  sg_close_process(&g, p);
  sg_finish(&g); /* fails if the stdout listener is still in the port directory */
  assert_int_equal(cr.calls + w.calls, 2);
}

static void create_bounded_when_stdio_never_connects(void **state)
{
  (void)state;
  create_without_stdio_dials(0, COW_ETIMEDOUT, "did not connect stdout");
}

static void create_ends_when_the_bridge_dies_first(void **state)
{
  (void)state;
  create_without_stdio_dials(1, COW_EBRIDGE_CLOSED, "closed");
}

/* ======================= after a lost connection ======================= */

static void s_lost(sg_t *g)
{
  sg_negotiate(g, NULL);
  guest_create(g);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_EXECUTE_PROCESS, &id));
  sg_send(g, COW__MSG_EXECUTE_PROCESS_RESPONSE, id, "{\"Result\":0,\"ProcessId\":9}");
  json_decref(sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id));
  /* A second negotiate answer kills the bridge: a protocol violation with a cause. */
  sg_send(g, COW__MSG_NEGOTIATE_PROTOCOL_RESPONSE, 0, SG_NEGOTIATED);
  sg_drain_bridge(g);
}

static void every_call_fails_after_the_loss(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_lost, NULL, 0);
  cow_container_t *c = create_container(&g);
  cow_process_t *p = NULL;
  sg_res_t cr = {0}, w = {0}, cw = {0}, cb = {0};
  assert_int_equal(cow_host_create_process(&p, g.host,
                                           "{\"CommandArgs\":[\"x\"],\"EmulateConsole\":true}",
                                           sg_on_proc, &cr),
                   0);
  assert_int_equal(cow_process_wait(p, sg_on_wait, &w), 0);
  assert_int_equal(cow_container_wait(c, sg_on_cont, &cw), 0);
  sg_run_until(&g, &w.calls);
  sg_run_until(&g, &cw.calls);
  char cause[512];
  assert_int_equal(sg_bridge_error(&g, cause, sizeof cause), COW_EPROTOCOL);
  /* The waits carry the cause and name themselves. */
  assert_int_equal(w.status, COW_EBRIDGE_CLOSED);
  assert_int_equal(cw.status, COW_EBRIDGE_CLOSED);
  if (strstr(w.msg, cause) == NULL || strstr(cw.msg, cause) == NULL)
    fail_msg("a wait's error does not carry the cause \"%s\": \"%s\" / \"%s\"", cause, w.msg,
             cw.msg);
  assert_string_equal(cw.op, "wait");

  /* Process: every call refused at once, no callback. */
  assert_int_equal(cow_process_kill(p, sg_on_proc, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_process_signal(p, NULL, sg_on_proc, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_process_resize_console(p, 10, 10, sg_on_proc, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_process_close_stdin(p, sg_on_proc, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_process_stop(p, NULL, 10, sg_on_pstop, &cb), COW_EBRIDGE_CLOSED);
  /* Container. */
  assert_int_equal(cow_container_start(c, sg_on_cont, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_container_shutdown(c, sg_on_cont, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_container_terminate(c, sg_on_cont, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_container_stop(c, 10, sg_on_cstop, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_container_properties(c, NULL, sg_on_json, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_container_properties_v2(c, NULL, sg_on_json, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_container_modify(c, "{}", sg_on_cont, &cb), COW_EBRIDGE_CLOSED);
  cow_process_t *q = NULL;
  assert_int_equal(cow_host_create_process(&q, cow_container_host(c), "{}", sg_on_proc, &cb),
                   COW_EBRIDGE_CLOSED);
  /* Connection. */
  assert_int_equal(
      cow_host_create_process(&q, g.host, "{\"CommandArgs\":[\"x\"]}", sg_on_proc, &cb),
      COW_EBRIDGE_CLOSED);
  char *doc = sg_container_doc("/b");
  cow_container_t *c2 = NULL;
  assert_int_equal(cow_guest_create_container(&c2, g.host, "c2", doc, sg_on_cont, &cb),
                   COW_EBRIDGE_CLOSED);
  free(doc);
  assert_int_equal(cow_guest_modify(g.host, "{}", sg_on_host, &cb), COW_EBRIDGE_CLOSED);
  assert_int_equal(cow_guest_delete_container_state(g.host, CID, sg_on_host, &cb),
                   COW_EBRIDGE_CLOSED);
  /* The reason is one call away from every handle. */
  cow_error_t e = COW_ERROR_INIT;
  assert_int_equal(cow_guest_bridge_error(cow_process_host(p), &e), COW_EPROTOCOL);
  cow_error_clear(&e);
  assert_int_equal(cow_guest_bridge_error(cow_container_host(c), &e), COW_EPROTOCOL);
  cow_error_clear(&e);
  sg_run_for(&g, 10);
  assert_int_equal(cb.calls, 0);
  sg_close_process(&g, p);
  sg_close_container(&g, c);
  sg_finish(&g);
  assert_int_equal(cb.calls, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(stop_waits_for_the_shutdown_answer),
      cmocka_unit_test(stop_without_exit_is_bounded),
      cmocka_unit_test(process_stop_without_exit_is_bounded),
      cmocka_unit_test(resizes_one_at_a_time_newest_last),
      cmocka_unit_test(resize_queue_cancelled_at_close),
      cmocka_unit_test(create_bounded_when_stdio_never_connects),
      cmocka_unit_test(create_ends_when_the_bridge_dies_first),
      cmocka_unit_test(every_call_fails_after_the_loss),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

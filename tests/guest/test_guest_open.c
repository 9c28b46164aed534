/* Opening processes by pid on a guest connection (cow_host_open_process), against a
 * scripted guest: what goes on the wire (a ProcessList lookup for a container's process,
 * then WaitForProcess; no lookup for a utility-VM process), and what the host reports for
 * a listed pid, an unlisted one and one the guest does not know. With
 * cow_guest_open_container() this is how a container the connection did not create is
 * followed to its exit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "guest/script-guest.h"

#define CID     "c0ffee00-0000-4000-8000-0000000000e1"
#define NULL_ID "00000000-0000-0000-0000-000000000000"

typedef struct res {
  int calls, status;
  int64_t code;
} res_t;

static void on_proc(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  res_t *r = data;
  r->calls++;
  r->status = status;
  assert_int_equal(err != NULL, status < 0);
}

static void on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  on_proc(p, status, err, data);
  ((res_t *)data)->code = code;
}

static void on_cont(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  res_t *r = data;
  r->calls++;
  r->status = status;
  assert_int_equal(err != NULL, status < 0);
}

static void on_pclosed(cow_process_t *p, void *data)
{
  (void)p;
  ((res_t *)data)->calls++;
}

static void on_cclosed(cow_container_t *c, void *data)
{
  (void)c;
  ((res_t *)data)->calls++;
}

/* The next request must be a ProcessList lookup of CID; answered with `list`. */
static void answer_lookup(sg_t *g, const char *list)
{
  uint64_t id;
  json_t *req = sg_expect(g, COW__MSG_GET_PROPERTIES, &id);
  const char *cid = json_string_value(json_object_get(req, "ContainerId"));
  const char *query = json_string_value(json_object_get(req, "Query"));
  SG_CHECK(g, cid != NULL && strcmp(cid, CID) == 0);
  SG_CHECK(g, query != NULL && strstr(query, "\"ProcessList\"") != NULL);
  json_decref(req);
  sg_sendf(g, COW__MSG_GET_PROPERTIES_RESPONSE, id, "{\"Result\":0,\"Properties\":\"%s\"}", list);
}

/* The next request must be WaitForProcess for `pid` in container `cid`; its id. */
static uint64_t expect_wait(sg_t *g, const char *cid, int64_t pid)
{
  uint64_t id;
  json_t *req = sg_expect(g, COW__MSG_WAIT_FOR_PROCESS, &id);
  const char *c = json_string_value(json_object_get(req, "ContainerId"));
  SG_CHECK(g, c != NULL && strcmp(c, cid) == 0);
  SG_CHECK(g, json_integer_value(json_object_get(req, "ProcessId")) == pid);
  SG_CHECK(g, json_integer_value(json_object_get(req, "TimeoutInMs")) == 0xFFFFFFFF);
  json_decref(req);
  return id;
}

static void s_open(sg_t *g)
{
  sg_negotiate(g, NULL);
  /* 1: the init (57) of a container the connection did not create */
  answer_lookup(g, "{\\\"ProcessList\\\":[{\\\"ProcessId\\\":1},{\\\"ProcessId\\\":57}]}");
  uint64_t w = expect_wait(g, CID, 57);
  sg_wait_host(g); /* the host has its handle: now the init exits */
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w, "{\"Result\":0,\"ExitCode\":137}");
  sg_send(g, COW__MSG_CONTAINER_NOTIFICATION, 0,
          "{\"ContainerId\":\"" CID "\",\"Type\":\"ForcedExit\",\"Operation\":\"None\","
          "\"Result\":0}");
  /* 2: a pid the container does not list: no wait follows the lookup */
  answer_lookup(g, "{\\\"ProcessList\\\":[{\\\"ProcessId\\\":1}]}");
  /* 3: a malformed list */
  answer_lookup(g, "{\\\"ProcessList\\\":{}}");
  /* 4: a utility-VM process: no lookup is possible, the wait goes at once */
  w = expect_wait(g, NULL_ID, 300);
  sg_send(g, COW__MSG_WAIT_FOR_PROCESS_RESPONSE, w,
          "{\"Result\":-2147023728,\"ErrorMessage\":\"process 300 not found\"}");
  sg_expect_eof(g);
}

static void open_by_pid(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_open, NULL, 0);
  cow_container_t *c = NULL;
  res_t cw = {0};
  assert_int_equal(cow_guest_open_container(&c, g.host, CID), 0);
  assert_int_equal(cow_container_wait(c, on_cont, &cw), 0);
  /* 1 */
  cow_process_t *init = NULL;
  res_t o = {0}, w = {0};
  assert_int_equal(cow_host_open_process(&init, cow_container_host(c), 57, on_proc, &o), 0);
  assert_int_equal(cow_process_wait(init, on_wait, &w), 0);
  sg_run_until(&g, &o.calls);
  assert_int_equal(o.status, 0);
  assert_int_equal(cow_process_pid(init), 57);
  sg_signal(&g);
  sg_run_until(&g, &w.calls);
  assert_int_equal(w.status, 0);
  assert_int_equal(w.code, 137);
  cow_timestamp_t t;
  assert_int_equal(cow_process_exit_time(&t, init), 0);
  sg_run_until(&g, &cw.calls); /* the notification follows the init's wait */
  assert_int_equal(cw.status, 0);
  assert_string_equal(cow_guest_container_exit_type(c), "ForcedExit");
  /* 2 */
  cow_process_t *p = NULL;
  res_t o2 = {0}, w2 = {0};
  assert_int_equal(cow_host_open_process(&p, cow_container_host(c), 99, on_proc, &o2), 0);
  assert_int_equal(cow_process_wait(p, on_wait, &w2), 0);
  sg_run_until(&g, &o2.calls);
  assert_int_equal(o2.status, COW_ENOENT);
  sg_run_until(&g, &w2.calls);
  assert_int_equal(w2.status, COW_ENOENT);
  assert_int_equal(w2.code, -1);
  /* 3 */
  cow_process_t *m = NULL;
  res_t o3 = {0};
  assert_int_equal(cow_host_open_process(&m, cow_container_host(c), 5, on_proc, &o3), 0);
  sg_run_until(&g, &o3.calls);
  assert_int_equal(o3.status, COW_EPROTOCOL);
  /* 4 */
  cow_process_t *u = NULL;
  res_t o4 = {0}, w4 = {0};
  assert_int_equal(cow_host_open_process(&u, g.host, 300, on_proc, &o4), 0);
  assert_int_equal(cow_process_wait(u, on_wait, &w4), 0);
  sg_run_until(&g, &o4.calls);
  assert_int_equal(o4.status, 0); /* nothing could be checked before the wait */
  sg_run_until(&g, &w4.calls);
  assert_int_equal(w4.status, COW_ENOENT);
  res_t closed = {0};
  cow_process_t *all[] = {init, p, m, u};
  for (int i = 0; i < 4; i++)
    assert_int_equal(cow_process_close(all[i], on_pclosed, &closed), 0);
  assert_int_equal(cow_container_close(c, on_cclosed, &closed), 0);
  sg_run_count(&g, &closed.calls, 5);
  sg_finish(&g);
}

static void s_close_during_lookup(sg_t *g)
{
  sg_negotiate(g, NULL);
  uint64_t id;
  json_decref(sg_expect(g, COW__MSG_GET_PROPERTIES, &id));
  sg_wait_host(g); /* the host closed its handle meanwhile */
  sg_sendf(g, COW__MSG_GET_PROPERTIES_RESPONSE, id,
           "{\"Result\":0,\"Properties\":\"{\\\"ProcessList\\\":[{\\\"ProcessId\\\":8}]}\"}");
  sg_expect_eof(g); /* and no wait is sent for a handle that is gone */
}

/* A close while the lookup is in flight: the open completes with COW_ECANCELED at once;
 * the late answer is absorbed and starts nothing. */
static void close_during_lookup(void **state)
{
  (void)state;
  sg_t g = {0};
  sg_start_ok(&g, s_close_during_lookup, NULL, 0);
  cow_container_t *c = NULL;
  assert_int_equal(cow_guest_open_container(&c, g.host, CID), 0);
  cow_process_t *p = NULL;
  res_t o = {0}, closed = {0};
  assert_int_equal(cow_host_open_process(&p, cow_container_host(c), 8, on_proc, &o), 0);
  assert_int_equal(cow_process_close(p, on_pclosed, &closed), 0);
  sg_run_until(&g, &o.calls);
  assert_int_equal(o.status, COW_ECANCELED);
  sg_signal(&g);
  sg_run_until(&g, &closed.calls);
  assert_int_equal(cow_container_close(c, on_cclosed, &closed), 0);
  sg_run_count(&g, &closed.calls, 2);
  sg_finish(&g);
  assert_int_equal(o.calls, 1);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(open_by_pid),
      cmocka_unit_test(close_during_lookup),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

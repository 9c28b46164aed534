/* The host side's records of the scripted-guest tests (host-results.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>

#include "guest/host-results.h"

void sg_res_set(sg_res_t *r, int status, const cow_error_t *err)
{
  r->calls++;
  r->status = status;
  r->sys = err ? err->sys_code : 0;
  snprintf(r->msg, sizeof r->msg, "%s", err && err->message ? err->message : "");
  snprintf(r->op, sizeof r->op, "%s", err && err->operation ? err->operation : "");
}

void sg_on_host(cow_host_t *h, int status, const cow_error_t *err, void *data)
{
  (void)h;
  sg_res_set(data, status, err);
}

void sg_on_text(cow_host_t *h, int status, const char *text, const cow_error_t *err, void *data)
{
  (void)h;
  sg_res_t *r = data;
  sg_res_set(r, status, err);
  snprintf(r->text, sizeof r->text, "%s", text ? text : "(null)");
}

void sg_on_cont(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  sg_res_set(data, status, err);
}

void sg_on_json(cow_container_t *c, int status, const char *json, const cow_error_t *err,
                void *data)
{
  (void)c;
  sg_res_t *r = data;
  sg_res_set(r, status, err);
  snprintf(r->text, sizeof r->text, "%s", json ? json : "(null)");
}

void sg_on_proc(cow_process_t *p, int status, const cow_error_t *err, void *data)
{
  (void)p;
  sg_res_set(data, status, err);
}

void sg_on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data)
{
  (void)p;
  sg_res_t *r = data;
  sg_res_set(r, status, err);
  r->code = code;
}

void sg_on_cstop(cow_container_t *c, int status, int forced, const cow_error_t *err, void *data)
{
  (void)c;
  sg_res_t *r = data;
  sg_res_set(r, status, err);
  r->forced = forced;
}

void sg_on_pstop(cow_process_t *p, int status, int64_t code, int forced, const cow_error_t *err,
                 void *data)
{
  (void)p;
  sg_res_t *r = data;
  sg_res_set(r, status, err);
  r->code = code;
  r->forced = forced;
}

void sg_on_pclosed(cow_process_t *p, void *data)
{
  (void)p;
  ((sg_res_t *)data)->calls++;
}

void sg_on_cclosed(cow_container_t *c, void *data)
{
  (void)c;
  ((sg_res_t *)data)->calls++;
}

void sg_close_process(sg_t *g, cow_process_t *p)
{
  sg_res_t r = {0};
  assert_int_equal(cow_process_close(p, sg_on_pclosed, &r), 0);
  sg_run_until(g, &r.calls);
  assert_int_equal(r.calls, 1);
}

void sg_close_container(sg_t *g, cow_container_t *c)
{
  sg_res_t r = {0};
  assert_int_equal(cow_container_close(c, sg_on_cclosed, &r), 0);
  sg_run_until(g, &r.calls);
  assert_int_equal(r.calls, 1);
}

void sg_drain_bridge(sg_t *g)
{
  cow__frame_t f = {0};
  while (sg_read(g, &f) == 1)
    cow__frame_release(&f);
}

/* Blocking forms of the container and host calls (<cow/container.h>, <cow/host.h>). */
#include "blocking/blocking.h"

#include "core/alloc.h"
#include "core/error.h"
#include "core/stats.h"

static int einval(cow_error_t *err, const char *what)
{
  return cow__error_set(err, COW_EINVAL, COW_DOMAIN_LIB, 0, what, NULL,
                        "a required argument is NULL");
}

/* ---- operations ---- */

static void ctr_done(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  cow__breq_finish(data, status, err);
}

static int start_start(struct breq *r)
{
  return cow_container_start(r->obj, ctr_done, r);
}
static int start_shutdown(struct breq *r)
{
  return cow_container_shutdown(r->obj, ctr_done, r);
}
static int start_terminate(struct breq *r)
{
  return cow_container_terminate(r->obj, ctr_done, r);
}
static int start_wait(struct breq *r)
{
  return cow_container_wait(r->obj, ctr_done, r);
}
static int start_modify(struct breq *r)
{
  return cow_container_modify(r->obj, r->text, ctr_done, r);
}
static int start_pause(struct breq *r)
{
  return cow_container_pause(r->obj, ctr_done, r);
}
static int start_resume(struct breq *r)
{
  return cow_container_resume(r->obj, ctr_done, r);
}

int cow_blocking_container_start(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                 cow_error_t *err)
{
  return c ? cow__blocking_call(b, start_start, c, NULL, t, err, NULL) : einval(err, "start");
}
int cow_blocking_container_shutdown(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                    cow_error_t *err)
{
  return c ? cow__blocking_call(b, start_shutdown, c, NULL, t, err, NULL) : einval(err, "shutdown");
}
int cow_blocking_container_terminate(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                     cow_error_t *err)
{
  return c ? cow__blocking_call(b, start_terminate, c, NULL, t, err, NULL)
           : einval(err, "terminate");
}
int cow_blocking_container_wait(cow_blocking_t *b, cow_container_t *c, uint64_t t, cow_error_t *err)
{
  return c ? cow__blocking_call(b, start_wait, c, NULL, t, err, NULL) : einval(err, "wait");
}
int cow_blocking_container_modify(cow_blocking_t *b, cow_container_t *c, const char *request,
                                  uint64_t t, cow_error_t *err)
{
  return c && request ? cow__blocking_call(b, start_modify, c, request, t, err, NULL)
                      : einval(err, "modify");
}

int cow_blocking_container_pause(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                 cow_error_t *err)
{
  return c ? cow__blocking_call(b, start_pause, c, NULL, t, err, NULL) : einval(err, "pause");
}
int cow_blocking_container_resume(cow_blocking_t *b, cow_container_t *c, uint64_t t,
                                  cow_error_t *err)
{
  return c ? cow__blocking_call(b, start_resume, c, NULL, t, err, NULL) : einval(err, "resume");
}

static void ctr_stopped(cow_container_t *c, int status, int forced, const cow_error_t *err,
                        void *data)
{
  struct breq *r = data;
  (void)c;
  r->forced = forced;
  cow__breq_finish(r, status, err);
}

static int start_stop(struct breq *r)
{
  return cow_container_stop(r->obj, r->grace_ms, ctr_stopped, r);
}

int cow_blocking_container_stop(int *forced, cow_blocking_t *b, cow_container_t *c,
                                uint64_t grace_ms, uint64_t t, cow_error_t *err)
{
  return cow__blocking_stop(NULL, forced, b, start_stop, c, NULL, grace_ms, t, err);
}

static void props_done(cow_container_t *c, int status, const char *json, const cow_error_t *err,
                       void *data)
{
  struct breq *r = data;
  (void)c;
  if (status == 0 && json != NULL && (r->json = cow__strdup(json)) == NULL)
    status = COW_ENOMEM;
  cow__breq_finish(r, status, err);
}

static int start_props(struct breq *r)
{
  if (r->flag)
    return cow_container_properties_v2(r->obj, r->text, props_done, r);
  return cow_container_properties(r->obj, r->text, props_done, r);
}

int cow_blocking_container_properties(char **json_out, cow_blocking_t *b, cow_container_t *c,
                                      int v2, const char *query, uint64_t t, cow_error_t *err)
{
  if (json_out != NULL)
    *json_out = NULL;
  if (c == NULL || json_out == NULL || b == NULL)
    return einval(err, "properties");
  struct breq *r = cow__breq_new(start_props, c, query);
  if (r == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, "properties", NULL, NULL);
  r->flag = v2 != 0;
  struct breq *kept = NULL;
  int rc = cow__breq_run(b, r, t, err, &kept);
  return cow__blocking_take_json(json_out, rc, kept);
}

/* ---- typed process list and statistics ---- */

static void list_done(cow_container_t *c, int status, const cow_process_list_t *list,
                      const cow_error_t *err, void *data)
{
  struct breq *r = data;
  if (status == 0 && (r->result = cow__process_list_new(list->items, list->count)) == NULL)
    status = COW_ENOMEM;
  cow__breq_finish(r, status, err);
}

static void stats_done(cow_container_t *c, int status, const cow_statistics_t *stats,
                       const cow_error_t *err, void *data)
{
  struct breq *r = data;
  if (status == 0 && (r->result = cow__statistics_dup(stats)) == NULL)
    status = COW_ENOMEM;
  cow__breq_finish(r, status, err);
}

static int start_list(struct breq *r)
{
  return cow_container_process_list(r->obj, list_done, r);
}

static int start_stats(struct breq *r)
{
  return cow_container_statistics(r->obj, stats_done, r);
}

/* Run a typed query and hand its block over in `*out` (NULL on failure). */
static int typed_query(void **out, int (*start)(struct breq *r), const char *what,
                       cow_blocking_t *b, cow_container_t *c, uint64_t t, cow_error_t *err)
{
  if (out != NULL)
    *out = NULL;
  if (c == NULL || out == NULL || b == NULL)
    return einval(err, what);
  struct breq *r = cow__breq_new(start, c, NULL);
  if (r == NULL)
    return cow__error_set(err, COW_ENOMEM, COW_DOMAIN_LIB, 0, what, NULL, NULL);
  struct breq *kept = NULL;
  int rc = cow__breq_run(b, r, t, err, &kept);
  if (kept != NULL) {
    if (rc == 0) {
      *out = kept->result;
      kept->result = NULL;
    }
    cow__breq_free(kept);
  }
  return rc;
}

int cow_blocking_container_process_list(cow_process_list_t **out, cow_blocking_t *b,
                                        cow_container_t *c, uint64_t t, cow_error_t *err)
{
  if (out == NULL)
    return einval(err, "process_list");
  void *got = NULL;
  int rc = typed_query(&got, start_list, "process_list", b, c, t, err);
  *out = got;
  return rc;
}

int cow_blocking_container_statistics(cow_statistics_t **out, cow_blocking_t *b, cow_container_t *c,
                                      uint64_t t, cow_error_t *err)
{
  if (out == NULL)
    return einval(err, "statistics");
  void *got = NULL;
  int rc = typed_query(&got, start_stats, "statistics", b, c, t, err);
  *out = got;
  return rc;
}

/* ---- queries (finished inside their start) ---- */

static int start_id(struct breq *r)
{
  const char *id = cow_container_id(r->obj);
  int rc = id != NULL && (r->json = cow__strdup(id)) == NULL ? COW_ENOMEM : 0;
  cow__breq_finish(r, rc, NULL);
  return 0;
}

int cow_blocking_container_id(char **id, cow_blocking_t *b, cow_container_t *c)
{
  if (id != NULL)
    *id = NULL;
  if (id == NULL || c == NULL)
    return COW_EINVAL;
  struct breq *kept = NULL;
  int rc = cow__blocking_call(b, start_id, c, NULL, 0, NULL, &kept);
  return cow__blocking_take_json(id, rc, kept);
}

static int start_exited(struct breq *r)
{
  cow__breq_finish(r, cow_container_exited(r->obj), NULL);
  return 0;
}

int cow_blocking_container_exited(cow_blocking_t *b, cow_container_t *c)
{
  return c ? cow__blocking_call(b, start_exited, c, NULL, 0, NULL, NULL) : COW_EINVAL;
}

static int start_wait_error(struct breq *r)
{
  cow_error_t e = COW_ERROR_INIT;
  int rc = cow_container_wait_error(r->obj, &e);
  cow__breq_finish(r, rc, &e);
  cow_error_clear(&e);
  return 0;
}

int cow_blocking_container_wait_error(cow_blocking_t *b, cow_container_t *c, cow_error_t *err)
{
  if (c == NULL)
    return einval(err, "wait_error");
  int rc = cow__blocking_call(b, start_wait_error, c, NULL, 0, err, NULL);
  if (rc == COW_ENOT_EXITED && err != NULL)
    cow_error_clear(err); /* not an error of the call: the container has not exited */
  return rc;
}

int cow_blocking_container_exit_time(cow_timestamp_t *out, cow_blocking_t *b, cow_container_t *c)
{
  return cow__blocking_exit_time(out, b, COW__BK_CONTAINER, c);
}

int cow_blocking_container_set_timeout(cow_blocking_t *b, cow_container_t *c,
                                       cow_timeout_kind_t kind, uint64_t timeout_ms)
{
  return cow__blocking_set_timeout(b, COW__BK_CONTAINER, c, kind, timeout_ms);
}

int cow_blocking_host_set_timeout(cow_blocking_t *b, cow_host_t *h, cow_timeout_kind_t kind,
                                  uint64_t timeout_ms)
{
  return cow__blocking_set_timeout(b, COW__BK_HOST, h, kind, timeout_ms);
}

static int start_host_os(struct breq *r)
{
  r->extra = (void *)cow_host_os(r->obj); /* static storage (no extra_free) */
  r->code = cow_host_is_oci(r->obj);
  cow__breq_finish(r, 0, NULL);
  return 0;
}

/* Both host queries in one request: the OS name is static storage. */
static int host_os(const char **os, int *oci, cow_blocking_t *b, cow_host_t *h)
{
  if (h == NULL)
    return COW_EINVAL;
  struct breq *r = NULL;
  int rc = cow__blocking_call(b, start_host_os, h, NULL, 0, NULL, &r);
  if (r == NULL)
    return rc;
  if (os != NULL)
    *os = r->extra;
  if (oci != NULL)
    *oci = (int)r->code;
  cow__breq_free(r);
  return rc;
}

const char *cow_blocking_host_os(cow_blocking_t *b, cow_host_t *h)
{
  const char *os = NULL;
  return host_os(&os, NULL, b, h) == 0 ? os : NULL;
}

int cow_blocking_host_is_oci(cow_blocking_t *b, cow_host_t *h)
{
  int oci = 0;
  int rc = host_os(NULL, &oci, b, h);
  return rc < 0 ? rc : oci;
}

int cow_blocking_container_close(cow_blocking_t *b, cow_container_t *c, uint64_t timeout_ms,
                                 cow_error_t *err)
{
  return cow__blocking_close_handle(b, COW__BK_CONTAINER, c, timeout_ms, err);
}

int cow_blocking_host_close(cow_blocking_t *b, cow_host_t *h, uint64_t timeout_ms, cow_error_t *err)
{
  return cow__blocking_close_handle(b, COW__BK_HOST, h, timeout_ms, err);
}

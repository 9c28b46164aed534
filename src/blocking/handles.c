/* The handles the blocking API handed out, and closing them.
 *
 * The asynchronous API lets a container or a connection be closed while handles opened on
 * it are still open: its close callback then waits until they are closed too. A blocking
 * caller would wait in the close for something only it can do, so the blocking API keeps
 * a record of what it handed out and refuses such a close at once (COW_EBUSY, naming what
 * is still open) instead. The record also catches a second close of the same handle
 * (COW_ECLOSING). Everything here runs on the loop thread. */
#include "blocking/blocking.h"

#include <stdio.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/handle.h"
#include "cow/config.h"

struct bhandle {
  cow__list link;
  cow_blocking_t *b;
  enum cow__bkind kind;
  void *obj;
  void *parent;
  int closing;
  int made; /* handed out by the API (not a handle of the caller's, recorded to close it) */
  cow__bdone_cb done; /* while closing */
  void *done_arg;
};

static struct bhandle *find(cow_blocking_t *b, const void *obj)
{
  for (cow__list *n = b->handles.next; n != &b->handles; n = n->next) {
    struct bhandle *h = cow__container_of(n, struct bhandle, link);
    if (h->obj == obj)
      return h;
  }
  return NULL;
}

int cow__bh_add(cow_blocking_t *b, enum cow__bkind kind, void *obj, void *parent)
{
  struct bhandle *h = cow__calloc(1, sizeof *h);
  if (h == NULL)
    return COW_ENOMEM;
  h->b = b;
  h->kind = kind;
  h->obj = obj;
  h->parent = parent;
  h->made = 1;
  cow__list_insert_tail(&b->handles, &h->link);
  return 0;
}

void cow__bh_host_data_free(cow_host_t *host, void *arg)
{
  (void)arg;
  cow__free(cow_host_get_data(host));
}

int cow__bh_open_count(cow_blocking_t *b)
{
  int n = 0;
  for (cow__list *l = b->handles.next; l != &b->handles; l = l->next)
    n += !cow__container_of(l, struct bhandle, link)->closing;
  return n;
}

/* Open handles whose close must come before `obj`'s: [0] processes, [1] containers. */
static void open_children(cow_blocking_t *b, const void *obj, int count[2])
{
  count[0] = count[1] = 0;
  for (cow__list *l = b->handles.next; l != &b->handles; l = l->next) {
    struct bhandle *h = cow__container_of(l, struct bhandle, link);
    if (h->parent == obj && !h->closing)
      count[h->kind == COW__BK_PROCESS ? 0 : 1]++;
  }
}

enum cow__bkind cow__bh_kind(cow_blocking_t *b, const void *obj)
{
  struct bhandle *h = obj != NULL ? find(b, obj) : NULL;
  if (h != NULL)
    return h->kind;
  /* A container's host view is not recorded; its container is. */
  for (cow__list *l = b->handles.next; obj != NULL && l != &b->handles; l = l->next) {
    h = cow__container_of(l, struct bhandle, link);
    if (h->kind == COW__BK_CONTAINER && (const void *)cow_container_host(h->obj) == obj)
      return COW__BK_HOST;
  }
  return COW__BK_NONE;
}

void cow__bh_lost_cause(enum cow__bkind kind, void *obj, cow_error_t *err)
{
  cow_host_t *host = NULL;
  const char *id = NULL;
  cow_error_t stored = COW_ERROR_INIT; /* the loss the handle itself recorded */
  if (kind == COW__BK_PROCESS) {
    cow_process_t *p = obj;
    host = cow_process_host(p);
    if (cow__process_lost(p))
      cow_error_copy(&stored, &p->exit_err);
  } else if (kind == COW__BK_CONTAINER) {
    host = cow_container_host(obj);
    id = cow_container_id(obj);
    cow_container_wait_error(obj, &stored);
  } else if (kind == COW__BK_HOST) {
    host = obj;
    cow_container_t *c = cow_host_container(host);
    id = c != NULL ? cow_container_id(c) : NULL;
  }
#if COW_HAVE_BACKEND_GUEST
  /* A guest connection keeps the cause of its death: quote it as its requests do. */
  cow_error_t cause = COW_ERROR_INIT;
  if (host != NULL && cow_guest_bridge_error(host, &cause) < 0) {
    cow__error_bridge_closed(err, NULL, id, cause.message);
    cow_error_clear(&cause);
    cow_error_clear(&stored);
    return;
  }
  cow_error_clear(&cause);
#endif
  if (stored.code == COW_EBRIDGE_CLOSED)
    cow_error_move(err, &stored);
  else
    cow__error_set(err, COW_EBRIDGE_CLOSED, COW_DOMAIN_LIB, 0, NULL, id, NULL);
  cow_error_clear(&stored);
}

static void closed(struct bhandle *h)
{
  cow__bdone_cb done = h->done;
  void *arg = h->done_arg;
  cow__list_remove(&h->link);
  cow__free(h);
  if (done != NULL)
    done(arg, 0, NULL);
}

static void process_closed(void *arg)
{
  closed(arg);
}
static void container_closed(cow_container_t *c, void *arg)
{
  (void)c;
  closed(arg);
}
static void host_closed(cow_host_t *host, void *arg)
{
  struct bhandle *h = arg;
  if (h->made) /* what the API hung on it (a connection's stream) goes with it */
    cow__bh_host_data_free(host, NULL);
  closed(h);
}

static void refuse(cow__bdone_cb done, void *arg, int code, const char *msg)
{
  cow_error_t e = COW_ERROR_INIT;
  cow__error_set(&e, code, COW_DOMAIN_LIB, 0, "close", NULL, "%s", msg);
  if (done != NULL)
    done(arg, code, &e);
  cow_error_clear(&e);
}

void cow__bh_close(cow_blocking_t *b, enum cow__bkind kind, void *obj, cow__bdone_cb done,
                   void *arg)
{
  if (kind == COW__BK_HOST && cow_host_container(obj) != NULL) {
    kind = COW__BK_CONTAINER; /* a container's host view: closing it closes the container */
    obj = cow_host_container(obj);
  }
  struct bhandle *h = find(b, obj);
  if (h != NULL && h->closing) {
    refuse(done, arg, COW_ECLOSING, "the handle is already being closed");
    return;
  }
  int children[2];
  open_children(b, obj, children);
  if (children[0] + children[1] > 0) {
    char msg[160];
    snprintf(msg, sizeof msg,
             "%d process and %d container handles opened on it are still open: close them first",
             children[0], children[1]);
    refuse(done, arg, COW_EBUSY, msg);
    return;
  }
  if (h == NULL) {
    /* A handle the API did not hand out (made through cow_blocking_run()): close it all
     * the same, with a record for the time of the close. */
    if (cow__bh_add(b, kind, obj, NULL) != 0) {
      refuse(done, arg, COW_ENOMEM, "no memory to close the handle");
      return;
    }
    h = find(b, obj);
    h->made = 0;
  }
  h->closing = 1;
  h->done = done;
  h->done_arg = arg;
  int rc = 0;
  if (kind == COW__BK_PROCESS)
    cow__bproc_close(obj, process_closed, h);
  else if (kind == COW__BK_CONTAINER)
    rc = cow_container_close(obj, container_closed, h);
  else
    rc = cow_host_close(obj, host_closed, h);
  if (rc != 0) {
    cow__list_remove(&h->link);
    cow__free(h);
    refuse(done, arg, rc, "the handle cannot be closed");
  }
}

static void close_done(void *arg, int status, const cow_error_t *err)
{
  cow__breq_finish(arg, status, err);
}

static int start_close(struct breq *r)
{
  cow__bh_close(r->b, (enum cow__bkind)r->flag, r->obj, close_done, r);
  return 0;
}

int cow__blocking_close_handle(cow_blocking_t *b, enum cow__bkind kind, void *obj,
                               uint64_t timeout_ms, cow_error_t *err)
{
  struct breq *r = obj != NULL && b != NULL ? cow__breq_new(start_close, obj, NULL) : NULL;
  if (r == NULL)
    return cow__error_set(err, obj == NULL || b == NULL ? COW_EINVAL : COW_ENOMEM, COW_DOMAIN_LIB,
                          0, "close", NULL, NULL);
  r->flag = (int)kind;
  return cow__breq_run(b, r, timeout_ms, err, NULL);
}

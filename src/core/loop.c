/* Per-loop state, the event queue and the id table; see loop.h. */
#include "core/loop.h"

#include <string.h>
#ifndef _WIN32
#  include <signal.h>
#endif

#include "core/alloc.h"
#include "core/log.h"
#include "cow/error.h"
#include "cow/sys/op.h"

/* Global state: the registry of loops and the id table share one mutex. Lock order:
 * global_mutex, then a loop's mutex. */
static uv_once_t global_once = UV_ONCE_INIT;
static uv_mutex_t global_mutex;
static int global_ok;
static cow__list loops = {&loops, &loops};

struct id_slot {
  uint64_t id; /* 0: empty; UINT64_MAX: deleted */
  void *object;
  struct cow__loop *lp;
};
static struct id_slot *ids;
static size_t ids_cap;  /* power of two */
static size_t ids_used; /* live + deleted slots */
static size_t ids_live;
static uint64_t next_id = 1;

#define ID_DELETED UINT64_MAX

static void global_init(void)
{
  global_ok = uv_mutex_init(&global_mutex) == 0;
}

static int global_lock(void)
{
  uv_once(&global_once, global_init);
  if (!global_ok)
    return COW_ENOMEM;
  uv_mutex_lock(&global_mutex);
  return 0;
}

static void drain(struct cow__loop *lp)
{
  cow__list batch;
  cow__list_init(&batch);
  uv_mutex_lock(&lp->mutex);
  cow__list_move(&lp->queue, &batch);
  uv_mutex_unlock(&lp->mutex);
  if (lp->local) {
    lp->local = 0;
    uv_idle_stop(&lp->idle);
    uv_check_stop(&lp->check);
  }
  /* Events posted while this batch runs wait for the next drain: a foreign post has
   * signalled the async handle again, a local one has restarted idle and check. */
  while (!cow__list_empty(&batch)) {
    cow__list *n = batch.next;
    cow__list_remove(n);
    struct cow__event *ev = cow__container_of(n, struct cow__event, link);
    ev->run(ev);
  }
}

static void async_cb(uv_async_t *async)
{
  drain(cow__container_of(async, struct cow__loop, async));
}

static void check_cb(uv_check_t *check)
{
  drain(cow__container_of(check, struct cow__loop, check));
}

static void idle_cb(uv_idle_t *idle)
{
  (void)idle; /* being active is its job: the poll of this turn does not block */
}

static void loop_free_cb(uv_handle_t *h)
{
  struct cow__loop *lp = h->data;
  if (--lp->closing > 0)
    return;
  uv_mutex_destroy(&lp->mutex);
  cow__free(lp);
}

/* A write to a peer that went away (a guest that died, a reader that closed its end) must
 * fail with EPIPE, not kill the host process: libuv writes with write(2), which raises
 * SIGPIPE. So when SIGPIPE is still at its default the library ignores it, once; a handler
 * or disposition the application chose is left alone. Documented in <cow/process.h>. */
static void sigpipe_once(void)
{
#ifndef _WIN32
  struct sigaction old;
  if (sigaction(SIGPIPE, NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
      !(old.sa_flags & SA_SIGINFO)) {
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, NULL);
  }
#endif
}
static uv_once_t sigpipe_guard = UV_ONCE_INIT;

int cow__loop_acquire(uv_loop_t *loop, struct cow__loop **out)
{
  *out = NULL;
  uv_once(&sigpipe_guard, sigpipe_once);
  int rc = global_lock();
  if (rc != 0)
    return rc;
  struct cow__loop *lp = NULL;
  for (cow__list *n = loops.next; n != &loops; n = n->next) {
    struct cow__loop *cand = cow__container_of(n, struct cow__loop, registry_link);
    if (cand->loop != loop)
      continue;
    if (uv_is_closing((uv_handle_t *)&cand->async)) {
      /* Someone closed our handle behind our back (every handle of a loop closed by force,
       * as a test teardown does after a failure) and the address now holds a new loop:
       * the old state belongs to objects that can no longer run. Forget it. */
      cow__list_remove(n);
      break;
    }
    lp = cand;
    break;
  }
  if (lp == NULL) {
    lp = cow__calloc(1, sizeof *lp);
    if (lp == NULL)
      goto nomem;
    if (uv_mutex_init(&lp->mutex) != 0) {
      cow__free(lp);
      goto nomem;
    }
    if (uv_async_init(loop, &lp->async, async_cb) != 0) {
      uv_mutex_destroy(&lp->mutex);
      cow__free(lp);
      goto nomem;
    }
    /* Cannot fail on a loop that accepted the async handle. */
    uv_idle_init(loop, &lp->idle);
    uv_check_init(loop, &lp->check);
    lp->loop = loop;
    cow__deadlines_init(lp);
    lp->async.data = lp->idle.data = lp->check.data = lp;
    /* Idle libcow state must not keep the caller's loop alive; pending operations
     * re-reference the async handle through cow__loop_activity(), which covers queued
     * local events too (each one belongs to an op or a finalisation in progress). */
    uv_unref((uv_handle_t *)&lp->async);
    uv_unref((uv_handle_t *)&lp->idle);
    uv_unref((uv_handle_t *)&lp->check);
    cow__list_init(&lp->queue);
    cow__list_insert_tail(&loops, &lp->registry_link);
  }
  lp->refs++;
  uv_mutex_unlock(&global_mutex);
  *out = lp;
  return 0;
nomem:
  uv_mutex_unlock(&global_mutex);
  return COW_ENOMEM;
}

int cow__loop_in_use(uv_loop_t *loop)
{
  if (global_lock() != 0)
    return 0;
  int found = 0;
  for (cow__list *n = loops.next; n != &loops && !found; n = n->next) {
    struct cow__loop *cand = cow__container_of(n, struct cow__loop, registry_link);
    found = cand->loop == loop && !uv_is_closing((uv_handle_t *)&cand->async);
  }
  uv_mutex_unlock(&global_mutex);
  return found;
}

void cow__loop_release(struct cow__loop *lp)
{
  uv_mutex_lock(&global_mutex);
  if (--lp->refs > 0) {
    uv_mutex_unlock(&global_mutex);
    return;
  }
  cow__list_remove(&lp->registry_link);
  uv_mutex_unlock(&global_mutex);
  /* No handle is left, so nothing can post to it any more (posting needs a live id), and
   * no deadline is armed (each belongs to a handle or an op). */
  lp->closing = 4;
  uv_close((uv_handle_t *)&lp->async, loop_free_cb);
  uv_close((uv_handle_t *)&lp->idle, loop_free_cb);
  uv_close((uv_handle_t *)&lp->check, loop_free_cb);
  lp->timer.data = lp;
  uv_close((uv_handle_t *)&lp->timer, loop_free_cb);
}

void cow__loop_post(struct cow__loop *lp, struct cow__event *ev)
{
  uv_mutex_lock(&lp->mutex);
  cow__list_insert_tail(&lp->queue, &ev->link);
  uv_mutex_unlock(&lp->mutex);
  if (!lp->local) {
    lp->local = 1;
    uv_idle_start(&lp->idle, idle_cb);
    uv_check_start(&lp->check, check_cb);
  }
}

/* From any thread: the loop is woken through the async handle. */
static void post_foreign(struct cow__loop *lp, struct cow__event *ev)
{
  uv_mutex_lock(&lp->mutex);
  cow__list_insert_tail(&lp->queue, &ev->link);
  uv_mutex_unlock(&lp->mutex);
  uv_async_send(&lp->async);
}

void cow__loop_activity(struct cow__loop *lp, int delta)
{
  unsigned before = lp->active;
  lp->active = (unsigned)((int)lp->active + delta);
  if (before == 0 && lp->active > 0)
    uv_ref((uv_handle_t *)&lp->async);
  else if (before > 0 && lp->active == 0)
    uv_unref((uv_handle_t *)&lp->async);
}

/* ---- id table: open addressing, linear probing, tombstones; global_mutex held ---- */

static struct id_slot *id_find(uint64_t id)
{
  if (ids_cap == 0)
    return NULL;
  size_t mask = ids_cap - 1;
  for (size_t i = (size_t)(id * 0x9E3779B97F4A7C15ull) & mask, n = 0; n < ids_cap;
       i = (i + 1) & mask, n++) {
    if (ids[i].id == id)
      return &ids[i];
    if (ids[i].id == 0)
      return NULL;
  }
  return NULL;
}

static int id_grow(void)
{
  size_t cap = ids_cap ? ids_cap * 2 : 64;
  size_t live = 0;
  for (size_t i = 0; i < ids_cap; i++)
    live += ids[i].id != 0 && ids[i].id != ID_DELETED;
  if (live * 4 < ids_cap)
    cap = ids_cap; /* mostly tombstones: rehash at the same size */
  struct id_slot *fresh = cow__calloc(cap, sizeof *fresh);
  if (fresh == NULL)
    return COW_ENOMEM;
  size_t mask = cap - 1;
  for (size_t i = 0; i < ids_cap; i++) {
    if (ids[i].id == 0 || ids[i].id == ID_DELETED)
      continue;
    size_t j = (size_t)(ids[i].id * 0x9E3779B97F4A7C15ull) & mask;
    while (fresh[j].id != 0)
      j = (j + 1) & mask;
    fresh[j] = ids[i];
  }
  cow__free(ids);
  ids = fresh;
  ids_cap = cap;
  ids_used = live;
  return 0;
}

int cow__id_register(struct cow__loop *lp, void *object, uint64_t *out_id)
{
  int rc = global_lock();
  if (rc != 0)
    return rc;
  if ((ids_used + 1) * 2 > ids_cap && (rc = id_grow()) != 0) {
    uv_mutex_unlock(&global_mutex);
    return rc;
  }
  uint64_t id = next_id++;
  size_t mask = ids_cap - 1;
  size_t i = (size_t)(id * 0x9E3779B97F4A7C15ull) & mask;
  while (ids[i].id != 0 && ids[i].id != ID_DELETED)
    i = (i + 1) & mask;
  if (ids[i].id == 0)
    ids_used++;
  ids_live++;
  ids[i].id = id;
  ids[i].object = object;
  ids[i].lp = lp;
  uv_mutex_unlock(&global_mutex);
  *out_id = id;
  return 0;
}

void cow__id_unregister(uint64_t id)
{
  if (global_lock() != 0)
    return;
  struct id_slot *s = id_find(id);
  if (s != NULL) {
    s->id = ID_DELETED;
    s->object = NULL;
    s->lp = NULL;
    if (--ids_live == 0) {
      /* Nothing registered: give the table back, so an idle library holds no memory. */
      cow__free(ids);
      ids = NULL;
      ids_cap = ids_used = 0;
    }
  }
  uv_mutex_unlock(&global_mutex);
}

void *cow__id_lookup(uint64_t id)
{
  if (global_lock() != 0)
    return NULL;
  struct id_slot *s = id_find(id);
  void *obj = s ? s->object : NULL;
  uv_mutex_unlock(&global_mutex);
  return obj;
}

/* ---- foreign-thread events ---- */

struct foreign_event {
  struct cow__event ev;
  uint64_t id;
  cow_event_cb cb;
  void *payload;
};

static void foreign_run(struct cow__event *ev)
{
  struct foreign_event *fe = cow__container_of(ev, struct foreign_event, ev);
  /* The id may have been unregistered after posting: then the object is gone and the
   * callback only releases the payload. */
  void *obj = cow__id_lookup(fe->id);
  cow_event_cb cb = fe->cb;
  void *payload = fe->payload;
  cow__free(fe);
  cb(obj, payload);
}

int cow_event_post(uint64_t object_id, cow_event_cb cb, void *payload)
{
  if (cb == NULL || object_id == 0)
    return COW_EINVAL;
  struct foreign_event *fe = cow__malloc(sizeof *fe);
  if (fe == NULL)
    return COW_ENOMEM;
  fe->ev.run = foreign_run;
  fe->id = object_id;
  fe->cb = cb;
  fe->payload = payload;
  int rc = global_lock();
  if (rc != 0) {
    cow__free(fe);
    return rc;
  }
  struct id_slot *s = id_find(object_id);
  if (s == NULL) {
    uv_mutex_unlock(&global_mutex);
    cow__free(fe);
    return COW_ENOENT;
  }
  /* Posting under global_mutex: the loop state cannot be released meanwhile, because
   * releasing needs every id on it unregistered first, which takes this mutex. */
  post_foreign(s->lp, &fe->ev);
  uv_mutex_unlock(&global_mutex);
  return 0;
}

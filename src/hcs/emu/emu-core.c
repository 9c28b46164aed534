/* The emulator instance ("the service"): start on first handle, stop on last close, the
 * handle table, and the strings handed out through the two APIs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/json.h"
#include "cow/error.h"
#include "core/log.h"
#include "hcs/common/utf16.h"
#include "hcs/emu/emu-internal.h"

pthread_mutex_t cow__emu_lock = PTHREAD_MUTEX_INITIALIZER;

static struct emu *g_emu;    /* running instance */
static struct emu *g_zombie; /* stopped from its own dispatcher: still to be joined */
static int g_stopping;       /* a thread is joining the previous instance */
static pthread_cond_t g_idle_cv;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Thread_local int t_dispatcher;

/* Handle values: (generation << 20) | (slot + 1). A closed handle's value stays invalid
 * until the slot's generation wraps (4096 reuses), so stale handles are caught. */
#define EMU_SLOT_BITS 20u
#define EMU_SLOT_MAX  ((1u << EMU_SLOT_BITS) - 2u)
#define EMU_GEN_MASK  0xFFFu

static void once_init(void)
{
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&g_idle_cv, &a);
  pthread_condattr_destroy(&a);
}

#ifdef COW_TESTING
static int g_env_loaded; /* COW_EMU_FAULTS was read */
#endif

uint64_t cow__emu_now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int cow__emu_on_dispatcher(void)
{
  return t_dispatcher;
}

/* Entered by the dispatcher thread on start (emu-notify.c calls it). */
void cow__emu_mark_dispatcher(void)
{
  t_dispatcher = 1;
}

static void join_zombie_locked(void)
{
  struct emu *z = g_zombie;
  if (z == NULL || t_dispatcher)
    return;
  g_zombie = NULL;
  g_stopping = 1;
  pthread_mutex_unlock(&cow__emu_lock);
  pthread_join(z->dispatcher, NULL);
  pthread_mutex_lock(&cow__emu_lock);
  pthread_cond_destroy(&z->cv);
  pthread_cond_destroy(&z->cv_done);
  cow__free(z);
  g_stopping = 0;
  pthread_cond_broadcast(&g_idle_cv);
}

static struct emu *start_locked(void)
{
  struct emu *e = cow__calloc(1, sizeof(*e));
  if (e == NULL)
    return NULL;
  pthread_condattr_t a;
  pthread_condattr_init(&a);
  pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
  pthread_cond_init(&e->cv, &a);
  pthread_cond_init(&e->cv_done, &a);
  pthread_condattr_destroy(&a);
  e->next_op_id = 1;
  e->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (e->wake_fd < 0)
    goto fail;
  if (pthread_create(&e->reaper, NULL, cow__emu_reaper_main, e) != 0)
    goto fail_fd;
  if (pthread_create(&e->dispatcher, NULL, cow__emu_dispatcher_main, e) != 0) {
    e->quit = 1;
    cow__emu_reaper_wake(e);
    pthread_mutex_unlock(&cow__emu_lock);
    pthread_join(e->reaper, NULL);
    pthread_mutex_lock(&cow__emu_lock);
    goto fail_fd;
  }
  cow__log(COW_LOG_DEBUG, EMU_LOG, "emulator started");
  return e;
fail_fd:
  close(e->wake_fd);
fail:
  pthread_cond_destroy(&e->cv);
  pthread_cond_destroy(&e->cv_done);
  cow__free(e);
  cow__log(COW_LOG_ERROR, EMU_LOG, "cannot start the emulator threads");
  return NULL;
}

struct emu *cow__emu_get_locked(void)
{
  pthread_once(&g_once, once_init);
#ifdef COW_TESTING
  /* Test builds only: the shipped library never takes faults from its environment. */
  if (!g_env_loaded) {
    g_env_loaded = 1;
    cow__emu_faults_load_env(); /* once, when the emulator first starts */
  }
#endif
  while (g_stopping)
    pthread_cond_wait(&g_idle_cv, &cow__emu_lock);
  join_zombie_locked();
  if (g_emu == NULL)
    g_emu = start_locked();
  return g_emu;
}

struct emu *cow__emu_current(void)
{
  return g_emu;
}

int cow__emu_wait_idle(unsigned timeout_ms)
{
  pthread_once(&g_once, once_init);
  uint64_t deadline = cow__emu_now_ns() + (uint64_t)timeout_ms * 1000000u;
  int rc = 0;
  pthread_mutex_lock(&cow__emu_lock);
  for (;;) {
    join_zombie_locked();
    if (g_emu == NULL && !g_stopping && g_zombie == NULL && !cow__emu_late_relays_running())
      break;
    uint64_t now = cow__emu_now_ns();
    if (now >= deadline) {
      rc = COW_EBUSY;
      break;
    }
    /* Poll in short steps: the zombie case has no one to signal us. */
    uint64_t until = now + 20000000u < deadline ? now + 20000000u : deadline;
    struct timespec ts = {(time_t)(until / 1000000000u), (long)(until % 1000000000u)};
    pthread_cond_timedwait(&g_idle_cv, &cow__emu_lock, &ts);
  }
  pthread_mutex_unlock(&cow__emu_lock);
  return rc;
}

/* ---- handles ---- */

struct emu_handle *cow__emu_handle_new(struct emu *e, enum emu_kind kind, int api)
{
  uint32_t i;
  for (i = e->free_hint; i < e->table_len; i++)
    if (e->table[i] == NULL)
      break;
  if (i == e->table_len) {
    for (i = 0; i < e->free_hint && e->table[i] != NULL; i++)
      ;
    if (i == e->free_hint)
      i = e->table_len;
  }
  if (i == e->table_len) {
    if (e->table_len >= EMU_SLOT_MAX)
      return NULL;
    uint32_t n = e->table_len ? e->table_len * 2 : 64;
    if (n > EMU_SLOT_MAX)
      n = EMU_SLOT_MAX;
    struct emu_handle **t = cow__realloc(e->table, n * sizeof(*t));
    if (t == NULL)
      return NULL;
    e->table = t;
    uint32_t *g = cow__realloc(e->gens, n * sizeof(*g));
    if (g == NULL)
      return NULL;
    e->gens = g;
    for (uint32_t k = e->table_len; k < n; k++) {
      e->table[k] = NULL;
      e->gens[k] = 0;
    }
    e->table_len = n;
  }
  struct emu_handle *h = cow__calloc(1, sizeof(*h));
  if (h == NULL)
    return NULL;
  e->gens[i] = (e->gens[i] + 1) & EMU_GEN_MASK;
  if (e->gens[i] == 0)
    e->gens[i] = 1;
  h->kind = kind;
  h->api = api;
  h->idx = i;
  h->value = ((uintptr_t)e->gens[i] << EMU_SLOT_BITS) | (uintptr_t)(i + 1);
  h->refs = 1;
  e->table[i] = h;
  e->free_hint = i + 1;
  e->nhandles++;
  return h;
}

struct emu_handle *cow__emu_handle_lookup(struct emu *e, uintptr_t value, enum emu_kind kind,
                                          int api)
{
  if (e == NULL || value == 0)
    return NULL;
  uintptr_t slot = (value & ((1u << EMU_SLOT_BITS) - 1u));
  uintptr_t gen = value >> EMU_SLOT_BITS;
  if (slot == 0 || slot > e->table_len)
    return NULL;
  struct emu_handle *h = e->table[slot - 1];
  if (h == NULL || e->gens[slot - 1] != gen || h->closed)
    return NULL;
  if (kind != EMU_H_FREE && h->kind != kind)
    return NULL;
  if (api != 0 && h->api != api)
    return NULL;
  return h;
}

static void handle_free(struct emu *e, struct emu_handle *h)
{
  struct emu_event *ev = h->pending_head;
  while (ev != NULL) {
    struct emu_event *n = ev->next;
    cow__emu_event_free(ev);
    ev = n;
  }
  if (h->op != NULL) {
    for (int k = 0; k < 3; k++)
      if (h->op->pi_fd[k] >= 0)
        close(h->op->pi_fd[k]);
    cow__free(h->op->doc);
    cow__free(h->op);
  }
  (void)e;
  cow__free(h);
}

void cow__emu_handle_unref(struct emu *e, struct emu_handle *h)
{
  if (--h->refs == 0)
    handle_free(e, h);
}

static void emu_stop_locked(struct emu *e)
{
  e->quit = 1;
  pthread_cond_broadcast(&e->cv);
  g_emu = NULL;
  if (t_dispatcher) {
    /* Last close from inside a callback: the dispatcher cleans up when the callback
     * returns; whoever starts the emulator next (or cow__emu_wait_idle) joins it. */
    g_zombie = e;
    return;
  }
  g_stopping = 1;
  pthread_mutex_unlock(&cow__emu_lock);
  pthread_join(e->dispatcher, NULL);
  pthread_mutex_lock(&cow__emu_lock);
  pthread_cond_destroy(&e->cv);
  pthread_cond_destroy(&e->cv_done);
  cow__free(e);
  g_stopping = 0;
  pthread_cond_broadcast(&g_idle_cv);
  cow__log(COW_LOG_DEBUG, EMU_LOG, "emulator stopped");
}

void cow__emu_idle_check(struct emu *e)
{
  if (e != NULL && e->nhandles == 0 && g_emu == e)
    emu_stop_locked(e);
}

void cow__emu_handle_close(struct emu *e, struct emu_handle *h)
{
  h->closed = 1;                       /* lookups fail from now on: no new callback can start */
  pthread_cond_broadcast(&e->cv_done); /* wake waiters on this handle */
  /* Drain in-flight callbacks, except our own (closing from inside the callback). */
  while (h->in_cb > 0 && !(t_dispatcher && pthread_equal(h->cb_thread, pthread_self())))
    pthread_cond_wait(&e->cv_done, &cow__emu_lock);
  if (h->kind == EMU_H_SYSTEM && h->sys != NULL)
    cow__emu_system_detach(e, h);
  else if (h->kind == EMU_H_PROCESS && h->proc != NULL)
    cow__emu_process_detach(h);
  e->table[h->idx] = NULL;
  if (h->idx < e->free_hint)
    e->free_hint = h->idx;
  e->nhandles--;
  cow__emu_handle_unref(e, h);
  if (e->nhandles == 0)
    emu_stop_locked(e);
}

/* ---- strings ---- */

struct wstr_hdr {
  uint32_t magic;
  uint32_t api;
};
#define WSTR_LIVE 0x57554D45u /* "EMUW" */
#define WSTR_DEAD 0x44414544u

PWSTR cow__emu_wstr(int api, const char *utf8)
{
  uint16_t *w = NULL;
  size_t n = 0;
  if (utf8 == NULL || cow__utf16_from_utf8n(utf8, strlen(utf8), &w, &n) != 0)
    return NULL;
  struct wstr_hdr *hd = cow__malloc(sizeof(*hd) + (n + 1) * sizeof(WCHAR));
  if (hd == NULL) {
    cow__free(w);
    return NULL;
  }
  hd->magic = WSTR_LIVE;
  hd->api = (uint32_t)api;
  memcpy(hd + 1, w, (n + 1) * sizeof(WCHAR));
  cow__free(w);
  return (PWSTR)(void *)(hd + 1);
}

void cow__emu_free_wstr(int api, PWSTR s)
{
  if (s == NULL)
    return;
  struct wstr_hdr *hd = (struct wstr_hdr *)(void *)s - 1;
  if (hd->magic != WSTR_LIVE || hd->api != (uint32_t)api) {
    cow__log(COW_LOG_ERROR, EMU_LOG, "string %p freed %s (v%d free_string)", (void *)s,
             hd->magic == WSTR_DEAD ? "twice" : "through the wrong table or never allocated", api);
#ifndef NDEBUG
    abort(); /* on Windows this would corrupt the heap: make it loud */
#else
    return;
#endif
  }
  hd->magic = WSTR_DEAD;
  cow__free(hd);
}

HRESULT cow__emu_arg_utf8(PCWSTR s, char **out)
{
  *out = NULL;
  if (s == NULL || s[0] == 0)
    return COW__HR_S_OK;
  int rc = cow__utf8_from_utf16(s, out);
  if (rc == COW_ENOMEM)
    return COW__HR_E_OUTOFMEMORY;
  return rc == 0 ? COW__HR_S_OK : COW__HR_E_INVALIDARG;
}

char *cow__emu_result_error(HRESULT hr, const char *message)
{
  if (cow__emu_fault_flag(COW__EMU_FAULT_NO_RESULT_DOC))
    return NULL;
  return cow__emu_json_text(
      json_pack("{s:I, s:s}", "Error", (json_int_t)hr, "ErrorMessage", message ? message : ""));
}

char *cow__emu_json_text(json_t *j)
{
  if (j == NULL)
    return NULL;
  char *r = cow__json_text(j, JSON_COMPACT);
  json_decref(j);
  return r;
}

void cow__emu_fill_pi(HCS_PROCESS_INFORMATION *pi, uint32_t pid, int fds[3], const int invalid[3])
{
  HANDLE *slot[3] = {&pi->StdInput, &pi->StdOutput, &pi->StdError};
  pi->ProcessId = pid;
  pi->Reserved = 0;
  for (int k = 0; k < 3; k++) {
    if (fds[k] >= 0)
      *slot[k] = (HANDLE)(intptr_t)fds[k];
    else
      *slot[k] = invalid[k] ? INVALID_HANDLE_VALUE : NULL;
    fds[k] = -1;
  }
}

/* Internal: the blocking layer's request machinery, its record of the handles it handed out,
 * and the stdio relays. */
#ifndef COW_BLOCKING_INTERNAL_H
#define COW_BLOCKING_INTERNAL_H

#include <uv.h>

#include "core/list.h"
#include "cow.h"
#include "cow/blocking.h"

struct cow_blocking_s {
  uv_loop_t loop;
  uv_thread_t thread;
  uv_async_t wake;
  uv_mutex_t mutex; /* guards queue, stop, and every request's started/done/abandoned */
  cow__list queue;
  int stop;
  cow__list handles; /* struct bhandle: what the API handed out; loop thread only */
};

/* Kinds of handle: what a request creates (an abandoned create closes it, nobody else
 * will), and what the record of handed-out handles holds. */
enum cow__bkind { COW__BK_NONE, COW__BK_PROCESS, COW__BK_CONTAINER, COW__BK_HOST };

/* One blocking call: built by the caller, started and finished on the loop thread.
 *
 * Who touches what. The caller fills everything before the request is queued and does not
 * write it afterwards. `started`, `done` and `abandoned` are read and written only under
 * b->mutex, and they are plain ints, not bitfields: bitfields of one word are one memory
 * location, so a write to a neighbour without the mutex would race with them. The loop
 * thread writes the results before it sets `done`; the caller reads them only after it saw
 * `done` under the mutex. Once the caller set `abandoned` it never touches the request
 * again: the loop thread frees it. */
struct breq {
  cow__list link;
  cow_blocking_t *b;
  int (*start)(struct breq *r); /* loop thread; <0: failed at once */
  uv_cond_t cond;
  int started;    /* b->mutex: the loop thread took it (its start is running or ran) */
  int start_done; /* b->mutex: its start returned (kept up to date for `borrows` only) */
  int done;       /* b->mutex */
  int abandoned;  /* b->mutex */
  /* Set by the caller, read-only afterwards. */
  enum cow__bkind creates; /* what the request creates */
  enum cow__bkind about;   /* what obj is, for the starts that serve every kind */
  int sync;    /* start finishes at once and uses the caller's memory: dropped when abandoned
                  before it started, waited for to the end once it has */
  int borrows; /* start reads the caller's memory (and only start): dropped when abandoned
                  before it started, waited for until its start returned once it has */
  void *extra; /* further arguments, freed with the request */
  void (*extra_free)(void *extra);
  /* Results, written by the loop thread. */
  int status;
  cow_error_t err;
  int64_t code;
  char *json;   /* a string result, handed to the caller (cow_free) */
  void *result; /* a typed result of one block (core/stats.h), handed over likewise */
  void *obj;    /* the handle the call is about, or the one it created */
  int forced;   /* result of a stop */
  /* Arguments, owned by the request. */
  char *text;
  uint16_t width, height;
  int flag;
  uint64_t grace_ms; /* stops */
};

/* ---- requests (blocking.c) ---- */

/* A request for `start` about `obj`, with a copy of `text` (may be NULL). NULL: no memory. */
struct breq *cow__breq_new(int (*start)(struct breq *r), void *obj, const char *text);
void cow__breq_free(struct breq *r);
/* Finish `r` from the loop thread: publish the result, or discard it if the caller gave up. */
void cow__breq_finish(struct breq *r, int status, const cow_error_t *err);
/* Submit `r` (owned from here on) and wait up to `timeout_ms`. With `keep`, a finished
 * request is handed back for its results (the caller frees it); otherwise it is freed. */
int cow__breq_run(cow_blocking_t *b, struct breq *r, uint64_t timeout_ms, cow_error_t *err,
                  struct breq **keep);
/* cow__breq_new() + cow__breq_run(): the common shape of a wrapper. */
int cow__blocking_call(cow_blocking_t *b, int (*start)(struct breq *r), void *obj, const char *text,
                       uint64_t timeout_ms, cow_error_t *err, struct breq **keep);
/* A call that creates a handle of kind `creates`: `extra` is owned by the request from here
 * on (freed with extra_free, also on failure); on success `*obj_out` receives r->obj. */
int cow__blocking_call_extra(cow_blocking_t *b, int (*start)(struct breq *r),
                             enum cow__bkind creates, void *obj, const char *text, void *extra,
                             void (*extra_free)(void *), uint64_t timeout_ms, cow_error_t *err,
                             void **obj_out);
/* Both stops: `start` stops r->obj with r->text and r->grace_ms and leaves r->code and
 * r->forced; `*exit_code` (-1) and `*forced` (0) are set on every path. */
int cow__blocking_stop(int64_t *exit_code, int *forced, cow_blocking_t *b,
                       int (*start)(struct breq *r), void *obj, const char *signal_json,
                       uint64_t grace_ms, uint64_t timeout_ms, cow_error_t *err);
/* The set_timeout of a handle of kind `about` (process, container or host). */
int cow__blocking_set_timeout(cow_blocking_t *b, enum cow__bkind about, void *obj,
                              cow_timeout_kind_t kind, uint64_t timeout_ms);
/* The exit time of a handle of kind `about` (process or container); `*out` is untouched
 * unless the call succeeded. */
int cow__blocking_exit_time(cow_timestamp_t *out, cow_blocking_t *b, enum cow__bkind about,
                            void *obj);
/* Hand a string result over: `*out` takes r->json (NULL when the call failed). */
int cow__blocking_take_json(char **out, int rc, struct breq *kept);

/* ---- handed-out handles and closing them (handles.c; loop thread) ---- */

/* Completion on the loop thread; `err` is non-NULL exactly when status < 0. */
typedef void (*cow__bdone_cb)(void *arg, int status, const cow_error_t *err);

/* Record a handle the API hands out; `parent` is the handle whose close must wait for this
 * one (a process's container or connection, a container's connection), or NULL. */
int cow__bh_add(cow_blocking_t *b, enum cow__bkind kind, void *obj, void *parent);
/* A host close callback that frees the memory the API hung on the host (its user data:
 * the stream of a connection over the caller's socket; NULL otherwise). */
void cow__bh_host_data_free(cow_host_t *host, void *arg);
/* What `obj` is, when the API handed it out (a container's host view: COW__BK_HOST);
 * COW__BK_NONE otherwise. */
enum cow__bkind cow__bh_kind(cow_blocking_t *b, const void *obj);
/* The error of a call about `obj` (of `kind`) that the asynchronous API refused at once with
 * COW_EBRIDGE_CLOSED: a return code has no room for the cause, the blocking API's `err`
 * has. The cause is the dead guest connection's (cow_guest_bridge_error()), else the loss
 * the handle recorded (its wait error); without either, the code's text. */
void cow__bh_lost_cause(enum cow__bkind kind, void *obj, cow_error_t *err);
/* Handles handed out and not yet closing. */
int cow__bh_open_count(cow_blocking_t *b);
/* Close a handle after checking the ordering rule (no open child; not already closing):
 * COW_EBUSY or COW_ECLOSING at once otherwise. `done` (may be NULL) runs when the close
 * callback has run. A host that is a container's view is its container. */
void cow__bh_close(cow_blocking_t *b, enum cow__bkind kind, void *obj, cow__bdone_cb done,
                   void *arg);
/* The blocking close of each kind of handle: cow__bh_close() from the caller's thread. */
int cow__blocking_close_handle(cow_blocking_t *b, enum cow__bkind kind, void *obj,
                               uint64_t timeout_ms, cow_error_t *err);

/* ---- stdio relays (relay.c; loop thread) ---- */

/* Per-process state of the blocking layer (the process's user data). */
struct bproc;
/* Set up relays for every stream the process has. */
int cow__bproc_attach(cow_blocking_t *b, cow_process_t *p);
/* Take the user's ends (POSIX fds; -1 when absent or taken). */
void cow__bproc_take_fds(cow_process_t *p, int fds[3]);
/* Close the process's stdin once every byte the caller wrote to its descriptor before this
 * call has been handed to the process; `cb` gets the result (every later call the same). */
void cow__bproc_close_stdin(cow_process_t *p, cow__bdone_cb cb, void *arg);
/* Stop relaying stdout or stderr and close the process's stream; the caller's descriptor
 * reads end of file. */
void cow__bproc_close_output(cow_process_t *p, cow_stdio_t which, cow__bdone_cb cb, void *arg);
/* Close the relays, then the process; `done` runs after the process's close callback. */
void cow__bproc_close(cow_process_t *p, void (*done)(void *arg), void *arg);

#endif

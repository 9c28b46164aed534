/* Internal: the blocking layer's request machinery and stdio relays. */
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
  uv_mutex_t mutex; /* guards queue, stop, and every request's done/abandoned */
  cow__list queue;
  int stop;
};

/* What a request creates: an abandoned create closes it (nobody else will). */
enum cow__breq_creates { COW__BREQ_NONE, COW__BREQ_PROCESS, COW__BREQ_CONTAINER, COW__BREQ_HOST };

/* One blocking call: built by the caller, started and finished on the loop thread.
 *
 * Who touches what. The caller fills everything before the request is queued and does not
 * write it afterwards. `done` and `abandoned` are read and written only under b->mutex, and
 * they are plain ints, not bitfields: bitfields of one word are one memory location, so a
 * write to a neighbour without the mutex would race with them. The loop thread writes the
 * results before it sets `done`; the caller reads them only after it saw `done` under the
 * mutex. Once the caller set `abandoned` it never touches the request again: the loop
 * thread frees it. */
struct breq {
  cow__list link;
  cow_blocking_t *b;
  int (*start)(struct breq *r); /* loop thread; <0: failed at once */
  uv_cond_t cond;
  int done;                       /* b->mutex */
  int abandoned;                  /* b->mutex */
  enum cow__breq_creates creates; /* set by the caller, read-only afterwards */
  void *extra;                    /* constructor arguments, freed with the request */
  void (*extra_free)(void *extra);
  int status;
  cow_error_t err;
  int64_t code;
  char *json;
  void *obj; /* the handle the call is about, or the one it created */
  /* arguments, owned by the request */
  char *text;
  uint16_t width, height;
  int flag;
  uint64_t grace_ms; /* stops */
  int forced;        /* result of a stop */
};

/* Finish `r` from the loop thread: publish the result, or discard it if the caller gave up. */
void cow__breq_finish(struct breq *r, int status, const cow_error_t *err);

/* Submit a request built from these parts and wait; on success `*obj_out` (may be NULL)
 * receives r->obj. `extra` is owned by the request from here on (freed with extra_free). */
int cow__blocking_call_extra(cow_blocking_t *b, int (*start)(struct breq *r),
                             enum cow__breq_creates creates, void *obj, const char *text,
                             void *extra, void (*extra_free)(void *), uint64_t timeout_ms,
                             cow_error_t *err, void **obj_out);

/* Per-process state of the blocking layer (the process's user data). */
struct bproc;
/* Set up relays for every stream the process has. Loop thread. */
int cow__bproc_attach(cow_blocking_t *b, cow_process_t *p);
/* Take the user's ends (POSIX fds; -1 when absent or taken). Loop thread. */
void cow__bproc_take_fds(cow_process_t *p, int fds[3]);
/* Completion of a relay operation, on the loop thread; `err` non-NULL when status < 0. */
typedef void (*cow__bproc_cb)(void *arg, int status, const cow_error_t *err);
/* Close the process's stdin once every byte the caller wrote to its descriptor before this
 * call has been handed to the process; `cb` gets the result (every later call the same). */
void cow__bproc_close_stdin(cow_process_t *p, cow__bproc_cb cb, void *arg);
/* Stop relaying stdout or stderr and close the process's stream; the caller's descriptor
 * reads end of file. */
void cow__bproc_close_output(cow_process_t *p, cow_stdio_t which, cow__bproc_cb cb, void *arg);
/* Close the relays, then the process; `done` runs after the process's close callback. */
void cow__bproc_close(cow_process_t *p, void (*done)(void *arg), void *arg);

#endif

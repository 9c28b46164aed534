/* Internal: the handle base shared by processes, hosts and containers, the operation
 * object, and the three handle structs. One header because the three public types are
 * thin layers over the same base and the files implementing them share these layouts. */
#ifndef COW_CORE_HANDLE_H
#define COW_CORE_HANDLE_H

#include <stdint.h>

#include <uv.h>

#include "core/list.h"
#include "core/loop.h"
#include "cow/sys/container.h"
#include "cow/sys/host.h"
#include "cow/sys/process.h"

enum cow__htype { COW__HOST = 1, COW__CONTAINER = 2, COW__PROCESS = 3 };

/* The slot `field` of an ops table, or NULL when the table was written against a version
 * older than `since`: such a table is shorter, and reading the field would read past it. */
#define COW__SLOT(ops, since, field) ((ops)->version >= (since) ? (ops)->field : NULL)

#define COW__CLOSING 0x1u

/* A handle's timeouts (milliseconds per cow_timeout_kind_t), shared copy-on-write: a
 * process starts with its host's table (the values the host had when the process was
 * created) and gets a copy of its own only when a timeout of either is set, so a process
 * carries a pointer rather than 14 values. Loop thread only, like the handles. */
struct cow__timeouts {
  unsigned refs;
  uint64_t ms[COW_TIMEOUT__MAX];
};

/* The base of every handle (libuv's UV_HANDLE_FIELDS, kept private). */
struct cow__handle {
  enum cow__htype type;
  unsigned flags;
  unsigned refs; /* the user's (until close) + one per op, stdio handle, child, backend ref */
  struct cow__loop *lp;
  uint64_t id;            /* event id in the id table */
  void *data;             /* the user's */
  void (*close_cb)(void); /* typed per handle type; cast back before the call */
  void *close_data;
  cow__list ops;                  /* ops whose user side is still pending */
  struct cow__timeouts *timeouts; /* never NULL once initialised */
  void *priv;
  struct cow__event fin_ev; /* finalisation, queued when refs reach 0 */
};

/* How an op's user callback is typed. */
enum cow__cb_kind {
  COW__CB_PROCESS,
  COW__CB_WAIT,
  COW__CB_CONTAINER,
  COW__CB_JSON,
  COW__CB_HOST,
  COW__CB_PROCESS_STOP,
  COW__CB_CONTAINER_STOP,
  COW__CB_PROCESS_LIST,
  COW__CB_STATISTICS
};

struct cow_op_s {
  struct cow__event ev; /* delivery of the user callback */
  cow__list link;       /* in owner->ops while the user side is pending */
  struct cow__handle *owner;
  const char *name;
  enum cow__cb_kind kind;
  void (*cb)(void);
  void *data;
  /* Called once when the user side is decided (before the callback is queued): lets the
   * core react to results, e.g. a failed create reports the process exit. */
  void (*on_result)(cow_op_t *op);
  unsigned user_done : 1;    /* result decided (completion, timeout or cancel) */
  unsigned delivered : 1;    /* user callback has run */
  unsigned backend_done : 1; /* backend called cow_op_complete (or never had a part) */
  unsigned is_wait : 1;      /* a waiter: released by the exit, not by a backend */
  unsigned forced : 1;       /* stops: the forced step was taken */
  unsigned in_timeout : 1;   /* the backend's timeout slot runs: it may explain the timeout */
  int status;
  cow_error_t err;
  /* The result a backend attached: the document of a JSON op, or the typed result (one
   * block, core/stats.h) of a process list / statistics op; the kind says which. */
  union {
    char *json;
    void *result;
  };
  int64_t exit_code;
  uint64_t timeout_ms;
  void *backend_data;
  cow_op_t *next_rider;          /* resize: the next caller served by the same request */
  struct cow__deadline deadline; /* the op's timeout, armed by cow__op_arm() */
};

struct cow_host_s {
  struct cow__handle base; /* unused for a container's view: see cow__host_handle() */
  const struct cow_host_ops *ops;
  cow_container_t *container; /* non-NULL for a container's host view */
  void *view_data;
};

/* Storage for one library-owned stream that a backend or a transport initialises as either
 * kind libuv offers: a pipe (pipes, AF_UNIX, AF_VSOCK) or a socket stream (uv_tcp_t, the
 * only libuv stream that can carry a Windows socket such as AF_HYPERV). `handle.type` says
 * which, and is UV_UNKNOWN_HANDLE (0) while the zeroed storage is untouched. */
union cow__stream {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_pipe_t pipe;
  uv_tcp_t tcp;
};

/* Whether a stream slot was initialised (and so must be closed). */
static inline int cow__stream_initialised(const union cow__stream *s)
{
  return s->handle.type == UV_NAMED_PIPE || s->handle.type == UV_TCP;
}

struct cow__stdio {
  union cow__stream s;
  cow_process_t *process;
  uv_read_cb read_cb;
  uv_shutdown_t shutdown_req;
  unsigned ready : 1;   /* backend declared it usable */
  unsigned drained : 1; /* EOF or error seen, or closed by the user: counts for the exit */
  unsigned closed : 1;  /* uv_close issued */
  unsigned shutting : 1;
};

struct cow_process_s {
  struct cow__handle base;
  const struct cow_process_ops *ops;
  cow_host_t *host;
  int64_t pid;
  unsigned created : 1;            /* create op succeeded */
  unsigned exit_reported : 1;      /* backend reported (maybe not yet published) */
  unsigned exit_published : 1;     /* waiters released */
  unsigned expecting_exit : 1;     /* `deadline` runs for cow_process_expect_exit() */
  unsigned stdio_closed_early : 3; /* directions closed before `stdio` existed (stdio.c) */
  int64_t exit_code;
  cow_timestamp_t exit_time; /* when the backend reported the exit */
  int exit_status;           /* 0, COW_EIO_TIMEOUT, or the error code */
  /* The exit's error once the exit is reported; before that, while expecting_exit, the
   * error to report if the expected exit does not come (cow_process_expect_exit). One
   * field serves both: the second is given up when the first is set. */
  cow_error_t exit_err;
  struct cow__stdio *stdio; /* [3], allocated when a backend first asks for a slot (stdio.c) */
  /* The one deadline a process may need: an expected exit before the exit, the stdio drain
   * (a pause in the output longer than COW_TIMEOUT_STDIO_DRAIN) after it. */
  struct cow__deadline deadline;
  uint64_t drain_progress;  /* loop time of the last output while the drain deadline runs */
  cow_op_t *close_stdin_op; /* waiting for the local half-close */
  /* Console resizes, one request at a time (resize.c): the request in flight, the callers
   * it answers, the callers waiting for the next one and the newest size asked for. */
  cow_op_t *resize_carrier;
  cow_op_t *resize_riders, *resize_waiting;
  uint16_t resize_width, resize_height;
};

struct cow_container_s {
  struct cow__handle base;
  const struct cow_container_ops *ops;
  struct cow_host_s host; /* the process-host view */
  char *id;
  unsigned exited : 1;
  cow_error_t exit_err;
  cow_timestamp_t exit_time; /* when the exit was observed */
};

/* ---- handle.c ---- */
/* `inherit`: the handle whose timeouts the new one starts with (a process's host), or NULL
 * for the defaults. On failure nothing is left to undo. */
int cow__handle_init(struct cow__handle *h, enum cow__htype type, uv_loop_t *loop, void *object,
                     const struct cow__handle *inherit);
/* Undo cow__handle_init for a handle that never reached the user (the id, the loop); its
 * free function still calls cow__handle_free_timeouts(). */
void cow__handle_destroy(struct cow__handle *h);
/* Drop the handle's share of its timeouts: the last thing before the handle is freed. */
void cow__handle_free_timeouts(struct cow__handle *h);
/* One timeout of the handle (`kind` valid). */
static inline uint64_t cow__handle_timeout(const struct cow__handle *h, cow_timeout_kind_t kind)
{
  return h->timeouts->ms[kind];
}
void cow__handle_ref(struct cow__handle *h);
void cow__handle_unref(struct cow__handle *h);
/* Start closing: cancel pending ops (COW_ECANCELED), then drop the user's reference. The
 * caller runs the backend's close slot in between via `backend_close`. */
int cow__handle_close(struct cow__handle *h, void (*close_cb)(void), void *data,
                      void (*backend_close)(struct cow__handle *h));
int cow__handle_set_timeout(struct cow__handle *h, cow_timeout_kind_t kind, uint64_t ms);
struct cow__handle *cow__host_handle(const cow_host_t *h);

/* ---- op.c ---- */
int cow__op_new(struct cow__handle *owner, const char *name, enum cow__cb_kind kind,
                void (*cb)(void), void *data, cow_timeout_kind_t timeout, int backend_part,
                cow_op_t **out);
/* Start the op's timeout, once it has been handed over successfully. */
void cow__op_arm(cow_op_t *op);
/* Free an op that was never armed nor handed to a backend (refused slot, constructor
 * failure): synchronous, so the owner may be destroyed right after. */
void cow__op_discard(cow_op_t *op);
/* Decide the user side (no-op if already decided). `err` may be NULL. */
void cow__op_finish(cow_op_t *op, int status, const cow_error_t *err);
/* Hand `op` to a backend slot: if the slot refuses (negative), discard the op and return
 * the code; otherwise arm its timeout. Keeps "negative return: the callback never runs"
 * in one place. */
#define COW__OP_START(op, call)                                                                    \
  do {                                                                                             \
    int cow__rc = (call);                                                                          \
    if (cow__rc < 0) {                                                                             \
      if (!(op)->backend_done && !(op)->user_done)                                                 \
        cow__op_discard(op);                                                                       \
      return cow__rc;                                                                              \
    }                                                                                              \
    cow__op_arm(op);                                                                               \
  } while (0)

/* Finalisers run by handle.c when the last reference goes (fini, close callback, free). */
void cow__process_finalize(struct cow__handle *h);
void cow__host_finalize(struct cow__handle *h);
void cow__container_finalize(struct cow__handle *h);
/* Offset of backend state after a handle struct of `base_size` bytes (max-aligned). */
size_t cow__priv_offset(size_t base_size);
/* The wall-clock time now (what exit times record). */
void cow__wall_clock(cow_timestamp_t *out);

/* ---- process.c / stdio.c ---- */
/* Create a process from `config_json`, or, when it is NULL, open the running process
 * `open_pid` (the host's open_process slot). */
int cow__process_create(cow_host_t *host, struct cow__handle *host_handle, cow_process_t **out,
                        const char *config_json, int64_t open_pid, cow_process_cb cb, void *data);
void cow__process_drain_progress(cow_process_t *p);
void cow__process_stdio_close_all(cow_process_t *p);
/* The stream slot behind cow_process_stdio_pipe()/_tcp() (`which` already validated). */
union cow__stream *cow__process_stdio_slot(cow_process_t *p, cow_stdio_t which);
void cow__process_check_drained(cow_process_t *p);
/* 1 while stdout or stderr is usable and has not reached end of file. */
int cow__process_stdio_pending(const cow_process_t *p);
void cow__process_publish_exit(cow_process_t *p, int status);
/* Contact with the process was lost (its exit was reported with COW_EBRIDGE_CLOSED, not
 * observed): calls on it fail with COW_EBRIDGE_CLOSED instead of "already exited". */
int cow__process_lost(const cow_process_t *p);

/* ---- resize.c ---- */
int cow__process_resize(cow_process_t *p, uint16_t width, uint16_t height, cow_process_cb cb,
                        void *data);

#endif

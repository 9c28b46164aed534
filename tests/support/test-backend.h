/* A scripted in-process backend for the core's tests (not shipped).
 *
 * It implements all three ops tables. Each slot call is recorded; what happens next is
 * scripted per backend instance: complete at once (success or a given error), or keep the
 * op pending for the test to complete later (from the loop, or as an event posted from
 * another thread). Processes get real stdio: OS pipes whose far ends the test holds. */
#ifndef COW_TEST_BACKEND_H
#define COW_TEST_BACKEND_H

#include <uv.h>

#include "cow.h"
#include "cow/sys/container.h"
#include "cow/sys/host.h"
#include "cow/sys/process.h"
#include "support/wait.h"

enum tb_mode {
  TB_COMPLETE_OK,   /* complete each op successfully, from the slot */
  TB_COMPLETE_FAIL, /* complete each op with tb->fail_code, from the slot */
  TB_REFUSE,        /* the slot returns tb->fail_code (the op is never started) */
  TB_MANUAL         /* keep the op; the test completes it with tb_complete() */
};

#define TB_MAX_PENDING 64

struct tb {
  enum tb_mode mode;
  int fail_code;
  int want_stdio; /* create processes with stdin/stdout/stderr pipes */
  int stdio_tcp;  /* POSIX: socketpairs in the uv_tcp_t view of the slots instead */
  int calls[24];  /* per slot, see enum tb_slot */
  int closes, finis, timeouts;
  cow_op_t *pending[TB_MAX_PENDING];
  int npending;
  /* TB_MANUAL: uv_stop() this loop when an op is held, so that the iteration that made the
   * call (say from a timer at its top) does not then block in its poll until the next
   * timer. For tests that wait with UV_RUN_ONCE on their own loop; NULL: never. */
  uv_loop_t *stop_loop;
};

enum tb_slot {
  TB_CREATE,
  TB_KILL,
  TB_SIGNAL,
  TB_RESIZE,
  TB_CLOSE_STDIN,
  TB_START,
  TB_SHUTDOWN,
  TB_TERMINATE,
  TB_PROPERTIES,
  TB_PROPERTIES_V2,
  TB_MODIFY,
  TB_PAUSE,
  TB_RESUME,
  TB_OPEN_PROCESS
};

/* Per-process backend state; the test's ends of the stdio pipes. */
struct tb_process {
  struct tb *tb;
  int stdin_fd;  /* test reads what the process's stdin receives */
  int stdout_fd; /* test writes the process's stdout */
  int stderr_fd;
};

extern const struct cow_host_ops tb_host_ops;
extern const struct cow_process_ops tb_process_ops;
extern const struct cow_container_ops tb_container_ops;

/* A host bound to `tb` (stored as user data of the backend state). */
int tb_host_new(cow_host_t **out, uv_loop_t *loop, struct tb *tb);
int tb_container_new(cow_container_t **out, uv_loop_t *loop, struct tb *tb, const char *id);

/* Complete the oldest pending op (status, optional JSON result). Returns 0 or -1 if none. */
int tb_complete(struct tb *tb, int status, const char *json);
/* Complete every pending op with `status`. */
void tb_complete_all(struct tb *tb, int status);

/* Report an exit for `p` from another thread: posts through cow_event_post(). */
int tb_post_exit(cow_process_t *p, int64_t code);

/* The counting allocator with failure injection, installed by tb_alloc_install(). */
void tb_alloc_install(void);
long tb_alloc_outstanding(void);
/* Fail the Nth allocation from now (0 = the next one); -1 disables. */
void tb_alloc_fail_at(long n);
long tb_alloc_count(void);

#endif

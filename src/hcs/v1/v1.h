/* Internal: the HCS v1 backend (vmcompute.dll). Every export is a synchronous RPC, so each
 * call runs on the libuv threadpool (uv_queue_work) and its result is handled on the loop.
 * Create and Start may answer "pending" (0xC0370103) and finish through a *Completed
 * notification; notifications come from DLL threads and are posted to the loop. The DLL
 * only ever sees integer contexts. A DLL handle is closed only when no threadpool call can
 * be using it (the handle's last reference), docs/hcs-api.md §3.6. */
#ifndef COW_HCS_V1_V1_H
#define COW_HCS_V1_V1_H

#include <uv.h>

#include "cow/sys/container.h"
#include "cow/sys/host.h"
#include "cow/sys/process.h"
#include "hcs/common/state.h"
#include "hcs/common/vmcompute-api.h"

/* One DLL call (or a short sequence) on the threadpool. */
struct cow__hcs1_work {
  uv_work_t req;
  void *owner;   /* cow_container_t * or cow_process_t *, referenced while queued */
  unsigned kind; /* COW__HCS_CTX_* */
  cow_op_t *op;  /* the consumer op served, or NULL */
  const struct cow__vmcompute_api *api;
  void (*run)(struct cow__hcs1_work *w);   /* threadpool: DLL calls only */
  void (*after)(struct cow__hcs1_work *w); /* loop thread */
  /* inputs */
  uint16_t *warg;
  void *ctx;
  HCS_SYSTEM sys;
  HCS_PROCESS proc;
  uint32_t pid;
  /* outputs */
  HRESULT hr, hr2;
  char *result;  /* ResultError document (UTF-8) */
  char *payload; /* properties / ProcessStatus (UTF-8) */
  HCS_CALLBACK cbh;
  HCS_PROCESS_INFORMATION pi;
};

struct cow__hcs1_work *cow__hcs1_work_new(void *owner, unsigned kind, cow_op_t *op,
                                          const struct cow__vmcompute_api *api,
                                          void (*run)(struct cow__hcs1_work *),
                                          void (*after)(struct cow__hcs1_work *));
/* Queue `w` (takes a reference on the owner). On failure `w` is freed and the libuv code
 * returned. */
int cow__hcs1_work_queue(struct cow__hcs1_work *w);
/* Complete w->op from w->hr / w->result (success when hr >= 0). */
void cow__hcs1_complete(struct cow__hcs1_work *w, const char *object_id);

/* The notification callback given to HcsRegister{ComputeSystem,Process}Callback. */
void CALLBACK cow__hcs1_notify_cb(DWORD type, void *context, HRESULT status, PCWSTR data);
void cow__hcs1_system_notify(cow_container_t *c, uint32_t type, HRESULT status, const char *doc);
void cow__hcs1_process_notify(cow_process_t *p, uint32_t type, HRESULT status, const char *doc);

/* A "pending" call waiting for its *Completed notification; the two may arrive in either
 * order (the threadpool's answer and the DLL thread's post race to the loop). */
struct cow__hcs1_latch {
  unsigned fired : 1;
  HRESULT hr;
  cow_op_t *op; /* waiting, or NULL */
};

struct cow__hcs1_system {
  const struct cow__vmcompute_api *api;
  uv_loop_t *loop;
  struct cow__hcs_sys st;
  HCS_SYSTEM h;
  HCS_CALLBACK cbh;
  struct cow__hcs1_latch create, start, pause, resume;
  unsigned works; /* threadpool calls in flight that may use `h` */
};

struct cow__hcs1_process {
  const struct cow__vmcompute_api *api;
  HCS_PROCESS h;
  HCS_CALLBACK cbh;
  char *sys_id;
  const char *os;
  unsigned works; /* threadpool calls in flight that may use `h` */
  unsigned tty : 1, exit_seen : 1, created : 1;
  unsigned opened : 1;     /* opened by pid: whether it has a console is unknown */
  unsigned handles_closed; /* bit per cow_stdio_t: its CloseHandle was sent */
  unsigned early_exit : 1; /* ProcessExited arrived before the create finished */
  char *early_doc;
};

/* Close the DLL handle of a closed handle once no threadpool call uses it. */
void cow__hcs1_system_idle(cow_container_t *c);
void cow__hcs1_process_idle(cow_process_t *p);

int cow__hcs1_system_new(struct uv_loop_s *loop, const struct cow__vmcompute_api *api,
                         const char *id, const char *config, uint64_t timeout_ms,
                         cow_container_t **out, cow_container_cb cb, void *data);

extern const struct cow_process_ops cow__hcs1_process_ops;
int cow__hcs1_create_process(cow_host_t *host, cow_process_t *p, const char *config, cow_op_t *op);
int cow__hcs1_open_process(cow_host_t *host, cow_process_t *p, int64_t pid, cow_op_t *op);

#endif

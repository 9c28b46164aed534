/* Internal: the HCS v2 backend (computecore.dll). Every DLL call is issued on the loop
 * thread with an HCS_OPERATION whose completion callback (a DLL thread) only posts the
 * operation's value to the loop; the result is read there with the non-blocking
 * HcsGetOperationResult*, so nothing ever blocks the loop or a threadpool thread. Event
 * callbacks (SystemExited, ProcessExited, ServiceDisconnect) are posted the same way. The
 * DLL only ever sees integer contexts (event ids), never pointers. */
#ifndef COW_HCS_V2_V2_H
#define COW_HCS_V2_V2_H

#include "core/list.h"
#include "cow/sys/container.h"
#include "cow/sys/host.h"
#include "cow/sys/process.h"
#include "hcs/common/computecore-api.h"
#include "hcs/common/state.h"

struct cow__hcs2_call;
/* Runs on the loop thread with the operation's result (doc: UTF-8 result document or NULL;
 * borrowed). For a call that failed when issued it runs inside the issuing slot. */
typedef void (*cow__hcs2_done_fn)(struct cow__hcs2_call *call, HRESULT hr, const char *doc);

/* One DLL call in flight: owned by its handle's list until its result has been handled. */
struct cow__hcs2_call {
  cow__list link;
  HCS_OPERATION op;
  void *owner;   /* cow_container_t * or cow_process_t * */
  unsigned kind; /* COW__HCS_CTX_SYSTEM / _PROCESS */
  cow_op_t *cop; /* the consumer's op this call serves, or NULL */
  cow__hcs2_done_fn done;
  int with_pi; /* read the result with ...AndProcessInfo */
  HCS_PROCESS_INFORMATION pi;
  HCS_SYSTEM tmp_sys; /* second handles of a kill, closed with the call */
  HCS_PROCESS tmp_proc;
};

/* The first member of both the system and the process state. */
struct cow__hcs2_base {
  const struct cow__computecore_api *api;
  cow__list calls;
};

/* A call for `owner` (its priv starts with struct cow__hcs2_base): creates the HCS
 * operation with the completion callback. NULL when out of memory. */
struct cow__hcs2_call *cow__hcs2_call_new(void *owner, unsigned kind, cow_op_t *cop,
                                          cow__hcs2_done_fn done);
/* Report what the DLL call returned. A failure runs `done` now with the operation's result
 * document and frees the call; S_OK keeps it (and a reference on the owner) until the
 * completion arrives. */
void cow__hcs2_call_issued(struct cow__hcs2_call *call, HRESULT hr);
/* At close: close every operation in flight (the DLL discards their results), complete
 * their consumer ops with COW_ECANCELED, release them. */
void cow__hcs2_calls_cancel(struct cow__hcs2_base *base);
/* Fire and forget (hcsshim submitOperation): issue with a fresh operation and close it at
 * once; `*doc` (cow__malloc'd, may be NULL) is the result document of a failed call. */
HRESULT cow__hcs2_submit(const struct cow__computecore_api *api,
                         HRESULT (*issue)(const struct cow__computecore_api *api, void *arg,
                                          HCS_OPERATION op),
                         void *arg, char **doc);

/* The event callback given to HcsSet{ComputeSystem,Process}Callback. */
void CALLBACK cow__hcs2_event_cb(HCS_EVENT *event, void *context);
/* Loop-thread handlers of those events (system.c, process.c); `doc` may be NULL. */
void cow__hcs2_system_event(cow_container_t *c, uint32_t type, const char *doc);
void cow__hcs2_process_event(cow_process_t *p, uint32_t type, const char *doc);

/* ---- system.c ---- */
struct cow__hcs2_system {
  struct cow__hcs2_base base;
  struct cow__hcs_sys st;
  HCS_SYSTEM h;
};
int cow__hcs2_system_new(struct uv_loop_s *loop, const struct cow__computecore_api *api,
                         const char *id, const char *config, uint64_t timeout_ms,
                         cow_container_t **out, cow_container_cb cb, void *data);

/* ---- process.c ---- */
extern const struct cow_process_ops cow__hcs2_process_ops;
int cow__hcs2_create_process(cow_host_t *host, cow_process_t *p, const char *config, cow_op_t *op);
int cow__hcs2_open_process(cow_host_t *host, cow_process_t *p, int64_t pid, cow_op_t *op);

#endif

/* Internal: what the v1 and v2 backends share about compute systems and processes: the
 * system's life cycle (which consumer calls are valid when), and hcsshim's decisions about
 * the documents that come back (exit status, process status, properties). Each backend
 * keeps one struct cow__hcs_sys in its container state and one cow__hcs_proc per process;
 * the DLL calls themselves stay in the backend. Thread: loop thread throughout. */
#ifndef COW_HCS_COMMON_STATE_H
#define COW_HCS_COMMON_STATE_H

#include <stdint.h>

#include "cow/sys/container.h"
#include "cow/sys/process.h"
#include "hcs/common/hcs-types.h"

enum cow__hcs_sys_state {
  COW__HCS_SYS_CREATING = 0, /* create (or open) in flight */
  COW__HCS_SYS_READY,        /* created/opened: a DLL handle exists */
  COW__HCS_SYS_FAILED,       /* create/open failed: no DLL handle */
  COW__HCS_SYS_CLOSED        /* the consumer closed the handle */
};

/* Which consumer call, for cow__hcs_sys_check. */
enum cow__hcs_verb {
  COW__HCS_START,
  COW__HCS_STOP,
  COW__HCS_QUERY,
  COW__HCS_CREATE_PROCESS,
  COW__HCS_PAUSE /* pause and resume */
};

struct cow__hcs_sys {
  enum cow__hcs_sys_state state;
  const char *os;         /* "linux" / "windows" from the cached properties, or "unknown" */
  unsigned exit_seen : 1; /* SystemExited (or disconnect) already reported */
};

/* 0 when `verb` may go to the DLL now, else the COW_E* code to refuse with (the system is
 * still being created, or its creation failed). */
int cow__hcs_sys_check(const struct cow__hcs_sys *s, enum cow__hcs_verb verb);

/* Report the system's exit once: `unexpected_hr` (0 for a normal exit) becomes the exit
 * error (hcsshim's ExitError), `doc` (may be NULL) its detail. */
void cow__hcs_sys_report_exit(cow_container_t *c, struct cow__hcs_sys *s, HRESULT unexpected_hr,
                              const char *doc);

/* Report a lost service: the exit error is "lost communication" (0x8037011E). */
void cow__hcs_sys_report_disconnect(cow_container_t *c, struct cow__hcs_sys *s);

/* v2 SystemExited EventData (SystemExitStatus): the HRESULT to report as the exit error,
 * 0 for a graceful or forced exit. "UnexpectedExit" gives 0x80370106 (docs/hcs-api.md §3.4). */
HRESULT cow__hcs_exit_status_error(const char *doc);

/* Cache RuntimeOsType from a basic properties document: "linux" / "windows" (static). An
 * empty OS on a Container means "windows" (pre-RS5 hosts, hcsshim getCachedProperties).
 * Returns COW_EPROTOCOL when the document is not a JSON object. */
int cow__hcs_sys_cache_properties(struct cow__hcs_sys *s, const char *doc);

/* The exit code in a ProcessStatus document: ExitCode when Exited and LastWaitResult is 0;
 * -1 otherwise (hcsshim; R14), and then *flag (may be NULL) is set to 1. */
int64_t cow__hcs_process_status_code(const char *doc, int *flag);

/* Prepare a process document for CreateProcess: it must be a JSON object; when it asks
 * for a console (EmulateConsole) a stdin pipe is forced (R13: a tty process always gets
 * stdin, hcsshim#2831). *out (cow__malloc'd) is the document to send; *tty says whether a
 * console was asked for. COW_EINVAL for a document that is not a JSON object. */
int cow__hcs_process_config_prepare(const char *json, char **out, int *tty);

/* The default options of cow_process_signal(p, NULL, ...): a graceful stop, SIGTERM as an
 * LCOW integer or CtrlShutdown for Windows (docs/hcs-api.md §5.9). Static storage. */
const char *cow__hcs_default_signal(const char *os);

/* Report a process exit from a ProcessStatus document (NULL or empty: code -1, flagged). */
void cow__hcs_proc_report_status(cow_process_t *p, const char *doc);

/* Report that no exit code will come (service lost): waiters fail with "lost communication". */
void cow__hcs_proc_report_disconnect(cow_process_t *p);

/* Event ids are handed to the DLLs as callback contexts (an integer, never a pointer,
 * docs/hcs-api.md §1 item 7). The low bit says which kind of handle the id names. */
#define COW__HCS_CTX_SYSTEM  0u
#define COW__HCS_CTX_PROCESS 1u
static inline void *cow__hcs_ctx(uint64_t event_id, unsigned kind)
{
  return (void *)(uintptr_t)((event_id << 1) | kind);
}
static inline uint64_t cow__hcs_ctx_id(void *ctx)
{
  return (uint64_t)(uintptr_t)ctx >> 1;
}
static inline unsigned cow__hcs_ctx_kind(void *ctx)
{
  return (unsigned)((uintptr_t)ctx & 1u);
}

#endif

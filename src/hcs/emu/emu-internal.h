/* Internal to src/hcs/emu: the emulator's objects and the functions the files share.
 *
 * Concurrency model: one process-wide mutex (cow__emu_lock) guards every object below.
 * Two threads per emulator instance: the dispatcher (emu-notify.c) runs timed jobs and
 * delivers every callback, one at a time and in order, without holding the lock; the
 * reaper (emu-reaper.c) waits for child exits on pidfds. API calls run on the caller's
 * thread, change state under the lock and queue the rest; they never call back inline. */
#ifndef COW_HCS_EMU_EMU_INTERNAL_H
#define COW_HCS_EMU_EMU_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

#include "hcs/emu/emu.h"

#define EMU_LOG "emu"

enum emu_api { EMU_V1 = 1, EMU_V2 = 2 };

enum emu_kind { EMU_H_FREE = 0, EMU_H_SYSTEM, EMU_H_PROCESS, EMU_H_OPERATION, EMU_H_CALLBACK };

enum emu_sys_state { EMU_SYS_CREATED, EMU_SYS_RUNNING, EMU_SYS_PAUSED, EMU_SYS_STOPPED };
enum emu_exit_type { EMU_EXIT_NONE, EMU_EXIT_GRACEFUL, EMU_EXIT_FORCED, EMU_EXIT_UNEXPECTED };
enum emu_op_state { EMU_OP_NOT_STARTED, EMU_OP_PENDING, EMU_OP_DONE };

struct emu_system;
struct emu_process;
struct emu_handle;
struct emu_event;

typedef void (*emu_job_fn)(struct emu_event *ev);

enum emu_ev_kind { EMU_EV_NONE, EMU_EV_JOB, EMU_EV_NOTIFY, EMU_EV_OP_DONE };

/* One queued item: a job (runs under the lock on the dispatcher), a notification for one
 * handle, or an operation completion. Items with the same key are handled in queue order:
 * a delayed item holds back later items of the same system, never other systems. */
struct emu_event {
  struct emu_event *next;
  uint64_t due_ns;
  const void *key; /* ordering key (the system), NULL = unordered */
  enum emu_ev_kind kind;
  uintptr_t handle;         /* NOTIFY: target handle; OP_DONE: the operation handle */
  uint32_t type;            /* NOTIFY: HCS_EVENT_TYPE (v2) or HCS_NOTIFICATIONS (v1) */
  HRESULT status;           /* NOTIFY v1: notificationStatus */
  char *data;               /* NOTIFY: UTF-8 JSON or NULL (owned) */
  emu_job_fn job;           /* JOB */
  struct emu_system *sys;   /* JOB: referenced system (emu_system_unref after) */
  struct emu_process *proc; /* JOB: process (owned by sys) */
  uintptr_t op;             /* JOB: operation handle to complete, or 0 */
  int arg;                  /* JOB: job specific */
};

struct emu_op {
  HCS_OPERATION_COMPLETION cb;
  void *ctx;
  enum emu_op_state state;
  HCS_OPERATION_TYPE type;
  uint64_t id;
  HRESULT hr;
  char *doc;            /* UTF-8 result document or NULL */
  uintptr_t sys_handle; /* handle the operation was used on */
  uintptr_t proc_handle;
  int have_pi; /* CreateProcess / GetProcessInfo */
  uint32_t pid;
  int pi_fd[3];      /* handed over on the first ...AndProcessInfo, then -1 */
  int pi_invalid[3]; /* report INVALID_HANDLE_VALUE for this unrequested stream */
};

struct emu_handle {
  enum emu_kind kind;
  int api;
  uint32_t idx;
  uintptr_t value;
  int refs; /* 1 while open + 1 per in-flight use (callback, wait) */
  int closed;
  struct emu_system *sys;      /* SYSTEM, PROCESS */
  struct emu_process *proc;    /* PROCESS */
  struct emu_op *op;           /* OPERATION */
  struct emu_handle *obj_next; /* next handle on the same system/process */
  /* v2 event callback */
  HCS_EVENT_CALLBACK ev_cb;
  void *ev_ctx;
  uint32_t ev_options;
  /* v1 notification callback (registered through a CALLBACK handle) */
  HCS_NOTIFICATION_CALLBACK nt_cb;
  void *nt_ctx;
  uintptr_t registration; /* CALLBACK handle value, or 0 */
  uintptr_t target;       /* CALLBACK kind: the system/process handle */
  /* sticky notifications waiting for a callback */
  struct emu_event *pending_head, *pending_tail;
  int in_cb;
  pthread_t cb_thread;
  int exit_posted; /* SystemExited / ProcessExited already queued for this handle */
};

struct emu_process {
  struct emu_process *next;
  struct emu_system *sys;
  pid_t pid;
  int pidfd;
  int exited;
  int reaped_status;
  uint32_t exit_code;
  int console;
  int stdin_host;         /* emulator's copy of the caller's stdin end (socket), or -1 */
  int console_master;     /* emulator's copy of the pty master, or -1 */
  int out_copy, err_copy; /* copies of the caller's read ends, for HcsGetProcessInfo */
  char *image;            /* argv[0] */
  uint64_t start_ns;
  struct emu_handle *handles;
};

struct emu_system {
  struct emu_system *next;
  int refs;   /* handles + jobs */
  int listed; /* in emu->systems (findable by id) */
  char *id;
  char *owner;
  char *name;
  int schema; /* 1 or 2 */
  int terminate_on_close;
  enum emu_sys_state state;
  int create_done;
  int stopping; /* 0, or the exit type being produced */
  enum emu_exit_type exit_type;
  HRESULT exit_status;
  int nhandles;
  struct emu_handle *handles;
  struct emu_process *procs;
  uintptr_t *stop_ops; /* v2 Shutdown/Terminate operations completed at stop */
  size_t nstop_ops;
  uint64_t start_ns;
  int64_t start_wall; /* seconds since the epoch */
};

struct emu {
  pthread_t dispatcher, reaper;
  int quit;
  int disconnected;
  int wake_fd;            /* eventfd waking the reaper */
  pthread_cond_t cv;      /* dispatcher wake-up (CLOCK_MONOTONIC) */
  pthread_cond_t cv_done; /* state changes: op done, callback returned, process exit */
  struct emu_event *q_head, *q_tail;
  struct emu_handle **table;
  uint32_t *gens;
  uint32_t table_len;
  uint32_t free_hint;
  unsigned nhandles;
  struct emu_system *systems;
  uint64_t next_op_id;
};

/* ---- emu-core.c ---- */
extern pthread_mutex_t cow__emu_lock;
/* The running instance, started on demand (NULL when the start failed). Lock held. */
struct emu *cow__emu_get_locked(void);
/* The running instance or NULL; never starts it. Lock held. */
struct emu *cow__emu_current(void);
uint64_t cow__emu_now_ns(void);
/* Handles. alloc/lookup/close with the lock held. lookup returns NULL for a stale, closed
 * or wrong-kind value; kind EMU_H_FREE matches any kind. */
struct emu_handle *cow__emu_handle_new(struct emu *e, enum emu_kind kind, int api);
struct emu_handle *cow__emu_handle_lookup(struct emu *e, uintptr_t value, enum emu_kind kind,
                                          int api);
/* Close an owner reference: wait for in-flight callbacks (unless on the calling thread),
 * drop it, and stop the emulator when it was the last handle. Lock held; may unlock. */
void cow__emu_handle_close(struct emu *e, struct emu_handle *h);
void cow__emu_handle_unref(struct emu *e, struct emu_handle *h);
/* Stop an emulator that a failed call started without creating a handle. Lock held. */
void cow__emu_idle_check(struct emu *e);
/* Fill HCS_PROCESS_INFORMATION from fds (ownership moves to the caller). */
void cow__emu_fill_pi(HCS_PROCESS_INFORMATION *pi, uint32_t pid, int fds[3], const int invalid[3]);
/* Enumerate listed systems matching a ComputeSystemQuery; JSON array. */
HRESULT cow__emu_enumerate(struct emu *e, const char *query, char **out);
/* Strings returned through the APIs: tagged so that a free through the wrong table's
 * free_string, or a double free, is caught (docs/hcs-api.md §6.1 item 3). */
PWSTR cow__emu_wstr(int api, const char *utf8);
void cow__emu_free_wstr(int api, PWSTR s);
/* Decode an optional PCWSTR argument to UTF-8 (NULL or L"" -> *out = NULL). Returns an
 * HRESULT (E_INVALIDARG for invalid UTF-16, E_OUTOFMEMORY). */
HRESULT cow__emu_arg_utf8(PCWSTR s, char **out);
int cow__emu_on_dispatcher(void);

/* ---- emu-notify.c ---- */
void *cow__emu_dispatcher_main(void *arg);
struct emu_event *cow__emu_event_new(enum emu_ev_kind kind, const void *key);
void cow__emu_event_free(struct emu_event *ev);
void cow__emu_post(struct emu *e, struct emu_event *ev, unsigned delay_ms);
/* Queue a notification for one handle (copies data). */
void cow__emu_notify(struct emu *e, struct emu_handle *h, const void *key, uint32_t type,
                     HRESULT status, const char *data, unsigned delay_ms);
/* Complete an operation: record the result (doc copied) and queue its callback. */
void cow__emu_op_complete(struct emu *e, uintptr_t op, HRESULT hr, const char *doc, const void *key,
                          unsigned delay_ms);
/* Move a handle's sticky notifications back to the head of the queue. */
void cow__emu_flush_pending(struct emu *e, struct emu_handle *h);
/* Simulate a service disconnect (docs/hcs-api.md §6.6 item 24). */
void cow__emu_disconnect(struct emu *e);

/* ---- emu-reaper.c ---- */
void *cow__emu_reaper_main(void *arg);
void cow__emu_reaper_wake(struct emu *e);

/* ---- emu-system.c ---- */
/* Parse a schema1/schema2 document and register a system. Returns an HRESULT; on failure
 * *doc_out may receive a ResultError document (UTF-8, cow__free). */
HRESULT cow__emu_system_create(struct emu *e, int api, const char *id, const char *config,
                               struct emu_system **out, char **doc_out);
struct emu_system *cow__emu_system_find(struct emu *e, const char *id);
void cow__emu_system_ref(struct emu_system *s);
void cow__emu_system_unref(struct emu *e, struct emu_system *s);
/* Attach a new handle to s (and queue SystemExited for it when s already stopped). */
void cow__emu_system_attach(struct emu *e, struct emu_system *s, struct emu_handle *h);
void cow__emu_system_detach(struct emu *e, struct emu_handle *h);
/* A new handle of `api` on the registered system `id` (HcsOpenComputeSystem of both APIs):
 * S_OK with *value set, `not_found` when there is no such system, or E_OUTOFMEMORY. */
HRESULT cow__emu_system_open(struct emu *e, const char *id, int api, HRESULT not_found,
                             uintptr_t *value);
/* Unregister and free a system just created whose handle could not be made. */
void cow__emu_system_discard(struct emu *e, struct emu_system *s);
/* Lifecycle requests, run as jobs at their due time. `op` (v2) or v1 notification. */
enum emu_sys_verb {
  EMU_VERB_CREATE,
  EMU_VERB_START,
  EMU_VERB_SHUTDOWN,
  EMU_VERB_TERMINATE,
  EMU_VERB_PAUSE,
  EMU_VERB_RESUME
};
/* Synchronous state check for a verb: S_OK or the HRESULT the verb would fail with. */
HRESULT cow__emu_system_check(struct emu_system *s, enum emu_sys_verb verb, int api);
void cow__emu_system_job(struct emu_event *ev);
/* Job: the system exits unexpectedly (fault injection). */
void cow__emu_system_job_unexpected(struct emu_event *ev);
/* Begin stopping (signals sent); completes when every process is reaped. */
void cow__emu_system_stop(struct emu *e, struct emu_system *s, enum emu_exit_type how);
/* Called after a process was reaped or killed: finish a pending stop. */
void cow__emu_system_maybe_stopped(struct emu *e, struct emu_system *s);
/* Properties JSON (schema1/schema2 compatible) for a query; HRESULT. */
HRESULT cow__emu_system_properties(struct emu_system *s, const char *query, char **out);
char *cow__emu_exit_status_json(struct emu_system *s);
HRESULT cow__emu_validate_modify(const char *json);

/* ---- emu-process.c ---- */
HRESULT cow__emu_process_create(struct emu *e, struct emu_system *s, const char *params,
                                struct emu_process **out, int fds[3], int invalid[3],
                                char **doc_out);
struct emu_process *cow__emu_process_find(struct emu_system *s, uint32_t pid);
void cow__emu_process_attach(struct emu *e, struct emu_process *p, struct emu_handle *h);
void cow__emu_process_detach(struct emu_handle *h);
/* A new handle of `api` on the running process `pid` of s (HcsOpenProcess of both APIs):
 * S_OK with *value set, NOT_FOUND for no such or an exited process, or E_OUTOFMEMORY. */
HRESULT cow__emu_process_open(struct emu *e, struct emu_system *s, uint32_t pid, int api,
                              uintptr_t *value);
/* A process just started that cannot be handed out: kill it (the reaper collects it) and
 * close the caller-side stdio ends. */
void cow__emu_process_discard(struct emu_process *p, int fds[3]);
/* Record a reaped exit status and queue ProcessExited to every handle. */
void cow__emu_process_exited(struct emu *e, struct emu_process *p, int status);
char *cow__emu_process_status_json(struct emu_process *p);
HRESULT cow__emu_process_signal(struct emu_process *p, const char *options);
HRESULT cow__emu_process_terminate(struct emu_process *p);
HRESULT cow__emu_process_modify(struct emu_process *p, const char *settings);
/* Fresh duplicates of the caller-side stdio ends (HcsGetProcessInfo). */
HRESULT cow__emu_process_info_fds(struct emu_process *p, int fds[3]);

/* The per-process requests both DLL APIs offer, in this order in both export tables. */
enum emu_proc_verb { P_TERMINATE, P_SIGNAL, P_INFO, P_PROPERTIES, P_MODIFY };

/* Carry out `verb` on `p` (the API-independent part; lock held): terminate, signal and
 * modify take `arg`; P_PROPERTIES returns the status document in *doc (cow__free);
 * P_INFO returns fresh stdio duplicates in fds[] and which of them the stdio-invalid fault
 * marks invalid. Returns the HRESULT in its v2 form. */
HRESULT cow__emu_process_verb(struct emu_process *p, enum emu_proc_verb verb, const char *arg,
                              char **doc, int fds[3], int invalid[3]);
void cow__emu_process_free(struct emu_process *p);
/* kill(-pgid, sig) for every process of s that has not been reaped, and, except for
 * SIGCONT, kill(pid, sig) for every member /proc shows (descendants that left the groups). */
void cow__emu_system_signal_all(struct emu_system *s, int sig);
int cow__emu_dup_fd(int fd);

/* ---- emu-late.c ---- */
/* Start a relay that reads src to end of file, waits `ms`, writes it all to dst and closes
 * both (the output-late fault). Takes both fds on success; 0 or -1. Lock held. */
int cow__emu_late_relay(int src, int dst, unsigned ms);
/* Whether a relay still runs (cow__emu_wait_idle waits for them). Lock held. */
int cow__emu_late_relays_running(void);

/* ---- emu-procfs.c ---- */
/* A process of a system as /proc shows it: the live processes the system created, every
 * process of their sessions, and every descendant of those. */
struct emu_member {
  pid_t pid;
  pid_t ppid; /* its parent at the scan */
  int depth;  /* member ancestors above it */
  char state; /* /proc/PID/stat state letter at the scan */
};
/* Scan /proc for the members of s, sorted by depth (parents first); cow__free(*out).
 * Returns 0, or -1 without /proc or memory. Lock held. */
int cow__emu_procfs_members(const struct emu_system *s, struct emu_member **out, size_t *count);
/* The state letter of pid in /proc (0 when it is gone). */
char cow__emu_procfs_state(pid_t pid);
/* Add "ProcessList" / "Statistics" (schema1 and schema2 shapes agree) to props; 0, or -1
 * when out of memory (nothing added). */
int cow__emu_procfs_process_list(struct emu_system *s, json_t *props);
int cow__emu_procfs_statistics(struct emu_system *s, json_t *props);

/* ---- emu-freeze.c ---- */
/* Stop every member of s and return once each is stopped and no unstopped one is left:
 * S_OK, ERROR_TIMEOUT (0x800705B4) when one did not stop in time, E_FAIL when /proc could
 * not be scanned; on failure some may still run (thaw them). Lock held. */
HRESULT cow__emu_system_freeze(struct emu_system *s);
/* SIGCONT every member of s, children first. Lock held. */
void cow__emu_system_thaw(struct emu_system *s);

/* ---- emu-faults.c ---- */
#ifdef COW_TESTING
void cow__emu_faults_load_env(void); /* lock held; test builds only */
#endif
/* For a call of `name` through `api`: returns 1 and sets *hr when it must fail;
 * *reject = 1 when the call itself must return it. Lock held. */
int cow__emu_fault_fail(int api, const char *name, HRESULT *hr, int *reject);
unsigned cow__emu_fault_delay(int api, const char *name);
int cow__emu_fault_disconnect(int api, const char *name);
int cow__emu_fault_flag(cow__emu_fault_kind_t kind);
int32_t cow__emu_fault_value(cow__emu_fault_kind_t kind, int32_t dflt);
/* EXIT_UNEXPECTED rule for a system that just started: 1 and *ms when it applies. */
int cow__emu_fault_exit_unexpected(const char *system_id, unsigned *ms);

/* ---- helpers shared by both tables ---- */
/* A ResultError document (docs/hcs-api.md §4.4), or NULL (no-result-doc fault, no memory). */
char *cow__emu_result_error(HRESULT hr, const char *message);
/* Serialize and release j; the text is cow__malloc'd. NULL on failure. */
char *cow__emu_json_text(json_t *j);
void cow__emu_mark_dispatcher(void);
#define EMU_FAILED(hr) ((hr) < 0)

/* The v1 API reports HCS codes in their 0xC037xxxx (ERROR_VMCOMPUTE_*) form. */
static inline HRESULT emu_hr(int api, HRESULT hr)
{
  uint32_t u = (uint32_t)hr, low = u & 0xFFFFu;
  if (api == EMU_V1 && (u & 0xFFFF0000u) == 0x80370000u && low >= 0x100u && low <= 0x113u)
    return (HRESULT)(0xC0370000u | low);
  return hr;
}

#endif

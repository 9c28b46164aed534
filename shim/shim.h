/* containerd-shim-cow-v1: the state every part of the shim shares.
 *
 * One shim process serves one container (a task, with its init process and its exec
 * processes) for containerd, on one libuv loop that also runs libcow. The layers:
 *   main.c      the command line: start, delete, and the long-lived shim
 *   ttrpc-*.c   the ttrpc protocol (frames, server, client)
 *   task.c      containerd.task.v2.Task: one handler per method
 *   stats.c     Pids and Stats, from libcow's typed process list and statistics
 *   proc.c      the process table: init and execs, their state, exits and waiters
 *   io.c        containerd's fifos <-> the processes' libcow streams
 *   events.c    events to containerd
 *   backend-*.c the one place that knows a backend: its constructor and documents
 *   options.c   runtime options and annotations: which backend, which launcher
 * Every part talks to containers and processes through cow_container_t, cow_host_t and
 * cow_process_t only. */
#ifndef COW_SHIM_SHIM_H
#define COW_SHIM_SHIM_H

#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <uv.h>

#include "cow.h"
#include "events.h"
#include "io.h"
#include "options.h"
#include "pb.h"
#include "ttrpc.h"

#define SHIM_RUNTIME "io.containerd.cow.v1"
/* containerd's runtime.UnknownExitStatus: the exit of a process the shim lost track of. */
#define SHIM_UNKNOWN_EXIT 255

typedef struct shim shim_t;
typedef struct shim_task shim_task_t;
typedef struct shim_proc shim_proc_t;
typedef struct shim_backend shim_backend_t;

typedef enum shim_proc_state {
  PROC_CREATED,  /* known, not started */
  PROC_STARTING, /* Start in progress */
  PROC_RUNNING,
  PROC_EXITING, /* exited; its output is being written out */
  PROC_STOPPED
} shim_proc_state_t;

struct shim_proc {
  shim_proc_t *next;
  shim_task_t *task;
  char *exec_id; /* NULL for the init process */
  shim_proc_state_t state;
  int terminal;
  char *stdin_path, *stdout_path, *stderr_path;
  json_t *spec; /* the OCI process (execs); the init's is the task's spec.process */
  cow_process_t *cp;
  shim_io_t *io;
  uint32_t pid;
  uint32_t exit_status;
  struct timespec exited_at;
  ttrpc_call_t **waiters; /* Wait calls answered at the exit */
  size_t nwaiters;
  ttrpc_call_t *start_call; /* the Start in progress */
};

struct shim_task {
  shim_task_t *next;
  shim_t *shim;
  char *id, *bundle;
  json_t *spec; /* the bundle's config.json */
  Containerd__Types__Mount **rootfs;
  size_t nrootfs;
  const shim_backend_t *backend;
  void *backend_data;
  cow_container_t *container;
  shim_proc_t *init;
  shim_proc_t *execs;
  int paused;
  ttrpc_call_t *pending;     /* the Create or Delete in progress */
  ttrpc_call_t *update_call; /* the Update in progress */
};

struct shim {
  uv_loop_t *loop;
  const char *ns, *id, *address, *ttrpc_address, *publish_binary, *bundle;
  const char *socket_path; /* the ttrpc socket, removed at shutdown */
  shim_options_t options;  /* from start's stdin (runtime options) */
  shim_events_t *events;
  ttrpc_server_t *server;
  shim_task_t *tasks;
  int shutting_down;
  void (*on_shutdown)(shim_t *shim); /* main.c: Shutdown with no task left */
};

/* ---- backends (backend-*.c) ---- */

/* `status` 0, or a gRPC code with `message` for the failure. */
typedef void (*shim_backend_cb)(shim_task_t *t, int code, const char *message);

struct shim_backend {
  const char *name;
  /* Make t->container from t->spec and t->rootfs, ready for its init. `cb` once (maybe
   * inside the call); on failure t->container is NULL and nothing is left set up. */
  void (*create)(shim_task_t *t, shim_backend_cb cb);
  /* The process document for `p` (its OCI process `process`, the streams it needs as
   * 1 << COW_STD* bits). malloc'd, or NULL with `err` set. */
  char *(*process_doc)(shim_task_t *t, shim_proc_t *p, json_t *process, unsigned streams, char *err,
                       size_t errlen);
  /* Undo create: the container stopped and released, whatever create set up with it;
   * t->container is NULL from the call on. `cb` once (maybe inside the call). */
  void (*destroy)(shim_task_t *t, shim_backend_cb cb);
  /* Apply new OCI LinuxResources (`resources`, borrowed) to the running container. NULL: the
   * backend cannot. `cb` once (maybe inside the call). */
  void (*update)(shim_task_t *t, json_t *resources, shim_backend_cb cb);
};

extern const shim_backend_t shim_backend_hcs;
extern const shim_backend_t shim_backend_lcow;

/* `delete` after the shim whose ttrpc socket was `socket_path` died, in its bundle: stop the
 * utility VM's launcher if it still runs (SIGTERM, SIGKILL 10 s later), remove the VM's port
 * directory. */
void shim_lcow_cleanup(const char *socket_path);

/* ---- the process table (proc.c) ---- */

shim_proc_t *shim_proc_new(shim_task_t *t, const char *exec_id, int terminal,
                           const char *stdin_path, const char *stdout_path, const char *stderr_path,
                           json_t *spec);
shim_proc_t *shim_proc_find(shim_task_t *t, const char *exec_id);
/* Open the fifos; `cb` once. */
void shim_proc_open_io(shim_proc_t *p, void (*cb)(shim_proc_t *p, int code, const char *msg));
/* Create and start the process through the backend: `cb` once with the outcome. */
void shim_proc_start(shim_proc_t *p, void (*cb)(shim_proc_t *p, int code, const char *msg));
/* Queue a Wait call, or answer it now when the process stopped. */
void shim_proc_wait(shim_proc_t *p, ttrpc_call_t *call);
/* Close the process's libcow handle and fifos; the record stays (Delete answers from it).
 * Waiters still there are answered with SHIM_UNKNOWN_EXIT. */
void shim_proc_release(shim_proc_t *p);
/* Take the process off the table and release it (its libcow handle closes later). */
void shim_proc_free(shim_proc_t *p);
/* The status containerd sees. */
Containerd__V1__Types__Status shim_proc_status(const shim_proc_t *p);
/* The containerd process id ("" init's is the container id). */
const char *shim_proc_id(const shim_proc_t *p);

/* ---- the task service (task.c) ---- */

/* The Task service of `shim`. Returns 0, or -1 when the generated descriptor does not list
 * the methods in the order task.c expects (a build of mismatched sources). */
int shim_task_service(shim_t *shim, ttrpc_service_t *out);
/* The init exited and its output is out: stop what is left of the container. */
void shim_task_init_exited(shim_task_t *t);
/* The task with this id, or NULL. */
shim_task_t *shim_task_find(shim_t *shim, const char *id);
/* Pids and Stats (stats.c): the typed process list and statistics of the task's container. */
void shim_task_pids(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data);
void shim_task_stats(ttrpc_call_t *call, const ProtobufCMessage *msg, void *data);

/* ---- helpers ---- */

/* gRPC code for a libcow error. */
int shim_code(int cow_status);
/* "message (ENAME, HRESULT 0x...)" for a libcow error into buf. */
const char *shim_errmsg(char *buf, size_t len, int status, const cow_error_t *err);

#endif /* COW_SHIM_SHIM_H */

/* cow-gcs-peer: a GCS-compatible agent for tests (behaves like hcsshim v0.11.4's Linux GCS
 * as recorded in tests/conformance/recordings/gcs-v0.11.4). Single-threaded: one libuv loop for the
 * bridge and timers; processes are fork/exec'd; stdio relays that need copying run in small
 * forked helper processes (blocking copies, no exec), so no relay state machine is needed
 * in the loop and "relays drained" is simply "helper exited". */
#ifndef COW_TESTS_PEER_H
#define COW_TESTS_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <uv.h>

#include "guest/frame.h"

#define PEER_NULL_ID     "00000000-0000-0000-0000-000000000000"
#define PEER_BRIDGE_PORT 1073741824u

/* HRESULTs the v0.11.4 guest emits (docs/gcs-bridge-protocol.md §2.4), as sent on the wire. */
#define HR_E_NOTIMPL            ((int32_t)0x80004001u)
#define HR_E_FAIL               ((int32_t)0x80004005u)
#define HR_NOT_FOUND            ((int32_t)0x80070490u)
#define HR_INVALIDARG           ((int32_t)0x80070057u)
#define HR_TIMEOUT              ((int32_t)0xC0370109u)
#define HR_UNSUPPORTED_PROTOCOL ((int32_t)0xC037010Cu)
#define HR_INVALID_JSON         ((int32_t)0xC037010Du)
#define HR_SYSTEM_NOT_FOUND     ((int32_t)0xC037010Eu)
#define HR_SYSTEM_EXISTS        ((int32_t)0xC037010Fu)

typedef struct peer_faults {
  long drop_after;             /* close the bridge after N frames sent; -1 off */
  long garbage_after;          /* send a garbage header after N frames */
  long oversize_after;         /* send a > 64 KiB frame after N frames */
  long truncate_after;         /* send half of frame N+1, then close */
  unsigned delay_ms;           /* delay every response/notification */
  int reorder;                 /* answer pipelined requests in reverse order */
  int notify_unknown;          /* notification for an unknown container after negotiation */
  unsigned output_late_ms;     /* container stdout/stderr delivered MS after the exit was sent */
  const char *never_answer[8]; /* requests of these RPCs (cow__frame_rpc_name) are dropped */
  int n_never_answer;
  int background;   /* not a fault: --background, see main.c */
  int mount_layers; /* not a fault: --mount-layers, see rootfs.c */
} peer_faults_t;

typedef struct peer_container peer_container_t;
typedef struct peer_proc peer_proc_t;
typedef struct peer_waiter peer_waiter_t;
typedef struct peer_out peer_out_t;

/* A network namespace of the agent and the standalone container whose pid it holds. The
 * v0.11.4 agent never removes that pid (not even when the container is deleted), so a
 * second standalone container in the same namespace is refused at Create; without
 * windows.network.networkNamespace every standalone container lands in namespace "". */
typedef struct peer_netns {
  struct peer_netns *next;
  char *id;
  peer_container_t *owner;
} peer_netns_t;

typedef struct peer {
  uv_loop_t loop;
  const char *port_dir;
  peer_faults_t faults;
  uv_pipe_t bridge;
  int bridge_open;
  int stopping; /* shutting down: send nothing more */
  int exit_code;
  cow__frame_decoder_t dec;
  int negotiated;
  uint64_t frames_sent;
  uv_signal_t sigchld;
  uv_signal_t sigterm; /* SIGTERM/SIGINT: stop cleanly, killing the children */
  uv_signal_t sigint;
  uv_timer_t reorder_timer;
  peer_out_t *held; /* --reorder: responses waiting for the batch to end (LIFO) */
  peer_proc_t *procs;
  peer_container_t *containers;
  peer_netns_t *netns;
  unsigned ntimers; /* open waiter/delay timers (for teardown) */
} peer_t;

/* One request being handled. */
typedef struct peer_req {
  uint32_t type;
  uint64_t id;
  const uint8_t *raw;
  size_t raw_len;
  json_t *body;             /* object (null body -> empty object); NULL if it did not parse */
  const char *activity;     /* the echoed ActivityId, NULL when empty/absent */
  const char *container_id; /* "" when absent */
} peer_req_t;

/* 1 when a request of this type is to be dropped unanswered (--never-answer). */
int peer_faults_never_answer(const peer_t *peer, uint32_t type);

/* ---- bridge.c ---- */
int peer_bridge_start(peer_t *peer, int fd);
/* Response to `req` (takes ownership of body). */
void peer_respond(peer_t *peer, const peer_req_t *req, json_t *body);
/* Error response: Result hr, ErrorMessage msg (printf-style), one ErrorRecord. */
void peer_respond_error(peer_t *peer, const peer_req_t *req, int32_t hr, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
/* Plain "HRESULT: 0x%08x" error. */
void peer_respond_hr(peer_t *peer, const peer_req_t *req, int32_t hr);
/* Response with only Result 0 (+ ActivityId). */
void peer_respond_ok(peer_t *peer, const peer_req_t *req);
/* Base response object {"Result":r, "ActivityId":...}. */
json_t *peer_resp_base(const peer_req_t *req, int32_t result);
void peer_send_notification(peer_t *peer, json_t *body);
/* Stop everything: kill children, close handles; the loop then ends. */
void peer_stop(peer_t *peer, int exit_code);
void peer_log(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/* jansson results in the peer, every one checked: a constructor or a set that fails (no
 * memory) ends the peer with a message naming `what`: a test agent that answers with a part
 * missing would make a host test pass or fail for the wrong reason. */
void peer_oom(const char *what);
json_t *pj_checked(json_t *v, const char *what);        /* v, or peer_oom() when NULL */
void pj_set(json_t *o, const char *key, json_t *v);     /* json_object_set_new */
void pj_set_ref(json_t *o, const char *key, json_t *v); /* json_object_set (v borrowed) */
void pj_append(json_t *a, json_t *v);                   /* json_array_append_new */

/* ---- faults.c ---- */
int peer_faults_parse(peer_faults_t *f, int argc, char **argv, const char **port_dir);
/* Called once connected and after every frame written: applies drop/garbage/oversize. */
void peer_faults_after_send(peer_t *peer);
/* Before writing a frame: returns 1 when the frame must be truncated (then closed). */
int peer_faults_truncate_now(const peer_t *peer);

/* ---- handlers.c ---- */
void peer_dispatch(peer_t *peer, const cow__frame_t *frame);
/* The Go name of a message type for "function not supported" messages. */
void peer_go_type_name(uint32_t type, char *buf, size_t len);

/* ---- gojson.c: Go encoding/json semantics over jansson ---- */
/* Parse a message body like json.Unmarshal into a struct named go_type ("prot.X").
 * Returns the object (null -> {}), or NULL with the Go-style error text in err. */
json_t *gj_parse_object(const uint8_t *raw, size_t len, const char *go_type, char *err,
                        size_t errlen);
/* Lookup with Go's rules: exact key, else case-insensitive; JSON null counts as absent. */
json_t *gj_get(const json_t *obj, const char *key);
/* Typed getters: 0 (absent leaves *out unchanged) or -1 with a Go-style message in err. */
int gj_string(const json_t *obj, const char *key, const char *go_field, const char **out, char *err,
              size_t errlen);
int gj_uint(const json_t *obj, const char *key, const char *go_field, uint64_t max, uint64_t *out,
            char *err, size_t errlen);
int gj_int32(const json_t *obj, const char *key, const char *go_field, int32_t *out, char *err,
             size_t errlen);
int gj_bool(const json_t *obj, const char *key, const char *go_field, int *out, char *err,
            size_t errlen);
/* Checks the value is an object (or absent); returns it or NULL. */
int gj_object(const json_t *obj, const char *key, const char *go_field, json_t **out, char *err,
              size_t errlen);
/* Dump compactly the way Go's json.Marshal does (escapes <, >, &). malloc'd. */
char *gj_dump(const json_t *v, size_t *len);
/* A string with invalid UTF-8 replaced by U+FFFD (Go's behaviour when it prints bytes into a
 * JSON string). malloc'd. */
char *gj_utf8_sanitize(const uint8_t *s, size_t len);

/* ---- process.c ---- */
struct peer_waiter {
  peer_waiter_t *next;
  peer_proc_t *proc;
  peer_t *peer;
  uint32_t req_type;
  uint64_t req_id;
  char *activity;
  uv_timer_t timer;
  int has_timer;
};

struct peer_proc {
  peer_proc_t *next;
  peer_t *peer;
  peer_container_t *ctr; /* NULL: external (UVM) process */
  int is_init;
  pid_t pid;
  int reaped;
  int status;
  uint32_t exit_code;
  int published; /* exit code available */
  int removed;   /* no longer answers waits (retention rules) */
  int tty;
  int master_fd;  /* pty master kept for ResizeConsole; -1 */
  int held_fd;    /* tty mode: the unused stderr socket, closed at exit; -1 */
  pid_t relay_in; /* helper pids, 0 when none/exited */
  pid_t relay_out;
  pid_t relay_err;
  peer_waiter_t *waiters;
};

typedef struct peer_stdio_req {
  int want[3]; /* CreateStdInPipe, CreateStdOutPipe, CreateStdErrPipe */
  uint32_t port[3];
} peer_stdio_req_t;

typedef struct peer_spawn {
  char **argv;
  char **envp; /* NULL: inherit */
  const char *cwd;
  int tty;
  const char *path_env; /* PATH used to resolve argv[0] */
  const char *root;     /* chroot into this directory first (--mount-layers); NULL: none */
} peer_spawn_t;

/* Dial the requested stdio ports in the order stdin, stdout, stderr. fds[i] = -1 when not
 * requested. Returns 0 or -1 with a message. */
int peer_dial_stdio(peer_t *peer, const peer_stdio_req_t *sr, int fds[3], char *err, size_t errlen);
/* Start a process; `pipes_mode`: 1 = container (pipes + handshake relays), 0 = external
 * (sockets handed straight to the child). Takes ownership of fds. Returns the process or
 * NULL with err (Go-like message). */
peer_proc_t *peer_proc_start(peer_t *peer, peer_container_t *ctr, const peer_spawn_t *sp,
                             int fds[3], int pipes_mode, char *err, size_t errlen);
peer_proc_t *peer_proc_find(peer_t *peer, peer_container_t *ctr, uint32_t pid);
/* WaitForProcess. */
void peer_proc_wait(peer_t *peer, peer_proc_t *p, const peer_req_t *req, uint32_t timeout_ms);
void peer_on_sigchld(uv_signal_t *h, int signum);
void peer_kill_all_children(peer_t *peer);
void peer_proc_free_all(peer_t *peer);
/* Go-style ExitCode for a reaped process. */
uint32_t peer_exit_code(const peer_proc_t *p);

/* ---- rootfs.c (--mount-layers) ---- */
/* A private mount namespace with a tmpfs on /run/gcs. 0 or -1 (logged). */
int peer_rootfs_init(void);
/* CombinedLayers Add or Remove with its Settings. 0, or -1 with a message. */
int peer_rootfs_modify(const char *request_type, json_t *settings, char *err, size_t errlen);

/* ---- container.c ---- */
struct peer_container {
  peer_container_t *next;
  peer_t *peer;
  char *id;
  char *create_activity;
  json_t *spec; /* OciSpecification */
  peer_proc_t *init;
  int deleted;
  int notified;
  const char *exit_type; /* "UnexpectedExit" | "GracefulExit" | "ForcedExit" */
  pid_t *pgids;
  size_t npgids;
};

peer_container_t *peer_container_find(peer_t *peer, const char *id);
void peer_handle_create(peer_t *peer, const peer_req_t *req);
void peer_handle_shutdown(peer_t *peer, const peer_req_t *req, int forced);
void peer_handle_delete(peer_t *peer, const peer_req_t *req);
void peer_handle_get_properties(peer_t *peer, const peer_req_t *req);
/* runc kill --all: signal every process group the container ever had. */
void peer_container_kill_all(peer_container_t *c, int sig);
void peer_container_add_pgid(peer_container_t *c, pid_t pgid);
/* Init's exit code went to a waiter: send the exit notification once. */
void peer_container_maybe_notify(peer_container_t *c);
void peer_container_free_all(peer_t *peer);

#endif

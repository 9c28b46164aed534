/* Test support: a scripted GCS guest on its own thread, talking to a cow_host_t over a
 * socketpair (cow_guest_connect_stream), for hostile and odd guest behaviour that a real
 * agent never shows. The script uses blocking socket I/O; stdio connections are dialled
 * through an AF_UNIX port directory (cow_guest_transport_unix), exactly as the peer does.
 *
 * The guest thread never calls cmocka (its assertions longjmp): it records the first
 * failure with SG_CHECK/sg_fail and the test thread reports it in sg_finish(). The host
 * side runs the loop with a guard timer, so a missing callback fails instead of hanging.
 * Host and script synchronise through frames and through sg_signal()/sg_wait_host() (a
 * byte on a control socketpair), never through sleeps. */
#ifndef COW_TESTS_GUEST_SCRIPT_GUEST_H
#define COW_TESTS_GUEST_SCRIPT_GUEST_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "cow.h"
#include "cow/guest.h"
#include "guest/frame.h"

/* The Linux guest's negotiate answer (docs/gcs-bridge-protocol.md §3.1, as recorded from the real
 * v0.11.4 agent). */
#define SG_NEGOTIATED                                                                              \
  "{\"Result\":0,\"ActivityId\":\"834b1e7f-3925-42ca-aa4c-53f30465318e\",\"Version\":4,"           \
  "\"Capabilities\":{\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}],"                     \
  "\"RuntimeOsType\":\"Linux\",\"GuestDefinedCapabilities\":{\"NamespaceAddRequestSupported\":"    \
  "true,\"SignalProcessSupported\":true,\"DumpStacksSupported\":true,"                             \
  "\"DeleteContainerStateSupported\":true}}}"

typedef struct sg sg_t;
typedef void (*sg_script_fn)(sg_t *g);

struct sg {
  /* ---- guest thread ---- */
  int fd;        /* the guest's end of the bridge */
  int ctl_guest; /* reads the host's sg_signal() bytes */
  cow__frame_decoder_t dec;
  uint8_t buf[8192];
  size_t have, off;
  sg_script_fn script;
  void *arg;        /* for the script */
  int iarg;         /* for the script */
  const char *sarg; /* for the script */
  char fail[512];   /* the first failure of the script */
  /* results the script leaves for the test (read after sg_finish or after a signal) */
  int result[16];
  char text[1024];
  /* ---- host side ---- */
  uv_loop_t loop;
  uv_pipe_t pipe;
  uv_timer_t guard;
  int guard_fired;
  cow_host_t *host;
  cow_guest_transport_t *transport;
  char dir[64]; /* the port directory ("" without a transport) */
  int ctl_host;
  pthread_t thread;
  int connected, conn_status;
  cow_error_t conn_err;
  int closed;
};

/* ---- guest side (script thread) ---- */

void sg_fail(sg_t *g, const char *fmt, ...);
#define SG_CHECK(g, cond)                                                                          \
  do {                                                                                             \
    if (!(cond))                                                                                   \
      sg_fail((g), "%s:%d: %s", __FILE__, __LINE__, #cond);                                        \
  } while (0)

/* Next frame: 1, 0 at end of stream, < 0 on a framing or read error. */
/* Read the next frame from blocking descriptor `fd` through `dec`, buffering in buf[cap]
 * (*have bytes, *off consumed): 1 with a frame in *f, 0 at end of file, < 0 on an error.
 * Shared by the script guest and the wire tests' guest. */
int sg_read_frame(int fd, cow__frame_decoder_t *dec, uint8_t *buf, size_t cap, size_t *have,
                  size_t *off, cow__frame_t *f);
int sg_read(sg_t *g, cow__frame_t *f);
/* Next frame, which must be of `type` (else a failure and NULL): its payload as JSON
 * (caller decrefs) and its id in *id (may be NULL). */
json_t *sg_expect(sg_t *g, uint32_t type, uint64_t *id);
/* Read until end of stream; a failure if any frame arrives. Returns 1 at EOF. */
int sg_expect_eof(sg_t *g);
void sg_send(sg_t *g, uint32_t type, uint64_t id, const char *body);
void sg_sendf(sg_t *g, uint32_t type, uint64_t id, const char *fmt, ...);
void sg_raw(sg_t *g, const void *bytes, size_t len);
/* Encode a frame into `out` (16 + strlen(body) bytes); returns its length. */
size_t sg_frame(uint8_t *out, uint32_t type, uint64_t id, const char *body);
/* Read the negotiate request and answer it (`answer` NULL: SG_NEGOTIATED). */
void sg_negotiate(sg_t *g, const char *answer);
/* Block until the host calls sg_signal(); 0, or -1 when the host side finished. */
int sg_wait_host(sg_t *g);
/* Dial port `port` of the port directory; the fd or -1. */
int sg_dial(sg_t *g, uint32_t port);
/* Read `fd` to end of file into buf (NUL-terminated); the byte count. */
size_t sg_drain(int fd, char *buf, size_t len);
void sg_write_all(int fd, const void *buf, size_t len);

/* ---- host side (test thread) ---- */

/* Set up the loop, the socketpair, the port directory (if with_transport), start the
 * script and call cow_guest_connect_stream() with `opts` (may be NULL). */
void sg_start(sg_t *g, sg_script_fn script, const cow_guest_options_t *opts, int with_transport);
/* sg_start, then run until connected and assert success. */
void sg_start_ok(sg_t *g, sg_script_fn script, const cow_guest_options_t *opts, int with_transport);
/* Run until *flag != 0 (asserts it happens within 10 s). */
void sg_run_until_at(sg_t *g, const int *flag, const char *file, int line);
void sg_run_count_at(sg_t *g, const int *count, int n, const char *file, int line);
#define sg_run_until(g, flag)     sg_run_until_at((g), (flag), __FILE__, __LINE__)
#define sg_run_count(g, count, n) sg_run_count_at((g), (count), (n), __FILE__, __LINE__)
/* Run the loop for `ms` (to show that nothing happens). */
void sg_run_for(sg_t *g, uint64_t ms);
/* Let the script's sg_wait_host() return. */
void sg_signal(sg_t *g);
/* Bridge error code now (0 alive) and the cause's message into `msg`. */
int sg_bridge_error(sg_t *g, char *msg, size_t len);
/* Close the host (unless already closed), join the script, release everything, assert
 * uv_loop_close() == 0 and that the script did not fail. */
void sg_finish(sg_t *g);

/* Container document with linux, process and root. Returns malloc'd JSON. */
char *sg_container_doc(const char *bundle);

#endif

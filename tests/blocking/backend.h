/* The real backends for the blocking API's tests: an HCS compute system on the emulator
 * (v1 or v2), or a guest connection to cow-gcs-peer over a port directory. Failures end
 * the test with a message (cmocka), never a hang: every wait has a deadline. */
#ifndef COW_TESTS_BLOCKING_BACKEND_H
#define COW_TESTS_BLOCKING_BACKEND_H

#include <sys/types.h>

#include "cow.h"

struct backend {
  const char *name;
  cow_blocking_t *b;
  cow_host_t *host;        /* where processes run: the system's host view, or the connection */
  cow_container_t *system; /* HCS */
  int schema;              /* process documents: 1 (HCS v1) or 2 */
  pid_t peer;              /* guest */
  char dir[64];
  cow_guest_transport_t *transport;
};

/* Fail the test unless rc is 0, naming `what` and the error. */
void check(int rc, const cow_error_t *err, const char *what);

/* A started compute system with a fresh id. */
void hcs_open(struct backend *be, cow_hcs_api_t api);
/* cow-gcs-peer (`peer_path`) started on a fresh port directory, and the connection to it. */
void guest_open(struct backend *be, const char *peer_path);
/* Stop and close the system, or close the connection and see the peer leave (exit 0). */
void backend_close(struct backend *be);
/* Wait for the peer to exit (10 s at most, then SIGKILL and fail); its wait status. */
int peer_reap(struct backend *be);

/* A process of `argv` with the stdio pipes asked for, on be->host. */
cow_process_t *start(struct backend *be, const char *const *argv, int in, int out, int errp);

/* Reads on socket `fd` give up after 10 s, so that a missing end of file fails with a
 * message; read_to_eof() reads until end of file (failing past `size` bytes). */
void read_deadline(int fd);
size_t read_to_eof(int fd, char *buf, size_t size, const char *what);

#endif

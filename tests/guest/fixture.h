/* Test support for the guest-connection tests: a loop, a temporary port directory, the
 * cow-gcs-peer child process, a connected cow_host_t, loop running with deadlines, and
 * stdout/stderr capture. Every test ends with fx_teardown(), which closes everything and
 * asserts uv_loop_close() == 0. */
#ifndef COW_TESTS_GUEST_FIXTURE_H
#define COW_TESTS_GUEST_FIXTURE_H

#include <stdint.h>

#include <uv.h>

#include "cow.h"
#include "cow/guest.h"
#include "cow/stdio.h"

/* Path of cow-gcs-peer (from argv[1], set by fx_main_args). */
extern const char *fx_peer_path;
void fx_main_args(int argc, char **argv);

typedef struct fx {
  uv_loop_t loop;
  char dir[64];
  cow_guest_transport_t *transport;
  cow_host_t *host;
  uv_process_t peer;
  int peer_running;
  int peer_exited;
  int64_t peer_exit;
  int peer_signal;
  int connect_calls;
  int connect_status;
  int host_closed;
} fx_t;

/* Create the loop and the temp dir, start listening and spawn the peer with the extra
 * arguments (NULL-terminated list, may be NULL); run until connected (asserts success
 * unless expect_fail). */
void fx_setup(fx_t *fx, const char *const *peer_args, const cow_guest_options_t *opts);
void fx_setup_expect(fx_t *fx, const char *const *peer_args, const cow_guest_options_t *opts,
                     int expect_connect_ok);

/* Close the host (if open), wait for the peer to exit (SIGKILL after 5 s), close the loop,
 * remove the dir; then fail naming what did not end (the loop closed by force if needed). */
void fx_teardown(fx_t *fx);

/* Run the loop until *flag != 0 or `ms` elapse (or nothing is left to run); returns 1 if
 * the flag was set. Callers assert the result (tests/support/wait.h). */
int fx_run_until(fx_t *fx, const int *flag, uint64_t ms);
/* Run until the count reaches `n`. */
int fx_run_until_count(fx_t *fx, const int *count, int n, uint64_t ms);

/* A captured output stream. */
typedef struct fx_capture {
  char *data;
  size_t len, cap;
  uint64_t total;
  uint32_t sum; /* adler-ish running checksum of every byte */
  int eof;
  int keep; /* keep the bytes (else only count and checksum) */
} fx_capture_t;

/* A process run: create + capture + wait. */
typedef struct fx_proc {
  fx_t *fx;
  cow_process_t *p;
  int create_calls, create_status;
  int wait_calls, wait_status;
  int64_t exit_code;
  int close_calls;
  fx_capture_t out, err;
} fx_proc_t;

/* Create a process on `host` from config JSON; starts reading stdout/stderr (if
 * requested) when created, and registers one waiter. */
int fx_proc_start(fx_proc_t *pr, fx_t *fx, cow_host_t *host, const char *config);
/* Run until exit (wait callback) or timeout; asserts it happened. */
void fx_proc_run(fx_proc_t *pr, uint64_t ms);
/* Close the process handle and run until its close callback. */
void fx_proc_close(fx_proc_t *pr);

uint32_t fx_checksum_update(uint32_t sum, const void *buf, size_t len);

/* Build UVM process parameters: argv (NULL-terminated) with pipes. Returns malloc'd JSON. */
char *fx_params(const char *const *argv, int in, int out, int err, int tty);

#endif

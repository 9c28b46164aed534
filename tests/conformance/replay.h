/* Test support: replay the host side of a GCS recording against a guest program (the
 * cow-gcs-peer) and compare what the guest sends with what the real agent sent.
 *
 * The replayer listens on DIR/1073741824 in a fresh temp directory, starts the guest with
 * `--port-dir DIR [extra args]`, then walks the recording in order:
 *   host->gcs frame   written (consecutive ones in one write, as a pipelining host does);
 *                     recorded process ids are rewritten to the live ones, and the stdio
 *                     ports of an ExecuteProcess get listeners before it is sent;
 *   gcs->host frame   awaited (matched by type and id; responses may come in any order) and
 *                     compared field by field with cow_cmp_bodies and the given rules;
 *   stdio record      played: accept on "connected", write host data, shutdown/close as
 *                     the host did; at "EOF" the stream is read to its end and compared;
 *   note              "host: shutdown(SHUT_WR) on the bridge socket" is performed.
 * Blocking, single-threaded (poll with timeouts); no libuv. */
#ifndef COW_TESTS_CONFORMANCE_REPLAY_H
#define COW_TESTS_CONFORMANCE_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "conformance/recording.h"

typedef struct cow_replay_opts {
  const char *scenario;          /* recording name, e.g. "a_echo" */
  const char *guest_path;        /* program to start */
  const char *const *guest_args; /* extra arguments, NULL-terminated, or NULL */
  const cow_cmp_rule_t *rules;   /* NULL: cow_cmp_default_rules */
  /* Stdio check at a recorded EOF; NULL = exact equality. Return 0 if acceptable. */
  int (*stdio_check)(void *ctx, uint32_t port, const char *stream, const uint8_t *expected,
                     size_t expected_len, const uint8_t *actual, size_t actual_len, char *why,
                     size_t whylen);
  /* Frames the guest sends beyond the recording (checked after the last record). Return 0
   * to accept one; NULL = any extra frame is a failure. */
  int (*extra_frame)(void *ctx, uint32_t type, uint64_t id, const uint8_t *body, size_t len,
                     char *why, size_t whylen);
  void *ctx;
  int expect_guest_close;    /* the guest closes the bridge by itself at the end */
  int expect_exit_status;    /* the guest's exit status once the bridge is gone (usually 0) */
  unsigned frame_timeout_ms; /* per awaited frame/stdio event; 0 = 15000 */
} cow_replay_opts_t;

typedef struct cow_replay_stats {
  unsigned frames_sent;
  unsigned frames_compared;
  unsigned stdio_compared;
  unsigned extra_frames;
} cow_replay_stats_t;

/* Returns 0 when everything matched; -1 with a reason in why. The guest is always reaped
 * (killed if it does not exit in time) and the temp directory removed. */
int cow_replay_run(const cow_replay_opts_t *opts, cow_replay_stats_t *stats, char *why,
                   size_t whylen);

#endif

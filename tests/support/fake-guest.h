/* Test and benchmark support: a minimal GCS guest that answers every request at once.
 *
 * It speaks just enough of the bridge (docs/gcs-bridge-protocol.md §1-§4) to drive the host
 * side's hot paths, and nothing else, so that what is measured is the host:
 *   NegotiateProtocol  version 4, Linux, SignalProcessSupported
 *   ExecuteProcess     a new pid (100, 101, ...)
 *   WaitForProcess     ExitCode 0 at once; for a process whose parameters contain
 *                      FG_HOLD_MARKER the answer is held until that process is killed
 *                      (a SignalProcess without Options), then ExitCode 137
 *   anything else      Result 0 (SignalProcess, ResizeConsole, ...)
 * Every answer carries a GUID ActivityId, as the real agent's do; a Result-only answer is
 * 64 bytes (an 80-byte frame). No JSON library and no heap: the allocation counts of the
 * process stay the host's. Thread: a guest is used by one thread at a time. */
#ifndef COW_TESTS_SUPPORT_FAKE_GUEST_H
#define COW_TESTS_SUPPORT_FAKE_GUEST_H

#include <stddef.h>
#include <stdint.h>

#define FG_HOLD_MARKER "cow-fake-guest-hold"
#define FG_MAX_HELD    4096

typedef struct fg {
  int fd;
  uint8_t in[65536];
  size_t have;
  uint8_t out[65536];
  size_t out_len;
  uint32_t next_pid;
  struct {
    uint32_t pid;
    unsigned waiting : 1;
    uint64_t wait_id; /* the held WaitForProcess request */
  } held[FG_MAX_HELD];
  size_t nheld;
  uint64_t requests, answers;
  /* >= 0: the first request of each type is copied there, whole frame, as it arrives (a
   * pipe to another process): lets a baseline send exactly the bytes the library sent. */
  int capture_fd;
  uint32_t captured; /* bit n: a request with message id n was copied */
} fg_t;

/* Serve `fd` (a connected stream socket; its blocking mode is the caller's choice). No
 * capture (capture_fd -1). */
void fg_init(fg_t *g, int fd);

/* Read once (waiting for data when `wait`, else only what is there) and answer every
 * complete request; the answers are written before returning. Returns the number of bytes
 * read, 0 when nothing was there (`wait` 0), -1 at end of stream or on an error. */
int fg_pump(fg_t *g, int wait);

/* Serve `n` guests until every one of them reached end of stream (poll(2)). Used by the
 * benchmark's guest process. Returns 0, or -1 on a poll error. */
int fg_serve(fg_t *const *guests, int n);

#endif

/* The stdio of one process: the fifos containerd's client created (ctr, CRI) on one side,
 * the process's libcow streams on the other.
 *
 * Output (stdout, stderr): the fifo is opened for writing once its reader is there (at
 * Create/Exec, like the stock shim: output written before the reader came would be lost
 * when the last descriptor closes); the process's bytes are written in order. A reader
 * that leaves makes the writes fail with EPIPE: the rest is read and dropped, so neither
 * the process nor the shim ever waits for a client that is gone. A slow reader holds the
 * process back instead (reading pauses past IO_HIGH_WATER bytes queued), never the shim.
 * Input (stdin): the fifo is read from the start; end of file reaches the process when the
 * client closed its end, or at CloseIO once what the client wrote before is read. */
#ifndef COW_SHIM_IO_H
#define COW_SHIM_IO_H

#include <uv.h>

#include "cow.h"

#define IO_HIGH_WATER      (1u << 20)
#define IO_OPEN_RETRY_MS   5
#define IO_OPEN_TIMEOUT_MS 30000 /* no reader on an output fifo this long: Create fails */

typedef struct shim_io shim_io_t;

/* `status` 0, or a negative libuv code (`what` then names the fifo and the failure). */
typedef void (*shim_io_cb)(shim_io_t *io, int status, const char *what, void *data);

/* Open the fifos (an empty or NULL path: that stream is not wanted). `cb` runs once, never
 * inside this call, when every fifo is open or one failed. Paths are copied.
 * Returns 0 or UV_ENOMEM. */
int shim_io_open(shim_io_t **out, uv_loop_t *loop, const char *stdin_path, const char *stdout_path,
                 const char *stderr_path, shim_io_cb cb, void *data);

/* Which process streams the fifos need: COW_STDIN/STDOUT/STDERR bits (1 << which). */
unsigned shim_io_wanted(const shim_io_t *io);

/* Start relaying between the fifos and the created process `p` (its streams must be
 * those shim_io_wanted() asked for). */
void shim_io_attach(shim_io_t *io, cow_process_t *p);

/* CloseIO: what is in the fifo now goes to the process, then end of file. Idempotent. */
void shim_io_close_stdin(shim_io_t *io);

/* The process exited: `cb` runs once (never inside this call) when its output reached end
 * of file and every byte read went into the fifos (or was dropped because their reader
 * left); the output fifos are closed then, so the reader sees end of file. `cut`: the exit
 * came without end of file (libcow's COW_EIO_TIMEOUT: something else holds the output
 * open): reading stops, what was read is still written. */
void shim_io_drain(shim_io_t *io, int cut, shim_io_cb cb, void *data);

/* Release everything now (a drain in progress never calls back). NULL is allowed. */
void shim_io_close(shim_io_t *io);

#endif /* COW_SHIM_IO_H */

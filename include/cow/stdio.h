/** @file cow/stdio.h
 * @brief The stdio streams of a process.
 *
 * The one consumer header that includes <uv.h>: the streams are plain libuv streams. Not
 * part of the umbrella <cow.h>: include it where the streams are used. Under strict C11 on
 * POSIX, define _POSIX_C_SOURCE=200809L (as <uv.h> itself requires).
 */
#ifndef COW_STDIO_H
#define COW_STDIO_H

#include <uv.h>

#include "common.h"
#include "process.h"

COW_BEGIN_DECLS

/** The stdio streams, available once the create callback reported success. A stream that
 *  was not requested is NULL; any out-parameter may be NULL.
 *  Ownership: owned by the process, valid until its close callback.
 *  Write stdin with uv_write(). Read stdout/stderr through cow_process_read_start(), not
 *  uv_read_start(): the library must see end of file, because the exit is reported only
 *  after it (a read the library cannot see makes the exit wait for the drain timeout).
 *  @retval COW_ENOT_STARTED create has not completed successfully.
 *  Thread: loop thread.
 *  @param stdin_stream Receives stdin, or NULL when it was not requested (may be NULL).
 *  @param stdout_stream Receives stdout, or NULL when it was not requested (may be NULL).
 *  @param stderr_stream Receives stderr, or NULL when it was not requested (may be NULL).
 *  @param process The process.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_stdio(uv_stream_t **stdin_stream, uv_stream_t **stdout_stream,
                                 uv_stream_t **stderr_stream, cow_process_t *process);

/** Start reading stdout or stderr. `read_cb` sees exactly what uv_read_start() would give
 *  it, including UV_EOF (or a read error); right after that callback returns, the library
 *  closes that stream (the GCS withholds the exit until the host closes its end) and
 *  counts it as drained. The stream pointer stays valid memory until the process's close
 *  callback, but is closed. The stream's `data` field stays the caller's.
 *  @retval COW_EINVAL `which` is not stdout/stderr, or that stream was not requested.
 *  @retval COW_EALREADY end of file was already seen or the stream was closed.
 *  Thread: loop thread. Callback: alloc_cb and read_cb run on the loop thread, per read.
 *  @param process The process.
 *  @param which COW_STDOUT or COW_STDERR.
 *  @param alloc_cb Allocates read buffers, as for uv_read_start().
 *  @param read_cb Receives the data, end of file or a read error, as for uv_read_start().
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_read_start(cow_process_t *process, cow_stdio_t which,
                                      uv_alloc_cb alloc_cb, uv_read_cb read_cb);

/** Pause reading (uv_read_stop()); resume with cow_process_read_start(). Thread: loop thread.
 *  @param process The process.
 *  @param which COW_STDOUT or COW_STDERR.
 *  @return 0 on success, or a negative COW_E* code. */
COW_EXTERN int cow_process_read_stop(cow_process_t *process, cow_stdio_t which);

COW_END_DECLS

#endif /* COW_STDIO_H */

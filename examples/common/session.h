/* The seat of a `docker run`-like program, shared by cow-run and lcow-exec: the command-line
 * flags both take (-t -i -e -w), the local terminal (raw mode, window size), the stdio
 * relay between fds 0/1/2 and a libcow process, signal forwarding, and the exit code.
 *
 * A program opens a session on its loop, sets up its backend, hands the session a host
 * and a process document (session_start), and gets `done` once the process exited and
 * its output was written out (or failed to start). It then tears its backend down and
 * calls session_close(), which restores the terminal and closes every handle the session
 * opened, so that uv_loop_close() succeeds. */
#ifndef COW_EXAMPLES_SESSION_H
#define COW_EXAMPLES_SESSION_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "cow.h"
#include "cow/stdio.h"

/* docker's exit codes for failures of the runner itself, not of the command. */
#define SESSION_EXIT_USAGE         2   /* bad command line */
#define SESSION_EXIT_FAILED        125 /* the runner or the backend failed */
#define SESSION_EXIT_CANNOT_INVOKE 126 /* the command exists but cannot be run */
#define SESSION_EXIT_NOT_FOUND     127 /* the command does not exist */

/* The flags shared by both programs. */
typedef struct session_opts {
  int tty;         /* -t: the process gets a console */
  int interactive; /* -i: forward stdin */
  char **env;      /* "NAME=VALUE", NULL-terminated; owned */
  size_t nenv;
  const char *workdir; /* -w; borrowed from argv */
  char **argv;         /* the command; borrowed from argv, NULL-terminated, may be empty */
  int log_level;       /* -v / --log-level: a cow_log_level_t, or -1 for none */
} session_opts_t;

/* Help text of the shared flags, for the programs' --help. */
extern const char session_common_help[];

/* The `val` of a program's own long options that have no short form start here (above
 * every character and the shared options' values). */
#define SESSION_OPT_OWN 0x200

/* One of the program's own options: `key` is its `val` (or its short character), `arg` its
 * value (NULL for a flag). Return -1 to go on, or an exit code to stop parsing with (after
 * a message: session_usage_error()). */
typedef int (*session_option_cb)(int key, const char *arg, void *data);

/* Parse the command line with getopt_long(): the shared options (-t -i -e -w -v,
 * --log-level, --help, --version) and the program's own, given as a getopt_long table
 * `own` (ending with a zeroed entry; may be NULL) and their short letters `own_short` (as
 * in getopt's optstring; may be NULL). Every long option takes "--opt VALUE" and
 * "--opt=VALUE"; options end at "--" or at the first non-option, so the command's own
 * flags are never taken. `-e NAME` without '=' takes NAME's value from this environment
 * (skipped when unset) and -t adds TERM (this environment's, else xterm) unless -e set it,
 * as docker does; -v/--log-level install a libcow log callback printing to stderr.
 * Returns -1 to go on (o->argv is the command, possibly empty), or the exit code: 0 after
 * --help (`usage` is a printf format given session_common_help) or --version,
 * SESSION_EXIT_USAGE after a usage error (message printed). */
int session_parse(session_opts_t *o, const char *prog, const char *usage, const struct option *own,
                  const char *own_short, session_option_cb cb, void *data, int argc, char **argv);

/* 1 when `s` is UTF-8 that JSON text can carry (RFC 3629: no overlong forms, no UTF-16
 * surrogates, nothing above U+10FFFF), as jansson requires; 0 otherwise. */
int session_valid_utf8(const char *s);

/* Print "PROG: WHAT is not valid UTF-8: 'VALUE'" (bytes outside ASCII escaped) and that
 * nothing was run; returns SESSION_EXIT_USAGE. session_parse() checks the command, the
 * environment and the directory this way; a program checks its own texts (ids, paths
 * that go to the service) with it. */
int session_not_utf8(const char *prog, const char *what, const char *value);

/* Print "PROG: message" and "Try 'PROG --help'." on stderr; returns SESSION_EXIT_USAGE. */
int session_usage_error(const char *prog, const char *fmt, ...);

/* Release what session_parse() allocated. */
void session_opts_free(session_opts_t *o);

/* Send libcow's log lines up to `level` to stderr as "PROG: LEVEL: SUBSYSTEM: message". */
void session_log_enable(cow_log_level_t level, const char *prog);

/* Print a failure: "PROG: WHAT: message (ENAME, HRESULT 0x...)". `err` may be NULL. */
void session_report(const char *prog, const char *what, int status, const cow_error_t *err);

/* The exit code for a process that failed to start: 127 not found, 126 not runnable,
 * 125 anything else. */
int session_create_exit_code(int status, const cow_error_t *err);

typedef struct session session_t;

/* Runs once: the process ended (or never started); `exit_code` is what the program should
 * exit with. The process handle is closed by the session afterwards. */
typedef void (*session_done_cb)(session_t *s, int exit_code, void *data);

/* A signal: `abort_cb` gets one that arrived before session_start() (the program aborts its
 * setup, tearing down what it made); `abandon_cb` the second SIGINT/SIGTERM, in any phase
 * (the program prints what it abandons, closes every handle without waiting for anything
 * remote, calls session_close(), and exits with 128+signo). */
typedef void (*session_abort_cb)(session_t *s, int signo, void *data);

/* Open the local side: fds 1/2 (and 0 with -i) as libuv handles (tty or pipe; a regular
 * file gets plain I/O), signal watchers (SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1/2 are
 * forwarded; SIGWINCH with -t resizes). Returns 0 or a negative libuv code (message
 * printed); `*out` is set either way and must be closed with session_close(). */
int session_open(session_t **out, uv_loop_t *loop, const session_opts_t *opts, const char *prog,
                 session_abort_cb abort_cb, session_abort_cb abandon_cb, void *data);

/* The local terminal size for -t (from stdout, else stdin); -1 when there is none. */
int session_console_size(session_t *s, uint16_t *width, uint16_t *height);

/* Create the process on `host` from `config_json` and run it to the end. `done` runs
 * exactly once: later, or inside this call when the process cannot even be requested. */
void session_start(session_t *s, cow_host_t *host, const char *config_json, session_done_cb done,
                   void *data);

/* Restore the terminal and close every handle; the memory is freed when the close
 * callbacks have run (uv_run the loop to the end). Safe to call once, on any path. */
void session_close(session_t *s);

/* Put the local terminal back in its original mode. Idempotent; also registered with
 * atexit() so that no exit path leaves the terminal raw. */
void session_restore_terminal(void);

#endif

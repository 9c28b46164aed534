/* cow-run: run a command in a compute system of the Host Compute Service, like
 * `docker run` / `ctr run`: create the system, start it, run the command with the
 * terminal wired to it, forward signals, exit with the command's exit code, then shut the
 * system down. On Linux the HCS is the emulator embedded in libcow (real processes); on
 * Windows computecore.dll / vmcompute.dll, loaded at run time (a Windows without them gets
 * exit code 125 and a message naming the DLL, not a loader failure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "common/session.h"
#include "cow.h"
#include "cow/hcs.h"

static const char usage[] =
    "Usage: cow-run [OPTIONS] [--] CMD [ARG...]\n"
    "\n"
    "Run CMD in a new compute system of the Host Compute Service and exit with its exit\n"
    "code. The system is created from a document built by libcow's typed builders (schema1\n"
    "ContainerConfig for --hcs v1, schema2 ComputeSystem for v2), started, and shut down\n"
    "when the command ends (terminated if it does not stop within --stop-timeout). On\n"
    "Linux the service is libcow's embedded emulator, which runs CMD as a real process of\n"
    "this machine; on Windows it is vmcompute.dll / computecore.dll.\n"
    "\n"
    "Options:\n"
    "      --hcs v1|v2       the DLL API: v1 = vmcompute.dll (schema1), v2 = computecore.dll\n"
    "                        (schema2, the default)\n"
    "      --id NAME         the compute system's id (default: cow-run-PID)\n"
    "      --stop-timeout S  seconds to wait for a graceful shutdown before terminating the\n"
    "                        system (default 10)\n"
    "      --timeout S       seconds each request to the Host Compute Service may take (create,\n"
    "                        start, signal, resize, shutdown, terminate; default: no bound but\n"
    "                        30 for shutdown and terminate)\n"
    "%s"
    "\n"
#ifdef _WIN32
    "Console events: Ctrl-C, Ctrl-Break and closing the console are forwarded to the\n"
    "command as CtrlC, CtrlBreak and CtrlClose; with -t, resizing this console resizes\n"
    "its console.\n"
#else
    "Signals: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1 and SIGUSR2 sent to cow-run are\n"
    "forwarded to the command; with -t, SIGWINCH resizes its console to this terminal's.\n"
#endif
    "A second SIGINT or SIGTERM (Ctrl-C, Ctrl-Break) abandons whatever is in flight, in any\n"
    "phase: cow-run says what it abandoned, closes the system's handle (which terminates the\n"
    "system and its processes) and exits at once with 128+N.\n"
    "When what reads cow-run's output goes away (cow-run -- yes | head -1), the command's\n"
    "output is closed and, where signals exist, it gets SIGPIPE: it ends, and so does cow-run.\n"
    "\n"
    "Exit status:\n"
    "  the command's exit code (128+N when a signal N killed it)\n"
    "  2    bad command line, including text that is not UTF-8 (nothing was run)\n"
    "  125  cow-run itself or the Host Compute Service failed (the message gives the\n"
    "       libcow error and the HRESULT)\n"
    "  126  the command exists but cannot be run\n"
    "  127  the command was not found\n"
    "\n"
#ifdef _WIN32
    "Example: cow-run -- cmd /c \"echo hello & exit 3\" & echo %%ERRORLEVEL%%\n";
#else
    "Example: cow-run -- sh -c 'echo hello; exit 3'; echo $?\n";
#endif

struct run {
  uv_loop_t loop;
  session_opts_t opts;
  session_t *s;
  cow_hcs_options_t hopts;
  char id[64];
  uint64_t stop_timeout_ms;
  uint64_t timeout_ms; /* --timeout: each request to the HCS; 0 none */
  cow_container_t *c;
  int exit_code;
  int aborted, finished;
  const char *phase; /* what is in flight, for the message of an abandon */
};

static const char prog[] = "cow-run";

/* session_report() for a step on the compute system, naming it: "WHAT ID: ...". */
static void report(const struct run *r, const char *what, int status, const cow_error_t *err)
{
  char buf[160];
  snprintf(buf, sizeof buf, "%s %s", what, r->id);
  session_report(prog, buf, status, err);
}

static void finish(struct run *r)
{
  if (r->finished)
    return;
  r->finished = 1;
  if (r->c != NULL)
    cow_container_close(r->c, NULL, NULL); /* terminates the system (last handle) */
  r->c = NULL;
  session_close(r->s);
}

/* A second SIGINT/SIGTERM, in any phase: close the system's handle now, which terminates it
 * and its processes (terminate-on-last-close), and wait for nothing else. */
static void abandoned(session_t *s, int signo, void *data)
{
  struct run *r = data;
  fprintf(stderr, "%s: second signal: abandoned while %s %s\n", prog, r->phase, r->id);
  r->exit_code = 128 + signo;
  finish(r);
}

/* The callbacks below run after an abandon too (ECANCELED): they then do nothing. */

static void stopped(cow_container_t *c, int status, int forced, const cow_error_t *err, void *data)
{
  struct run *r = data;
  if (r->finished)
    return;
  if (status < 0 && status != COW_ECANCELED)
    report(r, forced ? "terminating" : "shutting down", status, err);
  finish(r);
}

/* hcsshim's and docker's stop: shutdown, then terminate after the timeout. */
static void stop_system(struct run *r)
{
  r->phase = "stopping the compute system";
  int rc = cow_container_stop(r->c, r->stop_timeout_ms, stopped, r);
  if (rc != 0) {
    report(r, "stopping", rc, NULL);
    finish(r);
  }
}

static void command_done(session_t *s, int exit_code, void *data)
{
  struct run *r = data;
  r->exit_code = exit_code;
  stop_system(r);
}

static void started(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct run *r = data;
  if (r->finished)
    return;
  if (status < 0 || r->aborted) {
    if (status < 0 && status != COW_ECANCELED)
      report(r, "starting the compute system", status, err);
    stop_system(r);
    return;
  }
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = (const char *const *)r->opts.argv;
  pp.environment = (const char *const *)r->opts.env;
  pp.working_directory = r->opts.workdir;
  pp.emulate_console = r->opts.tty;
  pp.create_stdin = r->opts.interactive;
  pp.create_stdout = 1;
  pp.create_stderr = !r->opts.tty; /* a console merges stderr into its output */
  if (r->opts.tty)
    session_console_size(r->s, &pp.console_width, &pp.console_height);
  char *doc = NULL;
  cow_error_t berr = COW_ERROR_INIT; /* names what the builder refused */
  int rc = cow_hcs_process_params_json(&doc, &pp, r->hopts.api == COW_HCS_V1 ? 1 : 2, &berr);
  if (rc != 0) {
    session_report(prog, "building the process document", rc, &berr);
    cow_error_clear(&berr);
    stop_system(r);
    return;
  }
  r->phase = "running the command in";
  session_start(r->s, cow_container_host(c), doc, command_done, r);
  cow_free(doc);
}

static void created(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  struct run *r = data;
  if (r->finished)
    return;
  r->phase = "starting the compute system";
  if (status < 0) {
    if (status != COW_ECANCELED)
      report(r, "creating the compute system", status, err);
    finish(r);
  } else if (r->aborted) {
    stop_system(r);
  } else if ((status = cow_container_start(c, started, r)) != 0) {
    report(r, "starting the compute system", status, NULL);
    stop_system(r);
  }
}

static void aborted(session_t *s, int signo, void *data)
{
  struct run *r = data;
  r->aborted = 1; /* the create or start callback in flight tears down */
  r->exit_code = 128 + signo;
}

static int create_system(struct run *r)
{
  cow_error_t err = COW_ERROR_INIT;
  int rc = cow_hcs_available(r->hopts.api, &err);
  if (rc != 0) {
    session_report(prog, "the Host Compute Service is not available", rc, &err);
    cow_error_clear(&err);
    return rc;
  }
  /* The system goes away with our handle even if cow-run dies before its teardown. */
  cow_hcs_system_params_t sp = {.version = COW_HCS_SYSTEM_PARAMS_VERSION,
                                .owner = prog,
                                .terminate_on_last_handle_closed = 1};
  char *doc = NULL;
  rc = r->hopts.api == COW_HCS_V1 ? cow_hcs_container_config_json(&doc, r->id, &sp, &err)
                                  : cow_hcs_compute_system_json(&doc, &sp, &err);
  if (rc != 0) {
    session_report(prog, "building the compute system document", rc, &err);
    cow_error_clear(&err);
    return rc;
  }
  r->hopts.create_timeout_ms = r->timeout_ms;
  r->phase = "creating the compute system";
  rc = cow_hcs_create_system(&r->c, &r->loop, &r->hopts, r->id, doc, created, r);
  /* --timeout bounds every later request too; the command's process inherits it. */
  static const cow_timeout_kind_t kinds[] = {
      COW_TIMEOUT_START,  COW_TIMEOUT_SHUTDOWN,    COW_TIMEOUT_TERMINATE,  COW_TIMEOUT_SIGNAL,
      COW_TIMEOUT_RESIZE, COW_TIMEOUT_CLOSE_STDIN, COW_TIMEOUT_PROPERTIES, COW_TIMEOUT_MODIFY};
  for (size_t k = 0; rc == 0 && r->timeout_ms > 0 && k < sizeof kinds / sizeof kinds[0]; k++)
    cow_container_set_timeout(r->c, kinds[k], r->timeout_ms);
  cow_free(doc);
  if (rc != 0)
    report(r, "creating the compute system", rc, NULL);
  return rc;
}

enum { OPT_HCS = SESSION_OPT_OWN, OPT_ID, OPT_STOP_TIMEOUT, OPT_TIMEOUT };

static const struct option own_options[] = {
    {"hcs", required_argument, NULL, OPT_HCS},
    {"id", required_argument, NULL, OPT_ID},
    {"stop-timeout", required_argument, NULL, OPT_STOP_TIMEOUT},
    {"timeout", required_argument, NULL, OPT_TIMEOUT},
    {NULL, 0, NULL, 0},
};

/* Seconds in (0, 86400] (`zero_ok`: [0, 86400]) from an option's value; -1 if it is not. */
static double seconds(const char *v, int zero_ok)
{
  char *end;
  double d = strtod(v, &end);
  return end != v && *end == '\0' && (d > 0 || (zero_ok && d == 0)) && d <= 86400 ? d : -1;
}

static int own_option(int key, const char *v, void *data)
{
  struct run *r = data;
  switch (key) {
  case OPT_HCS:
    if (strcmp(v, "v1") != 0 && strcmp(v, "v2") != 0)
      return session_usage_error(prog, "--hcs takes v1 or v2, not '%s'", v);
    r->hopts.api = v[1] == '1' ? COW_HCS_V1 : COW_HCS_V2;
    return -1;
  case OPT_ID:
    if (!session_valid_utf8(v))
      return session_not_utf8(prog, "the compute system's id (--id)", v);
    if (v[0] == '\0' || strlen(v) >= sizeof r->id)
      return session_usage_error(prog, "bad --id '%s' (1 to %u characters)", v,
                                 (unsigned)sizeof r->id - 1);
    snprintf(r->id, sizeof r->id, "%s", v);
    return -1;
  case OPT_TIMEOUT: {
    double s = seconds(v, 0);
    if (s < 0)
      return session_usage_error(prog, "bad --timeout '%s' (seconds, up to 86400)", v);
    r->timeout_ms = (uint64_t)(s * 1000);
    return -1;
  }
  default: {
    double s = seconds(v, 1);
    if (s < 0)
      return session_usage_error(prog, "bad --stop-timeout '%s' (seconds, 0 to 86400)", v);
    r->stop_timeout_ms = (uint64_t)(s * 1000);
    return -1;
  }
  }
}

/* Returns -1 to go on, or the exit code. */
static int parse(struct run *r, int argc, char **argv)
{
  cow_hcs_options_init(&r->hopts); /* --hcs sets the API; v2 by default */
  r->stop_timeout_ms = 10000;
  int rc = session_parse(&r->opts, prog, usage, own_options, NULL, own_option, r, argc, argv);
  if (rc >= 0)
    return rc;
  if (r->opts.argv[0] == NULL)
    return session_usage_error(prog, "no command given");
  if (r->id[0] == '\0')
    snprintf(r->id, sizeof r->id, "cow-run-%ld", (long)uv_os_getpid()); /* no getpid on Windows */
  return -1;
}

int main(int argc, char **argv)
{
  static struct run r; /* outlives the loop: callbacks refer to it until the end */
  r.exit_code = SESSION_EXIT_FAILED;
  r.phase = "creating the compute system";
  int rc = parse(&r, argc, argv);
  if (rc >= 0) {
    session_opts_free(&r.opts);
    return rc;
  }
  if (uv_loop_init(&r.loop) != 0)
    return SESSION_EXIT_FAILED;
  if (session_open(&r.s, &r.loop, &r.opts, prog, aborted, abandoned, &r) != 0 ||
      create_system(&r) != 0)
    finish(&r);
  uv_run(&r.loop, UV_RUN_DEFAULT);
  rc = uv_loop_close(&r.loop);
  session_opts_free(&r.opts);
  if (rc != 0) {
    fprintf(stderr, "%s: internal error: handles left open (%s)\n", prog, uv_strerror(rc));
    return SESSION_EXIT_FAILED;
  }
  return r.exit_code;
}

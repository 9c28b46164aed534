/* The blocking API with the real backends: an HCS v2 compute system on the emulator
 * running real processes (with every query), a whole container lifecycle against
 * cow-gcs-peer (argv[1]) through blocking calls only, a lost connection, and a guest
 * connection that nobody answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blocking/backend.h"
#include "blocking/hold.h"
#include "cow.h"

static const char *peer_path;

static int barrier(uv_loop_t *loop, void *arg)
{
  return 0;
}

static void hcs_system_end_to_end(void **state)
{
  cow_blocking_t *b;
  assert_int_equal(cow_blocking_new(&b), 0);
  cow_hcs_options_t opts;
  cow_hcs_options_init(&opts);
  opts.api = COW_HCS_V2;
  cow_hcs_system_params_t sp = COW_HCS_SYSTEM_PARAMS_INIT;
  char *doc;
  assert_int_equal(cow_hcs_compute_system_json(&doc, &sp, NULL), 0);
  cow_container_t *c;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_hcs_create_system(&c, b, &opts, "blocking-1", doc, 10000, &err), 0);
  cow_free(doc);
  assert_int_equal(cow_blocking_container_start(b, c, 10000, &err), 0);
  const char *argv[] = {"/bin/sh", "-c", "echo from-the-system; exit 7", NULL};
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = argv;
  pp.create_stdout = 1;
  char *cfg;
  assert_int_equal(cow_hcs_process_params_json(&cfg, &pp, 2, NULL), 0);
  cow_process_t *p;
  assert_int_equal(cow_blocking_create_process(&p, b, cow_container_host(c), cfg, 10000, &err), 0);
  cow_free(cfg);
  int out;
  assert_int_equal(cow_blocking_process_stdio(NULL, &out, NULL, b, p), 0);
  char buf[64];
  size_t got = 0;
  ssize_t n;
  while ((n = read(out, buf + got, sizeof buf - 1 - got)) > 0)
    got += (size_t)n;
  buf[got] = '\0';
  close(out);
  assert_string_equal(buf, "from-the-system\n");
  int64_t code;
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 10000, &err), 0);
  assert_int_equal(code, 7);
  code = -1;
  assert_int_equal(cow_blocking_process_exit_code(&code, b, p), 0);
  assert_int_equal(code, 7);
  cow_timestamp_t when = {0, -1};
  assert_int_equal(cow_blocking_process_exit_time(&when, b, p), 0);
  assert_true(when.sec > 1700000000 && when.nsec >= 0 && when.nsec < 1000000000);
  assert_true(cow_blocking_process_pid(b, p) > 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  /* the queries of the system */
  char *id = NULL;
  assert_int_equal(cow_blocking_container_id(&id, b, c), 0);
  assert_string_equal(id, "blocking-1");
  cow_free(id);
  assert_int_equal(cow_blocking_container_exited(b, c), 0);
  assert_int_equal(cow_blocking_container_wait_error(b, c, &err), COW_ENOT_EXITED);
  assert_null(err.message);
  assert_non_null(cow_blocking_host_os(b, cow_container_host(c)));
  assert_int_equal(cow_blocking_host_is_oci(b, cow_container_host(c)), 0);
  assert_int_equal(cow_blocking_container_set_timeout(b, c, COW_TIMEOUT_SIGNAL, 5000), 0);
  assert_int_equal(cow_blocking_container_set_timeout(b, c, (cow_timeout_kind_t)99, 1), COW_EINVAL);
  assert_int_equal(cow_blocking_host_set_timeout(b, cow_container_host(c), COW_TIMEOUT_WAIT, 0), 0);
  char *props = NULL;
  assert_int_equal(cow_blocking_container_properties(&props, b, c, 1, NULL, 10000, &err), 0);
  assert_non_null(strstr(props, "blocking-1"));
  cow_free(props);
  /* a second, independent handle on the same system; an unknown id has none */
  cow_hcs_options_t o2 = opts;
  cow_container_t *other = NULL;
  assert_int_equal(cow_blocking_hcs_open_system(&other, b, &o2, "blocking-1", 10000, &err), 0);
  assert_int_equal(cow_blocking_container_exited(b, other), 0);
  assert_int_equal(cow_blocking_container_close(b, other, 10000, &err), 0);
  assert_int_equal(cow_blocking_hcs_open_system(&other, b, &o2, "no-such", 10000, &err),
                   COW_ENOENT);
  assert_null(other);
  cow_error_clear(&err);
  /* close_stdout: the caller's descriptor ends, the process's stdout is closed */
  const char *talker[] = {"/bin/sh", "-c", "echo first; exec sleep 30", NULL};
  pp = (cow_hcs_process_params_t)COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = talker;
  pp.create_stdout = 1;
  assert_int_equal(cow_hcs_process_params_json(&cfg, &pp, 2, NULL), 0);
  assert_int_equal(cow_blocking_create_process(&p, b, cow_container_host(c), cfg, 10000, &err), 0);
  const char *cfg2 = cfg;
  assert_int_equal(cow_blocking_process_exit_code(&code, b, p), COW_ENOT_EXITED);
  assert_int_equal(cow_blocking_process_exit_time(&when, b, p), COW_ENOT_EXITED);
  /* pause and resume: no process starts while paused; resuming twice is refused */
  check(cow_blocking_container_pause(b, c, 10000, &err), &err, "pause");
  cow_process_t *none = NULL;
  assert_true(cow_blocking_create_process(&none, b, cow_container_host(c), cfg2, 10000, &err) < 0);
  assert_null(none);
  cow_error_clear(&err);
  check(cow_blocking_container_resume(b, c, 10000, &err), &err, "resume");
  assert_true(cow_blocking_container_resume(b, c, 10000, &err) < 0);
  cow_error_clear(&err);
  cow_free(cfg);
  assert_int_equal(cow_blocking_process_set_timeout(b, p, COW_TIMEOUT_SIGNAL, 5000), 0);
  assert_int_equal(cow_blocking_process_stdio(NULL, &out, NULL, b, p), 0);
  read_deadline(out);
  for (got = 0; got < 6; got += (size_t)n)
    assert_true((n = read(out, buf + got, 6 - got)) > 0);
  assert_memory_equal(buf, "first\n", 6);
  assert_int_equal(cow_blocking_process_close_stdout(b, p, 10000, &err), 0);
  assert_int_equal(read(out, buf, sizeof buf), 0); /* end of file at once */
  close(out);
  assert_int_equal(cow_blocking_process_kill(b, p, 10000, &err), 0);
  assert_int_equal(cow_blocking_process_wait(&code, b, p, 10000, &err), 0); /* stdout counted */
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  /* a duplicate id fails with the service's error, and no handle */
  cow_container_t *dup = (cow_container_t *)&dup;
  assert_int_equal(cow_hcs_compute_system_json(&doc, &sp, NULL), 0);
  assert_int_equal(cow_blocking_hcs_create_system(&dup, b, &opts, "blocking-1", doc, 10000, &err),
                   COW_EEXIST);
  cow_free(doc);
  assert_null(dup);
  assert_int_equal(err.domain, COW_DOMAIN_HCS);
  cow_error_clear(&err);
  /* open_process: a second handle on a running process, without stdio; a kill through it
   * ends the process both handles see exit; an exited pid cannot be opened */
  const char *napper[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  pp = (cow_hcs_process_params_t)COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = napper;
  assert_int_equal(cow_hcs_process_params_json(&cfg, &pp, 2, NULL), 0);
  assert_int_equal(cow_blocking_create_process(&p, b, cow_container_host(c), cfg, 10000, &err), 0);
  cow_free(cfg);
  int64_t napper_pid = cow_blocking_process_pid(b, p);
  assert_true(napper_pid > 0);
  cow_process_t *opened = NULL;
  check(cow_blocking_host_open_process(&opened, b, cow_container_host(c), napper_pid, 10000, &err),
        &err, "open_process");
  assert_int_equal(cow_blocking_process_pid(b, opened), napper_pid);
  int fds[3] = {0, 0, 0};
  assert_int_equal(cow_blocking_process_stdio(&fds[0], &fds[1], &fds[2], b, opened), 0);
  assert_true(fds[0] == -1 && fds[1] == -1 && fds[2] == -1);
  /* the typed process list names it; the statistics count it and its memory */
  cow_process_list_t *list = (cow_process_list_t *)&list;
  check(cow_blocking_container_process_list(&list, b, c, 10000, &err), &err, "process_list");
  int listed = 0;
  for (size_t i = 0; i < list->count; i++)
    listed |= list->items[i].pid == napper_pid;
  assert_true(listed);
  cow_free(list);
  cow_statistics_t *stats = NULL;
  check(cow_blocking_container_statistics(&stats, b, c, 10000, &err), &err, "statistics");
  assert_true(stats->have & COW_STATS_PROCESS_COUNT);
  assert_true(stats->process_count >= 1);
  /* known; its value may be 0 while the process is between fork and exec (the contract
   * suite checks the figure with processes that have settled) */
  assert_true(stats->have & COW_STATS_MEMORY_USAGE);
  cow_free(stats);
  assert_int_equal(cow_blocking_container_statistics(NULL, b, c, 10000, &err), COW_EINVAL);
  cow_error_clear(&err);
  list = (cow_process_list_t *)&list;
  assert_int_equal(cow_blocking_container_process_list(&list, b, NULL, 10000, &err), COW_EINVAL);
  assert_null(list);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_process_kill(b, opened, 10000, &err), 0);
  int64_t c1 = 0, c2 = 0;
  assert_int_equal(cow_blocking_process_wait(&c1, b, opened, 10000, &err), 0);
  assert_int_equal(cow_blocking_process_wait(&c2, b, p, 10000, &err), 0);
  assert_int_equal(c1, c2);
  assert_int_equal(cow_blocking_process_close(b, opened, 0, NULL), 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  opened = (cow_process_t *)&opened;
  assert_int_equal(
      cow_blocking_host_open_process(&opened, b, cow_container_host(c), napper_pid, 10000, &err),
      COW_ENOENT);
  assert_null(opened);
  assert_non_null(err.message);
  cow_error_clear(&err);
  assert_int_equal(
      cow_blocking_host_open_process(&opened, b, cow_container_host(c), -1, 10000, &err),
      COW_EINVAL);
  assert_null(opened);
  cow_error_clear(&err);
  /* Stop with escalation: a process that obeys SIGTERM needs no kill... */
  const char *sleeper[] = {"/bin/sh", "-c", "exec sleep 30", NULL};
  pp = (cow_hcs_process_params_t)COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = sleeper;
  assert_int_equal(cow_hcs_process_params_json(&cfg, &pp, 2, NULL), 0);
  assert_int_equal(cow_blocking_create_process(&p, b, cow_container_host(c), cfg, 10000, &err), 0);
  cow_free(cfg);
  char *sig = NULL;
  assert_int_equal(cow_signal_options_json(&sig, 15), 0);
  int forced = -1;
  code = 0;
  assert_int_equal(cow_blocking_process_stop(&code, &forced, b, p, sig, 60000, 10000, &err), 0);
  cow_free(sig);
  assert_int_equal(forced, 0);
  assert_true(code != 0);
  assert_int_equal(cow_blocking_process_close(b, p, 0, NULL), 0);
  /* ...and the system with grace 0 is terminated at once. */
  forced = -1;
  assert_int_equal(cow_blocking_container_stop(&forced, b, c, 0, 10000, &err), 0);
  assert_int_equal(forced, 1);
  assert_int_equal(cow_blocking_container_wait(b, c, 10000, &err), 0);
  forced = -1; /* stopped already: nothing forced */
  assert_int_equal(cow_blocking_container_stop(&forced, b, c, 0, 10000, &err), 0);
  assert_int_equal(forced, 0);
  assert_int_equal(cow_blocking_container_exited(b, c), 1);
  assert_true(cow_blocking_container_wait_error(b, c, &err) != COW_ENOT_EXITED);
  cow_error_clear(&err);
  when = (cow_timestamp_t){0, -1};
  assert_int_equal(cow_blocking_container_exit_time(&when, b, c), 0);
  assert_true(when.sec > 1700000000 && when.nsec >= 0);
  assert_int_equal(cow_blocking_container_close(b, c, 0, NULL), 0);
  assert_int_equal(cow_blocking_close(b), 0);
}

#define CID "b10c0000-0000-4000-8000-00000000c0de"

/* A container lifecycle against the peer through blocking calls only, as a shim would run
 * one: layers, create, init, exec with output, properties, stop, close, layers removed,
 * state deleted, and every query of the connection and the container on the way. */
static void guest_container_lifecycle(void **state)
{
  struct backend be;
  guest_open(&be, peer_path);
  cow_blocking_t *b = be.b;
  cow_host_t *h = be.host;
  cow_error_t err = COW_ERROR_INIT;
  char *caps = NULL;
  unsigned flags = 0;
  int version = 0;
  assert_int_equal(cow_blocking_guest_capabilities(&caps, &flags, &version, b, h), 0);
  assert_non_null(caps);
  assert_non_null(strstr(caps, "DeleteContainerStateSupported"));
  cow_free(caps);
  assert_int_equal(flags & (COW_GUEST_CAP_DUMP_STACKS | COW_GUEST_CAP_DELETE_CONTAINER_STATE),
                   COW_GUEST_CAP_DUMP_STACKS | COW_GUEST_CAP_DELETE_CONTAINER_STATE);
  assert_int_equal(version, 4);
  assert_string_equal(cow_blocking_host_os(b, h), "linux");
  assert_int_equal(cow_blocking_host_is_oci(b, h), 0);
  assert_int_equal(cow_blocking_guest_bridge_error(b, h, &err), 0);
  assert_null(err.message);
  assert_int_equal(cow_blocking_guest_set_trace_context(
                       b, h, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL),
                   0);
  assert_int_equal(cow_blocking_guest_set_trace_context(b, h, "not a traceparent", NULL),
                   COW_EINVAL);
  assert_int_equal(cow_blocking_guest_set_trace_context(b, h, NULL, NULL), 0);
  /* the layers, then the container */
  static const char layers_add[] =
      "{\"ResourceType\":\"CombinedLayers\",\"RequestType\":\"Add\",\"Settings\":"
      "{\"ContainerRootPath\":\"/run/gcs/c/" CID "/rootfs\",\"ContainerID\":\"" CID "\","
      "\"Layers\":[{\"Path\":\"/run/layers/p0\"}],\"ScratchPath\":\"/run/scratch\"}}";
  check(cow_blocking_guest_modify(b, h, layers_add, 10000, &err), &err, "add the layers");
  static const char doc[] =
      "{\"SchemaVersion\":{\"Major\":2,\"Minor\":1},\"OciBundlePath\":\"/run/gcs/c/" CID "\","
      "\"OciSpecification\":{\"ociVersion\":\"1.0.2-dev\",\"process\":{\"terminal\":false,"
      "\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"/bin/sleep\",\"1000\"],"
      "\"env\":[\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\"],\"cwd\":\"/\"},\"root\":{\"path\":\"/\"},"
      "\"linux\":{},\"windows\":{\"network\":{\"networkNamespace\":"
      "\"b10c0001-0000-4000-8000-00000000c0de\"}}},\"ScratchDirPath\":\"/run/gcs/c/" CID
      "/scratch\"}";
  cow_container_t *c = NULL;
  check(cow_blocking_guest_create_container(&c, b, h, CID, doc, 10000, &err), &err,
        "create the container");
  char *id = NULL;
  assert_int_equal(cow_blocking_container_id(&id, b, c), 0);
  assert_string_equal(id, CID);
  cow_free(id);
  assert_int_equal(cow_blocking_host_is_oci(b, cow_container_host(c)), 1);
  assert_int_equal(cow_blocking_container_exited(b, c), 0);
  cow_timestamp_t when;
  assert_int_equal(cow_blocking_container_exit_time(&when, b, c), COW_ENOT_EXITED);
  assert_int_equal(cow_blocking_container_pause(b, c, 10000, &err), COW_ENOTSUP);
  cow_error_clear(&err);
  char *type = (char *)&type;
  assert_int_equal(cow_blocking_guest_container_exit_type(&type, b, c), 0);
  assert_null(type);
  /* its init (the spec's process), then an exec with output */
  cow_process_t *init = NULL, *exec = NULL;
  check(cow_blocking_create_process(&init, b, cow_container_host(c), "{}", 10000, &err), &err,
        "start the init");
  static const char exec_doc[] =
      "{\"OciProcess\":{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},"
      "\"args\":[\"/bin/sh\",\"-c\",\"echo exec-out; exit 3\"],"
      "\"env\":[\"PATH=/usr/sbin:/usr/bin:/sbin:/bin\"],\"cwd\":\"/\"},"
      "\"CreateStdOutPipe\":true}";
  check(cow_blocking_create_process(&exec, b, cow_container_host(c), exec_doc, 10000, &err), &err,
        "exec");
  int out;
  assert_int_equal(cow_blocking_process_stdio(NULL, &out, NULL, b, exec), 0);
  read_deadline(out);
  char buf[64];
  size_t got = read_to_eof(out, buf, sizeof buf - 1, "the exec's stdout");
  buf[got] = '\0';
  close(out);
  assert_string_equal(buf, "exec-out\n");
  int64_t code = -1;
  check(cow_blocking_process_wait(&code, b, exec, 10000, &err), &err, "wait for the exec");
  assert_int_equal(code, 3);
  char *props = NULL;
  check(cow_blocking_container_properties(&props, b, c, 1, "{\"PropertyTypes\":[\"ProcessList\"]}",
                                          10000, &err),
        &err, "properties");
  assert_non_null(strstr(props, "ProcessList"));
  cow_free(props);
  /* typed: the init is listed by the pid its handle gives; the guest counts its processes */
  cow_process_list_t *list = NULL;
  check(cow_blocking_container_process_list(&list, b, c, 10000, &err), &err, "process_list");
  int init_listed = 0;
  for (size_t i = 0; i < list->count; i++)
    init_listed |= list->items[i].pid == cow_blocking_process_pid(b, init);
  assert_true(init_listed);
  cow_free(list);
  cow_statistics_t *stats = NULL;
  check(cow_blocking_container_statistics(&stats, b, c, 10000, &err), &err, "statistics");
  assert_true((stats->have & COW_STATS_PROCESS_COUNT) && stats->process_count >= 1);
  cow_free(stats);
  /* the order of closes: children first, or COW_EBUSY at once */
  assert_int_equal(cow_blocking_container_close(b, c, 10000, &err), COW_EBUSY);
  assert_int_equal(cow_blocking_host_close(b, h, 10000, &err), COW_EBUSY);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_process_close(b, exec, 10000, &err), 0);
  /* stop (shutdown, terminate after the grace), and how it ended */
  int forced = -1;
  check(cow_blocking_container_stop(&forced, b, c, 10000, 20000, &err), &err, "stop");
  assert_int_equal(cow_blocking_container_exited(b, c), 1);
  assert_int_equal(cow_blocking_guest_container_exit_type(&type, b, c), 0);
  assert_non_null(type);
  assert_string_equal(type, forced ? "ForcedExit" : "GracefulExit");
  cow_free(type);
  assert_int_equal(cow_blocking_process_wait(&code, b, init, 10000, &err), 0);
  assert_int_equal(cow_blocking_process_close(b, init, 10000, &err), 0);
  assert_int_equal(cow_blocking_container_close(b, c, 10000, &err), 0);
  /* the container's resources go, its state last (hcsshim's order) */
  static const char layers_remove[] =
      "{\"ResourceType\":\"CombinedLayers\",\"RequestType\":\"Remove\",\"Settings\":"
      "{\"ContainerRootPath\":\"/run/gcs/c/" CID "/rootfs\"}}";
  check(cow_blocking_guest_modify(b, h, layers_remove, 10000, &err), &err, "remove the layers");
  check(cow_blocking_guest_delete_container_state(b, h, CID, 10000, &err), &err,
        "delete the state");
  char *stacks = NULL;
  check(cow_blocking_guest_dump_stacks(&stacks, b, h, 10000, &err), &err, "dump stacks");
  assert_non_null(stacks);
  cow_free(stacks);
  /* attaching to a container the connection does not track sends nothing */
  cow_container_t *att = NULL;
  check(cow_blocking_guest_open_container(&att, b, h, "b10c0002-0000-4000-8000-00000000c0de", &err),
        &err, "open");
  assert_int_equal(
      cow_blocking_guest_open_container(&c, b, h, "b10c0002-0000-4000-8000-00000000c0de", &err),
      COW_EEXIST);
  assert_null(c);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_container_close(b, att, 10000, &err), 0);
  backend_close(&be);
}

/* A call refused because the connection is gone: COW_EBRIDGE_CLOSED, and `err` quotes the
 * cause (the asynchronous call returned only the code). */
static void refused_with(int rc, cow_error_t *err, const char *cause, const char *what)
{
  if (rc != COW_EBRIDGE_CLOSED)
    fail_msg("%s after the loss: %s, not EBRIDGE_CLOSED", what, cow_err_name(rc));
  if (err->code != COW_EBRIDGE_CLOSED || err->message == NULL ||
      strstr(err->message, cause) == NULL)
    fail_msg("%s after the loss: the error \"%s\" (%s) does not quote the cause \"%s\"", what,
             err->message ? err->message : "(none)", cow_err_name(err->code), cause);
  cow_error_clear(err);
}

/* The guest dies: a pending wait ends with COW_EBRIDGE_CLOSED, and the bridge error says
 * why; every later call fails with COW_EBRIDGE_CLOSED and that cause; every handle still
 * closes. */
static void guest_connection_lost(void **state)
{
  struct backend be;
  guest_open(&be, peer_path);
  static const char *const sleeper[] = {"/bin/sleep", "1000", NULL};
  cow_process_t *p = start(&be, sleeper, 1, 0, 0);
  cow_error_t err = COW_ERROR_INIT;
  cow_container_t *c = NULL; /* attached: nothing is sent for it */
  check(cow_blocking_guest_open_container(&c, be.b, be.host, "b10c0003-0000-4000-8000-00000000c0de",
                                          &err),
        &err, "open");
  kill(be.peer, SIGKILL);
  int st = peer_reap(&be);
  assert_true(WIFSIGNALED(st));
  int64_t code = 0;
  assert_int_equal(cow_blocking_process_wait(&code, be.b, p, 10000, &err), COW_EBRIDGE_CLOSED);
  assert_int_equal(code, -1);
  cow_error_clear(&err);
  int rc = cow_blocking_guest_bridge_error(be.b, be.host, &err);
  assert_true(rc < 0);
  assert_int_equal(err.code, rc);
  assert_non_null(err.message);
  char cause[256];
  snprintf(cause, sizeof cause, "%s", err.message);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_container_wait(be.b, c, 10000, &err), COW_EBRIDGE_CLOSED);
  cow_error_clear(&err);
  /* every call refused at once names the cause, on every kind of handle */
  refused_with(cow_blocking_process_kill(be.b, p, 10000, &err), &err, cause, "kill");
  refused_with(cow_blocking_process_signal(be.b, p, NULL, 10000, &err), &err, cause, "signal");
  refused_with(cow_blocking_process_resize_console(be.b, p, 80, 25, 10000, &err), &err, cause,
               "resize");
  refused_with(cow_blocking_process_close_stdin(be.b, p, 10000, &err), &err, cause, "close_stdin");
  refused_with(cow_blocking_process_stop(&code, NULL, be.b, p, NULL, 10, 10000, &err), &err, cause,
               "process stop");
  refused_with(cow_blocking_container_shutdown(be.b, c, 10000, &err), &err, cause, "shutdown");
  refused_with(cow_blocking_container_terminate(be.b, c, 10000, &err), &err, cause, "terminate");
  refused_with(cow_blocking_container_stop(NULL, be.b, c, 10, 10000, &err), &err, cause,
               "container stop");
  cow_process_t *q = NULL;
  refused_with(cow_blocking_create_process(&q, be.b, cow_container_host(c), "{}", 10000, &err),
               &err, cause, "create_process in the container");
  refused_with(
      cow_blocking_create_process(&q, be.b, be.host, "{\"CommandArgs\":[\"x\"]}", 10000, &err),
      &err, cause, "create_process");
  refused_with(cow_blocking_guest_modify(be.b, be.host, "{}", 10000, &err), &err, cause, "modify");
  refused_with(cow_blocking_guest_delete_container_state(be.b, be.host, "x", 10000, &err), &err,
               cause, "delete_container_state");
  assert_int_equal(cow_blocking_container_close(be.b, c, 10000, &err), 0);
  assert_int_equal(cow_blocking_process_close(be.b, p, 10000, &err), 0);
  backend_close(&be);
}

/* A fresh port directory, its transport, and a blocking context. */
static cow_guest_transport_t *port_dir_context(char *dir, cow_blocking_t **b)
{
  assert_non_null(mkdtemp(dir));
  cow_guest_transport_t *t;
  assert_int_equal(cow_guest_transport_unix(&t, dir), 0);
  assert_int_equal(cow_blocking_new(b), 0);
  return t;
}

static void guest_connect_times_out(void **state)
{
  char dir[] = "/tmp/cow-blocking-XXXXXX";
  cow_blocking_t *b;
  cow_guest_transport_t *t = port_dir_context(dir, &b);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = t;
  o.connect_timeout_ms = 200; /* nobody will dial */
  cow_host_t *h = (cow_host_t *)&h;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_guest_connect(&h, b, &o, 0, &err), COW_ETIMEDOUT);
  assert_null(h);
  assert_non_null(err.message);
  cow_error_clear(&err);
  /* the caller's own deadline, shorter than the connection's: abandoned, cleaned up later */
  o.connect_timeout_ms = 300;
  assert_int_equal(cow_blocking_guest_connect(&h, b, &o, 50, &err), COW_ETIMEDOUT);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_close(b), 0); /* waits for the failed connection to close */
  cow_guest_transport_release(t);
  rmdir(dir);
}

/* Options are read as far as their version reaches: a version 1 struct (allocated at its
 * own size, so ASan and valgrind see any read past it) connects with the version 2 fields
 * at their defaults; version 0 and a newer version are refused at once with their codes,
 * and connect_socket closes the socket it was given on that refusal too. */
static void guest_connect_options_by_version(void **state)
{
  char dir[] = "/tmp/cow-blocking-XXXXXX";
  cow_blocking_t *b;
  cow_guest_transport_t *t = port_dir_context(dir, &b);
  size_t v1_size = offsetof(cow_guest_options_t, stdio_timeout_ms);
  cow_guest_options_t full = COW_GUEST_OPTIONS_INIT;
  full.version = 1;
  full.transport = t;
  full.connect_timeout_ms = 100; /* nobody will dial */
  cow_guest_options_t *v1 = malloc(v1_size);
  assert_non_null(v1);
  memcpy(v1, &full, v1_size);
  cow_host_t *h = (cow_host_t *)&h;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_guest_connect(&h, b, v1, 0, &err), COW_ETIMEDOUT);
  assert_null(h);
  cow_error_clear(&err);
  free(v1);

  full.version = 0;
  assert_int_equal(cow_blocking_guest_connect(&h, b, &full, 0, &err), COW_EINVAL);
  assert_non_null(strstr(err.message, "version"));
  cow_error_clear(&err);
  full.version = COW_GUEST_OPTIONS_VERSION + 1;
  assert_int_equal(cow_blocking_guest_connect(&h, b, &full, 0, &err), COW_EVERSION);
  cow_error_clear(&err);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  assert_int_equal(cow_blocking_guest_connect_socket(&h, b, sv[0], &full, 0, &err), COW_EVERSION);
  cow_error_clear(&err);
  errno = 0;
  assert_int_equal(fcntl(sv[0], F_GETFD), -1); /* the library closed it */
  assert_int_equal(errno, EBADF);
  close(sv[1]);
  assert_int_equal(cow_blocking_close(b), 0);
  cow_guest_transport_release(t);
  rmdir(dir);
}

/* A connection over a socket accepted by the caller (as a vsock accepted elsewhere): the
 * test listens on the bridge port of a port directory itself, the peer dials it, and the
 * accepted socket is handed over; stdio still goes through the directory's transport. */
static void guest_connect_socket(void **state)
{
  char dir[] = "/tmp/cow-blocking-XXXXXX";
  cow_blocking_t *b;
  cow_guest_transport_t *t = port_dir_context(dir, &b);
  int lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  assert_true(lfd >= 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%u", dir, COW_GUEST_BRIDGE_PORT);
  assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
  assert_int_equal(listen(lfd, 1), 0);
  char *argv[] = {(char *)peer_path, "--port-dir", dir, NULL};
  pid_t peer;
  assert_int_equal(posix_spawn(&peer, peer_path, NULL, NULL, argv, NULL), 0);
  struct pollfd pf = {lfd, POLLIN, 0};
  if (poll(&pf, 1, 10000) != 1)
    fail_msg("cow-gcs-peer never dialed the bridge port");
  int sock = accept(lfd, NULL, NULL);
  assert_true(sock >= 0);
  close(lfd);
  unlink(sa.sun_path); /* the transport listens on the stdio ports only */
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = t;
  cow_host_t *h = NULL;
  cow_error_t err = COW_ERROR_INIT;
  check(cow_blocking_guest_connect_socket(&h, b, sock, &o, 10000, &err), &err, "connect");
  cow_guest_transport_release(t); /* the connection holds its own */
  struct backend be = {.name = "guest", .b = b, .host = h, .schema = 2};
  static const char *const echo[] = {"/bin/sh", "-c", "echo over-the-socket", NULL};
  cow_process_t *p = start(&be, echo, 0, 1, 0);
  int out;
  assert_int_equal(cow_blocking_process_stdio(NULL, &out, NULL, b, p), 0);
  read_deadline(out);
  char buf[64];
  size_t got = read_to_eof(out, buf, sizeof buf - 1, "the process's stdout");
  buf[got] = '\0';
  close(out);
  assert_string_equal(buf, "over-the-socket\n");
  int64_t code = -1;
  check(cow_blocking_process_wait(&code, b, p, 10000, &err), &err, "wait");
  assert_int_equal(code, 0);
  assert_int_equal(cow_blocking_process_close(b, p, 10000, &err), 0);
  assert_int_equal(cow_blocking_host_close(b, h, 10000, &err), 0);
  be.peer = peer;
  int st = peer_reap(&be); /* it leaves when the bridge closes */
  assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  /* a socket whose far end is gone: the connect fails, the socket is the library's */
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  close(sv[1]);
  o.transport = NULL;
  o.connect_timeout_ms = 5000;
  assert_true(cow_blocking_guest_connect_socket(&h, b, sv[0], &o, 10000, &err) < 0);
  assert_null(h);
  assert_non_null(err.message);
  cow_error_clear(&err);
  assert_int_equal(cow_blocking_close(b), 0);
  char cmd[96];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

/* A connect whose caller gave up before the loop thread got to it never begins: the
 * transport, released by its caller right after, is never touched, nothing listens. */
static void guest_connect_given_up_before_it_began(void **state)
{
  char dir[] = "/tmp/cow-blocking-XXXXXX";
  cow_blocking_t *b;
  cow_guest_transport_t *t = port_dir_context(dir, &b);
  struct hold h;
  hold_begin(&h, b);
  cow_guest_options_t o = COW_GUEST_OPTIONS_INIT;
  o.transport = t;
  cow_host_t *host = (cow_host_t *)&host;
  cow_error_t err = COW_ERROR_INIT;
  assert_int_equal(cow_blocking_guest_connect(&host, b, &o, 20, &err), COW_ETIMEDOUT);
  assert_null(host);
  cow_error_clear(&err);
  cow_guest_transport_release(t); /* the caller's only reference: freed now */
  hold_release(&h);
  hold_end(&h);
  assert_int_equal(cow_blocking_run(b, barrier, NULL, 0, NULL), 0); /* after the dropped one */
  char bridge[96];
  snprintf(bridge, sizeof bridge, "%s/%u", dir, COW_GUEST_BRIDGE_PORT);
  assert_int_equal(access(bridge, F_OK), -1); /* no listener was ever made */
  assert_int_equal(cow_blocking_close(b), 0);
  rmdir(dir);
}

int main(int argc, char **argv)
{
  if (argc < 2) {
    fprintf(stderr, "usage: %s PATH-OF-cow-gcs-peer\n", argv[0]);
    return 2;
  }
  peer_path = argv[1];
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hcs_system_end_to_end),
      cmocka_unit_test(guest_container_lifecycle),
      cmocka_unit_test(guest_connection_lost),
      cmocka_unit_test(guest_connect_times_out),
      cmocka_unit_test(guest_connect_options_by_version),
      cmocka_unit_test(guest_connect_given_up_before_it_began),
      cmocka_unit_test(guest_connect_socket),
  };
  return cmocka_run_group_tests_name("blocking_backends", tests, NULL, NULL);
}

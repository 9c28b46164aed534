/* Shared by the HCS backend tests and the HCS contract fixtures: create and start an
 * emulated compute system through the public constructors, build process documents with the
 * public builders, and tear everything down (terminate, wait, close). Header-only. */
#ifndef COW_TESTS_HCS_FIXTURE_H
#define COW_TESTS_HCS_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "cow.h"
#include "cow/hcs.h"
#include "support/wait.h"

struct hf_result {
  int done;
  int status;
  int calls;
  cow_error_t err;
  char *json;
};

/* Results of the calls the teardown makes itself (never ignored). */
static inline void hf_record(int status, const cow_error_t *err, struct hf_result *r)
{
  r->calls++;
  r->done = 1;
  r->status = status;
  if (err != NULL)
    cow_error_copy(&r->err, err);
}

static inline void hf_teardown_cb(cow_container_t *c, int status, const cow_error_t *err,
                                  void *data)
{
  (void)c;
  hf_record(status, err, data);
}

static inline void hf_teardown_closed_cb(cow_container_t *c, void *data)
{
  (void)c;
  (*(int *)data)++;
}

static inline void hf_container_cb(cow_container_t *c, int status, const cow_error_t *err,
                                   void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  (void)c;
  hf_record(status, err, data);
}

static inline void hf_json_cb(cow_container_t *c, int status, const char *json,
                              const cow_error_t *err, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  struct hf_result *r = data;
  hf_container_cb(c, status, err, data);
  free(r->json);
  r->json = json ? strdup(json) : NULL;
}

static inline void hf_result_clear(struct hf_result *r)
{
  cow_error_clear(&r->err);
  free(r->json);
  memset(r, 0, sizeof *r);
}

static inline void hf_closed_cb(cow_container_t *c, void *data)
{
  TW_IGNORED_AFTER_FAILURE();
  (void)c;
  (*(int *)data)++;
}

/* What a test opened and has not closed yet. A test that fails half-way leaves its systems
 * and processes open, with emulator handles behind them; the teardown closes them
 * (hf_close_tracked), so that the emulator goes idle and the next test starts clean. */
#define HF_MAX_OPEN 64
static void *hf_open[HF_MAX_OPEN];
static int hf_open_is_process[HF_MAX_OPEN];

static inline void hf_track(void *object, int is_process)
{
  for (int i = 0; i < HF_MAX_OPEN; i++)
    if (hf_open[i] == NULL) {
      hf_open[i] = object;
      hf_open_is_process[i] = is_process;
      return;
    }
}

static inline void hf_untrack(void *object)
{
  for (int i = 0; i < HF_MAX_OPEN; i++)
    if (hf_open[i] == object)
      hf_open[i] = NULL;
}

/* Close what is still tracked, processes first (their host waits for them); the caller
 * runs the loop. Returns how many objects were closed. */
static inline int hf_close_tracked(void)
{
  int n = 0;
  for (int pass = 1; pass >= 0; pass--)
    for (int i = 0; i < HF_MAX_OPEN; i++)
      if (hf_open[i] != NULL && hf_open_is_process[i] == pass) {
        if (pass)
          cow_process_close((cow_process_t *)hf_open[i], NULL, NULL);
        else
          cow_container_close((cow_container_t *)hf_open[i], NULL, NULL);
        hf_open[i] = NULL;
        n++;
      }
  return n;
}

/* A system document for `api` (cow_free it). */
static inline char *hf_system_doc(cow_hcs_api_t api, const char *id, int terminate_on_close)
{
  cow_hcs_system_params_t sp = {.version = COW_HCS_SYSTEM_PARAMS_VERSION,
                                .owner = "libcow-test",
                                .terminate_on_last_handle_closed = terminate_on_close};
  char *doc = NULL;
  int rc = api == COW_HCS_V2 ? cow_hcs_compute_system_json(&doc, &sp, NULL)
                             : cow_hcs_container_config_json(&doc, id, &sp, NULL);
  return rc == 0 ? doc : NULL;
}

/* Create (and optionally start) system `id`; NULL and *status set on failure. */
static inline cow_container_t *hf_system(uv_loop_t *loop, cow_hcs_api_t api, const char *id,
                                         int start, int *status)
{
  cow_hcs_options_t o;
  cow_hcs_options_init(&o);
  o.api = api;
  char *doc = hf_system_doc(api, id, 1);
  cow_container_t *c = NULL;
  struct hf_result r = {0};
  int rc = cow_hcs_create_system(&c, loop, &o, id, doc, hf_container_cb, &r);
  cow_free(doc);
  if (rc == 0)
    hf_track(c, 0);
  if (rc == 0) {
    TW_UNTIL(loop, r.done);
    rc = r.status;
  }
  hf_result_clear(&r);
  if (rc == 0 && start) {
    rc = cow_container_start(c, hf_container_cb, &r);
    if (rc == 0) {
      TW_UNTIL(loop, r.done);
      rc = r.status;
    }
    hf_result_clear(&r);
  }
  if (rc != 0 && c != NULL) {
    int closed = 0;
    hf_untrack(c);
    cow_container_close(c, hf_teardown_closed_cb, &closed);
    TW_UNTIL(loop, closed);
    c = NULL;
  }
  if (status)
    *status = rc;
  return c;
}

/* Terminate, wait for the exit, close. */
static inline void hf_system_destroy(uv_loop_t *loop, cow_container_t *c)
{
  struct hf_result t = {0}, w = {0};
  hf_untrack(c);
  if (cow_container_terminate(c, hf_teardown_cb, &t) == 0)
    TW_UNTIL(loop, t.done);
  if (cow_container_wait(c, hf_teardown_cb, &w) == 0)
    TW_UNTIL(loop, w.done);
  hf_result_clear(&t);
  hf_result_clear(&w);
  int closed = 0;
  if (cow_container_close(c, hf_teardown_closed_cb, &closed) == 0)
    TW_UNTIL(loop, closed);
}

#define HF_STDIN  0x1u
#define HF_STDOUT 0x2u
#define HF_STDERR 0x4u
#define HF_TTY    0x8u

/* A process document running argv with the given streams (malloc'd; free()). */
static inline char *hf_process_doc(cow_hcs_api_t api, const char *const *argv, unsigned flags,
                                   const char *const *env)
{
  cow_hcs_process_params_t pp = COW_HCS_PROCESS_PARAMS_INIT;
  pp.command_args = argv;
  pp.environment = env;
  pp.create_stdin = (flags & HF_STDIN) != 0;
  pp.create_stdout = (flags & HF_STDOUT) != 0;
  pp.create_stderr = (flags & HF_STDERR) != 0;
  pp.emulate_console = (flags & HF_TTY) != 0;
  char *doc = NULL;
  if (cow_hcs_process_params_json(&doc, &pp, api == COW_HCS_V2 ? 2 : 1, NULL) != 0)
    return NULL;
  char *copy = strdup(doc);
  cow_free(doc);
  return copy;
}

#endif

/* Windows tests of the HCS binding: the system constructors where the DLL cannot be bound
 * (absent, or lacking exports). Included by test_win_bind.c and test_win_bind_stub.c. */
#ifndef COW_TESTS_HCS_WIN_CONSTRUCTORS_H
#define COW_TESTS_HCS_WIN_CONSTRUCTORS_H

#include <stdio.h>
#include <string.h>

#include "cow.h"
#include "cow/blocking.h"
#include "support/wait.h"

static int win_callbacks;

static void win_on_container(cow_container_t *c, int status, const cow_error_t *err, void *data)
{
  (void)c;
  (void)status;
  (void)err;
  (void)data;
  win_callbacks++;
}

/* A system document for `api` (cow_free), owned by `owner`. */
static char *win_config_for(cow_hcs_api_t api, const char *owner)
{
  cow_hcs_system_params_t params;
  cow_hcs_system_params_init(&params);
  params.owner = owner;
  char *json = NULL;
  if (api == COW_HCS_V2)
    assert_int_equal(cow_hcs_compute_system_json(&json, &params, NULL), 0);
  else
    assert_int_equal(cow_hcs_container_config_json(&json, owner, &params, NULL), 0);
  return json;
}

/* cow_hcs_create_system()/cow_hcs_open_system() document COW_EBACKEND_UNAVAILABLE as a
 * synchronous return: no callback ever, no handle, nothing left on the loop. */
static void assert_constructors_unavailable(cow_hcs_api_t api, const char *id)
{
  uv_loop_t loop;
  assert_int_equal(uv_loop_init(&loop), 0);
  cow_hcs_options_t opts;
  cow_hcs_options_init(&opts);
  opts.api = api;
  char *config = win_config_for(api, id);
  win_callbacks = 0;
  cow_container_t *c = (cow_container_t *)&loop; /* must be overwritten with NULL */
  assert_int_equal(cow_hcs_create_system(&c, &loop, &opts, id, config, win_on_container, NULL),
                   COW_EBACKEND_UNAVAILABLE);
  assert_null(c);
  c = (cow_container_t *)&loop;
  assert_int_equal(cow_hcs_open_system(&c, &loop, &opts, id, win_on_container, NULL),
                   COW_EBACKEND_UNAVAILABLE);
  assert_null(c);
  TW_RUN_IDLE(&loop);
  assert_int_equal(win_callbacks, 0);
  assert_int_equal(uv_loop_close(&loop), 0);
  cow_free(config);
}

/* The blocking API over the same binding: its loop thread reports the failure and stops. */
static void assert_blocking_create_unavailable(const char *id)
{
  cow_blocking_t *b = NULL;
  assert_int_equal(cow_blocking_new(&b), 0);
  cow_hcs_options_t opts;
  cow_hcs_options_init(&opts);
  opts.api = COW_HCS_V2;
  char *config = win_config_for(COW_HCS_V2, id);
  cow_container_t *c = NULL;
  cow_error_t err;
  memset(&err, 0, sizeof err);
  assert_int_equal(cow_blocking_hcs_create_system(&c, b, &opts, id, config, 10000, &err),
                   COW_EBACKEND_UNAVAILABLE);
  assert_null(c);
  printf("cow_blocking_hcs_create_system(v2): %s%s%s\n", cow_err_name(err.code),
         err.message ? ": " : "", err.message ? err.message : "");
  cow_error_clear(&err);
  cow_free(config);
  assert_int_equal(cow_blocking_close(b), 0);
}

#endif

/* Test support for the scripted-guest tests (script-guest.h): what the host side records
 * from libcow's callbacks (how many came, the status, the error's message, operation and
 * system code, and what each kind of callback carries), and closes that wait for their
 * callback. One set for every test program that drives a scripted guest. */
#ifndef COW_TESTS_GUEST_HOST_RESULTS_H
#define COW_TESTS_GUEST_HOST_RESULTS_H

#include <stdint.h>

#include "guest/script-guest.h"

typedef struct sg_res {
  int calls;       /* callbacks received (exactly one is what every test expects) */
  int status;      /* the last status */
  int forced;      /* a stop's `forced` */
  uint32_t sys;    /* the error's sys_code (an HRESULT from the guest) */
  int64_t code;    /* a wait's or a stop's exit code */
  char msg[512];   /* the error's message, "" without one */
  char op[64];     /* the error's operation, "" without one */
  char text[1024]; /* a text or JSON result, "(null)" for NULL */
} sg_res_t;

/* Record one callback's status and error in `r`. */
void sg_res_set(sg_res_t *r, int status, const cow_error_t *err);

/* Callbacks recording into the sg_res_t their `data` points to. */
void sg_on_host(cow_host_t *h, int status, const cow_error_t *err, void *data);
void sg_on_text(cow_host_t *h, int status, const char *text, const cow_error_t *err, void *data);
void sg_on_cont(cow_container_t *c, int status, const cow_error_t *err, void *data);
void sg_on_json(cow_container_t *c, int status, const char *json, const cow_error_t *err,
                void *data);
void sg_on_proc(cow_process_t *p, int status, const cow_error_t *err, void *data);
void sg_on_wait(cow_process_t *p, int status, int64_t code, const cow_error_t *err, void *data);
void sg_on_cstop(cow_container_t *c, int status, int forced, const cow_error_t *err, void *data);
void sg_on_pstop(cow_process_t *p, int status, int64_t code, int forced, const cow_error_t *err,
                 void *data);
void sg_on_pclosed(cow_process_t *p, void *data);
void sg_on_cclosed(cow_container_t *c, void *data);

/* Close a handle and run the loop until its close callback came, exactly once. */
void sg_close_process(sg_t *g, cow_process_t *p);
void sg_close_container(sg_t *g, cow_container_t *c);

/* Read and discard frames until the host closes the bridge. */
void sg_drain_bridge(sg_t *g);

#endif

/* The lcow backend: containers in a Linux utility VM, through the GCS guest connection. */
#include <stdio.h>

#include "shim.h"

static void lcow_create(shim_task_t *t, shim_backend_cb cb)
{
  /* GAP: the utility VM launcher and the container documents are not written yet. */
  cb(t, TTRPC_UNIMPLEMENTED, "the lcow backend is not implemented yet (use backend hcs)");
}

static char *lcow_process_doc(shim_task_t *t, shim_proc_t *p, json_t *process, unsigned streams,
                              char *err, size_t errlen)
{
  snprintf(err, errlen, "the lcow backend is not implemented yet");
  return NULL;
}

static void lcow_destroy(shim_task_t *t, shim_backend_cb cb)
{
  cb(t, TTRPC_OK, NULL);
}

const shim_backend_t shim_backend_lcow = {"lcow", lcow_create, lcow_process_doc, lcow_destroy};

/* shim-call: one ttrpc call to a running shim, for the Task methods ctr cannot send
 * (containerd 1.6's ctr has no `task update`).
 *
 *   shim-call SOCKET NAMESPACE update ID RESOURCES_JSON
 * Prints "ok", or "error CODE: MESSAGE" and exits 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pb.h"
#include "ttrpc.h"

static int done, code;

static void answered(int c, const char *message, const ProtobufCMessage *response, void *data)
{
  done = 1;
  code = c;
  if (c == TTRPC_OK)
    printf("ok\n");
  else
    printf("error %d: %s\n", c, message != NULL ? message : "");
}

int main(int argc, char **argv)
{
  if (argc != 6 || strcmp(argv[3], "update") != 0) {
    fprintf(stderr, "usage: shim-call SOCKET NAMESPACE update ID RESOURCES_JSON\n");
    return 2;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  ttrpc_client_t *c;
  if (ttrpc_client_new(&c, &loop, argv[1]) != 0)
    return 1;
  Containerd__Task__V2__UpdateTaskRequest r = CONTAINERD__TASK__V2__UPDATE_TASK_REQUEST__INIT;
  Google__Protobuf__Any res = GOOGLE__PROTOBUF__ANY__INIT;
  res.type_url = "types.containerd.io/opencontainers/runtime-spec/1/LinuxResources";
  res.value.data = (uint8_t *)argv[5];
  res.value.len = strlen(argv[5]);
  r.id = argv[4];
  r.resources = &res;
  const char *md[] = {"containerd-namespace-ttrpc", argv[2], NULL};
  if (ttrpc_client_call(c, "containerd.task.v2.Task", "Update", &r.base, NULL, md, 10000, answered,
                        NULL) != 0)
    return 1;
  while (!done)
    uv_run(&loop, UV_RUN_ONCE);
  ttrpc_client_close(c, NULL, NULL);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  return code == TTRPC_OK ? 0 : 1;
}

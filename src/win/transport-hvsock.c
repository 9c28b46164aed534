/* The Hyper-V socket transport (Windows host): listen on (VMID, service id
 * XXXXXXXX-facb-11e6-bd58-64006a7986d3 with Data1 = port), the guest dials
 * (gcs-protocol §1.1).
 *
 * libuv on Windows cannot wrap an AF_HYPERV SOCKET in the uv_pipe_t the core hands out for
 * stdio (uv_pipe_open takes a HANDLE to a named pipe, and libuv's TCP code assumes IP
 * address families), so this transport refuses to listen with COW_ENOTSUP until the core
 * can give a backend a socket-capable stream. The constructor validates the VM id so
 * callers get that answer at connect time. */
#define WIN32_LEAN_AND_MEAN
#include <winsock2.h>
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "guest/listener.h"

struct hv_transport {
  GUID vm_id;
};

static int parse_guid(const char *s, GUID *out)
{
  unsigned long d1;
  unsigned d2, d3, b[8];
  if (s == NULL || strlen(s) != 36)
    return -1;
  if (sscanf(s, "%8lx-%4x-%4x-%2x%2x-%2x%2x%2x%2x%2x%2x", &d1, &d2, &d3, &b[0], &b[1], &b[2], &b[3],
             &b[4], &b[5], &b[6], &b[7]) != 11)
    return -1;
  out->Data1 = d1;
  out->Data2 = (unsigned short)d2;
  out->Data3 = (unsigned short)d3;
  for (int i = 0; i < 8; i++)
    out->Data4[i] = (unsigned char)b[i];
  return 0;
}

static int hv_listen(cow_guest_listener_t *l, uv_loop_t *loop, uint32_t port, uv_pipe_t *pipe)
{
  (void)l;
  (void)loop;
  (void)port;
  (void)pipe;
  return COW_ENOTSUP;
}

static void hv_cancel(cow_guest_listener_t *l)
{
  (void)l; /* listen never succeeds, so there is nothing to cancel */
}

static void hv_release(void *data)
{
  cow__free(data);
}

static const struct cow_guest_transport_ops hv_ops = {
    .version = COW_GUEST_TRANSPORT_OPS_VERSION,
    .name = "hvsock",
    .listener_size = 0,
    .listen = hv_listen,
    .cancel = hv_cancel,
    .release = hv_release,
};

int cow__transport_hvsock_new(cow_guest_transport_t **out, const char *vm_id)
{
  struct hv_transport *t = cow__calloc(1, sizeof *t);
  if (t == NULL)
    return COW_ENOMEM;
  if (parse_guid(vm_id, &t->vm_id) != 0) {
    cow__free(t);
    return COW_EINVAL;
  }
  int rc = cow_guest_transport_new(out, &hv_ops, t);
  if (rc != 0)
    cow__free(t);
  return rc;
}

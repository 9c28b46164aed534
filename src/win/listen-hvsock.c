/* Hyper-V sockets (Windows host): listen on (VM id, service id
 * XXXXXXXX-facb-11e6-bd58-64006a7986d3 with Data1 = port) and let the guest dial, as hcsshim
 * does for LCOW (docs/gcs-bridge-protocol.md §1.1). Only the address is hvsocket's own; the
 * listening, accepting and libuv stream are the Winsock listener's (stream-listen.c), which
 * the tests run under Wine on loopback TCP. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "cow/error.h"
#include "win/stream-listen.h"

/* <hvsocket.h> is in the Windows SDK and in mingw-w64, but mingw's pulls in <initguid.h>
 * (every GUID it declares becomes a definition in this file); the layout is fixed by the
 * ABI, so it is spelled out here. */
#ifndef AF_HYPERV
#  define AF_HYPERV 34
#endif
#define COW_HV_PROTOCOL_RAW 1

struct cow_sockaddr_hv {
  ADDRESS_FAMILY family; /* AF_HYPERV */
  USHORT reserved;
  GUID vm_id;
  GUID service_id;
};

static int parse_guid(const char *s, GUID *out)
{
  unsigned long d1;
  unsigned d2, d3, b[8];
  if (s == NULL || strlen(s) != 36)
    return -1;
  /* Exactly 8-4-4-4-12 hex digits: sscanf alone would also take signs and "0x". */
  for (int i = 0; i < 36; i++) {
    int dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
      return -1;
  }
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

/* The service id of a vsock-style port (hcsshim winio.VsockServiceID). */
static GUID service_id(uint32_t port)
{
  GUID g = {port, 0xfacb, 0x11e6, {0xbd, 0x58, 0x64, 0x00, 0x6a, 0x79, 0x86, 0xd3}};
  return g;
}

static int address(const GUID *vm_id, uint32_t port, struct sockaddr_storage *sa, int *len)
{
  struct cow_sockaddr_hv hv;
  memset(&hv, 0, sizeof hv);
  hv.family = AF_HYPERV;
  hv.vm_id = *vm_id;
  hv.service_id = service_id(port);
  memcpy(sa, &hv, sizeof hv);
  *len = (int)sizeof hv;
  return 0;
}

static int hv_make(void *arg, uint32_t port, struct sockaddr_storage *sa, int *len)
{
  return address(arg, port, sa, len); /* arg: the VM id's GUID (cow__hvsock_arg_new) */
}

int cow__hvsock_address(const char *vm_id, uint32_t port, struct sockaddr_storage *sa, int *len)
{
  GUID g;
  if (parse_guid(vm_id, &g) != 0)
    return COW_EINVAL;
  return address(&g, port, sa, len);
}

static void hv_release(void *arg)
{
  cow__free(arg);
}

const struct cow__winsock_addr cow__hvsock_addr = {
    .name = "hvsock",
    .family = AF_HYPERV,
    .type = SOCK_STREAM,
    .protocol = COW_HV_PROTOCOL_RAW,
    .make = hv_make,
    .bound = NULL,
    .release = hv_release,
};

int cow__hvsock_arg_new(void **out, const char *vm_id)
{
  *out = NULL;
  GUID *g = cow__calloc(1, sizeof *g);
  if (g == NULL)
    return COW_ENOMEM;
  if (parse_guid(vm_id, g) != 0) {
    cow__free(g);
    return COW_EINVAL;
  }
  *out = g;
  return 0;
}

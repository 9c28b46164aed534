/* Fuzz target: what containerd's bytes go through in the shim, as they come off the socket.
 * The first input byte picks how the stream is cut into reads; the rest is the stream.
 * Every frame goes through the ttrpc decoder; each request's envelope is unpacked, its
 * method looked up in the Task service, and its payload unpacked as that method's request,
 * with pb_unpack() as the server does; Any payloads the shim reads (Exec's spec, runtime
 * options) are unpacked as the shim would. Properties: a frame's payload is exactly its
 * announced length unless it was over the cap (then NULL); a refusal says why; what
 * pb_unpack() accepts repacks to bytes that pb_check() accepts and that unpack to the same
 * repacked bytes (protobuf-c alone does not promise that: shim/pb-check.c). Seeds: requests
 * as containerd sends them (Create with an overlay mount, State, Exec with an OCI process,
 * Kill --all, Wait), split and concatenated; the kept corpus tests/fuzz/corpus/ttrpc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz/fuzz.h"
#include "pb.h"
#include "ttrpc.h"
#include "ttrpc.pb-c.h"

static char why[256];

static ProtobufCMessage *unpack(const ProtobufCMessageDescriptor *desc, size_t len,
                                const uint8_t *data)
{
  ProtobufCMessage *m = pb_unpack(desc, len, data, why, sizeof why);
  FUZZ_CHECK(m != NULL || why[0] != '\0');
  return m;
}

static void roundtrip(const ProtobufCMessage *m)
{
  size_t n = protobuf_c_message_get_packed_size(m);
  uint8_t *a = malloc(n + 1), *b = malloc(n + 1);
  FUZZ_CHECK(a != NULL && b != NULL);
  FUZZ_CHECK(protobuf_c_message_pack(m, a) == n);
  FUZZ_CHECK(pb_check(m->descriptor, n, a, why, sizeof why) == 0);
  ProtobufCMessage *again = protobuf_c_message_unpack(m->descriptor, NULL, n, a);
  FUZZ_CHECK(again != NULL);
  FUZZ_CHECK(protobuf_c_message_get_packed_size(again) == n);
  protobuf_c_message_pack(again, b);
  FUZZ_CHECK(memcmp(a, b, n) == 0);
  protobuf_c_message_free_unpacked(again, NULL);
  free(a);
  free(b);
}

static int on_frame(uint32_t sid, uint8_t type, uint8_t flags, const uint8_t *payload,
                    uint32_t length, void *data)
{
  if (payload == NULL) {
    FUZZ_CHECK(length > TTRPC_MAX_MESSAGE);
    return 0;
  }
  FUZZ_CHECK(length <= TTRPC_MAX_MESSAGE);
  if (type != TTRPC_TYPE_REQUEST)
    return 0;
  Ttrpc__Request *env = (Ttrpc__Request *)unpack(&ttrpc__request__descriptor, length, payload);
  if (env == NULL)
    return 0;
  roundtrip(&env->base);
  const ProtobufCMethodDescriptor *m = protobuf_c_service_descriptor_get_method_by_name(
      &containerd__task__v2__task__descriptor, env->method);
  if (m != NULL) {
    ProtobufCMessage *req = unpack(m->input, env->payload.len, env->payload.data);
    if (req != NULL) {
      roundtrip(req);
      if (req->descriptor == &containerd__task__v2__exec_process_request__descriptor) {
        const Containerd__Task__V2__ExecProcessRequest *e = (const void *)req;
        FUZZ_CHECK(e->spec == NULL || e->spec->value.len == 0 || e->spec->value.data != NULL);
      }
      if (req->descriptor == &containerd__task__v2__create_task_request__descriptor) {
        const Containerd__Task__V2__CreateTaskRequest *c = (const void *)req;
        ProtobufCMessage *o =
            pb_any_unpack(c->options, &runtimeoptions__v1__options__descriptor, why, sizeof why);
        if (o != NULL) {
          roundtrip(o);
          protobuf_c_message_free_unpacked(o, NULL);
        }
      }
      protobuf_c_message_free_unpacked(req, NULL);
    }
  }
  ttrpc__request__free_unpacked(env, NULL);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (size < 1)
    return 0;
  size_t chunk = 1 + (size_t)(data[0] & 0x3f) * 61;
  data++;
  size--;
  ttrpc_decoder_t dec;
  memset(&dec, 0, sizeof dec);
  for (size_t off = 0; off < size; off += chunk) {
    size_t n = size - off < chunk ? size - off : chunk;
    FUZZ_CHECK(ttrpc_decode(&dec, data + off, n, on_frame, NULL) == 0);
  }
  ttrpc_decoder_reset(&dec);
  return 0;
}

/* ---- seeds ---- */

static size_t frame(uint8_t *out, uint32_t sid, const char *method, const ProtobufCMessage *req)
{
  Ttrpc__Request env = TTRPC__REQUEST__INIT;
  uint8_t payload[4096];
  Ttrpc__KeyValue kv = TTRPC__KEY_VALUE__INIT, *kvp = &kv;
  kv.key = "containerd-namespace-ttrpc";
  kv.value = "default";
  env.service = "containerd.task.v2.Task";
  env.method = (char *)method;
  env.payload.len = protobuf_c_message_pack(req, payload);
  env.payload.data = payload;
  env.timeout_nano = 2000000000;
  env.n_metadata = 1;
  env.metadata = &kvp;
  uv_buf_t f;
  if (ttrpc_frame(sid, TTRPC_TYPE_REQUEST, &env.base, &f) != 0)
    abort();
  memcpy(out, f.base, f.len);
  free(f.base);
  return f.len;
}

int cow_fuzz_seeds(cow_fuzz_add_fn add, void *arg)
{
  static uint8_t buf[16384];
  size_t n = 1;
  buf[0] = 0x05; /* read size */
  Containerd__Types__Mount m = CONTAINERD__TYPES__MOUNT__INIT, *mp = &m;
  char *opts[] = {"index=off", "workdir=/var/lib/c/snapshots/3/work",
                  "upperdir=/var/lib/c/snapshots/3/fs",
                  "lowerdir=/var/lib/c/snapshots/2/fs:/var/lib/c/snapshots/1/fs"};
  m.type = "overlay";
  m.source = "overlay";
  m.n_options = 4;
  m.options = opts;
  Runtimeoptions__V1__Options ro = RUNTIMEOPTIONS__V1__OPTIONS__INIT;
  ro.type_url = "";
  ro.config_path = "/etc/containerd/cow.json";
  Google__Protobuf__Any any;
  if (pb_any_pack(&any, &ro.base) != 0)
    return -1;
  Containerd__Task__V2__CreateTaskRequest cr = CONTAINERD__TASK__V2__CREATE_TASK_REQUEST__INIT;
  cr.id = "t1";
  cr.bundle = "/run/containerd/state/t1";
  cr.n_rootfs = 1;
  cr.rootfs = &mp;
  cr.stdout = "/run/containerd/fifo/1/t1-stdout";
  cr.options = &any;
  n += frame(buf + n, 1, "Create", &cr.base);
  add(buf, n, arg);
  pb_any_clear(&any);
  Containerd__Task__V2__StateRequest st = CONTAINERD__TASK__V2__STATE_REQUEST__INIT;
  st.id = "t1";
  n += frame(buf + n, 3, "State", &st.base);
  Containerd__Task__V2__ExecProcessRequest ex = CONTAINERD__TASK__V2__EXEC_PROCESS_REQUEST__INIT;
  static const char spec[] = "{\"args\":[\"sh\",\"-c\",\"echo hi\"],\"env\":[\"PATH=/bin\"],"
                             "\"cwd\":\"/\",\"terminal\":false}";
  Google__Protobuf__Any sa = GOOGLE__PROTOBUF__ANY__INIT;
  sa.type_url = "types.containerd.io/opencontainers/runtime-spec/1/Process";
  sa.value.data = (uint8_t *)spec;
  sa.value.len = sizeof spec - 1;
  ex.id = "t1";
  ex.exec_id = "e1";
  ex.stdin = "/run/containerd/fifo/1/e1-stdin";
  ex.spec = &sa;
  n += frame(buf + n, 5, "Exec", &ex.base);
  Containerd__Task__V2__KillRequest k = CONTAINERD__TASK__V2__KILL_REQUEST__INIT;
  k.id = "t1";
  k.signal = 9;
  k.all = 1;
  n += frame(buf + n, 7, "Kill", &k.base);
  Containerd__Task__V2__WaitRequest w = CONTAINERD__TASK__V2__WAIT_REQUEST__INIT;
  w.id = "t1";
  n += frame(buf + n, 9, "Wait", &w.base);
  add(buf, n, arg);
  buf[0] = 0x00; /* the same stream one byte at a time */
  add(buf, n, arg);
  return 0;
}

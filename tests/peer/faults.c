/* cow-gcs-peer: command line and fault injection. A fault armed "after N" fires once the
 * peer has written N complete frames (N = 0: right after connecting). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "peer.h"

void peer_bridge_raw(peer_t *peer, uint8_t *bytes, size_t len, int close_after);

static int parse_count(const char *s, long *out)
{
  char *end;
  long v;
  if (!s || !*s)
    return -1;
  v = strtol(s, &end, 10);
  if (*end || v < 0)
    return -1;
  *out = v;
  return 0;
}

static void usage(void)
{
  fprintf(stderr,
          "usage: cow-gcs-peer --port-dir DIR [--drop-after N] [--garbage-after N]\n"
          "                    [--oversize-after N] [--truncate-after N] [--delay-ms MS]\n"
          "                    [--reorder] [--notify-unknown] [--background]\n"
          "                    [--mount-layers] [--never-answer RPC]...\n"
          "Dials DIR/1073741824 as the GCS bridge and serves it like hcsshim v0.11.4's GCS.\n"
          "--background: return at once and go on in the background, logging to\n"
          "DIR/cow-gcs-peer.log (DIR must exist).\n"
          "--mount-layers: mount CombinedLayers and run containers in their root filesystem,\n"
          "in a mount namespace of the peer's own (needs root).\n"
          "--never-answer RPC: read requests of RPC (ExecuteProcess, ShutdownGraceful, ...)\n"
          "and never answer them, as a frozen or hostile agent (repeatable, up to 8).\n");
}

int peer_faults_parse(peer_faults_t *f, int argc, char **argv, const char **port_dir)
{
  int i;
  memset(f, 0, sizeof *f);
  f->drop_after = f->garbage_after = f->oversize_after = f->truncate_after = -1;
  *port_dir = NULL;
  for (i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    long n;
    if (!strcmp(a, "--port-dir") && v) {
      *port_dir = v;
      i++;
    } else if (!strcmp(a, "--drop-after") && !parse_count(v, &f->drop_after)) {
      i++;
    } else if (!strcmp(a, "--garbage-after") && !parse_count(v, &f->garbage_after)) {
      i++;
    } else if (!strcmp(a, "--oversize-after") && !parse_count(v, &f->oversize_after)) {
      i++;
    } else if (!strcmp(a, "--truncate-after") && !parse_count(v, &f->truncate_after)) {
      i++;
    } else if (!strcmp(a, "--delay-ms") && !parse_count(v, &n) && n <= 600000) {
      f->delay_ms = (unsigned)n;
      i++;
    } else if (!strcmp(a, "--output-late") && !parse_count(v, &n) && n > 0 && n <= 600000) {
      f->output_late_ms = (unsigned)n;
      i++;
    } else if (!strcmp(a, "--never-answer") && v && f->n_never_answer < 8) {
      f->never_answer[f->n_never_answer++] = v;
      i++;
    } else if (!strcmp(a, "--reorder")) {
      f->reorder = 1;
    } else if (!strcmp(a, "--notify-unknown")) {
      f->notify_unknown = 1;
    } else if (!strcmp(a, "--background")) {
      f->background = 1;
    } else if (!strcmp(a, "--mount-layers")) {
      f->mount_layers = 1;
    } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage();
      exit(0);
    } else {
      fprintf(stderr, "cow-gcs-peer: bad argument '%s'\n", a);
      usage();
      return -1;
    }
  }
  if (!*port_dir) {
    usage();
    return -1;
  }
  return 0;
}

int peer_faults_truncate_now(const peer_t *peer)
{
  return peer->faults.truncate_after >= 0 &&
         peer->frames_sent == (uint64_t)peer->faults.truncate_after;
}

static void send_garbage(peer_t *peer)
{
  /* Not a frame: a type no one defines and a size below the header size. */
  static const uint8_t garbage[16] = {0xde, 0xad, 0xbe, 0xef, 0x07, 0,    0,    0,
                                      0x47, 0x41, 0x52, 0x42, 0x41, 0x47, 0x45, 0x21};
  uint8_t *b = malloc(sizeof garbage);
  if (!b)
    return;
  memcpy(b, garbage, sizeof garbage);
  peer_log("fault: garbage header after %llu frames", (unsigned long long)peer->frames_sent);
  peer_bridge_raw(peer, b, sizeof garbage, 0);
}

static void send_oversize(peer_t *peer)
{
  /* A well-formed DumpStacks response whose Size is 0x10001: only the limit is wrong. */
  const uint32_t size = COW__FRAME_MAX_SIZE + 1;
  uint8_t *b = malloc(size);
  cow__frame_header_t h = {COW__MSG_DUMP_STACKS_RESPONSE, size, 0};
  static const char head[] = "{\"Result\":0,\"GuestStacks\":\"";
  size_t i;
  if (!b)
    return;
  cow__frame_header_encode(&h, b);
  memcpy(b + 16, head, sizeof head - 1);
  for (i = 16 + sizeof head - 1; i < size - 2; i++)
    b[i] = 'x';
  b[size - 2] = '"';
  b[size - 1] = '}';
  peer_log("fault: %u-byte frame after %llu frames", (unsigned)size,
           (unsigned long long)peer->frames_sent);
  peer_bridge_raw(peer, b, size, 0);
}

void peer_faults_after_send(peer_t *peer)
{
  uint64_t n = peer->frames_sent;
  peer_faults_t *f = &peer->faults;
  if (f->garbage_after >= 0 && n == (uint64_t)f->garbage_after)
    send_garbage(peer);
  if (f->oversize_after >= 0 && n == (uint64_t)f->oversize_after)
    send_oversize(peer);
  if (f->drop_after >= 0 && n == (uint64_t)f->drop_after) {
    peer_log("fault: dropping the bridge after %llu frames", (unsigned long long)n);
    /* An empty write queued behind the last frame: close once everything is out. */
    {
      uint8_t *none = malloc(1);
      if (none)
        peer_bridge_raw(peer, none, 0, 1);
      else
        peer_stop(peer, 0);
    }
  }
}

int peer_faults_never_answer(const peer_t *peer, uint32_t type)
{
  const char *name = cow__frame_rpc_name(type);
  for (int i = 0; name != NULL && i < peer->faults.n_never_answer; i++)
    if (strcmp(name, peer->faults.never_answer[i]) == 0)
      return 1;
  return 0;
}

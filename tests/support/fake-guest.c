/* The fake guest (see fake-guest.h). */
#include "support/fake-guest.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "guest/frame.h"

#define ACTIVITY "\"ActivityId\":\"834b1e7f-3925-42ca-aa4c-53f30465318e\""

void fg_init(fg_t *g, int fd)
{
  memset(g, 0, sizeof *g);
  g->fd = fd;
  g->next_pid = 100;
  g->capture_fd = -1;
}

static int flush(fg_t *g)
{
  size_t off = 0;
  while (off < g->out_len) {
    ssize_t n = write(g->fd, g->out + off, g->out_len - off);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return -1;
    off += (size_t)n;
  }
  g->out_len = 0;
  return 0;
}

static void answer(fg_t *g, uint32_t req_type, uint64_t id, const char *body)
{
  size_t len = strlen(body);
  if (g->out_len + 16 + len > sizeof g->out)
    flush(g);
  cow__frame_header_t h = {COW__FRAME_RESPONSE_OF(req_type), (uint32_t)(16 + len), id};
  cow__frame_header_encode(&h, g->out + g->out_len);
  memcpy(g->out + g->out_len + 16, body, len);
  g->out_len += 16 + len;
  g->answers++;
}

/* The number after "key": in a request body, or 0. */
static uint32_t field(const uint8_t *p, size_t len, const char *key)
{
  size_t klen = strlen(key);
  const uint8_t *hit = memmem(p, len, key, klen);
  if (hit == NULL)
    return 0;
  uint32_t v = 0;
  for (const uint8_t *q = hit + klen; q < p + len && *q >= '0' && *q <= '9'; q++)
    v = v * 10 + (uint32_t)(*q - '0');
  return v;
}

static int held_index(const fg_t *g, uint32_t pid)
{
  for (size_t i = 0; i < g->nheld; i++)
    if (g->held[i].pid == pid)
      return (int)i;
  return -1;
}

static void on_request(fg_t *g, const cow__frame_header_t *h, const uint8_t *p, size_t len)
{
  char body[160];
  g->requests++;
  uint32_t bit = 1u << ((h->type & COW__FRAME_MSGID_MASK) >> 8 & 31);
  if (g->capture_fd >= 0 && !(g->captured & bit)) {
    g->captured |= bit;
    uint8_t hdr[16];
    cow__frame_header_encode(h, hdr);
    if (write(g->capture_fd, hdr, 16) != 16 || write(g->capture_fd, p, len) != (ssize_t)len)
      g->capture_fd = -1; /* the reader went away: stop copying */
  }
  switch (h->type) {
  case COW__MSG_NEGOTIATE_PROTOCOL:
    answer(g, h->type, h->id,
           "{\"Result\":0," ACTIVITY ",\"Version\":4,\"Capabilities\":{"
           "\"SupportedSchemaVersions\":[{\"Major\":2,\"Minor\":1}],\"RuntimeOsType\":\"Linux\","
           "\"GuestDefinedCapabilities\":{\"SignalProcessSupported\":true}}}");
    return;
  case COW__MSG_EXECUTE_PROCESS: {
    uint32_t pid = g->next_pid++;
    if (memmem(p, len, FG_HOLD_MARKER, strlen(FG_HOLD_MARKER)) != NULL && g->nheld < FG_MAX_HELD) {
      g->held[g->nheld].pid = pid;
      g->held[g->nheld].waiting = 0;
      g->nheld++;
    }
    snprintf(body, sizeof body, "{\"Result\":0," ACTIVITY ",\"ProcessId\":%u}", pid);
    answer(g, h->type, h->id, body);
    return;
  }
  case COW__MSG_WAIT_FOR_PROCESS: {
    int i = held_index(g, field(p, len, "\"ProcessId\":"));
    if (i >= 0) {
      g->held[i].waiting = 1;
      g->held[i].wait_id = h->id;
      return;
    }
    answer(g, h->type, h->id, "{\"Result\":0," ACTIVITY ",\"ExitCode\":0}");
    return;
  }
  case COW__MSG_SIGNAL_PROCESS: {
    answer(g, h->type, h->id, "{\"Result\":0," ACTIVITY "}");
    int i = held_index(g, field(p, len, "\"ProcessId\":"));
    if (i >= 0 && memmem(p, len, "\"Options\"", 9) == NULL) { /* a kill */
      if (g->held[i].waiting)
        answer(g, COW__MSG_WAIT_FOR_PROCESS, g->held[i].wait_id,
               "{\"Result\":0," ACTIVITY ",\"ExitCode\":137}");
      g->held[i] = g->held[--g->nheld];
    }
    return;
  }
  default:
    answer(g, h->type, h->id, "{\"Result\":0," ACTIVITY "}");
    return;
  }
}

int fg_pump(fg_t *g, int wait)
{
  ssize_t n;
  do
    n = recv(g->fd, g->in + g->have, sizeof g->in - g->have, wait ? 0 : MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  if (n < 0 && !wait && (errno == EAGAIN || errno == EWOULDBLOCK))
    return 0;
  if (n <= 0)
    return -1;
  g->have += (size_t)n;
  size_t off = 0;
  while (g->have - off >= 16) {
    cow__frame_header_t h;
    cow__frame_header_decode(g->in + off, &h);
    if (h.size < 16 || h.size > sizeof g->in)
      return -1; /* the host never sends that */
    if (g->have - off < h.size)
      break;
    on_request(g, &h, g->in + off + 16, h.size - 16);
    off += h.size;
  }
  memmove(g->in, g->in + off, g->have - off);
  g->have -= off;
  return flush(g) == 0 ? (int)n : -1;
}

int fg_serve(fg_t *const *guests, int n)
{
  struct pollfd pfd[16];
  if (n > 16)
    return -1;
  int open = n;
  for (int i = 0; i < n; i++) {
    pfd[i].fd = guests[i]->fd;
    pfd[i].events = POLLIN;
  }
  while (open > 0) {
    if (poll(pfd, (nfds_t)n, -1) < 0) {
      if (errno == EINTR)
        continue;
      return -1;
    }
    for (int i = 0; i < n; i++) {
      if (pfd[i].fd < 0 || pfd[i].revents == 0)
        continue;
      if (fg_pump(guests[i], 1) < 0) {
        pfd[i].fd = -1; /* poll ignores negative descriptors */
        open--;
      }
    }
  }
  return 0;
}

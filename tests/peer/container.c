/* cow-gcs-peer: containers as plain process trees. There is no runc, no namespaces and no
 * rootfs: Create stores the OCI spec, the first ExecuteProcess without OciProcess runs
 * spec.process.args as init (on the host filesystem), and every process of the container
 * leads its own process group so "runc kill --all" is a killpg over the groups. */
#include <ctype.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "peer.h"

peer_container_t *peer_container_find(peer_t *peer, const char *id)
{
  peer_container_t *c;
  for (c = peer->containers; c; c = c->next)
    if (!c->deleted && !strcmp(c->id, id))
      return c;
  return NULL;
}

void peer_container_add_pgid(peer_container_t *c, pid_t pgid)
{
  pid_t *n = realloc(c->pgids, (c->npgids + 1) * sizeof *n);
  if (!n)
    return;
  c->pgids = n;
  c->pgids[c->npgids++] = pgid;
}

void peer_container_kill_all(peer_container_t *c, int sig)
{
  size_t i;
  /* A group outlives its leader while members remain; ESRCH for empty groups is fine. */
  for (i = 0; i < c->npgids; i++)
    kill(-c->pgids[i], sig);
}

void peer_container_maybe_notify(peer_container_t *c)
{
  json_t *n;
  if (c->notified || c->peer->stopping)
    return;
  c->notified = 1;
  n = json_object();
  pj_set(n, "ContainerId", json_string(c->id));
  /* The Create request's ActivityId (m_container seq 29). */
  pj_set(n, "ActivityId", json_string(c->create_activity ? c->create_activity : ""));
  pj_set(n, "Type", json_string(c->exit_type));
  pj_set(n, "Operation", json_string("None"));
  pj_set(n, "Result", json_integer(0));
  peer_send_notification(c->peer, n);
}

void peer_handle_create(peer_t *peer, const peer_req_t *req)
{
  const char *cfg_text = "";
  char err[512];
  json_t *cfg, *sv, *spec;
  uint64_t major = 0, minor = 0;
  peer_container_t *c;
  if (gj_string(req->body, "ContainerConfig", "ContainerCreate.ContainerConfig", &cfg_text, err,
                sizeof err) < 0) {
    char *raw = gj_utf8_sanitize(req->raw, req->raw_len);
    peer_respond_error(peer, req, HR_INVALID_JSON,
                       "failed to unmarshal JSON in message \"%s\": HRESULT 0xc037010d: %s",
                       raw ? raw : "", err);
    free(raw);
    return;
  }
  cfg = gj_parse_object((const uint8_t *)cfg_text, strlen(cfg_text),
                        "prot.VMHostedContainerSettingsV2", err, sizeof err);
  if (!cfg) {
    char *raw = gj_utf8_sanitize((const uint8_t *)cfg_text, strlen(cfg_text));
    peer_respond_error(
        peer, req, HR_INVALID_JSON,
        "failed to unmarshal JSON for ContainerConfig \"%s\": HRESULT 0xc037010d: %s",
        raw ? raw : "", err);
    free(raw);
    return;
  }
  sv = gj_get(cfg, "SchemaVersion");
  if (sv &&
      (gj_uint(sv, "Major", "SchemaVersion.Major", 0xFFFFFFFFu, &major, err, sizeof err) < 0 ||
       gj_uint(sv, "Minor", "SchemaVersion.Minor", 0xFFFFFFFFu, &minor, err, sizeof err) < 0)) {
    peer_respond_error(peer, req, HR_INVALID_JSON,
                       "failed to unmarshal JSON for ContainerConfig: "
                       "HRESULT 0xc037010d: %s",
                       err);
    json_decref(cfg);
    return;
  }
  if (major < 2 || (major == 2 && minor < 1)) {
    peer_respond_error(peer, req, HR_INVALID_JSON,
                       "invalid schema version: {Major:%llu Minor:%llu}: HRESULT 0xc037010d",
                       (unsigned long long)major, (unsigned long long)minor);
    json_decref(cfg);
    return;
  }
  if (peer_container_find(peer, req->container_id)) {
    peer_respond_hr(peer, req, HR_SYSTEM_EXISTS);
    json_decref(cfg);
    return;
  }
  spec = gj_get(cfg, "OciSpecification");
  if (!json_is_object(spec) || !json_is_object(gj_get(spec, "process")) ||
      !json_is_object(gj_get(spec, "root")) || !json_is_object(gj_get(spec, "linux"))) {
    /* Deliberate difference: the real agent dereferences these without checks. */
    peer_log("Create without OciSpecification.process/root/linux: refused");
    peer_respond_error(peer, req, HR_E_FAIL,
                       "cow-gcs-peer: Create needs OciSpecification with process, root and linux "
                       "(the real agent crashes without them)");
    json_decref(cfg);
    return;
  }
  {
    /* A standalone container (no CRI annotation) or a pod's sandbox takes its namespace's
     * pid slot: refused when that slot was ever taken (hcsv2 CreateContainer,
     * AssignContainerPid; the message and HRESULT are the agent's). */
    json_t *win = gj_get(spec, "windows");
    json_t *ns = gj_get(gj_get(win, "network"), "networkNamespace");
    const char *nsid = json_is_string(ns) ? json_string_value(ns) : "";
    const char *cri =
        json_string_value(gj_get(gj_get(spec, "annotations"), "io.kubernetes.cri.container-type"));
    peer_netns_t *n;
    for (n = peer->netns; n && strcmp(n->id, nsid) != 0; n = n->next)
      ;
    if ((cri == NULL || !strcmp(cri, "sandbox")) && n != NULL) {
      long pid = n->owner && n->owner->init ? (long)n->owner->init->pid : 0;
      peer_log("Create %s: namespace \"%s\" already holds pid %ld", req->container_id, nsid, pid);
      peer_respond_error(peer, req, HR_E_FAIL,
                         "previously assigned container pid %ld to network namespace \"%s\"", pid,
                         nsid);
      json_decref(cfg);
      return;
    }
    if (cri == NULL || !strcmp(cri, "sandbox")) {
      n = calloc(1, sizeof *n);
      if (!n || !(n->id = strdup(nsid))) {
        free(n);
        peer_respond_hr(peer, req, HR_E_FAIL);
        json_decref(cfg);
        return;
      }
      n->next = peer->netns;
      peer->netns = n;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
      peer_respond_hr(peer, req, HR_E_FAIL);
      json_decref(cfg);
      return;
    }
    if (cri == NULL || !strcmp(cri, "sandbox"))
      peer->netns->owner = c;
  }
  c->peer = peer;
  c->id = strdup(req->container_id);
  c->create_activity = req->activity ? strdup(req->activity) : NULL;
  c->spec = json_incref(spec);
  c->exit_type = "UnexpectedExit";
  c->next = peer->containers;
  peer->containers = c;
  json_decref(cfg);
  {
    json_t *o = peer_resp_base(req, 0);
    pj_set(o, "SelectedProtocolVersion", json_integer(0));
    peer_respond(peer, req, o);
  }
}

void peer_handle_shutdown(peer_t *peer, const peer_req_t *req, int forced)
{
  peer_container_t *c;
  if (!strcmp(req->container_id, PEER_NULL_ID)) {
    /* The agent powers the UVM off and answers nothing (j8); the peer exits with 0. */
    peer_log("Shutdown%s of the UVM: exiting without a response", forced ? "Forced" : "Graceful");
    peer_stop(peer, 0);
    return;
  }
  c = peer_container_find(peer, req->container_id);
  if (!c) {
    peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
    return;
  }
  /* v0.11.4: runc kill --all; S_OK even when init already exited. */
  c->exit_type = forced ? "ForcedExit" : "GracefulExit";
  peer_container_kill_all(c, forced ? SIGKILL : SIGTERM);
  peer_respond_ok(peer, req);
}

void peer_handle_delete(peer_t *peer, const peer_req_t *req)
{
  peer_container_t *c = peer_container_find(peer, req->container_id);
  peer_proc_t *p;
  if (!c) {
    peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
    return;
  }
  peer_container_kill_all(c, SIGKILL);
  /* Removed from the table whatever happens (docs/gcs-bridge-protocol.md §4.12); the memory stays
   * until exit because processes still point at it. */
  c->deleted = 1;
  for (p = peer->procs; p; p = p->next)
    if (p->ctr == c)
      p->removed = 1;
  peer_respond_ok(peer, req);
}

/* ---- GetProperties ---- */

typedef struct pinfo {
  pid_t pid;
  unsigned long long ticks, kernel_ticks;
  unsigned long long rss_bytes;
} pinfo_t;

/* Processes whose process group belongs to the container (what `runc ps` would list). */
static size_t list_container_pids(peer_container_t *c, pinfo_t *out, size_t max)
{
  DIR *d = opendir("/proc");
  struct dirent *e;
  size_t n = 0;
  if (!d)
    return 0;
  while ((e = readdir(d)) && n < max) {
    char path[300], buf[1024], *rp;
    FILE *f;
    long pgrp = 0;
    unsigned long long ut = 0, st = 0;
    long long rss = 0;
    size_t i;
    if (!isdigit((unsigned char)e->d_name[0]))
      continue;
    snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
    f = fopen(path, "r");
    if (!f)
      continue;
    if (!fgets(buf, sizeof buf, f)) {
      fclose(f);
      continue;
    }
    fclose(f);
    rp = strrchr(buf, ')'); /* comm may contain spaces */
    /* Fields after the name: 3 state, 5 pgrp, 14 utime, 15 stime, 24 rss (pages). */
    if (!rp || sscanf(rp + 2,
                      "%*c %*d %ld %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d %*d "
                      "%*d %*u %*u %lld",
                      &pgrp, &ut, &st, &rss) != 4)
      continue;
    if (rp[2] == 'Z')
      continue;
    for (i = 0; i < c->npgids; i++) {
      if (c->pgids[i] == (pid_t)pgrp) {
        out[n].pid = (pid_t)atol(e->d_name);
        out[n].ticks = ut + st;
        out[n].kernel_ticks = st;
        out[n].rss_bytes =
            rss > 0 ? (unsigned long long)rss * (unsigned long long)sysconf(_SC_PAGESIZE) : 0;
        n++;
        break;
      }
    }
  }
  closedir(d);
  /* Sorted by pid, init first when alive, like runc ps. */
  {
    size_t i, j;
    for (i = 0; i < n; i++)
      for (j = i + 1; j < n; j++)
        if (out[j].pid < out[i].pid) {
          pinfo_t t = out[i];
          out[i] = out[j];
          out[j] = t;
        }
  }
  return n;
}

void peer_handle_get_properties(peer_t *peer, const peer_req_t *req)
{
  const char *query = "";
  char err[512];
  json_t *q = NULL, *types = NULL, *props;
  peer_container_t *c;
  size_t i;
  int want_pl = 0, want_stats = 0;
  if (gj_string(req->body, "Query", "ContainerGetProperties.Query", &query, err, sizeof err) < 0) {
    char *raw = gj_utf8_sanitize(req->raw, req->raw_len);
    peer_respond_error(peer, req, HR_INVALID_JSON,
                       "failed to unmarshal JSON in message \"%s\": HRESULT 0xc037010d: %s",
                       raw ? raw : "", err);
    free(raw);
    return;
  }
  if (*query) {
    q = gj_parse_object((const uint8_t *)query, strlen(query), "prot.PropertyQuery", err,
                        sizeof err);
    types = q ? gj_get(q, "PropertyTypes") : NULL;
    if (!q || (types && !json_is_array(types))) {
      if (q)
        snprintf(err, sizeof err,
                 "json: cannot unmarshal value into Go struct field "
                 "PropertyQuery.PropertyTypes of type []string");
      /* '{[]}' is how the agent prints its empty query struct (i_getproperties seq 8). */
      peer_respond_error(peer, req, HR_INVALID_JSON,
                         "The query could not be unmarshaled: '{[]}': HRESULT 0xc037010d: %s", err);
      json_decref(q);
      return;
    }
  }
  if (!strcmp(req->container_id, PEER_NULL_ID)) {
    peer_respond_error(peer, req, HR_E_FAIL, "getPropertiesV2 is not supported against the UVM");
    json_decref(q);
    return;
  }
  c = peer_container_find(peer, req->container_id);
  if (!c) {
    peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
    json_decref(q);
    return;
  }
  for (i = 0; types && i < json_array_size(types); i++) {
    const char *t = json_string_value(json_array_get(types, i));
    if (t && !strcmp(t, "ProcessList"))
      want_pl = 1;
    else if (t && !strcmp(t, "Statistics"))
      want_stats = 1;
    else
      peer_log("GetProperties: ignoring property type %s", t ? t : "(non-string)");
  }
  json_decref(q);
  props = json_object();
  if (want_pl || want_stats) {
    pinfo_t pi[256];
    size_t n = list_container_pids(c, pi, 256);
    if (want_pl) {
      json_t *arr = json_array();
      for (i = 0; i < n; i++) {
        json_t *e = json_object();
        pj_set(e, "ProcessId", json_integer(pi[i].pid));
        pj_append(arr, e);
      }
      pj_set(props, "ProcessList", arr);
    }
    if (want_stats) {
      /* A cgroup-v1-metrics-shaped document built from /proc; zero values are omitted like
       * the protobuf JSON the agent sends. Memory is what an agent whose host has a memory
       * cgroup adds (memory.usage.usage; the recorded agent's host had none, so its answer
       * has no memory): here the resident sets of the container's processes. */
      unsigned long long total = 0, kernel = 0, rss = 0;
      long hz = sysconf(_SC_CLK_TCK);
      long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
      json_t *m = json_object(), *pids = json_object(), *cpu = json_object(),
             *usage = json_object(), *per = json_array();
      for (i = 0; i < n; i++) {
        total += pi[i].ticks;
        kernel += pi[i].kernel_ticks;
        rss += pi[i].rss_bytes;
      }
      if (hz <= 0)
        hz = 100;
      if (ncpu <= 0)
        ncpu = 1;
      total = total * (1000000000ull / (unsigned long long)hz);
      kernel = kernel * (1000000000ull / (unsigned long long)hz);
      if (n)
        pj_set(pids, "current", json_integer((json_int_t)n));
      if (total)
        pj_set(usage, "total", json_integer((json_int_t)total));
      if (kernel)
        pj_set(usage, "kernel", json_integer((json_int_t)kernel));
      if (total - kernel)
        pj_set(usage, "user", json_integer((json_int_t)(total - kernel)));
      if (rss)
        pj_set(m, "memory", json_pack("{s:{s:I}}", "usage", "usage", (json_int_t)rss));
      for (i = 0; i < (size_t)ncpu; i++)
        pj_append(per, json_integer(i == 0 ? (json_int_t)total : 0));
      pj_set(usage, "per_cpu", per);
      pj_set(cpu, "usage", usage);
      pj_set(cpu, "throttling", json_object());
      pj_set(m, "pids", pids);
      pj_set(m, "cpu", cpu);
      pj_set(m, "blkio", json_object());
      pj_set(props, "LCOWMetrics", m);
    }
  }
  {
    size_t len;
    char *text = gj_dump(props, &len);
    json_t *o = peer_resp_base(req, 0);
    pj_set(o, "Properties", json_string(text ? text : "{}"));
    free(text);
    json_decref(props);
    peer_respond(peer, req, o);
  }
}

void peer_container_free_all(peer_t *peer)
{
  peer_container_t *c;
  peer_netns_t *n;
  while ((n = peer->netns)) {
    peer->netns = n->next;
    free(n->id);
    free(n);
  }
  while ((c = peer->containers)) {
    peer->containers = c->next;
    free(c->id);
    free(c->create_activity);
    json_decref(c->spec);
    free(c->pgids);
    free(c);
  }
}

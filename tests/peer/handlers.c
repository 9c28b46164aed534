/* cow-gcs-peer: request dispatch and the UVM-level handlers (negotiate, exec, wait, signal,
 * resize, modify, dumpstacks). Each handler answers exactly like the v0.11.4 agent in the
 * recordings: same Result, same fields, same messages where they are not Go internals. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "peer.h"

/* prot.MessageIdentifier.String() of v0.11.4: named requests 1..13, responses 1..12 (the
 * names are the bridge's own, cow__frame_rpc_name), the notification and None; anything
 * else in decimal. */
void peer_go_type_name(uint32_t type, char *buf, size_t len)
{
  uint32_t kind = type & COW__FRAME_KIND_MASK;
  uint32_t code = type & ~COW__FRAME_KIND_MASK;
  uint32_t n = (code & COW__FRAME_MSGID_MASK) >> 8;
  int sys = (code & ~COW__FRAME_MSGID_MASK) == (COW__FRAME_CATEGORY_SYSTEM | 1u);
  if (type == 0) {
    snprintf(buf, len, "None");
  } else if (type == COW__MSG_CONTAINER_NOTIFICATION) {
    snprintf(buf, len, "ComputeSystemNotificationV1");
  } else if (sys && kind == COW__FRAME_KIND_REQUEST && n >= 1 && n <= 13) {
    snprintf(buf, len, "ComputeSystem%sV1", cow__frame_rpc_name(type));
  } else if (sys && kind == COW__FRAME_KIND_RESPONSE && n >= 1 && n <= 12) {
    snprintf(buf, len, "ComputeSystemResponse%sV1", cow__frame_rpc_name(type));
  } else {
    snprintf(buf, len, "%u", (unsigned)type);
  }
}

static void respond_notimpl(peer_t *peer, const peer_req_t *req)
{
  char name[64];
  peer_go_type_name(req->type, name, sizeof name);
  peer_respond_error(peer, req, HR_E_NOTIMPL,
                     "HRESULT 0x80004001: bridge: function not supported, header type: %s", name);
}

/* "failed to unmarshal JSON in message \"<raw>\": <detail>" with the raw request echoed,
 * invalid UTF-8 replaced like Go does. */
static void respond_bad_message(peer_t *peer, const peer_req_t *req, int32_t hr, const char *detail)
{
  char *raw = gj_utf8_sanitize(req->raw, req->raw_len);
  if (hr == HR_INVALID_JSON)
    peer_respond_error(peer, req, hr,
                       "failed to unmarshal JSON in message \"%s\": HRESULT 0xc037010d: %s",
                       raw ? raw : "", detail);
  else
    peer_respond_error(peer, req, hr, "failed to unmarshal JSON in message \"%s\": %s",
                       raw ? raw : "", detail);
  free(raw);
}

/* ---- NegotiateProtocol ---- */

static void handle_negotiate(peer_t *peer, const peer_req_t *req)
{
  uint64_t min = 0, max = 0;
  char err[512];
  json_t *o, *caps, *gdc, *schemas, *sv;
  if (gj_uint(req->body, "MinimumVersion", "NegotiateProtocol.MinimumVersion", 0xFFFFFFFFu, &min,
              err, sizeof err) < 0 ||
      gj_uint(req->body, "MaximumVersion", "NegotiateProtocol.MaximumVersion", 0xFFFFFFFFu, &max,
              err, sizeof err) < 0) {
    respond_bad_message(peer, req, HR_INVALID_JSON, err);
    return;
  }
  if (max < 4 || min > 4) {
    /* Left un-negotiated: a later attempt may succeed (j2 seq 5-10). */
    peer_respond_hr(peer, req, HR_UNSUPPORTED_PROTOCOL);
    return;
  }
  peer->negotiated = 1;
  o = peer_resp_base(req, 0);
  pj_set(o, "Version", json_integer(4));
  caps = json_object();
  schemas = json_array();
  sv = json_object();
  pj_set(sv, "Major", json_integer(2));
  pj_set(sv, "Minor", json_integer(1));
  pj_append(schemas, sv);
  pj_set(caps, "SupportedSchemaVersions", schemas);
  pj_set(caps, "RuntimeOsType", json_string("Linux"));
  gdc = json_object();
  pj_set(gdc, "NamespaceAddRequestSupported", json_true());
  pj_set(gdc, "SignalProcessSupported", json_true());
  pj_set(gdc, "DumpStacksSupported", json_true());
  pj_set(gdc, "DeleteContainerStateSupported", json_true());
  pj_set(caps, "GuestDefinedCapabilities", gdc);
  pj_set(o, "Capabilities", caps);
  peer_respond(peer, req, o);
  if (peer->faults.notify_unknown) {
    json_t *n = json_object();
    pj_set(n, "ContainerId", json_string("ffffffff-dead-beef-0000-000000000000"));
    pj_set(n, "ActivityId", json_string(PEER_NULL_ID));
    pj_set(n, "Type", json_string("UnexpectedExit"));
    pj_set(n, "Operation", json_string("None"));
    pj_set(n, "Result", json_integer(0));
    peer_log("fault: notification for an unknown container");
    peer_send_notification(peer, n);
  }
}

/* ---- ExecuteProcess ---- */

/* Shell-word split for CommandLine (quotes and backslashes), as the guest does. */
static char **split_command_line(const char *s)
{
  size_t cap = 8, n = 0, len = strlen(s);
  char **argv = calloc(cap, sizeof *argv);
  char *word = malloc(len + 1);
  size_t w = 0;
  int in_word = 0;
  char q = 0;
  if (!argv || !word) {
    free(argv);
    free(word);
    return NULL;
  }
  for (;; s++) {
    char c = *s;
    if (!q && (c == 0 || c == ' ' || c == '\t' || c == '\n')) {
      if (in_word) {
        word[w] = 0;
        if (n + 2 > cap) {
          char **na = realloc(argv, (cap *= 2) * sizeof *argv);
          if (!na)
            break;
          argv = na;
        }
        argv[n++] = strdup(word);
        argv[n] = NULL;
        w = 0;
        in_word = 0;
      }
      if (c == 0)
        break;
      continue;
    }
    if (c == 0)
      break; /* unterminated quote: take what we have */
    in_word = 1;
    if (q == '\'') {
      if (c == '\'')
        q = 0;
      else
        word[w++] = c;
    } else if (q == '"') {
      if (c == '"')
        q = 0;
      else if (c == '\\' && (s[1] == '"' || s[1] == '\\' || s[1] == '$' || s[1] == '`'))
        word[w++] = *++s;
      else
        word[w++] = c;
    } else if (c == '\'' || c == '"') {
      q = c;
    } else if (c == '\\' && s[1]) {
      word[w++] = *++s;
    } else {
      word[w++] = c;
    }
  }
  free(word);
  return argv;
}

static void free_strv(char **v)
{
  size_t i;
  if (!v)
    return;
  for (i = 0; v[i]; i++)
    free(v[i]);
  free(v);
}

/* ["a","b"] -> NULL-terminated vector; -1 with a Go-style error on a wrong type. */
static int strv_from_array(const json_t *arr, const char *go_field, char ***out, char *err,
                           size_t errlen)
{
  size_t i;
  char **v;
  *out = NULL;
  if (!arr)
    return 0;
  if (!json_is_array(arr)) {
    snprintf(err, errlen, "json: cannot unmarshal %s into Go struct field %s of type []string",
             json_is_object(arr) ? "object" : "value", go_field);
    return -1;
  }
  v = calloc(json_array_size(arr) + 1, sizeof *v);
  if (!v)
    return -1;
  for (i = 0; i < json_array_size(arr); i++) {
    json_t *e = json_array_get(arr, i);
    if (!json_is_string(e)) {
      snprintf(err, errlen, "json: cannot unmarshal value into Go struct field %s of type string",
               go_field);
      free_strv(v);
      return -1;
    }
    v[i] = strdup(json_string_value(e));
  }
  *out = v;
  return 0;
}

static char **env_from_object(const json_t *obj, char *err, size_t errlen)
{
  const char *k;
  json_t *v;
  size_t i = 0;
  char **env = calloc(json_object_size(obj) + 1, sizeof *env);
  if (!env)
    return NULL;
  json_object_foreach((json_t *)obj, k, v)
  {
    size_t n;
    if (!json_is_string(v)) {
      snprintf(err, errlen,
               "json: cannot unmarshal value into Go struct field "
               "ProcessParameters.Environment of type string");
      free_strv(env);
      return NULL;
    }
    n = strlen(k) + json_string_length(v) + 2;
    env[i] = malloc(n);
    snprintf(env[i++], n, "%s=%s", k, json_string_value(v));
  }
  return env;
}

static const char *env_lookup(char **env, const char *name)
{
  size_t n = strlen(name), i;
  for (i = 0; env && env[i]; i++)
    if (!strncmp(env[i], name, n) && env[i][n] == '=')
      return env[i] + n + 1;
  return NULL;
}

static void handle_execute(peer_t *peer, const peer_req_t *req)
{
  char err[1024] = "";
  json_t *settings = NULL, *relay = NULL, *params = NULL, *oci = NULL, *env_obj = NULL;
  const char *pp = "", *cmdline = "", *cwd = "";
  peer_stdio_req_t sr;
  uint64_t port;
  int emulate = 0, in_uvm = 0, external, fds[3] = {-1, -1, -1}, i;
  static const char *const pipe_keys[3] = {"CreateStdInPipe", "CreateStdOutPipe",
                                           "CreateStdErrPipe"};
  static const char *const port_keys[3] = {"StdIn", "StdOut", "StdErr"};
  char **argv = NULL, **envp = NULL;
  peer_spawn_t sp;
  peer_container_t *ctr = NULL;
  peer_proc_t *p;
  int is_init = 0;

  memset(&sr, 0, sizeof sr);
  if (gj_object(req->body, "Settings", "ContainerExecuteProcess.Settings", &settings, err,
                sizeof err) < 0 ||
      gj_string(settings, "ProcessParameters", "ContainerExecuteProcess.Settings.ProcessParameters",
                &pp, err, sizeof err) < 0 ||
      gj_object(settings, "VsockStdioRelaySettings",
                "ContainerExecuteProcess.Settings.VsockStdioRelaySettings", &relay, err,
                sizeof err) < 0) {
    /* Go reports "ExecuteProcessSettings.Settings.ProcessParameters of type string". */
    respond_bad_message(peer, req, HR_INVALID_JSON, err);
    return;
  }
  for (i = 0; i < 3; i++) {
    port = 0;
    if (gj_uint(relay, port_keys[i], "ExecuteProcessVsockStdioRelaySettings", 0xFFFFFFFFu, &port,
                err, sizeof err) < 0) {
      respond_bad_message(peer, req, HR_INVALID_JSON, err);
      return;
    }
    sr.port[i] = (uint32_t)port;
  }

  /* The inner document is parsed before anything is looked up (j1 seq 13-14). */
  params = gj_parse_object((const uint8_t *)pp, strlen(pp), "hcsschema.ProcessParameters", err,
                           sizeof err);
  if (params) {
    for (i = 0; i < 3 && !err[0]; i++)
      if (gj_bool(params, pipe_keys[i], "ProcessParameters", &sr.want[i], err, sizeof err) < 0)
        break;
    if (!err[0])
      gj_bool(params, "EmulateConsole", "ProcessParameters.EmulateConsole", &emulate, err,
              sizeof err);
    if (!err[0])
      gj_bool(params, "CreateInUtilityVM", "ProcessParameters.CreateInUtilityVM", &in_uvm, err,
              sizeof err);
    if (!err[0])
      gj_string(params, "CommandLine", "ProcessParameters.CommandLine", &cmdline, err, sizeof err);
    if (!err[0])
      gj_string(params, "WorkingDirectory", "ProcessParameters.WorkingDirectory", &cwd, err,
                sizeof err);
    if (!err[0])
      gj_object(params, "Environment", "ProcessParameters.Environment", &env_obj, err, sizeof err);
    if (!err[0])
      gj_object(params, "OciProcess", "ProcessParameters.OciProcess", &oci, err, sizeof err);
    if (!err[0])
      strv_from_array(gj_get(params, "CommandArgs"), "ProcessParameters.CommandArgs", &argv, err,
                      sizeof err);
  }
  if (!params || err[0]) {
    char *raw = gj_utf8_sanitize((const uint8_t *)pp, strlen(pp));
    peer_respond_error(
        peer, req, HR_INVALID_JSON,
        "failed to unmarshal JSON for ProcessParameters \"%s\": HRESULT 0xc037010d: %s",
        raw ? raw : "", err);
    free(raw);
    goto out;
  }

  external = !strcmp(req->container_id, PEER_NULL_ID) || in_uvm;
  memset(&sp, 0, sizeof sp);
  if (external) {
    if (!argv || !argv[0]) {
      free_strv(argv);
      argv = cmdline[0] ? split_command_line(cmdline) : NULL;
    }
    if (!argv || !argv[0]) {
      /* Deliberate difference: the real v0.11.4 agent panics here (j9). */
      peer_log("ExecuteProcess without CommandArgs or CommandLine: refused (the real agent "
               "crashes)");
      peer_respond_error(peer, req, HR_E_FAIL,
                         "cow-gcs-peer: ExecuteProcess without CommandArgs or CommandLine (the "
                         "real v0.11.4 agent panics on this request)");
      goto out;
    }
    if (env_obj && json_object_size(env_obj)) {
      envp = env_from_object(env_obj, err, sizeof err);
      if (!envp) {
        char *raw = gj_utf8_sanitize((const uint8_t *)pp, strlen(pp));
        peer_respond_error(
            peer, req, HR_INVALID_JSON,
            "failed to unmarshal JSON for ProcessParameters \"%s\": HRESULT 0xc037010d: %s",
            raw ? raw : "", err);
        free(raw);
        goto out;
      }
    }
    sp.cwd = cwd;
    sp.tty = emulate;
    /* Go's exec.Command resolves the name with the agent's own PATH. */
    sp.path_env = getenv("PATH");
  } else {
    json_t *proc_spec;
    ctr = peer_container_find(peer, req->container_id);
    if (!ctr) {
      peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
      goto out;
    }
    if (!oci) {
      if (ctr->init) {
        peer_respond_error(peer, req, HR_E_FAIL,
                           "failed to start container %s: the init process was already started",
                           ctr->id);
        goto out;
      }
      is_init = 1;
      proc_spec = gj_get(ctr->spec, "process");
    } else {
      if (!ctr->init) {
        peer_respond_error(peer, req, HR_E_FAIL,
                           "cannot exec in container %s: it has not been started", ctr->id);
        goto out;
      }
      proc_spec = oci;
    }
    free_strv(argv);
    argv = NULL;
    if (strv_from_array(gj_get(proc_spec, "args"), "Process.args", &argv, err, sizeof err) < 0 ||
        strv_from_array(gj_get(proc_spec, "env"), "Process.env", &envp, err, sizeof err) < 0) {
      respond_bad_message(peer, req, HR_INVALID_JSON, err);
      goto out;
    }
    if (!argv || !argv[0]) {
      peer_respond_error(peer, req, HR_E_FAIL, "runc: args must not be empty");
      goto out;
    }
    if (!envp)
      envp = calloc(1, sizeof *envp);
    sp.tty = json_is_true(gj_get(proc_spec, "terminal"));
    cwd = json_is_string(gj_get(proc_spec, "cwd")) ? json_string_value(gj_get(proc_spec, "cwd"))
                                                   : "/";
    sp.cwd = cwd;
    if (peer->faults.mount_layers)
      sp.root = json_string_value(gj_get(gj_get(ctr->spec, "root"), "path"));
    /* runc resolves args[0] with the container's PATH. */
    sp.path_env = env_lookup(envp, "PATH");
    if (!sp.path_env)
      sp.path_env = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  }
  sp.argv = argv;
  sp.envp = envp;

  if (peer_dial_stdio(peer, &sr, fds, err, sizeof err) < 0) {
    peer_respond_error(peer, req, HR_E_FAIL, "%s", err);
    goto out;
  }
  p = peer_proc_start(peer, ctr, &sp, fds, !external, err, sizeof err);
  if (!p) {
    if (external)
      peer_respond_error(peer, req, HR_E_FAIL, "failed to call Start for external process: %s",
                         err);
    else
      peer_respond_error(peer, req, HR_E_FAIL, "failed to run runc %s: %s",
                         is_init ? "start" : "exec", err);
    goto out;
  }
  if (is_init) {
    p->is_init = 1;
    ctr->init = p;
  }
  {
    json_t *o = peer_resp_base(req, 0);
    pj_set(o, "ProcessId", json_integer(p->pid));
    peer_respond(peer, req, o);
  }
out:
  free_strv(argv);
  free_strv(envp);
  json_decref(params);
}

/* ---- WaitForProcess / SignalProcess / ResizeConsole ---- */

static int parse_pid(peer_t *peer, const peer_req_t *req, const char *go_struct, uint64_t *pid)
{
  char err[512], field[96];
  snprintf(field, sizeof field, "%s.ProcessId", go_struct);
  if (gj_uint(req->body, "ProcessId", field, 0xFFFFFFFFu, pid, err, sizeof err) < 0) {
    respond_bad_message(peer, req, HR_INVALID_JSON, err);
    return -1;
  }
  return 0;
}

static void handle_wait(peer_t *peer, const peer_req_t *req)
{
  uint64_t pid = 0, timeout = 0;
  char err[512];
  peer_proc_t *p;
  if (parse_pid(peer, req, "ContainerWaitForProcess", &pid) < 0)
    return;
  if (gj_uint(req->body, "TimeoutInMs", "ContainerWaitForProcess.TimeoutInMs", 0xFFFFFFFFu,
              &timeout, err, sizeof err) < 0) {
    respond_bad_message(peer, req, HR_INVALID_JSON, err);
    return;
  }
  if (!strcmp(req->container_id, PEER_NULL_ID)) {
    p = peer_proc_find(peer, NULL, (uint32_t)pid);
  } else {
    peer_container_t *c = peer_container_find(peer, req->container_id);
    if (!c) {
      peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
      return;
    }
    p = peer_proc_find(peer, c, (uint32_t)pid);
  }
  if (!p) {
    peer_respond_hr(peer, req, HR_NOT_FOUND);
    return;
  }
  peer_proc_wait(peer, p, req, (uint32_t)timeout);
}

static void handle_signal(peer_t *peer, const peer_req_t *req)
{
  uint64_t pid = 0;
  int32_t sig = 0;
  char err[512];
  json_t *opts = NULL;
  peer_container_t *c;
  peer_proc_t *p;
  if (parse_pid(peer, req, "ContainerSignalProcess", &pid) < 0)
    return;
  if (gj_object(req->body, "Options", "ContainerSignalProcess.Options", &opts, err, sizeof err) <
          0 ||
      gj_int32(opts, "Signal", "SignalProcessOptionsLCOW.Signal", &sig, err, sizeof err) < 0) {
    respond_bad_message(peer, req, HR_INVALID_JSON, err);
    return;
  }
  /* The agent looks up a container even for the null id, so UVM processes cannot be
   * signalled (d_signal_kill seq 5-10). */
  c = peer_container_find(peer, req->container_id);
  if (!c) {
    peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
    return;
  }
  p = peer_proc_find(peer, c, (uint32_t)pid);
  if (!p) {
    peer_respond_hr(peer, req, HR_NOT_FOUND);
    return;
  }
  if (sig == 0)
    sig = SIGKILL;
  if (p->is_init && (sig == SIGTERM || sig == SIGKILL)) {
    /* v0.11.4: TERM/KILL to init is a container shutdown (runc kill --all), S_OK even after
     * init exited (m_container seq 25-26, 30-31). */
    c->exit_type = sig == SIGTERM ? "GracefulExit" : "ForcedExit";
    peer_container_kill_all(c, sig);
    peer_respond_ok(peer, req);
    return;
  }
  if (p->reaped || kill(p->pid, sig) < 0) {
    if (p->reaped || errno == ESRCH)
      peer_respond_hr(peer, req, HR_NOT_FOUND);
    else
      peer_respond_error(peer, req, HR_E_FAIL, "failed to send signal %d to process %u: %s", sig,
                         (unsigned)p->pid, strerror(errno));
    return;
  }
  peer_respond_ok(peer, req);
}

static void handle_resize(peer_t *peer, const peer_req_t *req)
{
  uint64_t pid = 0, h = 0, w = 0;
  char err[512];
  peer_container_t *c;
  peer_proc_t *p;
  struct winsize ws;
  if (parse_pid(peer, req, "ContainerResizeConsole", &pid) < 0)
    return;
  if (gj_uint(req->body, "Height", "ContainerResizeConsole.Height", 0xFFFFu, &h, err, sizeof err) <
          0 ||
      gj_uint(req->body, "Width", "ContainerResizeConsole.Width", 0xFFFFu, &w, err, sizeof err) <
          0) {
    respond_bad_message(peer, req, HR_INVALID_JSON, err);
    return;
  }
  c = peer_container_find(peer, req->container_id);
  if (!c) {
    peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
    return;
  }
  p = peer_proc_find(peer, c, (uint32_t)pid);
  if (!p) {
    peer_respond_hr(peer, req, HR_NOT_FOUND);
    return;
  }
  if (!p->tty || p->master_fd < 0) {
    peer_respond_error(peer, req, HR_E_FAIL, "process %u is not a tty and cannot be resized",
                       (unsigned)p->pid);
    return;
  }
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)h;
  ws.ws_col = (unsigned short)w;
  if (ioctl(p->master_fd, TIOCSWINSZ, &ws) < 0) {
    peer_respond_error(peer, req, HR_E_FAIL, "TIOCSWINSZ: %s", strerror(errno));
    return;
  }
  peer_respond_ok(peer, req);
}

/* ---- ModifySettings / DumpStacks / Start ---- */

static void handle_modify(peer_t *peer, const peer_req_t *req)
{
  static const char *const known[] = {
      "MappedVirtualDisk", "MappedDirectory",
      "SCSIDevice",        "VPMemDevice",
      "CombinedLayers",    "Network",
      "VPCIDevice",        "ContainerConstraints",
      "SecurityPolicy",    "SecurityPolicyFragment",
  };
  char err[512];
  json_t *r = NULL;
  const char *rtype = "", *rqtype = "";
  size_t i;
  int ok = 0;
  if (gj_object(req->body, "Request", "ContainerModifySettings.Request", &r, err, sizeof err) < 0 ||
      gj_string(r, "ResourceType", "ModificationRequest.ResourceType", &rtype, err, sizeof err) <
          0 ||
      gj_string(r, "RequestType", "ModificationRequest.RequestType", &rqtype, err, sizeof err) <
          0) {
    respond_bad_message(peer, req, HR_INVALID_JSON, err);
    return;
  }
  for (i = 0; i < sizeof known / sizeof known[0]; i++)
    if (!strcmp(rtype, known[i]))
      ok = 1;
  if (!ok) {
    /* The agent fails inside its custom unmarshaller, without an HRESULT (i_getproperties
     * seq 11-12). */
    snprintf(err, sizeof err, "invalid ResourceType '%s'", rtype);
    respond_bad_message(peer, req, HR_E_FAIL, err);
    return;
  }
  if (!*rqtype)
    rqtype = "Add";
  if (strcmp(rqtype, "Add") && strcmp(rqtype, "Remove") && strcmp(rqtype, "Update") &&
      strcmp(rqtype, "PreAdd")) {
    peer_respond_error(peer, req, HR_E_FAIL, "invalid RequestType '%s'", rqtype);
    return;
  }
  if (strcmp(req->container_id, PEER_NULL_ID) != 0) {
    if (!peer_container_find(peer, req->container_id)) {
      peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
      return;
    }
    if (strcmp(rtype, "ContainerConstraints") != 0) {
      peer_respond_error(peer, req, HR_E_FAIL,
                         "the ResourceType '%s' is not supported for containers", rtype);
      return;
    }
    peer_respond_ok(peer, req);
    return;
  }
  if (!strcmp(rtype, "ContainerConstraints")) {
    peer_respond_hr(peer, req, HR_SYSTEM_NOT_FOUND);
    return;
  }
  if (!strcmp(rtype, "CombinedLayers") && peer->faults.mount_layers &&
      (!strcmp(rqtype, "Add") || !strcmp(rqtype, "Remove"))) {
    json_t *settings = gj_get(r, "Settings");
    if (peer_rootfs_modify(rqtype, settings, err, sizeof err) < 0)
      peer_respond_error(peer, req, HR_E_FAIL, "%s", err);
    else
      peer_respond_ok(peer, req);
    return;
  }
  /* UVM resources: the peer has no devices to plug; it accepts the request so that the host
   * side can be exercised (CombinedLayers Add/Remove as in m_container). */
  peer_log("ModifySettings %s %s accepted (no-op)", rqtype, rtype);
  peer_respond_ok(peer, req);
}

static void handle_dumpstacks(peer_t *peer, const peer_req_t *req)
{
  /* Never parses its body (j1 seq 9-10): an empty body still succeeds. */
  json_t *o = peer_resp_base(req, 0);
  char text[4096];
  size_t n;
  peer_proc_t *p;
  n = (size_t)snprintf(text, sizeof text,
                       "cow-gcs-peer %d [running]:\nnegotiated=%d frames_sent=%llu\n",
                       (int)getpid(), peer->negotiated, (unsigned long long)peer->frames_sent);
  for (p = peer->procs; p && n < sizeof text - 128; p = p->next)
    n += (size_t)snprintf(text + n, sizeof text - n, "process %d container=%s reaped=%d\n",
                          (int)p->pid, p->ctr ? p->ctr->id : "uvm", p->reaped);
  pj_set(o, "GuestStacks", json_string(text));
  peer_respond(peer, req, o);
}

/* ---- dispatch ---- */

/* The Go type v0.11.4 unmarshals a request into (its errors name it). */
static void go_request_type(uint32_t type, char *buf, size_t len)
{
  switch (type) {
  case COW__MSG_CREATE:
  case COW__MSG_EXECUTE_PROCESS:
  case COW__MSG_WAIT_FOR_PROCESS:
  case COW__MSG_SIGNAL_PROCESS:
  case COW__MSG_RESIZE_CONSOLE:
  case COW__MSG_GET_PROPERTIES:
  case COW__MSG_MODIFY_SETTINGS:
    snprintf(buf, len, "prot.Container%s", cow__frame_rpc_name(type));
    break;
  case COW__MSG_NEGOTIATE_PROTOCOL:
    snprintf(buf, len, "prot.NegotiateProtocol");
    break;
  default:
    snprintf(buf, len, "prot.MessageBase");
    break;
  }
}

void peer_dispatch(peer_t *peer, const cow__frame_t *frame)
{
  peer_req_t req;
  char err[512];
  char go_type[64];
  json_t *aid;
  uint32_t type = frame->hdr.type;
  memset(&req, 0, sizeof req);
  req.type = type;
  req.id = frame->hdr.id;
  req.raw = frame->payload;
  req.raw_len = frame->payload_len;
  req.container_id = "";

  go_request_type(type, go_type, sizeof go_type);
  req.body = gj_parse_object(frame->payload, frame->payload_len, go_type, err, sizeof err);
  if (req.body) {
    /* ActivityId is echoed whenever the body parsed as an object (j1 seq 6), even if some
     * other field has the wrong type. */
    aid = gj_get(req.body, "ActivityId");
    if (json_is_string(aid))
      req.activity = json_string_value(aid);
    aid = gj_get(req.body, "ContainerId");
    if (json_is_string(aid))
      req.container_id = json_string_value(aid);
  }

  if (peer_faults_never_answer(peer, type)) {
    peer_log("fault: never answering %s id %llu", cow__frame_rpc_name(type),
             (unsigned long long)req.id);
    goto out;
  }
  if (!peer->negotiated && type != COW__MSG_NEGOTIATE_PROTOCOL) {
    respond_notimpl(peer, &req);
    goto out;
  }
  switch (type) {
  case COW__MSG_DUMP_STACKS:
    handle_dumpstacks(peer, &req);
    goto out;
  case COW__MSG_CREATE:
  case COW__MSG_START:
  case COW__MSG_SHUTDOWN_GRACEFUL:
  case COW__MSG_SHUTDOWN_FORCED:
  case COW__MSG_EXECUTE_PROCESS:
  case COW__MSG_WAIT_FOR_PROCESS:
  case COW__MSG_SIGNAL_PROCESS:
  case COW__MSG_RESIZE_CONSOLE:
  case COW__MSG_GET_PROPERTIES:
  case COW__MSG_MODIFY_SETTINGS:
  case COW__MSG_DELETE_CONTAINER_STATE:
    break;
  case COW__MSG_NEGOTIATE_PROTOCOL:
    if (!peer->negotiated)
      break;
    /* A second NegotiateProtocol is not supported (j1 seq 37-38). */
    respond_notimpl(peer, &req);
    goto out;
  default:
    respond_notimpl(peer, &req);
    goto out;
  }
  if (!req.body) {
    respond_bad_message(peer, &req, HR_INVALID_JSON, err);
    goto out;
  }
  {
    char e2[256];
    const char *cid = "";
    if (gj_string(req.body, "ContainerId", "MessageBase.ContainerId", &cid, e2, sizeof e2) < 0 ||
        gj_string(req.body, "ActivityId", "MessageBase.ActivityId", &cid, e2, sizeof e2) < 0) {
      respond_bad_message(peer, &req, HR_INVALID_JSON, e2);
      goto out;
    }
  }
  switch (type) {
  case COW__MSG_NEGOTIATE_PROTOCOL:
    handle_negotiate(peer, &req);
    break;
  case COW__MSG_CREATE:
    peer_handle_create(peer, &req);
    break;
  case COW__MSG_START:
    peer_respond_ok(peer, &req);
    break; /* a no-op, even for unknown ids */
  case COW__MSG_SHUTDOWN_GRACEFUL:
    peer_handle_shutdown(peer, &req, 0);
    break;
  case COW__MSG_SHUTDOWN_FORCED:
    peer_handle_shutdown(peer, &req, 1);
    break;
  case COW__MSG_EXECUTE_PROCESS:
    handle_execute(peer, &req);
    break;
  case COW__MSG_WAIT_FOR_PROCESS:
    handle_wait(peer, &req);
    break;
  case COW__MSG_SIGNAL_PROCESS:
    handle_signal(peer, &req);
    break;
  case COW__MSG_RESIZE_CONSOLE:
    handle_resize(peer, &req);
    break;
  case COW__MSG_GET_PROPERTIES:
    peer_handle_get_properties(peer, &req);
    break;
  case COW__MSG_MODIFY_SETTINGS:
    handle_modify(peer, &req);
    break;
  case COW__MSG_DELETE_CONTAINER_STATE:
    peer_handle_delete(peer, &req);
    break;
  default:
    break;
  }
out:
  json_decref(req.body);
}

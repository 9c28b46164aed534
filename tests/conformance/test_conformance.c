/* Conformance: cow-gcs-peer against the recordings of the real hcsshim v0.11.4 GCS.
 * Each test replays one recording's host side (replay.h) and compares every frame the peer
 * sends with the recorded one, field by field, plus the stdio streams. Where the peer
 * differs from the real agent on purpose, the test says so. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conformance/replay.h"
#include "guest/frame.h"

#ifndef COW_GCS_PEER_PATH
#  error "COW_GCS_PEER_PATH must name the cow-gcs-peer executable"
#endif

/* The rules of recording.h, but ActivityIds are compared exactly: the replay sends the
 * recorded ones unchanged, so the peer must echo them (and use the Create's in the exit
 * notification). */
static const cow_cmp_rule_t strict_rules[] = {
    {"ProcessId", COW_CMP_PRESENCE},
    {"ErrorMessage", COW_CMP_MESSAGE},
    {"Message", COW_CMP_MESSAGE},
    {"StackTrace", COW_CMP_IGNORE},
    {"FileName", COW_CMP_IGNORE},
    {"Line", COW_CMP_IGNORE},
    {"FunctionName", COW_CMP_IGNORE},
    {"GuestStacks", COW_CMP_TYPE},
    {"LCOWMetrics", COW_CMP_TYPE},
    {"ProcessList", COW_CMP_SHAPE},
    {NULL, COW_CMP_EXACT},
};

static void replay(cow_replay_opts_t *o, unsigned min_frames)
{
  char why[4096] = "";
  cow_replay_stats_t st;
  o->guest_path = COW_GCS_PEER_PATH;
  if (!o->rules)
    o->rules = strict_rules;
  if (cow_replay_run(o, &st, why, sizeof why) != 0)
    fail_msg("%s: %s", o->scenario, why);
  print_message("%s: %u frames sent, %u compared, %u stdio streams compared, %u extra\n",
                o->scenario, st.frames_sent, st.frames_compared, st.stdio_compared,
                st.extra_frames);
  assert_true(st.frames_compared >= min_frames);
}

static void simple(const char *name, unsigned min_frames)
{
  cow_replay_opts_t o;
  memset(&o, 0, sizeof o);
  o.scenario = name;
  replay(&o, min_frames);
}

static void test_a_echo(void **s)
{
  (void)s;
  simple("a_echo", 3);
}
static void test_b_exit7(void **s)
{
  (void)s;
  simple("b_exit7", 3);
}
static void test_c_cat_stdin(void **s)
{
  (void)s;
  simple("c_cat_stdin", 3);
}
static void test_d_signal_kill(void **s)
{
  (void)s;
  simple("d_signal_kill", 13);
}
static void test_e_wait_timeout(void **s)
{
  (void)s;
  simple("e_wait_timeout", 5);
}
static void test_f_unknown_pid(void **s)
{
  (void)s;
  simple("f_unknown_pid", 8);
}
/* A console echoes input as soon as the host writes it, so where the echo lands among the
 * program's output is timing (in the recording it came after "is-a-tty", here it may come
 * first). The stream must have the same lines, each as often, and end the same way. */
static int line_count(const uint8_t *s, size_t n, const uint8_t *line, size_t len)
{
  size_t i = 0;
  int c = 0;
  while (i < n) {
    const uint8_t *nl = memchr(s + i, '\n', n - i);
    size_t l = nl ? (size_t)(nl - (s + i)) + 1 : n - i;
    if (l == len && !memcmp(s + i, line, len))
      c++;
    i += l;
  }
  return c;
}

static int tty_check(void *ctx, uint32_t port, const char *stream, const uint8_t *exp, size_t elen,
                     const uint8_t *got, size_t glen, char *why, size_t whylen)
{
  size_t i = 0;
  (void)ctx;
  (void)port;
  (void)stream;
  if (glen != elen)
    goto bad;
  if (elen == 0)
    return 0;
  while (i < elen) {
    const uint8_t *nl = memchr(exp + i, '\n', elen - i);
    size_t l = nl ? (size_t)(nl - (exp + i)) + 1 : elen - i;
    if (line_count(exp, elen, exp + i, l) != line_count(got, glen, exp + i, l))
      goto bad;
    i += l;
  }
  /* The program's last line (after the echo) must be last. */
  {
    size_t a = elen ? elen - 1 : 0;
    while (a > 0 && exp[a - 1] != '\n')
      a--;
    if (memcmp(exp + a, got + a, elen - a) != 0)
      goto bad;
  }
  return 0;
bad:
  snprintf(why, whylen, "(tty check: same lines in any order, same last line)");
  return -1;
}

static void test_g_tty(void **s)
{
  cow_replay_opts_t o;
  (void)s;
  memset(&o, 0, sizeof o);
  o.scenario = "g_tty";
  o.stdio_check = tty_check;
  replay(&o, 6);
}
static void test_h_dumpstacks(void **s)
{
  (void)s;
  simple("h_dumpstacks", 2);
}
static void test_i_getproperties(void **s)
{
  (void)s;
  simple("i_getproperties", 6);
}
static void test_j1_malformed_bodies(void **s)
{
  (void)s;
  simple("j1_malformed_bodies", 22);
}
static void test_j2_before_negotiate(void **s)
{
  (void)s;
  simple("j2_before_negotiate", 7);
}
/* The committed recording has the pipelined exec succeed; the peer handles requests in
 * arrival order, so it always does (the real agent races, docs/gcs-bridge-protocol.md §11). */
static void test_j3_pipelined_negotiate(void **s)
{
  (void)s;
  simple("j3_pipelined_negotiate", 3);
}

/* The host half-closes the bridge: the agent exits (by itself), closing its side. */
static void test_j7_clean_close(void **s)
{
  cow_replay_opts_t o;
  (void)s;
  memset(&o, 0, sizeof o);
  o.scenario = "j7_clean_close";
  o.expect_guest_close = 1;
  replay(&o, 2);
}

/* ShutdownForced on the null id: no response, the agent goes away (exit status 0, like the
 * recording's patched agent). */
static void test_j8_uvm_shutdown(void **s)
{
  cow_replay_opts_t o;
  (void)s;
  memset(&o, 0, sizeof o);
  o.scenario = "j8_uvm_shutdown";
  o.expect_guest_close = 1;
  replay(&o, 1);
}

/* DIFFERENCE FROM THE REAL AGENT: the recorded v0.11.4 GCS panics on an ExecuteProcess
 * without CommandArgs/CommandLine (no response, bridge closed, exit 2). The peer answers
 * E_FAIL instead and keeps the bridge up. */
static int j9_extra(void *ctx, uint32_t type, uint64_t id, const uint8_t *body, size_t len,
                    char *why, size_t whylen)
{
  json_t *o = json_loadb((const char *)body, len, 0, NULL);
  int ok;
  int *seen = ctx;
  ok = type == COW__MSG_EXECUTE_PROCESS_RESPONSE && id == 2 && json_is_object(o) &&
       json_integer_value(json_object_get(o, "Result")) == (json_int_t)(int32_t)0x80004005u &&
       json_is_string(json_object_get(o, "ErrorMessage")) &&
       json_is_array(json_object_get(o, "ErrorRecords"));
  if (!ok)
    snprintf(why, whylen, "expected an E_FAIL ExecuteProcess response for id 2");
  json_decref(o);
  *seen += ok;
  return ok ? 0 : -1;
}

static void test_j9_exec_without_command(void **s)
{
  cow_replay_opts_t o;
  int seen = 0;
  (void)s;
  memset(&o, 0, sizeof o);
  o.scenario = "j9_exec_without_command";
  o.extra_frame = j9_extra;
  o.ctx = &seen;
  replay(&o, 1);
  assert_int_equal(seen, 1);
}

/* m_container: the peer runs containers as process trees on the host (no namespaces, no
 * rootfs, no hostname), so the container's own output differs where it shows pids, the
 * hostname or the root directory. Those streams are checked for what the peer does
 * reproduce; everything on the bridge is compared in full. */
static int has_suffix(const uint8_t *s, size_t n, const char *suf)
{
  size_t k = strlen(suf);
  return n >= k && !memcmp(s + n - k, suf, k);
}

static int m_stdio(void *ctx, uint32_t port, const char *stream, const uint8_t *exp, size_t elen,
                   const uint8_t *got, size_t glen, char *why, size_t whylen)
{
  (void)ctx;
  (void)stream;
  switch (port) {
  case 1073741825u: /* init stdout: "init-started pid=1 host=peer-ctr\n" + "got-TERM\n" */
    if (glen > 17 && !memcmp(got, "init-started pid=", 17) && has_suffix(got, glen, "\ngot-TERM\n"))
      return 0;
    break;
  case 1073741826u: /* init stderr: the shell reports its sleep child killed by kill --all */
    if (glen == elen && !memcmp(got, exp, glen))
      return 0;
    break;
  case 1073741827u: /* exec stdout: first line is the script's own echo */
    if (glen > 18 && !memcmp(got, "exec-in-container\n", 18))
      return 0;
    break;
  case 1073741828u: /* exec stderr: empty */
    if (glen == 0 && elen == 0)
      return 0;
    break;
  case 1073741830u: /* tty exec: after ResizeConsole 33x99 the (last) stty shows it */
    /* The echo of "go" may come before the first stty (timing, see g_tty). */
    if (has_suffix(got, glen, "33 99\r\n") &&
        line_count(got, glen, (const uint8_t *)"go\r\n", 4) == 1)
      return 0;
    break;
  default:
    break;
  }
  snprintf(why, whylen, "(custom m_container check for port %u)", (unsigned)port);
  return -1;
}

static void test_m_container(void **s)
{
  cow_replay_opts_t o;
  (void)s;
  memset(&o, 0, sizeof o);
  o.scenario = "m_container";
  o.stdio_check = m_stdio;
  replay(&o, 18);
}

/* The comparer itself must be able to fail (a conformance suite that always passes proves
 * nothing). */
static void test_comparer_detects_differences(void **s)
{
  char why[256];
  (void)s;
#define CMP(e, a)                                                                                  \
  cow_cmp_bodies((const uint8_t *)(e), strlen(e), (const uint8_t *)(a), strlen(a), strict_rules,   \
                 why, sizeof why)
  assert_int_equal(CMP("{\"Result\":0,\"ExitCode\":7}", "{\"Result\":0,\"ExitCode\":7}"), 0);
  assert_int_equal(CMP("{\"Result\":0,\"ExitCode\":7}", "{\"Result\":0,\"ExitCode\":8}"), -1);
  assert_int_equal(CMP("{\"Result\":0}", "{\"Result\":0,\"Extra\":1}"), -1);
  assert_int_equal(CMP("{\"Result\":0,\"ActivityId\":\"a\"}", "{\"Result\":0}"), -1);
  assert_int_equal(CMP("{\"ProcessId\":11}", "{\"ProcessId\":4242}"), 0);
  assert_int_equal(CMP("{\"ProcessId\":11}", "{}"), -1);
  /* JSON-in-string fields are compared as JSON. */
  assert_int_equal(CMP("{\"Properties\":\"{\\\"ProcessList\\\":[{\\\"ProcessId\\\":1}]}\"}",
                       "{\"Properties\":\"{\\\"ProcessList\\\":[{\\\"ProcessId\\\":9},{"
                       "\\\"ProcessId\\\":10}]}\"}"),
                   0);
  assert_int_equal(CMP("{\"Properties\":\"{\\\"ProcessList\\\":[{\\\"ProcessId\\\":1}]}\"}",
                       "{\"Properties\":\"{}\"}"),
                   -1);
  /* Go decoder details after the InvalidJSON marker are not compared; the prefix is. */
  assert_int_equal(
      CMP("{\"ErrorMessage\":\"x \\\"a\\\": HRESULT 0xc037010d: invalid character\"}",
          "{\"ErrorMessage\":\"x \\\"a\\\": HRESULT 0xc037010d: '[' or '{' expected\"}"),
      0);
  assert_int_equal(CMP("{\"ErrorMessage\":\"x \\\"a\\\": HRESULT 0xc037010d: invalid character\"}",
                       "{\"ErrorMessage\":\"x \\\"b\\\": HRESULT 0xc037010d: invalid character\"}"),
                   -1);
  assert_int_equal(CMP("{\"ErrorMessage\":\"HRESULT: 0xc037010e\"}",
                       "{\"ErrorMessage\":\"HRESULT: 0x80070490\"}"),
                   -1);
#undef CMP
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_comparer_detects_differences),
      cmocka_unit_test(test_a_echo),
      cmocka_unit_test(test_b_exit7),
      cmocka_unit_test(test_c_cat_stdin),
      cmocka_unit_test(test_d_signal_kill),
      cmocka_unit_test(test_e_wait_timeout),
      cmocka_unit_test(test_f_unknown_pid),
      cmocka_unit_test(test_g_tty),
      cmocka_unit_test(test_h_dumpstacks),
      cmocka_unit_test(test_i_getproperties),
      cmocka_unit_test(test_j1_malformed_bodies),
      cmocka_unit_test(test_j2_before_negotiate),
      cmocka_unit_test(test_j3_pipelined_negotiate),
      cmocka_unit_test(test_j7_clean_close),
      cmocka_unit_test(test_j8_uvm_shutdown),
      cmocka_unit_test(test_j9_exec_without_command),
      cmocka_unit_test(test_m_container),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

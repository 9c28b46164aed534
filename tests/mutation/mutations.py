# The bugs tests/mutation/run.py puts into the library, one at a time.
#
# Each mutation names the file and the function it changes and an exact piece of text
# inside that function (found exactly once there: the mutation fails loudly, naming what
# is missing, when the library changed under it). `tests` is the regular expression of the
# ctest names that catch it, each with a message (docs/reliability.md lists them, from a
# `run.py --quick` run); the full run (`run.py`) puts each into the library and runs the
# whole suite instead, reporting every test that failed and its first message. `ci`, where
# present, marks the fixed subset .ci/run checks on every run (`run.py --ci --in-place`):
# the regular expression of the quickest of those tests, which CI runs for it.

MUTATIONS = [
    dict(
        name="exit-before-eof",
        tests=r"^(contract_hcs_v1|contract_hcs_v2|contract_guest|core)$",
        ci=r"^(contract_hcs_v2|core)$",
        what="the exit is reported without waiting for stdout/stderr to reach end of file",
        file="src/core/process.c",
        function="cow__process_check_drained",
        find="  if (cow__process_stdio_pending(p)) {",
        replace="  cow__process_publish_exit(p, 0);\n  return;\n"
        "  if (cow__process_stdio_pending(p)) {",
    ),
    dict(
        name="waiter-dropped",
        tests=r"^(core|blocking|guest_peer|contract_hcs_v2)$",
        what="an exit releases only the first waiter of a process; the others wait forever",
        file="src/core/process.c",
        function="cow__process_publish_exit",
        find="    cow__op_finish(op, status, status < 0 ? &p->exit_err : NULL);\n",
        replace="    cow__op_finish(op, status, status < 0 ? &p->exit_err : NULL);\n    break;\n",
    ),
    dict(
        name="callback-twice",
        tests=r"^(core|guest_faults|guest_peer)$",
        what="a wait callback is delivered twice",
        file="src/core/op.c",
        function="op_deliver",
        find="    ((cow_process_wait_cb)op->cb)(owner, op->status, op->exit_code, err, op->data);\n",
        replace="    ((cow_process_wait_cb)op->cb)(owner, op->status, op->exit_code, err, op->data);\n"
        "    ((cow_process_wait_cb)op->cb)(owner, op->status, op->exit_code, err, op->data);\n",
    ),
    dict(
        name="callback-inside-call",
        tests=r"^(core|stop|blocking|guest_peer)$",
        what="a finished operation's callback runs at once, inside the call that finished it",
        file="src/core/op.c",
        function="cow__op_finish",
        find="  cow__loop_post(op->owner->lp, &op->ev);",
        replace="  op_deliver(&op->ev);",
    ),
    dict(
        name="timeout-never-armed",
        tests=r"^(core|hcs_backend_v1|hcs_backend_v2|guest_scenarios)$",
        what="an operation's timeout timer is never started",
        file="src/core/op.c",
        function="cow__op_arm",
        find="  if (op->user_done || cow__deadline_armed(&op->deadline) || op->timeout_ms == 0)\n"
        "    return;",
        replace="  return;",
    ),
    dict(
        name="free-before-close-callback",
        tests=r"^(contract_hcs_v1|contract_hcs_v2|contract_guest)$",
        ci=r"^(contract_hcs_v2)$",
        what="a closed process is freed before its close callback runs (which gets it)",
        file="src/core/process.c",
        function="cow__process_finalize",
        find="  if (cb != NULL)\n    cb(p, h->close_data);\n  process_free(p);",
        replace="  void *close_data = h->close_data;\n  process_free(p);\n  if (cb != NULL)\n"
        "    cb(p, close_data);",
    ),
    dict(
        name="resize-swapped",
        tests=r"^(conformance_guest|guest_scenarios)$",
        what="the guest's ResizeConsole carries the width as Height and the height as Width",
        file="src/guest/protocol.c",
        function="cow__proto_resize",
        find='  cow__jw_uint(&w, height);\n  cow__jw_raw(&w, ",\\"Width\\":");\n'
        '  cow__jw_uint(&w, width);',
        replace='  cow__jw_uint(&w, width);\n  cow__jw_raw(&w, ",\\"Width\\":");\n'
        '  cow__jw_uint(&w, height);',
    ),
    dict(
        name="cross-thread-event-lost",
        tests=r"^(core|blocking_stdio|contract_hcs_v2)$",
        what="one event in 16 posted from another thread is dropped (the post says it worked)",
        file="src/core/loop.c",
        function="cow_event_post",
        find="  post_foreign(s->lp, &fe->ev);\n",
        replace="  static unsigned posted;\n  if (++posted % 16 == 0) {\n"
        "    uv_mutex_unlock(&global_mutex);\n    cow__free(fe);\n    return 0;\n  }\n"
        "  post_foreign(s->lp, &fe->ev);\n",
    ),
    dict(
        name="frame-size-off-by-one",
        tests=r"^(guest_frame|fuzz_frame|peer_faults|conformance_peer)$",
        ci=r"^(guest_frame|peer_faults)$",
        what="a built GCS frame announces one byte more than it has",
        file="src/guest/frame.c",
        function="cow__frame_build",
        find="  hdr.size = (uint32_t)(COW__FRAME_HEADER_SIZE + payload_len);",
        replace="  hdr.size = (uint32_t)(COW__FRAME_HEADER_SIZE + payload_len + 1);",
    ),
    dict(
        name="listener-leaked",
        tests=r"^(guest_faults|guest_scenarios)$",
        what="the stdio listeners of a process are never cancelled (a failed or closed exec "
        "leaves them listening)",
        file="src/guest/process.c",
        function="cancel_listeners",
        find="    cow__listener_cancel(gp->listeners[i]);",
        replace="    (void)gp->listeners[i];",
    ),
    dict(
        name="hresult-mapped-wrong",
        tests=r"^(error|hcs_backend_v1|hcs_backend_v2)$",
        ci=r"^(error)$",
        what="HCS_E_SYSTEM_NOT_FOUND maps to COW_EINVALID_STATE instead of COW_ENOENT",
        file="src/core/error.c",
        function=None,
        find='    {0x8037010Eu, COW_ENOENT, "the compute system was not found"},',
        replace='    {0x8037010Eu, COW_EINVALID_STATE, "the compute system was not found"},',
    ),
    dict(
        name="stop-never-escalates",
        tests=r"^(stop|contract_hcs_v2|contract_guest)$",
        what="a stop whose grace period ends never kills (or terminates)",
        file="src/core/stop.c",
        function="grace_over",
        find="  escalate(s);",
        replace="  (void)s;",
    ),
]

#!/usr/bin/env python3
"""cow_ctypes: run a command through libcow from Python, with ctypes and the blocking API.

The blocking API (include/cow/blocking.h) owns a libuv loop on a thread of its own, so a
caller without a loop (Python here) makes plain blocking calls and never writes C:
create the compute system, start it, run the process, read its stdio (as OS handles, which
any runtime can adopt), wait,
shut down and close, all through blocking.h (plus the document builders of hcs.h).

    cow_ctypes.py --lib build/src/libcow.so [--hcs v1|v2] -- sh -c 'echo hi; exit 3'

Prints the command's stdout and stderr as they arrive on the descriptors, then
"[cow_ctypes] exit code N", and exits with N (125 when libcow itself failed).
"""
import argparse
import ctypes
import json
import os
import sys
import threading
from ctypes import (POINTER, byref, c_char_p, c_int, c_int64, c_ssize_t, c_uint32,
                    c_uint64, c_void_p)

TIMEOUT_MS = 30000
COW_HCS_V1, COW_HCS_V2 = 1, 2


class CowError(ctypes.Structure):
    """cow_error_t (include/cow/error.h): transparent for FFI callers."""
    _fields_ = [("code", c_int), ("domain", c_int), ("sys_code", c_uint32),
                ("operation", c_char_p), ("message", c_char_p), ("object_id", c_char_p),
                ("detail_json", c_char_p)]


class HcsOptions(ctypes.Structure):
    """cow_hcs_options_t (include/cow/hcs.h); filled by cow_hcs_options_init()."""
    _fields_ = [("version", ctypes.c_uint), ("api", c_int), ("dll_table", c_void_p),
                ("create_timeout_ms", c_uint64)]


class SystemParams(ctypes.Structure):
    """cow_hcs_system_params_t (include/cow/hcs.h); filled by cow_hcs_system_params_init()."""
    _fields_ = [("version", ctypes.c_uint), ("owner", c_char_p),
                ("terminate_on_last_handle_closed", c_int), ("container_json", c_char_p),
                ("host_name", c_char_p)]




class CowFailure(Exception):
    pass


def load(path):
    lib = ctypes.CDLL(path)
    sigs = {
        "cow_strerror": (c_char_p, [c_int]),
        "cow_err_name": (c_char_p, [c_int]),
        "cow_error_clear": (None, [POINTER(CowError)]),
        "cow_blocking_new": (c_int, [POINTER(c_void_p)]),
        "cow_blocking_close": (c_int, [c_void_p]),
        # Out-parameters come first (docs/api-guide.md), the cow_error_t * last.
        "cow_blocking_hcs_create_system": (c_int, [POINTER(c_void_p), c_void_p,
                                                   POINTER(HcsOptions), c_char_p, c_char_p,
                                                   c_uint64, POINTER(CowError)]),
        "cow_blocking_container_start": (c_int, [c_void_p, c_void_p, c_uint64, POINTER(CowError)]),
        "cow_blocking_container_shutdown": (c_int, [c_void_p, c_void_p, c_uint64,
                                                    POINTER(CowError)]),
        "cow_blocking_container_terminate": (c_int, [c_void_p, c_void_p, c_uint64,
                                                     POINTER(CowError)]),
        "cow_blocking_container_wait": (c_int, [c_void_p, c_void_p, c_uint64, POINTER(CowError)]),
        "cow_blocking_container_close": (c_int, [c_void_p, c_void_p]),
        "cow_blocking_create_process": (c_int, [POINTER(c_void_p), c_void_p, c_void_p, c_char_p,
                                                c_uint64, POINTER(CowError)]),
        # OS handles, not C runtime descriptors: Python's C runtime is not libcow's on Windows.
        "cow_blocking_process_stdio_os": (c_int, [POINTER(c_ssize_t), POINTER(c_ssize_t),
                                                  POINTER(c_ssize_t), c_void_p, c_void_p]),
        "cow_blocking_process_wait": (c_int, [POINTER(c_int64), c_void_p, c_void_p, c_uint64,
                                              POINTER(CowError)]),
        "cow_blocking_process_close": (c_int, [c_void_p, c_void_p]),
        # Any thread: options, the host view's address, the builders.
        "cow_hcs_options_init": (None, [POINTER(HcsOptions)]),
        "cow_hcs_system_params_init": (None, [POINTER(SystemParams)]),
        "cow_container_host": (c_void_p, [c_void_p]),
        "cow_hcs_compute_system_json": (c_int, [POINTER(c_void_p), POINTER(SystemParams)]),
        "cow_hcs_container_config_json": (c_int, [POINTER(c_void_p), c_char_p,
                                                  POINTER(SystemParams)]),
        "cow_free": (None, [c_void_p]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args
    return lib


class Cow:
    def __init__(self, lib):
        self.lib = lib
        self.b = c_void_p()
        self.check(lib.cow_blocking_new(byref(self.b)), "starting the loop thread")

    def check(self, rc, what, err=None):
        if rc == 0:
            return
        msg = self.lib.cow_strerror(rc).decode()
        hr = ""
        if err is not None:
            if err.message:
                msg = err.message.decode(errors="replace")
            if err.domain in (3, 4):  # COW_DOMAIN_HCS, COW_DOMAIN_GUEST
                hr = ", HRESULT 0x%08X" % err.sys_code
            self.lib.cow_error_clear(byref(err))
        raise CowFailure("%s: %s (%s%s)" % (what, msg, self.lib.cow_err_name(rc).decode(), hr))

    def call(self, what, fn, *args, out=None):
        """A blocking.h call: `out` (a byref, when the call has one) first, then the
        context, `args`, and a cow_error_t * last."""
        err = CowError()
        first = [] if out is None else [out]
        self.check(fn(*first, self.b, *args, byref(err)), what, err)

    def create_system(self, api, sysid):
        """An HCS compute system, created through the blocking constructor."""
        params = SystemParams()
        self.lib.cow_hcs_system_params_init(byref(params))
        params.owner, params.terminate_on_last_handle_closed = b"cow_ctypes", 1
        doc = c_void_p()
        rc = (self.lib.cow_hcs_container_config_json(byref(doc), sysid, byref(params))
              if api == COW_HCS_V1 else
              self.lib.cow_hcs_compute_system_json(byref(doc), byref(params)))
        self.check(rc, "building the system document")
        opts = HcsOptions()
        self.lib.cow_hcs_options_init(byref(opts))
        opts.api = api
        container = c_void_p()
        try:
            self.call("creating the compute system", self.lib.cow_blocking_hcs_create_system,
                      byref(opts), sysid, ctypes.cast(doc, c_char_p), TIMEOUT_MS,
                      out=byref(container))
        finally:
            self.lib.cow_free(doc)
        return container

    def host_of(self, container):
        return c_void_p(self.lib.cow_container_host(container))


def own_fd(handle):
    """An OS handle from libcow as a descriptor of Python's own C runtime."""
    if sys.platform == "win32":
        import msvcrt
        return msvcrt.open_osfhandle(handle, os.O_RDONLY)
    return handle


def drain(handle, sink, chunks):
    """Copy a stream to our own until end of file, keeping what was read."""
    with os.fdopen(own_fd(handle), "rb", buffering=0) as f:
        while True:
            data = f.read(65536)
            if not data:
                return
            chunks.append(data)
            sink.write(data)
            sink.flush()


def run(lib_path, api, argv):
    cow = Cow(load(lib_path))
    lib, b = cow.lib, cow.b
    sysid = ("cow-ctypes-%d" % os.getpid()).encode()
    container = cow.create_system(api, sysid)
    try:
        cow.call("starting the system", lib.cow_blocking_container_start, container, TIMEOUT_MS)
        # Process parameters are JSON text: schema2 ProcessParameters / schema1 ProcessConfig.
        doc = json.dumps({"CommandArgs": argv, "CreateStdOutPipe": True,
                          "CreateStdErrPipe": True}).encode()
        proc = c_void_p()
        cow.call("starting the command", lib.cow_blocking_create_process,
                 cow.host_of(container), doc, TIMEOUT_MS, out=byref(proc))
        fds = [c_ssize_t(-1), c_ssize_t(-1), c_ssize_t(-1)]
        cow.check(lib.cow_blocking_process_stdio_os(*[byref(f) for f in fds], b, proc), "stdio")
        out, err = [], []
        # Both streams concurrently: the exit is reported once both reached end of file.
        t = threading.Thread(target=drain, args=(fds[2].value, sys.stderr.buffer, err))
        t.start()
        drain(fds[1].value, sys.stdout.buffer, out)
        t.join()
        code = c_int64(-1)
        cow.call("waiting for the command", lib.cow_blocking_process_wait, proc, TIMEOUT_MS,
                 out=byref(code))
        lib.cow_blocking_process_close(b, proc)
        print("[cow_ctypes] exit code %d" % code.value, flush=True)
        return code.value & 0xFF
    finally:
        try:
            cow.call("shutting down", lib.cow_blocking_container_shutdown, container, TIMEOUT_MS)
            cow.call("waiting for the system", lib.cow_blocking_container_wait, container,
                     TIMEOUT_MS)
        except CowFailure as e:
            print("cow_ctypes: %s; terminating" % e, file=sys.stderr)
            err = CowError()
            lib.cow_blocking_container_terminate(b, container, TIMEOUT_MS, byref(err))
            lib.cow_error_clear(byref(err))
        lib.cow_blocking_container_close(b, container)
        cow.check(lib.cow_blocking_close(b), "stopping the loop thread (handles left open?)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="path of the libcow shared library")
    ap.add_argument("--hcs", choices=["v1", "v2"], default="v2", help="HCS API (default v2)")
    ap.add_argument("cmd", nargs="+", help="the command and its arguments")
    a = ap.parse_args()
    try:
        return run(a.lib, COW_HCS_V1 if a.hcs == "v1" else COW_HCS_V2, a.cmd)
    except CowFailure as e:
        print("cow_ctypes: %s" % e, file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main())

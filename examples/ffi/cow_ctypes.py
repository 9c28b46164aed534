#!/usr/bin/env python3
"""cow_ctypes: run a command through libcow from Python, with ctypes and the blocking API.

The blocking API (include/cow/blocking.h) owns a libuv loop on a thread of its own, so a
caller without a loop (Python here) makes plain blocking calls and never writes C.

With HCS (the default; the emulator on Linux): create a compute system, start it, run the
command in it, read its stdio (as OS handles, which any runtime can adopt), wait, shut the
system down and close it.

    cow_ctypes.py --lib build/src/libcow.so [--hcs v1|v2] -- sh -c 'echo hi; exit 3'

With a guest (--guest DIR: the LCOW GCS dials the AF_UNIX port directory DIR; --peer PATH
starts cow-gcs-peer there for a try without a VM): a whole container lifecycle, as a shim
runs one: connect, attach the layers (CombinedLayers modify), create the container, start
its init, exec the command in it, read the container's process list, stop it, close the
handles (processes first), remove the layers and delete the container state.

    cow_ctypes.py --lib build/src/libcow.so --guest /tmp/uvm \
        --peer build/tests/peer/cow-gcs-peer -- sh -c 'echo hi; exit 3'

Prints the command's stdout and stderr as they arrive on the descriptors, then
"[cow_ctypes] exit code N" (and with a guest, how the container ended), and exits with N
(125 when libcow itself failed).
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import threading
import uuid
from ctypes import (POINTER, byref, c_char_p, c_int, c_int64, c_ssize_t, c_uint, c_uint32,
                    c_uint64, c_void_p)

TIMEOUT_MS = 30000
COW_HCS_V1, COW_HCS_V2 = 1, 2
COW_GUEST_CAP_DELETE_CONTAINER_STATE = 0x8
COW_GUEST_OPTIONS_VERSION = 1


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


class GuestOptions(ctypes.Structure):
    """cow_guest_options_t (include/cow/guest.h); filled by cow_guest_options_init()."""
    _fields_ = [("version", c_uint), ("transport", c_void_p), ("rpc_timeout_ms", c_uint64),
                ("max_message_size", c_uint32), ("first_stdio_port", c_uint32),
                ("connect_timeout_ms", c_uint64), ("trace_cb", c_void_p),
                ("trace_data", c_void_p)]


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
        "cow_blocking_container_close": (c_int, [c_void_p, c_void_p, c_uint64,
                                                 POINTER(CowError)]),
        "cow_blocking_container_stop": (c_int, [POINTER(c_int), c_void_p, c_void_p, c_uint64,
                                                c_uint64, POINTER(CowError)]),
        "cow_blocking_container_properties": (c_int, [POINTER(c_void_p), c_void_p, c_void_p,
                                                      c_int, c_char_p, c_uint64,
                                                      POINTER(CowError)]),
        "cow_blocking_guest_container_exit_type": (c_int, [POINTER(c_void_p), c_void_p,
                                                           c_void_p]),
        "cow_blocking_create_process": (c_int, [POINTER(c_void_p), c_void_p, c_void_p, c_char_p,
                                                c_uint64, POINTER(CowError)]),
        # OS handles, not C runtime descriptors: Python's C runtime is not libcow's on Windows.
        "cow_blocking_process_stdio_os": (c_int, [POINTER(c_ssize_t), POINTER(c_ssize_t),
                                                  POINTER(c_ssize_t), c_void_p, c_void_p]),
        "cow_blocking_process_wait": (c_int, [POINTER(c_int64), c_void_p, c_void_p, c_uint64,
                                              POINTER(CowError)]),
        "cow_blocking_process_close": (c_int, [c_void_p, c_void_p, c_uint64, POINTER(CowError)]),
        # The guest connection.
        "cow_guest_options_init": (None, [POINTER(GuestOptions)]),
        "cow_guest_transport_unix": (c_int, [POINTER(c_void_p), c_char_p]),
        "cow_guest_transport_release": (None, [c_void_p]),
        "cow_blocking_guest_connect": (c_int, [POINTER(c_void_p), c_void_p,
                                               POINTER(GuestOptions), c_uint64,
                                               POINTER(CowError)]),
        "cow_blocking_guest_capabilities": (c_int, [POINTER(c_void_p), POINTER(c_uint),
                                                    POINTER(c_int), c_void_p, c_void_p]),
        "cow_blocking_guest_modify": (c_int, [c_void_p, c_void_p, c_char_p, c_uint64,
                                              POINTER(CowError)]),
        "cow_blocking_guest_create_container": (c_int, [POINTER(c_void_p), c_void_p, c_void_p,
                                                        c_char_p, c_char_p, c_uint64,
                                                        POINTER(CowError)]),
        "cow_blocking_guest_delete_container_state": (c_int, [c_void_p, c_void_p, c_char_p,
                                                              c_uint64, POINTER(CowError)]),
        "cow_blocking_host_close": (c_int, [c_void_p, c_void_p, c_uint64, POINTER(CowError)]),
        # Any thread: options, the host view's address, the builders.
        "cow_hcs_options_init": (None, [POINTER(HcsOptions)]),
        "cow_hcs_system_params_init": (None, [POINTER(SystemParams)]),
        "cow_container_host": (c_void_p, [c_void_p]),
        "cow_hcs_compute_system_json": (c_int, [POINTER(c_void_p), POINTER(SystemParams),
                                                POINTER(CowError)]),
        "cow_hcs_container_config_json": (c_int, [POINTER(c_void_p), c_char_p,
                                                  POINTER(SystemParams), POINTER(CowError)]),
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
        err = CowError()
        rc = (self.lib.cow_hcs_container_config_json(byref(doc), sysid, byref(params), byref(err))
              if api == COW_HCS_V1 else
              self.lib.cow_hcs_compute_system_json(byref(doc), byref(params), byref(err)))
        self.check(rc, "building the system document", err)
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

    def take_string(self, ptr):
        """A string the API handed out (char **): copied, then released with cow_free()."""
        if not ptr.value:
            return None
        text = ctypes.cast(ptr, c_char_p).value.decode(errors="replace")
        self.lib.cow_free(ptr)
        return text

    def close(self, what, fn, handle):
        """A close (with its timeout); the order is the caller's: children first."""
        self.call("closing the " + what, fn, handle, TIMEOUT_MS)

    def attempt(self, what, fn, *args, out=None):
        """A clean-up step: its failure is reported, not raised over the first error."""
        try:
            self.call(what, fn, *args, out=out)
            return True
        except CowFailure as e:
            print("cow_ctypes: %s" % e, file=sys.stderr)
            return False


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


def run_hcs(lib_path, api, argv):
    cow = Cow(load(lib_path))
    lib, b = cow.lib, cow.b
    sysid = ("cow-ctypes-%d" % os.getpid()).encode()
    container = cow.create_system(api, sysid)
    try:
        cow.call("starting the system", lib.cow_blocking_container_start, container, TIMEOUT_MS)
        # Process parameters are JSON text: schema2 ProcessParameters / schema1 ProcessConfig.
        doc = json.dumps({"CommandArgs": argv, "CreateStdOutPipe": True,
                          "CreateStdErrPipe": True}).encode()
        code = run_process(cow, cow.host_of(container), doc)
        print("[cow_ctypes] exit code %d" % code, flush=True)
        return code & 0xFF
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
        cow.close("system", lib.cow_blocking_container_close, container)
        cow.check(lib.cow_blocking_close(b), "stopping the loop thread (handles left open?)")


def run_process(cow, host, doc):
    """Start a process from `doc`, relay its stdout and stderr to ours, wait for its exit."""
    lib, b = cow.lib, cow.b
    proc = c_void_p()
    cow.call("starting the command", lib.cow_blocking_create_process, host, doc, TIMEOUT_MS,
             out=byref(proc))
    try:
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
        return code.value
    finally:
        cow.close("command", lib.cow_blocking_process_close, proc)


def layers_request(cid, root, kind):
    """CombinedLayers for the container's root file system, as hcsshim sends it."""
    settings = {"ContainerRootPath": root}
    if kind == "Add":
        settings.update({"ContainerID": cid, "Layers": [], "ScratchPath": ""})
    return json.dumps({"ResourceType": "CombinedLayers", "RequestType": kind,
                       "Settings": settings}).encode()


def container_document(cid, root):
    """The LCOW hosted-system document: an OCI spec whose process is the container's init
    (a sleeper here; the command runs as an exec). The network namespace is set, as
    hcsshim does: the GCS files every container's init under it."""
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    spec = {"ociVersion": "1.0.2-dev",
            "process": {"terminal": False, "user": {"uid": 0, "gid": 0},
                        "args": ["/bin/sleep", "1000"], "env": env, "cwd": "/"},
            "root": {"path": root}, "linux": {},
            "windows": {"network": {"networkNamespace": str(uuid.uuid4())}}}
    return json.dumps({"SchemaVersion": {"Major": 2, "Minor": 1},
                       "OciBundlePath": "/run/gcs/c/" + cid,
                       "OciSpecification": spec}).encode()


def run_guest(lib_path, port_dir, peer, argv):
    cow = Cow(load(lib_path))
    lib, b = cow.lib, cow.b
    transport = c_void_p()
    cow.check(lib.cow_guest_transport_unix(byref(transport), port_dir.encode()),
              "the port directory " + port_dir)
    guest = None
    if peer:  # the guest dials (and retries) the bridge port of the directory
        # A program of its own: preloads meant for this interpreter are not its business.
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
        guest = subprocess.Popen([peer, "--port-dir", port_dir], stdin=subprocess.DEVNULL,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    opts = GuestOptions()
    lib.cow_guest_options_init(byref(opts))
    opts.transport = transport
    host = c_void_p()
    try:
        cow.call("connecting to the guest", lib.cow_blocking_guest_connect, byref(opts),
                 TIMEOUT_MS, out=byref(host))
    finally:
        lib.cow_guest_transport_release(transport)  # the connection holds its own
    try:
        return container_lifecycle(cow, host, argv)
    finally:
        cow.close("connection", lib.cow_blocking_host_close, host)
        cow.check(lib.cow_blocking_close(b), "stopping the loop thread (handles left open?)")
        if guest is not None:
            guest.wait(timeout=TIMEOUT_MS / 1000)


def container_lifecycle(cow, host, argv):
    lib, b = cow.lib, cow.b
    caps, flags, version = c_void_p(), c_uint(0), c_int(0)
    cow.check(lib.cow_blocking_guest_capabilities(byref(caps), byref(flags), byref(version), b,
                                                  host), "capabilities")
    cow.take_string(caps)
    cid = str(uuid.uuid4())
    root = "/run/gcs/c/%s/rootfs" % cid
    cow.call("attaching the layers", lib.cow_blocking_guest_modify, host,
             layers_request(cid, root, "Add"), TIMEOUT_MS)
    container, init = c_void_p(), c_void_p()
    stopped = False
    try:
        cow.call("creating the container", lib.cow_blocking_guest_create_container, host,
                 cid.encode(), container_document(cid, "/"), TIMEOUT_MS, out=byref(container))
        chost = cow.host_of(container)
        # The first process without OciProcess is the init: it starts the container.
        cow.call("starting the container", lib.cow_blocking_create_process, chost, b"{}",
                 TIMEOUT_MS, out=byref(init))
        exec_doc = json.dumps({
            "OciProcess": {"terminal": False, "user": {"uid": 0, "gid": 0}, "args": argv,
                           "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
                                   "/sbin:/bin"], "cwd": "/"},
            "CreateStdOutPipe": True, "CreateStdErrPipe": True}).encode()
        code = run_process(cow, chost, exec_doc)
        print("[cow_ctypes] exit code %d" % code, flush=True)
        props = c_void_p()
        cow.call("reading the process list", lib.cow_blocking_container_properties, container,
                 0, b'{"PropertyTypes":["ProcessList"]}', TIMEOUT_MS, out=byref(props))
        plist = json.loads(cow.take_string(props)).get("ProcessList") or []
        print("[cow_ctypes] %d process(es) in the container" % len(plist), file=sys.stderr)
        forced = c_int(0)
        cow.call("stopping the container", lib.cow_blocking_container_stop, container, 10000,
                 TIMEOUT_MS, out=byref(forced))
        stopped = True
        how = c_void_p()
        cow.check(lib.cow_blocking_guest_container_exit_type(byref(how), b, container),
                  "exit type")
        print("[cow_ctypes] container stopped (%s)" % cow.take_string(how), flush=True)
        return code & 0xFF
    finally:
        # A container that failed half-way is terminated (grace 0) before anything goes.
        if container.value and not stopped:
            forced = c_int(0)
            stopped = cow.attempt("terminating the container", lib.cow_blocking_container_stop,
                                  container, 0, TIMEOUT_MS, out=byref(forced))
        # Children first: the init and the container, then the container's resources in
        # hcsshim's order, its state last.
        if init.value:
            cow.attempt("closing the init", lib.cow_blocking_process_close, init, TIMEOUT_MS)
        if container.value:
            cow.attempt("closing the container", lib.cow_blocking_container_close, container,
                        TIMEOUT_MS)
        cow.attempt("removing the layers", lib.cow_blocking_guest_modify, host,
                    layers_request(cid, root, "Remove"), TIMEOUT_MS)
        if (container.value and stopped and
                flags.value & COW_GUEST_CAP_DELETE_CONTAINER_STATE and
                cow.attempt("deleting the container state",
                            lib.cow_blocking_guest_delete_container_state, host, cid.encode(),
                            TIMEOUT_MS)):
            print("[cow_ctypes] container state deleted", flush=True)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lib", required=True, help="path of the libcow shared library")
    ap.add_argument("--hcs", choices=["v1", "v2"], default="v2", help="HCS API (default v2)")
    ap.add_argument("--guest", metavar="DIR",
                    help="a guest (LCOW GCS) that dials the AF_UNIX port directory DIR")
    ap.add_argument("--peer", metavar="PATH", help="with --guest: start cow-gcs-peer as the guest")
    ap.add_argument("cmd", nargs="+", help="the command and its arguments")
    a = ap.parse_args()
    try:
        if a.guest:
            return run_guest(a.lib, a.guest, a.peer, a.cmd)
        return run_hcs(a.lib, COW_HCS_V1 if a.hcs == "v1" else COW_HCS_V2, a.cmd)
    except CowFailure as e:
        print("cow_ctypes: %s" % e, file=sys.stderr)
        return 125


if __name__ == "__main__":
    sys.exit(main())

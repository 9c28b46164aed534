#!/usr/bin/env python3
"""Mutation testing: put each bug of tests/mutation/mutations.py into the library, one at a
time, rebuild, run the tests, and report which tests caught it and with what message.

  tests/mutation/run.py                 every mutation against the suite (SUITE_LABELS;
                                        more than an hour on 2 shared cores): what else
                                        notices each bug
  tests/mutation/run.py --quick         every mutation against its `tests` only (the
                                        table of docs/reliability.md; about 15 minutes)
  tests/mutation/run.py --ci            the mutations with a `ci` entry, each against the
                                        tests it names (.ci/run, with --in-place; about
                                        2 minutes)
  tests/mutation/run.py NAME...         only these mutations (with the modes above)
  tests/mutation/run.py --list          the mutations

The work happens in a copy of the checkout (--work, default build-mutation/): the tree is
never modified; the first run builds everything there (a few minutes), later runs are
incremental. The build is clang with ASan and UBSan, as in CI (a use after free is a bug
the suite must catch, and only a sanitizer sees it). With --in-place --build DIR the
checkout itself is mutated and DIR (an existing, fully built build tree, such as CI's
build-asan) rebuilt; every file is restored at the end, also after an error or ^C, and the
targets the mutations rebuilt are built again from the restored files, so that DIR holds
no mutated binary afterwards (before, the last mutation stayed in DIR: lcow tests run
there after CI timed out against a cow-gcs-peer with frame-size-off-by-one built in).
Waits in the tests are bounded by COW_TEST_DEADLINE_MS (15000 here: the longest legitimate
wait is a 5 s library timeout): a mutation caught only by ctest's own timeout counts as
NOT caught, because a test must fail with a message.

Exit status: 0 when every mutation run was caught by at least one test failing with a
message; 1 when one survived or was only caught by a timeout; 2 when a mutation no
longer applies (the library changed under it: update mutations.py) or the build or the
suite without mutations failed.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)
from mutations import MUTATIONS  # noqa: E402

# The suite a full run uses: everything that exercises the library, not the packaging
# checks (headers, install, abi, docs, layers), the examples' and containerd's end-to-end
# tests, the benchmark or the long footprint runs.
SUITE_LABELS = "unit|contract|guest|hcs|conformance|fuzz|peer"
SAN = "-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
TEST_TIMEOUT = 240  # ctest's per-test timeout here; a deadline (15 s per wait) fires long before


class Unapplicable(Exception):
    pass


def log(msg):
    print(msg, flush=True)


def function_span(text, name):
    """[start, end) of the definition of function `name` (its line at column 0 up to the
    closing brace at column 0)."""
    m = re.search(r"^[A-Za-z_][^;{}()\n]*\b" + re.escape(name) + r"\([^;{]*\)\s*\{", text, re.M)
    if m is None:
        raise Unapplicable("function %s() not found" % name)
    end = text.find("\n}", m.end())
    if end < 0:
        raise Unapplicable("end of function %s() not found" % name)
    return m.start(), end + 2


def mutate(text, m):
    lo, hi = (0, len(text)) if m["function"] is None else function_span(text, m["function"])
    body = text[lo:hi]
    n = body.count(m["find"])
    where = "%s()" % m["function"] if m["function"] else m["file"]
    if n != 1:
        raise Unapplicable("%s: the text to change occurs %d times in %s (expected once):\n%s"
                           % (m["name"], n, where, m["find"]))
    return text[:lo] + body.replace(m["find"], m["replace"]) + text[hi:]


def copy_tree(work):
    """The checkout's files (tracked and new, not ignored) into work/tree."""
    tree = os.path.join(work, "tree")
    files = subprocess.check_output(["git", "ls-files", "-co", "--exclude-standard", "-z"],
                                    cwd=ROOT).decode().split("\0")
    for f in files:
        if not f or f.startswith("build"):
            continue
        src, dst = os.path.join(ROOT, f), os.path.join(tree, f)
        if not os.path.isfile(src):
            continue
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        # Copy only what changed, so that the build stays incremental between runs.
        if not os.path.exists(dst) or open(src, "rb").read() != open(dst, "rb").read():
            shutil.copy2(src, dst)
    return tree


def run(cmd, cwd, env=None, timeout=None):
    return subprocess.run(cmd, cwd=cwd, env=env, timeout=timeout, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT).stdout.decode(errors="replace")


def configure(tree, build):
    if os.path.exists(os.path.join(build, "build.ninja")):
        return
    out = subprocess.run(
        ["cmake", "-S", tree, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
         "-DCMAKE_C_COMPILER=clang", "-DCMAKE_C_FLAGS=" + SAN,
         "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined",
         "-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=address,undefined",
         "-DCOW_BUILD_SHARED=OFF"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if out.returncode != 0:
        log(out.stdout.decode(errors="replace")[-3000:])
        sys.exit("mutation: cmake failed")


def tests_and_targets(build, select):
    """ctest names matching `select` (a -R regex, or the suite labels) and the targets
    they need (their executables and the programs they are given, like the peer)."""
    args = ["ctest", "--test-dir", build, "--show-only=json-v1"]
    out = subprocess.check_output(args).decode()
    info = json.loads(out)
    names, targets = [], set()
    for t in info["tests"]:
        labels = set()
        for p in t.get("properties", []):
            if p["name"] == "LABELS":
                labels = set(p["value"])
        if select["regex"] is not None:
            if not re.search(select["regex"], t["name"]):
                continue
        elif not labels & set(SUITE_LABELS.split("|")) or "slow" in labels:
            continue
        names.append(t["name"])
        for arg in t.get("command") or []:
            if arg.startswith(build) and os.path.isfile(arg):
                targets.add(os.path.basename(arg))
    return names, sorted(targets)


def build_targets(build, targets):
    out = subprocess.run(["cmake", "--build", build, "-j2", "--target"] + targets,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    return out.returncode == 0, out.stdout.decode(errors="replace")


def first_message(block):
    """The failure a test's output reports, shortest form: a sanitizer's error (not a leak,
    which follows other failures), else a cmocka assertion with its location or the text
    of a fail_msg (deadlines included), else a leak summary."""
    m = re.search(r"^SUMMARY: (?!AddressSanitizer: \d+ byte)\w+Sanitizer: .*$|"
                  r"^.*runtime error: .*$", block, re.M)
    if m:
        return m.group(0)
    m = re.search(r"(?:Could not run test: |\[  ERROR   \] --- )([^\[]*?)\s*"
                  r"\[   LINE   \] --- (\S+?:\d+): error: Failure!", block)
    if m and m.group(1).strip():
        return "%s (%s)" % (" ".join(m.group(1).split()), m.group(2))
    m = re.search(r"^\S+:\d+: property failed: .*$", block, re.M)  # tests/fuzz/fuzz.h
    if m:
        return m.group(0)
    m = re.search(r"^ERROR: (?!LeakSanitizer)(.*)$", block, re.M)
    if m:
        return m.group(1)
    m = re.search(r"^SUMMARY: .*$", block, re.M)
    if m:
        return m.group(0)
    m = re.search(r"^.*(?:FAIL|[Ee]rror).*$", block, re.M)
    return m.group(0) if m else "(no message found)"


def run_tests(build, names):
    """{test: (outcome, message)} for the tests that did not pass; outcome 'failed' or
    'timeout'."""
    env = dict(os.environ)
    env.setdefault("COW_TEST_DEADLINE_MS", "15000")
    env["ASAN_OPTIONS"] = "detect_leaks=1"
    env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    regex = "^(" + "|".join(re.escape(n) for n in names) + ")$"
    junit = os.path.join(build, "mutation-junit.xml")
    out = run(["ctest", "--test-dir", build, "-R", regex, "-j2", "--timeout", str(TEST_TIMEOUT),
               "--output-on-failure", "--output-junit", junit], cwd=build, env=env)
    failed = {}
    for m in re.finditer(r"^\s*\d+/\d+ Test\s+#\d+: (\S+) \.*\**(Failed|Timeout|Exception|"
                         r"Not Run|SEGFAULT|Child aborted|Subprocess aborted)?", out, re.M):
        name, outcome = m.group(1), m.group(2)
        if outcome is None:
            continue
        failed[name] = ["timeout" if outcome == "Timeout" else "failed", ""]
    # Attribute a message: ctest prints each failing test's output after its result line.
    blocks = re.split(r"^\s*\d+/\d+ Test\s+#\d+: ", out, flags=re.M)
    for b in blocks[1:]:
        name = b.split()[0]
        if name in failed:
            failed[name][1] = first_message(b).replace(build + "/", "").replace(
                os.path.dirname(build) + "/tree/", "").replace(ROOT + "/", "")[:220]
    return failed, out


def restore_on_signal():
    import signal

    def raise_interrupt(signum, frame):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, raise_interrupt)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("names", nargs="*", help="mutations to run (default: all)")
    ap.add_argument("--ci", action="store_true",
                    help="the mutations with a ci entry, each against those tests")
    ap.add_argument("--quick", action="store_true",
                    help="every mutation against its tests only")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--work", default=os.path.join(ROOT, "build-mutation"))
    ap.add_argument("--in-place", action="store_true",
                    help="mutate the checkout and rebuild --build (CI: a clean clone)")
    ap.add_argument("--build", help="with --in-place: the build tree to use")
    a = ap.parse_args()
    if a.in_place and not a.build:
        sys.exit("mutation: --in-place needs --build DIR")

    if a.list:
        for m in MUTATIONS:
            log("%-28s %s%s\n%28s caught by %s" % (m["name"], m["what"],
                                                   " [ci: %s]" % m["ci"] if m.get("ci") else "", "", m["tests"]))
        return 0
    chosen = [m for m in MUTATIONS if (not a.names or m["name"] in a.names)
              and (not a.ci or m.get("ci"))]
    unknown = set(a.names) - {m["name"] for m in MUTATIONS}
    if unknown:
        sys.exit("mutation: unknown: %s (see --list)" % ", ".join(sorted(unknown)))

    t0 = time.time()
    if a.in_place:
        tree, build = ROOT, os.path.abspath(a.build)
        if not os.path.exists(os.path.join(build, "build.ninja")):
            sys.exit("mutation: %s is not a configured build tree" % build)
    else:
        tree = copy_tree(a.work)
        build = os.path.join(a.work, "build")
        configure(tree, build)

    # Every mutation must still apply before anything is built.
    originals = {}
    for m in chosen:
        path = os.path.join(tree, m["file"])
        originals.setdefault(path, open(path).read())
        try:
            mutate(originals[path], m)
        except Unapplicable as e:
            log("mutation %s NO LONGER APPLIES: %s" % (m["name"], e))
            return 2

    if not a.in_place:
        # Everything once, so that every test's command is known (incremental later).
        ok, out = build_targets(build, ["all"])
        if not ok:
            log(out[-4000:])
            log("mutation: the unmutated build failed")
            return 2

    targeted = a.ci or a.quick

    def selection(m):
        return {"regex": (m["ci"] if a.ci else m["tests"]) if targeted else None}

    # The tests that will run must be green without any mutation.
    base_names, base_targets = tests_and_targets(build, {"regex": None} if not targeted else {
        "regex": "|".join("(%s)" % selection(m)["regex"] for m in chosen)})
    ok, out = build_targets(build, base_targets)
    if not ok:
        log(out[-4000:])
        log("mutation: the unmutated build failed")
        return 2
    failed, out = run_tests(build, base_names)
    if failed:
        log(out[-6000:])
        log("mutation: the suite fails without any mutation: %s" % ", ".join(sorted(failed)))
        return 2
    log("baseline: %d tests pass (%.0f s)" % (len(base_names), time.time() - t0))

    results = []
    rebuilt = set()  # what the mutations rebuilt: built again once the files are restored
    restore_on_signal()
    try:
        for m in chosen:
            t1 = time.time()
            path = os.path.join(tree, m["file"])
            with open(path, "w") as f:
                f.write(mutate(originals[path], m))
            names, targets = tests_and_targets(build, selection(m))
            rebuilt.update(targets)
            ok, out = build_targets(build, targets)
            if not ok:
                log(out[-3000:])
                log("mutation %s does not compile: fix mutations.py" % m["name"])
                return 2
            failed, _ = run_tests(build, names)
            with open(path, "w") as f:
                f.write(originals[path])
            os.utime(path)
            caught = {n: v for n, v in failed.items() if v[0] == "failed"}
            timeouts = sorted(n for n, v in failed.items() if v[0] == "timeout")
            results.append((m, caught, timeouts))
            log("\n%s (%s): %.0f s" % (m["name"], m["what"], time.time() - t1))
            for n, (_, msg) in sorted(caught.items()):
                log("  caught by %-28s %s" % (n, msg))
            for n in timeouts:
                log("  TIMEOUT in %s (does not count)" % n)
            if targeted:
                passed = sorted(set(names) - set(failed))
                if passed:
                    log("  passed anyway: %s" % ", ".join(passed))
            if not caught:
                log("  SURVIVED: no test failed with a message")
    finally:
        for path, text in originals.items():
            if open(path).read() != text:
                with open(path, "w") as f:
                    f.write(text)
                os.utime(path)
        if a.in_place and rebuilt:
            ok, out = build_targets(build, sorted(rebuilt))
            if not ok:
                log(out[-3000:])
                log("mutation: rebuilding %s from the restored files failed: it may still "
                    "hold a mutation" % build)
                return 2

    survived = [m["name"] for m, caught, _ in results if not caught]
    log("\n%d mutations, %d caught, %d survived%s (%.0f s)"
        % (len(results), len(results) - len(survived), len(survived),
           (": " + ", ".join(survived)) if survived else "", time.time() - t0))
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# The containerd tests of containerd-shim-cow-v1: each case starts a private containerd
# (own root, state, sockets and config under $COW_WORK/<case>; no system service), imports
# the busybox image built by make-image.sh, puts the shim on containerd's PATH (the `opt`
# plugin's bin directory) and drives `ctr`. After the case, containerd is stopped and the
# test fails if anything is left behind: a process of the case (they carry
# COW_TEST_MARK=<case dir> in their environment), a shim, a mount, a shim socket in
# /run/containerd/s, a fifo.
#
#   containerd-test.sh CASE     (CASE: a function named case_CASE below)
# Environment: COW_BACKEND (hcs or lcow: the backend the case's containers use), COW_SHIM (the shim binary), COW_PEER (cow-gcs-peer), COW_IMAGE (the image
# archive), COW_WORK (a directory for the cases). Needs root and Debian's containerd.
set -euo pipefail

CASE=${1:?usage: containerd-test.sh CASE}
exec 3>&2 # failures reach the log even from inside $(...)
fail() {
  echo "FAIL [$CASE]: $*" >&3
  exit 1
}
[[ $(id -u) -eq 0 ]] || fail "the containerd tests need root (they run a private containerd)"
for tool in containerd ctr script sha256sum; do
  command -v "$tool" >/dev/null ||
    fail "$tool is not installed; the containerd tests need Debian's containerd (apt-get install containerd)"
done
: "${COW_SHIM:?}" "${COW_SHIM_CALL:?}" "${COW_PEER:?}" "${COW_IMAGE:?}" "${COW_WORK:?}"
[[ -f $COW_IMAGE ]] || fail "no image at $COW_IMAGE (the containerd_image test builds it)"

D=$COW_WORK/${COW_BACKEND:-hcs}-$CASE
SOCK=$D/containerd.sock
MARK=COW_TEST_MARK=$D
IDS=()  # container ids the case used: their shim sockets are checked at the end
CTD_PID=""
WATCHDOG=""
FAILED=0

# ---- waiting with deadlines ----

# run_for SECONDS WHAT CMD...: run CMD; a CMD still running after SECONDS is killed and the
# case fails naming WHAT. Prints CMD's output; returns its status.
run_for() {
  local secs=$1 what=$2 rc=0
  shift 2
  timeout -k 5 "$secs" "$@" || rc=$? # 124: the deadline passed (TERM, KILL 5 s later)
  if [[ $rc -eq 124 ]]; then
    fail "$what did not finish within $secs s"
  fi
  return $rc
}

# c ARGS...: ctr against this case's containerd, 60 s at most.
c() {
  run_for 60 "ctr $*" ctr -a "$SOCK" "$@"
}

# wait_until SECONDS WHAT CMD...: retry CMD (quietly) every 0.1 s until it succeeds.
wait_until() {
  local secs=$1 what=$2 i
  shift 2
  for ((i = 0; i < secs * 10; i++)); do
    if "$@" >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.1
  done
  fail "$what never happened within $secs s"
}

expect_eq() { # WHAT EXPECTED ACTUAL
  if [[ "$2" != "$3" ]]; then
    fail "$1: expected [$2], got [$3]"
  fi
}

# ---- a private containerd ----

write_config() {
  cat >"$D/config.toml" <<EOF
version = 2
root = "$D/root"
state = "$D/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[debug]
  level = "debug"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$D/opt"
EOF
}

start_containerd() {
  # A sanitizer build of the shim (or the peer) reports into files of the case: a report at
  # the shim's exit would find containerd no longer reading the shim's log.
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$D/sanitizer" \
    UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$D/sanitizer" \
    containerd --config "$D/config.toml" >>"$D/containerd.log" 2>&1 &
  CTD_PID=$!
  wait_until 20 "containerd answering on $SOCK" ctr -a "$SOCK" version
}

stop_containerd() {
  [[ -n $CTD_PID ]] || return 0
  kill -TERM "$CTD_PID" 2>/dev/null || true
  local i
  for ((i = 0; i < 100; i++)); do
    kill -0 "$CTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$CTD_PID" 2>/dev/null; then
    echo "FAIL [$CASE]: containerd did not stop within 10 s of SIGTERM" >&2
    kill -KILL "$CTD_PID" 2>/dev/null || true
    FAILED=1
  fi
  wait "$CTD_PID" 2>/dev/null || true
  CTD_PID=""
}

shim_socket() { # ID -> the path containerd's shims listen on
  local h
  h=$(printf '%s' "$SOCK/default/$1" | sha256sum | cut -d' ' -f1)
  echo "/run/containerd/s/$h"
}

# ---- the end of every case: nothing may be left behind ----

leftover() {
  echo "FAIL [$CASE]: left behind: $*" >&2
  FAILED=1
}

check_and_clean() {
  local pid pids="" m
  # Tasks still known to containerd: the case should have deleted them.
  if [[ -n $CTD_PID ]]; then
    local tasks
    tasks=$(timeout -s KILL 20 ctr -a "$SOCK" task ls -q 2>/dev/null || true)
    if [[ -n $tasks ]]; then
      leftover "tasks: $tasks"
      for t in $tasks; do
        timeout -s KILL 20 ctr -a "$SOCK" task kill -s KILL "$t" >/dev/null 2>&1 || true
        timeout -s KILL 20 ctr -a "$SOCK" task delete "$t" >/dev/null 2>&1 || true
      done
    fi
  fi
  stop_containerd
  # Processes of the case (the marker is in their environment) and shims of its containerd.
  for pid in /proc/[0-9]*; do
    pid=${pid#/proc/}
    [[ $pid == "$$" ]] && continue
    if { tr '\0' '\n' <"/proc/$pid/environ"; } 2>/dev/null | grep -qxF "$MARK" ||
      { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "-address $SOCK "; then
      pids+=" $pid"
    fi
  done
  if [[ -n $pids ]]; then
    for pid in $pids; do
      leftover "process $pid: $({ tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null)"
    done
    kill -KILL $pids 2>/dev/null || true
  fi
  # Mounts under the case's directory.
  while read -r m; do
    leftover "mount $m"
    umount -l "$m" 2>/dev/null || true
  done < <(awk -v d="$D" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
  # Shim sockets and port directories.
  for id in "${IDS[@]}"; do
    m=$(shim_socket "$id")
    for p in "$m" "$m".*; do
      if [[ -e $p ]]; then
        leftover "$p (shim of $id)"
        rm -rf "$p"
      fi
    done
  done
  # Fifos (ctr makes them in --fifo-dir, the shim must not keep any alive).
  if [[ -d $D/fifo ]] && [[ -n $(find "$D/fifo" -type p 2>/dev/null) ]]; then
    leftover "fifos: $(find "$D/fifo" -type p | tr '\n' ' ')"
  fi
}

finish() {
  local rc=$?
  trap - EXIT TERM
  if [[ -n $WATCHDOG ]]; then # its sleep first, then the subshell waiting for it
    pkill -P "$WATCHDOG" sleep 2>/dev/null || true
    kill "$WATCHDOG" 2>/dev/null || true
  fi
  check_and_clean
  # A sanitizer build of the shim or the peer reports into $D/sanitizer.PID.
  if compgen -G "$D/sanitizer.*" >/dev/null; then
    echo "FAIL [$CASE]: a sanitizer reported an error in the shim or the peer:" >&2
    head -n 60 "$D"/sanitizer.* >&2
    FAILED=1
  fi
  if [[ $rc -ne 0 || $FAILED -ne 0 ]]; then
    echo "---- containerd log (shim lines and errors) of $CASE ----" >&2
    grep -E 'io.containerd.cow.v1|level=(error|warning)' "$D/containerd.log" 2>/dev/null | tail -n 80 >&2 || true
    exit 1
  fi
  rm -rf "$D"
  echo "PASS [$CASE]"
}

# ---- the cases ----

# Runtime flags: the cow shim with the backend of the case (COW_BACKEND: hcs or lcow).
RT=()

# ctr run --rm: output and exit code through the cow shim.
case_run_rm() {
  IDS+=(rm1)
  local rc=0
  c run --rm --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 rm1 \
    sh -c 'echo hello from the cow shim; echo to stderr >&2; exit 7' \
    </dev/null >"$D/out" 2>"$D/err" || rc=$?
  expect_eq "exit code of ctr run" 7 "$rc"
  expect_eq "stdout of ctr run" "hello from the cow shim" "$(cat "$D/out")"
  expect_eq "stderr of ctr run" "to stderr" "$(cat "$D/err")"
}

# A client that goes away never blocks the shim, nor the container: ctr run -d leaves once
# the task started, the container writes on without a reader (the shim reads and drops), and
# the task stays usable. The container counts its writes in a file an exec reads.
count_above() { # FILE N: the count in FILE, read by an exec in cg1, is over N
  [ "$(c task exec --exec-id r2 cg1 cat "$1" </dev/null)" -gt "$2" ]
}
case_client_gone() {
  IDS+=(cg1)
  local count=/tmp/cow-client-gone-count n1
  [[ $COW_BACKEND == hcs ]] && count=$D/count # the emulator runs on this machine's files
  # 64 KiB to stdout and 8 KiB to stderr per round, more than a pipe holds: a reader that
  # stopped reading would stop the count at the first rounds. The count is renamed into
  # place, so a reader never sees it half written.
  local prog="l=\$(printf '%01000d' 0); i=0; while :; do
  for k in 1 2 3 4 5 6 7 8; do echo \$l; echo \$l; echo \$l; echo \$l; echo \$l; echo \$l; echo \$l; echo \$l; echo \$l >&2; done
  i=\$((i + 1)); echo \$i >$count.new; mv $count.new $count; done"
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 cg1 sh -c "$prog" \
    </dev/null >/dev/null
  wait_until 30 "the container counting" c task exec --exec-id r0 cg1 test -s "$count"
  n1=$(c task exec --exec-id r1 cg1 cat "$count" </dev/null)
  wait_until 30 "20 more rounds (1.4 MB without a reader) after round $n1" \
    count_above "$count" $((n1 + 20))
  c task kill -s KILL cg1
  wait_until 30 "task cg1 stopped" task_is cg1 STOPPED
  c task delete cg1 >/dev/null
  c container rm cg1
}

# The README's ctr run line, exactly as written there (ctr finds this case's containerd
# through CONTAINERD_ADDRESS; the image is the one the README line before imports).
case_readme() {
  IDS+=(hello)
  local readme line
  readme="$(dirname "${BASH_SOURCE[0]}")/../../README.md"
  line=$(grep -E '^ctr run --rm --runtime io.containerd.cow.v1 ' "$readme") ||
    fail "README.md has no 'ctr run --rm --runtime io.containerd.cow.v1' line"
  local rc=0
  CONTAINERD_ADDRESS=$SOCK run_for 60 "the README's ctr run line" bash -c "$line" \
    </dev/null >"$D/out" 2>"$D/err" || rc=$?
  expect_eq "exit code of the README's ctr run line" 0 "$rc"
  expect_eq "output of the README's ctr run line" "hello from containerd-shim-cow-v1" "$(cat "$D/out")"
}

# The container sees its image: a file only the image's top layer has, and a writable root.
case_rootfs() {
  IDS+=(fs1)
  local rc=0
  c run --rm --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 fs1 \
    sh -c 'cat /etc/cow-top-layer && echo written >/tmp/new && cat /tmp/new && ls /bin/busybox' \
    </dev/null >"$D/out" 2>"$D/err" || rc=$?
  expect_eq "exit code" 0 "$rc"
  expect_eq "stdout" "written by the top layer
written
/bin/busybox" "$(cat "$D/out")"
}

# stdin: what the client writes reaches the process, then end of file (CloseIO), then the
# exit; 1 MiB so that the relay has to wait for the process now and then.
case_stdin() {
  IDS+=(in1)
  head -c 1048576 /dev/urandom >"$D/input"
  local rc=0
  c run --rm --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 in1 \
    sh -c 'cat; echo done' <"$D/input" >"$D/out" 2>"$D/err" || rc=$?
  expect_eq "exit code" 0 "$rc"
  { cat "$D/input"; echo done; } >"$D/expected"
  cmp -s "$D/expected" "$D/out" || fail "stdout is not stdin + 'done' ($(stat -c %s "$D/out") bytes)"
}

# Output that is still on its way when the process exits loses no byte.
case_output() {
  IDS+=(out1)
  local rc=0
  c run --rm --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 out1 \
    sh -c 'seq 1 300000; seq 1 1000 >&2; exit 3' </dev/null >"$D/out" 2>"$D/err" || rc=$?
  expect_eq "exit code" 3 "$rc"
  expect_eq "stdout" "$(seq 1 300000 | sha256sum)" "$(sha256sum <"$D/out")"
  expect_eq "stderr" "$(seq 1 1000 | sha256sum)" "$(sha256sum <"$D/err")"
}

# -t: a console of the client's size (ResizePty after Start), and a resize while it runs.
case_tty() {
  IDS+=(tty1)
  local prog='until [ "$(stty size)" = "33 101" ]; do sleep 0.05; done; echo size-ok
until [ "$(stty size)" = "40 120" ]; do sleep 0.05; done; echo resized; exit 5'
  printf '%s\n' "stty rows 33 cols 101" \
    "exec ctr -a '$SOCK' run --rm -t --fifo-dir '$D/fifo' --env '$MARK' ${RT[*]} local/busybox:1 tty1 sh -c '$(printf '%s' "$prog" | sed "s/'/'\\\\''/g")'" \
    >"$D/tty.sh"
  timeout -s KILL 60 script -qfec "bash $D/tty.sh" "$D/typescript" </dev/null >/dev/null 2>&1 &
  local spid=$! rc=0 ctr_pid tty
  wait_until 30 "the console size 33x101 inside the container" grep -q size-ok "$D/typescript"
  ctr_pid=$(pgrep -f -- "-a $SOCK run --rm -t") || fail "ctr run -t is not running"
  tty=$(readlink "/proc/$ctr_pid/fd/0")
  stty -F "$tty" rows 40 cols 120 # the kernel tells ctr (SIGWINCH), ctr tells the shim
  wait "$spid" || rc=$?
  grep -q resized "$D/typescript" || fail "the resize did not reach the container: $(cat -v "$D/typescript")"
  expect_eq "exit code of ctr run -t" 5 "$rc"
}

# run -d, exec (its own exit code and output), kill TERM, delete.
case_exec_kill() {
  IDS+=(ex1)
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 ex1 sleep 1000 \
    </dev/null >/dev/null
  expect_eq "status after run -d" RUNNING "$(task_status ex1)"
  local rc=0
  c task exec --fifo-dir "$D/fifo" --exec-id e1 ex1 sh -c 'echo from exec; echo err >&2; exit 4' \
    </dev/null >"$D/out" 2>"$D/err" || rc=$?
  expect_eq "exit code of the exec" 4 "$rc"
  expect_eq "stdout of the exec" "from exec" "$(cat "$D/out")"
  expect_eq "stderr of the exec" "err" "$(cat "$D/err")"
  # a second exec while the first's id is gone: ids are reusable after delete
  rc=0
  echo piped | c task exec --fifo-dir "$D/fifo" --exec-id e1 ex1 cat >"$D/out" || rc=$?
  expect_eq "exit code of the second exec" 0 "$rc"
  expect_eq "stdin of the exec" piped "$(cat "$D/out")"
  local out
  # Pids: ctr task ps lists the init (the pid ctr task ls gives) and a running exec (named by
  # its exec id), each a live process running what was started
  # (ctr stays attached to the exec, so that it deletes the exec and its fifos at the end)
  c task exec --fifo-dir "$D/fifo" --exec-id e2 ex1 sleep 2000 </dev/null >/dev/null 2>&1 &
  local exec_ctr=$! init_pid exec_pid
  wait_until 30 "exec e2 in ctr task ps" eval "ctr -a '$SOCK' task ps ex1 | grep -q e2"
  init_pid=$(ctr -a "$SOCK" task ls | awk '$1 == "ex1" { print $2 }')
  out=$(c task ps ex1 2>&1) || fail "ctr task ps: $out"
  [[ -n $init_pid && -n $(awk -v p="$init_pid" '$1 == p' <<<"$out") ]] ||
    fail "ctr task ps does not list the init's pid '$init_pid': $out"
  exec_pid=$(awk '/e2/ { print $1 }' <<<"$out")
  [[ $exec_pid =~ ^[0-9]+$ && $exec_pid != "$init_pid" ]] || fail "ctr task ps names no exec e2: $out"
  expect_eq "command line of the init pid ctr task ps lists" "sleep 1000" \
    "$(tr '\0' ' ' <"/proc/$init_pid/cmdline" | sed 's/ $//')"
  expect_eq "command line of the exec pid ctr task ps lists" "sleep 2000" \
    "$(tr '\0' ' ' <"/proc/$exec_pid/cmdline" | sed 's/ $//')"
  # Stats: cgroup v1 metrics with the container's real figures (two processes, their memory)
  out=$(c task metrics ex1 2>&1) || fail "ctr task metrics: $out"
  local mem pids
  mem=$(awk '$1 == "memory.usage_in_bytes" { print $2 }' <<<"$out")
  pids=$(awk '$1 == "pids.current" { print $2 }' <<<"$out")
  [[ $mem =~ ^[0-9]+$ && $mem -gt 0 ]] || fail "ctr task metrics: no memory usage: $out"
  [[ $pids =~ ^[0-9]+$ && $pids -ge 2 ]] || fail "ctr task metrics: pids.current '$pids': $out"
  # what the cow shim does not do, it says so (ctr pauses before it checkpoints: on lcow
  # the pause is what is refused), and the task goes on running
  rc=0
  out=$(c task checkpoint ex1 2>&1) || rc=$?
  [[ $rc -ne 0 && $out == *"is not supported by"* ]] ||
    fail "ctr task checkpoint: exit $rc, said: $out"
  expect_eq "status after a refused checkpoint" RUNNING "$(task_status ex1)"
  # Update (ctr has no command for it): lcow passes the resources to the guest as
  # ContainerConstraints; hcs cannot take OCI LinuxResources
  rc=0
  out=$(run_for 30 "shim-call update" "$COW_SHIM_CALL" "$(shim_socket ex1)" default update ex1 \
    '{"memory":{"limit":104857600}}') || rc=$?
  if [[ $COW_BACKEND == lcow ]]; then
    expect_eq "Update on lcow" "ok" "$out"
  else
    expect_eq "Update on hcs" "error 12: updating resources is not supported by the hcs backend" "$out"
  fi
  c task kill -s TERM ex1
  wait_until 30 "task ex1 stopped after SIGTERM" task_is ex1 STOPPED
  wait "$exec_ctr" || true # the exec went with the container; ctr deleted it
  c task delete ex1 >/dev/null
  c container rm ex1
}

# kill -s KILL, and kill --all of a task with an exec running.
case_kill_all() {
  IDS+=(ka1 ka2)
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 ka1 sleep 1000 </dev/null >/dev/null
  c task kill -s KILL ka1
  wait_until 30 "task ka1 stopped after SIGKILL" task_is ka1 STOPPED
  c task delete ka1 >/dev/null
  c container rm ka1
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 ka2 sleep 1000 </dev/null >/dev/null
  c task exec --fifo-dir "$D/fifo" --exec-id long ka2 sleep 1000 </dev/null >"$D/exec.out" 2>&1 &
  local epid=$! rc=0
  wait_until 30 "the exec running" exec_running ka2
  c task kill --all -s KILL ka2
  wait_until 30 "task ka2 stopped after kill --all" task_is ka2 STOPPED
  wait_until 30 "ctr task exec ending after kill --all" not_running "$epid"
  wait "$epid" || rc=$?
  expect_eq "exit code of the killed exec" 137 "$rc"
  c task delete ka2 >/dev/null
  c container rm ka2
}

not_running() {
  ! kill -0 "$1" 2>/dev/null
}
lines_over() { # FILE N: FILE has more than N lines
  [[ $(wc -l <"$1") -gt $2 ]]
}

# pause and resume (hcs: the emulator stops every process of the system; lcow: the GCS has
# no pause, and ctr says so), with their events.
case_pause() {
  IDS+=(pz1)
  if [[ $COW_BACKEND == lcow ]]; then
    c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 pz1 sleep 1000 </dev/null >/dev/null
    local rc=0 out
    out=$(c task pause pz1 2>&1) || rc=$?
    [[ $rc -ne 0 ]] || fail "ctr task pause succeeded on lcow"
    [[ $out == *"pause is not supported by the lcow backend"* ]] || fail "ctr task pause said: $out"
    expect_eq "status after a refused pause" RUNNING "$(task_status pz1)"
  else
    c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 pz1 \
      sh -c "while :; do echo tick >>$D/ticks; sleep 0.05; done" </dev/null >/dev/null
    wait_until 30 "the container ticking" test -s "$D/ticks"
    timeout -k 5 120 ctr -a "$SOCK" events >"$D/events" 2>&1 &
    local events=$! n
    sleep 0.5 # ctr events subscribes
    c task pause pz1
    expect_eq "status after pause" PAUSED "$(task_status pz1)"
    n=$(wc -l <"$D/ticks")
    sleep 0.5 # a running container ticks ten times meanwhile
    expect_eq "ticks while paused" "$n" "$(wc -l <"$D/ticks")"
    c task resume pz1
    expect_eq "status after resume" RUNNING "$(task_status pz1)"
    wait_until 30 "the container ticking again" lines_over "$D/ticks" "$n"
    wait_until 30 "the paused and resumed events" grep -q '/tasks/resumed' "$D/events"
    grep -q '/tasks/paused.*pz1' "$D/events" || fail "no /tasks/paused event: $(cat "$D/events")"
    kill "$events" 2>/dev/null || true
    wait "$events" 2>/dev/null || true
  fi
  c task kill -s KILL pz1
  wait_until 30 "task pz1 stopped" task_is pz1 STOPPED
  c task delete pz1 >/dev/null
  c container rm pz1
}

# Events reach containerd in containerd's order: create, start, exec-added, exec-started,
# the exec's exit (its own id and status), the init's exit, delete.
case_events() {
  IDS+=(ev1)
  timeout -k 5 120 ctr -a "$SOCK" events >"$D/events" 2>&1 &
  local events=$!
  sleep 0.5 # ctr events subscribes
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 ev1 sleep 1000 </dev/null >/dev/null
  c task exec --fifo-dir "$D/fifo" --exec-id e1 ev1 sh -c 'exit 3' </dev/null || true
  c task kill -s KILL ev1
  wait_until 30 "task ev1 stopped" task_is ev1 STOPPED
  c task delete ev1 >/dev/null
  c container rm ev1
  wait_until 30 "the delete event" grep -q '/tasks/delete.*"ev1"' "$D/events"
  kill "$events" 2>/dev/null || true
  wait "$events" 2>/dev/null || true
  local got
  got=$(grep -E '/tasks/[a-z-]+ .*"container_id":"ev1"' "$D/events" | awk '{ print $6 }' | tr '\n' ' ')
  expect_eq "event topics" "/tasks/create /tasks/start /tasks/exec-added /tasks/exec-started /tasks/exit /tasks/exit /tasks/delete " "$got"
  grep -E '/tasks/exit .*"id":"e1".*"exit_status":3' "$D/events" >/dev/null ||
    fail "no exit event of e1 with status 3: $(grep /tasks/exit "$D/events")"
  grep -E '/tasks/exit .*"id":"ev1".*"exit_status":137' "$D/events" >/dev/null ||
    fail "no exit event of ev1 with status 137: $(grep /tasks/exit "$D/events")"
}

# The shim's memory with one idle container: under 2 MiB of RSS (the static program only;
# registered only for that build). Debian's runc shim takes 13 MB (bench/shim-footprint.sh).
case_footprint() {
  IDS+=(fp1)
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 fp1 sleep 1000 </dev/null >/dev/null
  local pid rss
  pid=$(shim_pid fp1) || fail "no shim process for fp1"
  sleep 1 # idle: what the shim holds while nothing happens
  rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$pid/status")
  echo "containerd-shim-cow-v1 ($COW_BACKEND, one idle container): VmRSS $rss kB"
  [[ $rss -lt 2048 ]] || fail "the shim's RSS is $rss kB, over its 2048 kB budget"
  c task kill -s KILL fp1
  wait_until 30 "task fp1 stopped" task_is fp1 STOPPED
  c task delete fp1 >/dev/null
  c container rm fp1
}

shim_pid() { # ID -> the pid of the long-lived shim serving it
  pgrep -f -- "-address $SOCK .*-id $1 (-debug )?start\$"
}
task_gone() {
  ! ctr -a "$SOCK" task ls -q | grep -qxF "$1"
}

# The shim dies under a running task: containerd sees its connection drop, runs the shim's
# delete (which stops what the dead shim left running) and reports the task's exit; the
# container can then be removed, and nothing of the task is left.
case_kill_shim() {
  IDS+=(ks1)
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 ks1 sleep 1000 </dev/null >/dev/null
  expect_eq "status after run -d" RUNNING "$(task_status ks1)"
  timeout -k 5 120 ctr -a "$SOCK" events >"$D/events" 2>&1 &
  local events=$! pid
  sleep 0.5 # ctr events subscribes
  pid=$(shim_pid ks1) || fail "no shim process for ks1"
  kill -KILL "$pid"
  wait_until 30 "containerd dropping the task of the dead shim" task_gone ks1
  wait_until 30 "the exit of ks1 among containerd's events" grep -q '/tasks/exit.*ks1' "$D/events"
  kill "$events" 2>/dev/null || true
  wait "$events" 2>/dev/null || true
  wait_until 30 "the processes of ks1 ending" none_marked '^(/bin/)?sleep 1000$'
  c container rm ks1
  # ctr run -d leaves its fifos to `ctr task delete`, which has no task to delete now: they
  # are the client's, not the shim's.
  rm -rf "${D:?}"/fifo/*
}

# containerd restarts while a task runs: it reconnects to the live shim (the bundle's address
# file), and the task can be exec'd into, killed and deleted as before.
case_restart() {
  IDS+=(rs1)
  c run -d --fifo-dir "$D/fifo" --env "$MARK" "${RT[@]}" local/busybox:1 rs1 sleep 1000 </dev/null >/dev/null
  local pid
  pid=$(shim_pid rs1) || fail "no shim process for rs1"
  stop_containerd
  kill -0 "$pid" || fail "the shim died with containerd"
  start_containerd
  wait_until 30 "task rs1 running after the restart" task_is rs1 RUNNING
  expect_eq "the same shim" "$pid" "$(shim_pid rs1)"
  expect_eq "exec after the restart" "after restart" \
    "$(c task exec --fifo-dir "$D/fifo" --exec-id r1 rs1 echo after restart </dev/null)"
  c task kill -s KILL rs1
  wait_until 30 "task rs1 stopped" task_is rs1 STOPPED
  c task delete rs1 >/dev/null
  c container rm rs1
}

task_status() { # ID -> its STATUS column in ctr task ls
  ctr -a "$SOCK" task ls | awk -v id="$1" '$1 == id { print $3 }'
}
task_is() {
  [[ $(task_status "$1") == "$2" ]]
}
count_marked() { # PATTERN -> how many processes of this case have a command line matching it
  local p n=0
  for p in $(pgrep -f -- "$1"); do
    if { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qxF "$MARK"; then
      n=$((n + 1))
    fi
  done
  echo "$n"
}
none_marked() { # PATTERN: no process of this case has a command line matching it
  [[ $(count_marked "$1") -eq 0 ]]
}
exec_running() { # the init's sleep and the exec's
  [[ $(count_marked '^(/bin/)?sleep 1000$') -ge 2 ]]
}

# ---- main ----

declare -F "case_$CASE" >/dev/null || fail "no case $CASE"
rm -rf "$D"
mkdir -p "$D/opt/bin" "$D/fifo"
ln -s "$COW_SHIM" "$D/opt/bin/containerd-shim-cow-v1"
printf '{"backend": "hcs"}\n' >"$D/hcs.json"
printf '{"backend": "lcow", "launcher": ["%s", "--port-dir", "{port_dir}", "--mount-layers"]}\n' \
  "$COW_PEER" >"$D/lcow.json"
RT=(--runtime io.containerd.cow.v1 --runtime-config-path "$D/${COW_BACKEND:-hcs}.json")
write_config
trap finish EXIT
# The whole case has a deadline below ctest's (240 s), so that the clean-up above always runs.
trap 'fail "the case did not finish within $CASE_DEADLINE s"' TERM
CASE_DEADLINE=200
(sleep "$CASE_DEADLINE" && kill -TERM $$) >/dev/null 2>&1 &
WATCHDOG=$!
start_containerd
c images import "$COW_IMAGE" >/dev/null
"case_$CASE"

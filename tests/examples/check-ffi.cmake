# The Python ctypes example runs a real command through the blocking API of the shared
# libcow: its output reaches us through the descriptors, its exit code comes back. API v1
# or v2: in a compute system of the HCS emulator; API guest: as an exec in a container on
# cow-gcs-peer (PEER), with the whole lifecycle around it.
if(API STREQUAL "guest")
  string(RANDOM LENGTH 10 _tag)
  set(_dir /tmp/cow-ffi-${_tag})
  file(MAKE_DIRECTORY ${_dir})
  set(_how --guest ${_dir} --peer ${PEER})
  set(_expect "hello from python\n[cow_ctypes] exit code 7\n[cow_ctypes] container stopped (GracefulExit)\n[cow_ctypes] container state deleted\n")
  set(_expect_err "to-stderr\n\\[cow_ctypes\\] [1-9][0-9]* process\\(es\\) in the container\n")
  set(_missing "EGUEST, HRESULT 0x80004005")
else()
  set(_how --hcs ${API})
  set(_expect "hello from python\n[cow_ctypes] exit code 7\n")
  set(_expect_err "to-stderr\n")
  set(_missing "ENOENT, HRESULT 0x80070002")
endif()
execute_process(COMMAND ${PYTHON} ${SCRIPT} --lib ${LIB} ${_how} --
                        sh -c "echo hello from python; echo to-stderr >&2; exit 7"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 7)
  message(FATAL_ERROR "exit ${rc}, expected 7\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT out STREQUAL _expect)
  message(FATAL_ERROR "unexpected stdout: '${out}'\nstderr: ${err}")
endif()
if(NOT err MATCHES "^${_expect_err}$")
  message(FATAL_ERROR "unexpected stderr: '${err}'")
endif()
execute_process(COMMAND ${PYTHON} ${SCRIPT} --lib ${LIB} ${_how} -- /nonexistent/program
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 125 OR NOT err MATCHES "${_missing}")
  message(FATAL_ERROR "missing program: exit ${rc}, stderr '${err}'")
endif()
if(API STREQUAL "guest")
  # A failed exec still tears the container down, state included.
  if(NOT out STREQUAL "[cow_ctypes] container state deleted\n")
    message(FATAL_ERROR "missing program: stdout '${out}'")
  endif()
  file(REMOVE_RECURSE ${_dir})
endif()

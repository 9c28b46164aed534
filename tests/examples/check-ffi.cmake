# The Python ctypes example runs a real command through the blocking API of the shared
# libcow: its output reaches us through the descriptors, its exit code comes back.
execute_process(COMMAND ${PYTHON} ${SCRIPT} --lib ${LIB} --hcs ${API} --
                        sh -c "echo hello from python; echo to-stderr >&2; exit 7"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 7)
  message(FATAL_ERROR "exit ${rc}, expected 7\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT out STREQUAL "hello from python\n[cow_ctypes] exit code 7\n")
  message(FATAL_ERROR "unexpected stdout: '${out}'")
endif()
if(NOT err STREQUAL "to-stderr\n")
  message(FATAL_ERROR "unexpected stderr: '${err}'")
endif()
execute_process(COMMAND ${PYTHON} ${SCRIPT} --lib ${LIB} --hcs ${API} -- /nonexistent/program
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 60)
if(NOT rc EQUAL 125 OR NOT err MATCHES "ENOENT, HRESULT 0x80070002")
  message(FATAL_ERROR "missing program: exit ${rc}, stderr '${err}'")
endif()

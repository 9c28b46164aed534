# The example's output and exit code are what the command produced.
execute_process(COMMAND ${PROG} sh -c "echo hello; echo oops >&2; exit 3"
                OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc)
if(NOT rc EQUAL 3)
  message(FATAL_ERROR "exit code ${rc}, expected 3\nstdout: ${out}\nstderr: ${err}")
endif()
if(NOT out MATCHES "^hello\n\\[local-backend\\] sh exited with 3\n$")
  message(FATAL_ERROR "unexpected stdout: '${out}'")
endif()
if(NOT err STREQUAL "oops\n")
  message(FATAL_ERROR "unexpected stderr: '${err}'")
endif()
execute_process(COMMAND ${PROG} /nonexistent/program OUTPUT_VARIABLE out ERROR_VARIABLE err
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 127 OR NOT err MATCHES "ENOENT")
  message(FATAL_ERROR "missing program: exit ${rc}, stderr '${err}'")
endif()

# A tool's manual page and its --help list the same long options.
# Inputs (-D): PROG PAGE
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND "${PROG}" --help RESULT_VARIABLE rc OUTPUT_VARIABLE help
                ERROR_VARIABLE help)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${PROG} --help exited ${rc}:\n${help}")
endif()
file(READ "${PAGE}" page)
# roff writes a literal '-' as '\-'.
string(REPLACE "\\-" "-" page "${page}")

function(long_options text out)
  string(REGEX MATCHALL "--[a-z][a-z0-9-]*" opts "${text}")
  list(REMOVE_DUPLICATES opts)
  list(SORT opts)
  set(${out} "${opts}" PARENT_SCOPE)
endfunction()
long_options("${help}" in_help)
long_options("${page}" in_page)
list(LENGTH in_help n)
if(n LESS 3)
  message(FATAL_ERROR "${PROG} --help lists ${n} long options: is the check reading the right output?")
endif()

set(missing ${in_help})
list(REMOVE_ITEM missing ${in_page})
set(extra ${in_page})
list(REMOVE_ITEM extra ${in_help})
if(missing OR extra)
  message(FATAL_ERROR "${PAGE} and ${PROG} --help disagree.\n"
    "  in --help, not in the page: ${missing}\n  in the page, not in --help: ${extra}")
endif()
message("${PAGE}: the ${n} long options of --help, no more, no less")

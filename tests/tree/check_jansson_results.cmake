# No jansson result is dropped (CTest jansson_results, label tree): issue 10 #2 found
# lcow-exec handing json_string()'s NULL (text that is not UTF-8) to json_array_append_new()
# and ignoring the -1, so an argument vanished. This check keeps the whole tree honest.
#
#   cmake -DSOURCE_DIR=<root> -DBUILD_DIR=<build> -DCLANG=<clang> -P check_jansson_results.cmake
#
# Every C file of src/, shim/, examples/, bench/ and tests/ (the sample below aside) that
# the build compiles (compile_commands.json, so with its own include paths and definitions) is
# parsed by clang with jansson-results.h included first: that header wraps each jansson
# setter, constructor, loader and dumper so that a discarded result is a -Wunused-result
# diagnostic. A result passed on is not discarded: `json_object_set_new(o, k, json_string(s))`
# is fine when the set's own result is checked (set_new fails on a NULL value). A result that
# may be ignored on purpose is cast to (void) with a comment saying why (clang honours the
# cast). What it cannot see: a constructor's NULL stored in a variable and handed to code
# that is not jansson; a file the build does not compile (today every file in scope that
# calls jansson is compiled on Linux). Test code uses TJ_OK() (tests/support/tjson.h).
# Before the tree, it
# checks itself on jansson_results_sample.c, which must give exactly its known findings.
# Exit status 1 with clang's lines (file:line) for each finding.

cmake_minimum_required(VERSION 3.19)
foreach(v SOURCE_DIR BUILD_DIR CLANG)
  if(NOT ${v})
    message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<root> -DBUILD_DIR=<build> -DCLANG=<clang> "
                        "-P check_jansson_results.cmake (${v} is not set)")
  endif()
endforeach()
if(NOT EXISTS "${CLANG}")
  # Reported as skipped (SKIP_REGULAR_EXPRESSION), never as passed: the README's test
  # command does not install clang; CI does (.ci/run phase 1), so the check runs there.
  message("COW-JANSSON-RESULTS-SKIPPED: jansson_results needs clang (it honours a (void) "
          "cast of a warn_unused_result call; gcc does not): ${CLANG} not found")
  return()
endif()
set(_db "${BUILD_DIR}/compile_commands.json")
if(NOT EXISTS "${_db}")
  message(FATAL_ERROR "${_db} not found (CMAKE_EXPORT_COMPILE_COMMANDS is ON in the tree's build)")
endif()
set(_header "${SOURCE_DIR}/tests/tree/jansson-results.h")

# clang's findings for `file` compiled with `flags` (a list), one per line, in `out`.
function(findings out file flags dir)
  execute_process(
    COMMAND "${CLANG}" -fsyntax-only -Wno-everything -Wunused-result -include "${_header}"
            ${flags} "${file}"
    WORKING_DIRECTORY "${dir}" OUTPUT_VARIABLE _o ERROR_VARIABLE _e RESULT_VARIABLE _rc)
  string(REPLACE "\n" ";" _lines "${_o}${_e}")
  set(_found "")
  foreach(l IN LISTS _lines)
    if(l MATCHES ": (warning|error): ")
      string(REPLACE "${SOURCE_DIR}/" "" l "${l}")
      list(APPEND _found "${l}")
    endif()
  endforeach()
  if(NOT _rc EQUAL 0 AND NOT _found)
    list(APPEND _found "${file}: clang failed (${_rc}) without a diagnostic: ${_e}")
  endif()
  set(${out} "${_found}" PARENT_SCOPE)
endfunction()

# 1. The check sees what it must: the sample's discarded results, and none of the kept ones.
findings(_sample "${SOURCE_DIR}/tests/tree/jansson_results_sample.c" "" "${SOURCE_DIR}")
list(LENGTH _sample _n)
set(_expected 6) # the lines marked "found" in the sample
if(NOT _n EQUAL _expected)
  string(REPLACE ";" "\n  " _s "${_sample}")
  message(FATAL_ERROR "jansson_results does not work: the sample gave ${_n} findings, not "
                      "${_expected}:\n  ${_s}")
endif()

# 2. The tree.
file(READ "${_db}" _json)
string(JSON _count LENGTH "${_json}")
math(EXPR _last "${_count} - 1")
set(_seen "")
set(_all "")
set(_files 0)
foreach(i RANGE ${_last})
  string(JSON _file GET "${_json}" ${i} file)
  string(JSON _dir GET "${_json}" ${i} directory)
  file(RELATIVE_PATH _rel "${SOURCE_DIR}" "${_file}")
  if(NOT _rel MATCHES "^(src|shim|examples|bench|tests)/.*\\.c$" OR _rel MATCHES "^tests/tree/")
    continue()
  endif()
  if(_rel IN_LIST _seen) # one library source in several targets
    continue()
  endif()
  list(APPEND _seen "${_rel}")
  file(STRINGS "${_file}" _uses REGEX "json_" LIMIT_COUNT 1)
  if(NOT _uses)
    continue()
  endif()
  string(JSON _cmd ERROR_VARIABLE _noc GET "${_json}" ${i} command)
  if(_noc)
    string(JSON _cmd GET "${_json}" ${i} arguments)
    string(REGEX REPLACE "^\\[|\\]$" "" _cmd "${_cmd}")
  endif()
  separate_arguments(_args UNIX_COMMAND "${_cmd}")
  # Only what decides how the file parses: include paths, definitions, the standard.
  set(_flags "")
  set(_take 0)
  foreach(a IN LISTS _args)
    if(_take)
      list(APPEND _flags "${a}")
      set(_take 0)
    elseif(a STREQUAL "-I" OR a STREQUAL "-D" OR a STREQUAL "-isystem" OR a STREQUAL "-include")
      list(APPEND _flags "${a}")
      set(_take 1)
    elseif(a MATCHES "^-(I|D|isystem|std=)")
      list(APPEND _flags "${a}")
    endif()
  endforeach()
  findings(_f "${_file}" "${_flags}" "${_dir}")
  list(APPEND _all ${_f})
  math(EXPR _files "${_files} + 1")
endforeach()

list(LENGTH _all _n)
if(_n GREATER 0)
  string(REPLACE ";" "\n" _s "${_all}")
  message("${_s}")
  message(FATAL_ERROR "jansson_results: ${_n} jansson results discarded in ${_files} files "
                      "(check each, or cast to (void) with a comment saying why it may be ignored)")
endif()
message(STATUS "jansson_results: ${_files} files, no jansson result discarded")

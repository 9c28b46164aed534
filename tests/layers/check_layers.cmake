# Lower layers never reach up (CTest layers, label tree): docs/design.md §4 and §7.4.
#
#   cmake -DSOURCE_DIR=<repository root> -P check_layers.cmake
#
# Every source file under src/ may include, among the project's own headers, only those of
# the layers below it:
#   core                 core, the public API (cow/)
#   unix, win            the platform layer: core, cow/error.h and cow/common.h, its own
#                        directory; and it names nothing of the guest connection (cow_guest_*)
#   hcs                  core, cow/, hcs
#   guest                core, cow/, guest, and the platform layer (unix, win)
#   blocking             core, cow/, blocking
# Exit status 1 with one line per violation (file:line: what), 0 otherwise.

cmake_minimum_required(VERSION 3.16)
if(NOT SOURCE_DIR)
  message(FATAL_ERROR "usage: cmake -DSOURCE_DIR=<repository root> -P check_layers.cmake")
endif()
get_filename_component(SOURCE_DIR "${SOURCE_DIR}" ABSOLUTE)

set(ALLOWED_core "core" "cow")
set(ALLOWED_unix "core" "cow/error.h" "cow/common.h" "unix")
set(ALLOWED_win "core" "cow/error.h" "cow/common.h" "win")
set(ALLOWED_hcs "core" "cow" "hcs")
set(ALLOWED_guest "core" "cow" "guest" "unix" "win")
set(ALLOWED_blocking "core" "cow" "blocking")
set(FORBIDDEN_WORDS_unix "cow_guest_")
set(FORBIDDEN_WORDS_win "cow_guest_")

file(GLOB_RECURSE SOURCES RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/src/*.c" "${SOURCE_DIR}/src/*.h")
list(LENGTH SOURCES _n)
if(_n LESS 10)
  message(FATAL_ERROR "found only ${_n} sources under ${SOURCE_DIR}/src: wrong SOURCE_DIR?")
endif()

set(PROBLEMS "")
set(CHECKED 0)
foreach(f IN LISTS SOURCES)
  if(NOT f MATCHES "^src/([a-z]+)/")
    continue() # files directly under src/ (none today) belong to no layer
  endif()
  set(layer "${CMAKE_MATCH_1}")
  if(NOT DEFINED ALLOWED_${layer})
    list(APPEND PROBLEMS "${f}: directory src/${layer} has no layer in check_layers.cmake")
    continue()
  endif()
  math(EXPR CHECKED "${CHECKED} + 1")
  file(STRINGS "${SOURCE_DIR}/${f}" lines)
  set(n 0)
  foreach(l IN LISTS lines)
    math(EXPR n "${n} + 1")
    if(l MATCHES "^[ \t]*#[ \t]*include[ \t]*\"([^\"]+)\"")
      set(inc "${CMAKE_MATCH_1}")
      set(ok FALSE)
      if(NOT inc MATCHES "/") # a file next to this one
        set(ok TRUE)
      endif()
      foreach(a IN LISTS ALLOWED_${layer})
        if(inc STREQUAL a OR inc MATCHES "^${a}/")
          set(ok TRUE)
        endif()
      endforeach()
      if(NOT ok)
        list(APPEND PROBLEMS
             "${f}:${n}: src/${layer} includes \"${inc}\", from a layer it must not reach")
      endif()
    endif()
    foreach(w IN LISTS FORBIDDEN_WORDS_${layer})
      string(FIND "${l}" "${w}" _at)
      if(NOT _at EQUAL -1)
        list(APPEND PROBLEMS "${f}:${n}: src/${layer} names ${w}...: report upward instead")
      endif()
    endforeach()
  endforeach()
endforeach()

list(LENGTH PROBLEMS _np)
if(_np GREATER 0)
  foreach(p IN LISTS PROBLEMS)
    message("${p}")
  endforeach()
  message(FATAL_ERROR "${_np} layering violation(s)")
endif()
message(STATUS "layers: ${CHECKED} sources, no layer reaches above itself")

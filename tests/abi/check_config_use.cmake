# <cow/config.h> defines every COW_HAVE_* macro, as 0 or 1: `#ifdef COW_HAVE_X` and
# `defined(COW_HAVE_X)` are always true and silently compile what the build left out (a
# test once linked the emulator into the Windows build that way). Test them with `#if`.
# Inputs (-D): SOURCE_DIR
cmake_minimum_required(VERSION 3.25)
file(GLOB_RECURSE files RELATIVE "${SOURCE_DIR}"
     "${SOURCE_DIR}/src/*.[ch]" "${SOURCE_DIR}/include/*.h" "${SOURCE_DIR}/tests/*.[ch]"
     "${SOURCE_DIR}/examples/*.[ch]" "${SOURCE_DIR}/shim/*.[ch]" "${SOURCE_DIR}/bench/*.[ch]")
set(bad "")
foreach(f IN LISTS files)
  file(STRINGS "${SOURCE_DIR}/${f}" lines REGEX "#[ \t]*if(n?def[ \t]+COW_HAVE_|.*defined[ \t]*\\(?[ \t]*COW_HAVE_)")
  foreach(l IN LISTS lines)
    list(APPEND bad "${f}: ${l}")
  endforeach()
endforeach()
list(LENGTH files n)
if(n LESS 50)
  message(FATAL_ERROR "only ${n} source files under ${SOURCE_DIR}: wrong SOURCE_DIR?")
endif()
if(bad)
  list(JOIN bad "\n  " b)
  message(FATAL_ERROR "COW_HAVE_* is always defined (0 or 1); test it with #if:\n  ${b}")
endif()
message("${n} files: every COW_HAVE_* test is an #if")

# Install the current build tree and build consumers against it (tests/install, label unit),
# once per library kind installed (LIB_KINDS: SHARED_LIBRARY and/or STATIC_LIBRARY; both from
# one build by default).
#
#   1. cmake --install <build> --prefix <work>/a/prefix
#   2. pkg-config consumers: the compiler called directly with `pkg-config --cflags/--libs cow`
#      (PKG_CONFIG_PATH = prefix A), the way a Makefile user links libcow: `--libs` for the
#      shared library, `--static --libs` (Requires.private, Libs.private) with libcow.a named
#      explicitly (-l:libcow.a: the linker prefers the .so when both are in one directory).
#      The .pc file carries the absolute prefix, so these run before the move; they check
#      that `--prefix` reached it.
#   3. Move the whole prefix to <work>/moved/to/a/deeper/prefix (a different depth), so that any
#      absolute path to A left in the CMake package files points at nothing.
#   4. find_package(cow CONFIG REQUIRED COMPONENTS <COMPONENTS>) consumers (downstream/,
#      CMAKE_PREFIX_PATH = prefix B), linking cow::cow, with the `static` component for the
#      static kind; the shared one first checks that an unknown component is "not found".
# Each consumer runs its program, which calls real libcow functions and checks the results;
# on ELF platforms readelf shows that the shared consumers need libcow.so.N and the static
# ones do not (they carry the library).
#
# Inputs (-D): BUILD_DIR CONFIG WORK_DIR DOWNSTREAM_DIR SOURCE_DIR C_COMPILER GENERATOR
#              MAKE_PROGRAM C_FLAGS EXE_LINKER_FLAGS LIBDIR INCLUDEDIR LIB_KINDS VERSION
#              PKG_CONFIG READELF COMPONENTS (comma-separated: guest, hcs)
cmake_minimum_required(VERSION 3.25)

foreach(v BUILD_DIR WORK_DIR DOWNSTREAM_DIR SOURCE_DIR C_COMPILER GENERATOR LIBDIR INCLUDEDIR
          LIB_KINDS VERSION PKG_CONFIG)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "run_install_test.cmake: -D${v}= is required")
  endif()
endforeach()
if(IS_ABSOLUTE "${LIBDIR}" OR IS_ABSOLUTE "${INCLUDEDIR}")
  # An absolute CMAKE_INSTALL_LIBDIR cannot follow --prefix, let alone a move.
  message(FATAL_ERROR "this test needs relative CMAKE_INSTALL_LIBDIR/INCLUDEDIR (got ${LIBDIR}, ${INCLUDEDIR})")
endif()

# Runs a command; on failure prints it with its output and aborts the test.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  list(JOIN ARGN " " cmd)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${what} failed (${rc}):\n  ${cmd}\n${out}")
  endif()
  message("-- ${what}: ok")
  set(run_out "${out}" PARENT_SCOPE)
endfunction()

string(REPLACE "," ";" LIB_KINDS "${LIB_KINDS}")
set(A "${WORK_DIR}/a/prefix")
set(B "${WORK_DIR}/moved/to/a/deeper/prefix")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/a" "${WORK_DIR}/moved/to/a/deeper")

set(_cfg "")
if(CONFIG)
  set(_cfg --config "${CONFIG}")
endif()

# --- 1. install ---------------------------------------------------------------------------
run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${A}" ${_cfg})
foreach(f "${INCLUDEDIR}/cow.h" "${INCLUDEDIR}/cow/stdio.h" "${INCLUDEDIR}/cow/sys/op.h"
          "${INCLUDEDIR}/cow/config.h"
          "${LIBDIR}/cmake/cow/cowConfig.cmake" "${LIBDIR}/cmake/cow/cowConfigVersion.cmake"
          "${LIBDIR}/cmake/cow/cowTargets.cmake" "${LIBDIR}/pkgconfig/cow.pc")
  if(NOT EXISTS "${A}/${f}")
    message(FATAL_ERROR "not installed: ${A}/${f}")
  endif()
endforeach()
# The library itself, in each form the build produced (a shared lib must come with its
# SONAME link and the dev symlink; CMake's export names the versioned file).
foreach(kind IN LISTS LIB_KINDS)
  if(kind STREQUAL "SHARED_LIBRARY")
    if(NOT WIN32)
      file(GLOB _libs "${A}/${LIBDIR}/libcow.so" "${A}/${LIBDIR}/libcow.so.*" "${A}/${LIBDIR}/libcow*.dylib")
    else()
      file(GLOB _libs "${A}/bin/*cow*.dll")
    endif()
  else()
    file(GLOB _libs "${A}/${LIBDIR}/libcow.a" "${A}/${LIBDIR}/cow_static.lib")
  endif()
  if(NOT _libs)
    message(FATAL_ERROR "no ${kind} libcow installed under ${A}")
  endif()
endforeach()
# Nothing of the build or source tree may leak into the installed package files: a consumer
# machine has neither.
file(GLOB _pkgfiles "${A}/${LIBDIR}/cmake/cow/*.cmake")
foreach(f IN LISTS _pkgfiles)
  file(READ "${f}" txt)
  foreach(leak "${BUILD_DIR}" "${SOURCE_DIR}" "${A}")
    string(FIND "${txt}" "${leak}" pos)
    if(NOT pos EQUAL -1)
      message(FATAL_ERROR "${f} contains the absolute path ${leak}: not relocatable")
    endif()
  endforeach()
endforeach()

# Flags of the build under test (e.g. -fsanitize=...: an instrumented libcow needs an
# instrumented executable to link).
separate_arguments(_cflags UNIX_COMMAND "${C_FLAGS}")
separate_arguments(_ldflags UNIX_COMMAND "${EXE_LINKER_FLAGS}")

# Whether the executable `exe` needs libcow.so at run time must match `kind` (ELF only:
# readelf -d lists the NEEDED entries).
function(check_linkage what exe kind)
  if(NOT READELF OR WIN32 OR APPLE)
    return()
  endif()
  run("${what}: readelf -d" "${READELF}" -d "${exe}")
  string(REGEX MATCH "NEEDED[^\n]*libcow\\.so" _needs "${run_out}")
  if(kind STREQUAL "SHARED_LIBRARY" AND NOT _needs)
    message(FATAL_ERROR "${what}: ${exe} does not need libcow.so: it did not link the shared library")
  elseif(kind STREQUAL "STATIC_LIBRARY" AND _needs)
    message(FATAL_ERROR "${what}: ${exe} needs libcow.so: it did not link libcow.a")
  endif()
  message("-- ${what}: links the ${kind} as intended")
endfunction()

# --- 2. pkg-config consumers, compiler invoked directly --------------------------------------
# Only our prefix plus the system's dirs: a cow.pc installed elsewhere must not be picked up.
set(ENV{PKG_CONFIG_PATH} "${A}/${LIBDIR}/pkgconfig")
run("pkg-config --modversion cow" "${PKG_CONFIG}" --modversion cow)
string(STRIP "${run_out}" _pcver)
if(NOT _pcver STREQUAL VERSION)
  message(FATAL_ERROR "pkg-config says cow ${_pcver}, the build is ${VERSION}")
endif()
run("pkg-config --variable=prefix cow" "${PKG_CONFIG}" --variable=prefix cow)
string(STRIP "${run_out}" _pcprefix)
if(NOT _pcprefix STREQUAL A)
  message(FATAL_ERROR "cow.pc has prefix=${_pcprefix}, installed to ${A} (--prefix ignored?)")
endif()
run("pkg-config --cflags cow" "${PKG_CONFIG}" --cflags cow)
separate_arguments(_pc_cflags UNIX_COMMAND "${run_out}")
foreach(kind IN LISTS LIB_KINDS)
  set(_rpath "")
  if(kind STREQUAL "SHARED_LIBRARY")
    run("pkg-config --libs cow" "${PKG_CONFIG}" --libs cow)
    separate_arguments(_pc_libs UNIX_COMMAND "${run_out}")
    if(NOT WIN32)
      set(_rpath "-Wl,-rpath,${A}/${LIBDIR}")   # run without LD_LIBRARY_PATH
    endif()
    set(_exe "${WORK_DIR}/pc-consumer-shared")
  else()
    # The private deps (jansson, pthread, util) must be on the link line.
    run("pkg-config --static --libs cow" "${PKG_CONFIG}" --static --libs cow)
    separate_arguments(_pc_libs UNIX_COMMAND "${run_out}")
    if(NOT WIN32)
      list(TRANSFORM _pc_libs REPLACE "^-lcow$" "-l:libcow.a")
    endif()
    set(_exe "${WORK_DIR}/pc-consumer-static")
  endif()
  run("pkg-config consumer (${kind}): build"
    "${C_COMPILER}" ${_cflags} -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -pedantic -Werror
    "-DCOW_EXPECTED_VERSION=\"${VERSION}\"" ${_pc_cflags}
    "${DOWNSTREAM_DIR}/main.c" -o "${_exe}" ${_pc_libs} ${_ldflags} ${_rpath})
  run("pkg-config consumer (${kind}): run" "${_exe}")
  message("${run_out}")
  check_linkage("pkg-config consumer (${kind})" "${_exe}" ${kind})
endforeach()
unset(ENV{PKG_CONFIG_PATH})

# --- 3. relocate -------------------------------------------------------------------------
file(RENAME "${A}" "${B}")
if(EXISTS "${A}")
  message(FATAL_ERROR "${A} still exists after the move")
endif()

# --- 4. find_package consumers against the moved prefix -------------------------------------
set(_mk "")
if(MAKE_PROGRAM)
  set(_mk "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
foreach(kind IN LISTS LIB_KINDS)
  if(kind STREQUAL "STATIC_LIBRARY")
    set(_bd "${WORK_DIR}/cmake-consumer-static")
    set(_static ON)
  else()
    set(_bd "${WORK_DIR}/cmake-consumer-shared")
    set(_static OFF)
  endif()
  run("find_package consumer (${kind}): configure"
    "${CMAKE_COMMAND}" -S "${DOWNSTREAM_DIR}" -B "${_bd}" -G "${GENERATOR}" ${_mk}
    "-DCMAKE_C_COMPILER=${C_COMPILER}" "-DCMAKE_C_FLAGS=${C_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}" "-DCMAKE_BUILD_TYPE=${CONFIG}"
    "-DCMAKE_PREFIX_PATH=${B}" "-DCOW_EXPECTED_PREFIX=${B}" "-DCOW_EXPECTED_VERSION=${VERSION}"
    "-DCOW_DOWNSTREAM_STATIC=${_static}" "-DCOW_DOWNSTREAM_COMPONENTS=${COMPONENTS}"
    # Only B may provide cow: no user/system package registry.
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
  run("find_package consumer (${kind}): build" "${CMAKE_COMMAND}" --build "${_bd}" ${_cfg})
  file(READ "${_bd}/exe-path-${CONFIG}.txt" _exe)
  run("find_package consumer (${kind}): run" "${_exe}")
  message("${run_out}")
  check_linkage("find_package consumer (${kind})" "${_exe}" ${kind})
endforeach()
message("install test passed: installed ${LIB_KINDS} to ${A}, moved to ${B}, every consumer ran")

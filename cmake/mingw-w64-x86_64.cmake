# Cross-compile for 64-bit Windows with mingw-w64 (Debian: gcc-mingw-w64-x86-64-win32), and
# run the test executables under wine64 (docs/building.md §2.3). Used by .ci/windows.sh:
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/mingw-w64-x86_64.cmake \
#         -DMINGW_DEPS_PREFIX=<prefix with the cross-built libuv, jansson, cmocka>
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(_triple x86_64-w64-mingw32)
set(CMAKE_C_COMPILER   ${_triple}-gcc)
set(CMAKE_RC_COMPILER  ${_triple}-windres)

# The prefix holding the cross-built dependencies. The toolchain file is read again inside
# try_compile(), where -D cache variables are not visible: fall back to the environment.
if(NOT MINGW_DEPS_PREFIX)
  if(DEFINED ENV{MINGW_DEPS_PREFIX})
    set(MINGW_DEPS_PREFIX "$ENV{MINGW_DEPS_PREFIX}")
  else()
    get_filename_component(MINGW_DEPS_PREFIX "${CMAKE_CURRENT_LIST_DIR}/../mingw-prefix" ABSOLUTE)
  endif()
endif()
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES MINGW_DEPS_PREFIX)

set(CMAKE_FIND_ROOT_PATH /usr/${_triple} "${MINGW_DEPS_PREFIX}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config must see only the Windows prefix, never the host's .pc files.
set(ENV{PKG_CONFIG_LIBDIR} "${MINGW_DEPS_PREFIX}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_SYSROOT_DIR} "")

# Executables and DLLs that need nothing but system DLLs (and libcow.dll): no
# libgcc_s_seh-1.dll, and for executables no libwinpthread-1.dll either (the tests use
# pthreads; -static picks mingw's libwinpthread.a over its import library).
set(CMAKE_EXE_LINKER_FLAGS_INIT    "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static-libgcc")

# ctest runs add_test(NAME x COMMAND <target>) as "<wine> x.exe". wine64 without the `wine`
# package has no /usr/bin/wine (docs/building.md G6). The result is cached: configure after
# installing wine (G4).
find_program(WINE_EXECUTABLE NAMES wine wine64 PATHS /usr/lib/wine NO_CMAKE_FIND_ROOT_PATH)
if(WINE_EXECUTABLE)
  set(CMAKE_CROSSCOMPILING_EMULATOR "${WINE_EXECUTABLE}")
endif()

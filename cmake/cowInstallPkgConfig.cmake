# Runs inside `cmake --install` (see the install(CODE) in the top CMakeLists.txt, which sets
# the COW_PC_* inputs). It writes cow.pc with the prefix of THIS install: CMAKE_INSTALL_PREFIX
# here is the one `--prefix` chose, not the one the build tree was configured with.
set(COW_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
foreach(_cow_d LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${COW_PC_${_cow_d}_REL}")
    set(COW_PC_${_cow_d} "${COW_PC_${_cow_d}_REL}")
  else()
    # Relative dirs hang off ${prefix}, so pkg-config --define-prefix can move them too.
    set(COW_PC_${_cow_d} "\${prefix}/${COW_PC_${_cow_d}_REL}")
  endif()
endforeach()
if(IS_ABSOLUTE "${COW_PC_LIBDIR_REL}")
  set(_cow_pc "${COW_PC_LIBDIR_REL}/pkgconfig/cow.pc")
else()
  set(_cow_pc "${CMAKE_INSTALL_PREFIX}/${COW_PC_LIBDIR_REL}/pkgconfig/cow.pc")
endif()
message(STATUS "Installing: $ENV{DESTDIR}${_cow_pc}")
configure_file("${COW_PC_TEMPLATE}" "$ENV{DESTDIR}${_cow_pc}" @ONLY)
# Keep install_manifest.txt complete (uninstall, packagers); like CMake's own entries it
# lists the path without DESTDIR.
list(APPEND CMAKE_INSTALL_MANIFEST_FILES "${_cow_pc}")

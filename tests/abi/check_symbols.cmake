# libcow.so exports exactly what its version script (generated from the installed headers
# by cmake/cowVersionScript.cmake) lists, each function under its node: the consumer API
# under COW_<major>.<minor> (or the frozen node of the release that introduced it), the
# backend tier under COW_SYS_<major>.<minor>; nothing else (no cow__ internal, no symbol of
# a dependency). Fails naming every symbol that is missing, extra or wrongly versioned.
#
# Inputs (-D): LIB MAP NM VERSION
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND "${NM}" -D --defined-only "${LIB}" RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm -D ${LIB} failed: ${err}")
endif()

# The map: "NODE {" starts a node; "name;" lines inside it are its symbols.
file(STRINGS "${MAP}" lines)
set(node "")
set(expected "")
foreach(l IN LISTS lines)
  if(l MATCHES "^(COW_[A-Z_]*[0-9.]+) \\{")
    set(node "${CMAKE_MATCH_1}")
  elseif(l MATCHES "^ +(cow_[a-zA-Z0-9_]+);$")
    list(APPEND expected "${CMAKE_MATCH_1}@@${node}")
  endif()
endforeach()
list(LENGTH expected n_expected)
if(n_expected LESS 50)
  message(FATAL_ERROR "${MAP} lists only ${n_expected} functions: the generator found no headers?")
endif()
if(NOT "cow_version@@COW_${VERSION}" IN_LIST expected OR NOT "cow_op_complete@@COW_SYS_${VERSION}" IN_LIST expected)
  message(FATAL_ERROR "${MAP} does not put cow_version under COW_${VERSION} and cow_op_complete under COW_SYS_${VERSION}")
endif()

# The library: "<addr> <type> name@@NODE" (or "name@NODE" for an old, non-default version;
# the node definitions themselves show as "A COW_x.y").
string(REPLACE "\n" ";" out "${out}")
set(exported "")
foreach(l IN LISTS out)
  if(l MATCHES "^[0-9a-fA-F]* +A +COW_")
    continue()   # the version node itself
  endif()
  if(l MATCHES "^[0-9a-fA-F]* +[A-Za-z] +([^ ]+)$")
    list(APPEND exported "${CMAKE_MATCH_1}")
  endif()
endforeach()

set(missing ${expected})
list(REMOVE_ITEM missing ${exported})
set(extra ${exported})
list(REMOVE_ITEM extra ${expected})
if(missing OR extra)
  list(JOIN missing "\n  " m)
  list(JOIN extra "\n  " x)
  message(FATAL_ERROR "libcow.so does not export what its headers declare.\n"
    "Declared (version script) but not exported as such:\n  ${m}\n"
    "Exported but not declared so:\n  ${x}")
endif()
list(LENGTH exported n)
message("libcow.so exports exactly the ${n} declared functions, each under its version node")

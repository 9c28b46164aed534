cow_sources(frame.c)
# Guest connection (LCOW GCS): transport registry | byte wire | bridge RPC | protocol JSON |
# connection, container, process.
cow_sources(transport.c wire.c bridge.c protocol.c connection.c container.c process.c)
if(UNIX)
  cow_sources(../unix/stream-listen.c ../unix/transport-unix.c)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    cow_sources(../unix/transport-vsock.c)
  endif()
endif()
if(WIN32)
  cow_sources(../win/stream-listen.c ../win/transport-hvsock.c)
endif()

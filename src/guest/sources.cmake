cow_sources(frame.c)
# Guest connection (LCOW GCS): transport registry, built-in transports | byte wire | bridge
# RPC | protocol JSON (and the writer of request bodies) | connection, container (and its
# documents), process.
cow_sources(transport.c transport-builtin.c wire.c bridge.c protocol.c json-writer.c connection.c
            container.c container-doc.c process.c)
# The platform layer under the built-in transports: one-connection stream listeners that
# report through callbacks and know nothing of src/guest.
if(UNIX)
  cow_sources(../unix/stream-listen.c ../unix/listen-unix.c)
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    cow_sources(../unix/listen-vsock.c)
  endif()
endif()
if(WIN32)
  cow_sources(../win/stream-listen.c ../win/listen-hvsock.c)
endif()

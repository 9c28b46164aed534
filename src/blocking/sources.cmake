cow_sources(blocking.c handles.c process.c container.c guest.c constructors.c relay.c)

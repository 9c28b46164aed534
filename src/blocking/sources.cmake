cow_sources(blocking.c relay.c constructors.c)

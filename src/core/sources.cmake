cow_sources(alloc.c log.c error.c)

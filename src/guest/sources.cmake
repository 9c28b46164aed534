cow_sources(frame.c)

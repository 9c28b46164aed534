cow_sources(alloc.c log.c error.c version.c uv-compat.c loop.c deadline.c handle.c op.c process.c stdio.c
            host.c container.c stop.c resize.c json.c stats.c)

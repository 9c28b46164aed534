/* SHA-256 (FIPS 180-4), for the socket name containerd's shims use:
 * /run/containerd/s/<hex sha256 of "<containerd address>/<namespace>/<id>">. */
#ifndef COW_SHIM_SHA256_H
#define COW_SHIM_SHA256_H

#include <stddef.h>
#include <stdint.h>

/* The digest of `len` bytes at `data` as 64 lowercase hex digits and a NUL in `hex`. */
void sha256_hex(const void *data, size_t len, char hex[65]);

#endif /* COW_SHIM_SHA256_H */

/* libcow: the umbrella header for consumers. */
#ifndef COW_H
#define COW_H

#include "cow/common.h"
#include "cow/version.h"
#include "cow/error.h"
#include "cow/alloc.h"
#include "cow/log.h"
#include "cow/process.h"
#include "cow/host.h"
#include "cow/container.h"
#include "cow/stdio.h"
#include "cow/blocking.h"
#include "cow/guest.h"
#include "cow/hcs.h"

#endif /* COW_H */

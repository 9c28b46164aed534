/** @file cow.h
 * @brief The umbrella header for consumers: everything except the stdio streams.
 *
 * It needs neither libuv's nor jansson's headers, so it compiles under strict ISO C
 * (-std=c11, no feature macros). The stdio streams are libuv streams: a consumer that
 * reads or writes them also includes <cow/stdio.h>, which brings <uv.h> (and, under strict
 * C11 on POSIX, needs _POSIX_C_SOURCE=200809L, as <uv.h> itself does).
 */
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
#include "cow/blocking.h"
#include "cow/guest.h"
#include "cow/hcs.h"

#endif /* COW_H */

/* The shim's log: logfmt lines (time, level, msg) on stderr, which for the long-lived
 * shim is the bundle's `log` fifo that containerd copies into its own log. Writes never
 * block: a line that does not fit (containerd not reading, or gone) is dropped. libcow's
 * own lines come through here too. */
#ifndef COW_SHIM_LOG_H
#define COW_SHIM_LOG_H

enum shim_log_level { SHIM_LOG_ERROR, SHIM_LOG_WARN, SHIM_LOG_INFO, SHIM_LOG_DEBUG };

/* `debug`: containerd's -debug flag (debug lines, libcow's at debug level). Once, early. */
void shim_log_init(int debug);

void shim_log(enum shim_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* COW_SHIM_LOG_H */

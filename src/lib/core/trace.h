/* Internal: strace-style reporting of socket calls to a caller's sockit_trace hook. */
#ifndef SOCKIT_CORE_TRACE_H
#define SOCKIT_CORE_TRACE_H

#include "sockit/trace.h"

/* Format a line and hand it to TRACE's hook; a no-op when TRACE is NULL. */
void sockit__trace(const struct sockit_trace *trace, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Report "CALL = RESULT": RESULT >= 0 prints as a number, < 0 as "-1 ENAME (text)". */
void sockit__trace_result(const struct sockit_trace *trace, const char *call, long result);

/* The same, with CALL formatted from FMT. */
void sockit__trace_call(const struct sockit_trace *trace, long result, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A system call that returned RET (-1: the reason is in errno, which is left as it was).
 * Out of line and cold, so that a call site costs only its test of the hook. */
void sockit__trace_syscall(const struct sockit_trace *trace, long ret, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), cold, noinline));

/* setsockopt(FD, LEVEL, NAME) with the int VALUE, reported as "setsockopt(FD, LABEL, VALUE)".
 * Returns 0 or -errno. (In socket.c, beside the other traced calls.) */
int sockit__setsockopt_int(int fd, int level, int name, const char *label, int value,
                           const struct sockit_trace *trace);

/* Names for trace lines: "AF_INET6", "SOCK_STREAM". */
const char *sockit__family_name(int family);
const char *sockit__socktype_name(int type);

#endif

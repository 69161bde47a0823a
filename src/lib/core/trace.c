/* strace-style trace lines for socket calls; the caller's hook decides where they go. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "sockit/error.h"
#include "trace.h"

void sockit__trace(const struct sockit_trace *trace, const char *fmt, ...)
{
    char line[512];
    va_list ap;

    if (!trace || !trace->line)
        return;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    trace->line(trace->ctx, line);
}

void sockit__trace_result(const struct sockit_trace *trace, const char *call, long result)
{
    if (!trace)
        return;
    if (result >= 0) {
        sockit__trace(trace, "%s = %ld", call, result);
        return;
    }
    const char *name = strerrorname_np((int)-result);
    sockit__trace(trace, "%s = -1 %s (%s)", call, name ? name : "E?", sockit_strerror((int)result));
}

const char *sockit__family_name(int family)
{
    switch (family) {
    case AF_INET: return "AF_INET";
    case AF_INET6: return "AF_INET6";
    case AF_UNIX: return "AF_UNIX";
    }
    return "AF_?";
}

const char *sockit__socktype_name(int type)
{
    switch (type) {
    case SOCK_STREAM: return "SOCK_STREAM";
    case SOCK_DGRAM: return "SOCK_DGRAM";
    case SOCK_RAW: return "SOCK_RAW";
    }
    return "SOCK_?";
}

/* Format the call from FMT and AP and report it with RESULT. */
static void report(const struct sockit_trace *trace, long result, const char *fmt, va_list ap)
{
    char call[256];

    vsnprintf(call, sizeof(call), fmt, ap);
    sockit__trace_result(trace, call, result);
}

void sockit__trace_call(const struct sockit_trace *trace, long result, const char *fmt, ...)
{
    va_list ap;

    if (!trace)
        return;
    va_start(ap, fmt);
    report(trace, result, fmt, ap);
    va_end(ap);
}

void sockit__trace_syscall(const struct sockit_trace *trace, long ret, const char *fmt, ...)
{
    int saved = errno;
    va_list ap;

    va_start(ap, fmt);
    report(trace, ret < 0 ? -saved : ret, fmt, ap);
    va_end(ap);
    errno = saved;
}

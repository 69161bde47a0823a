/* sockit/trace.h — the trace hook: where the library reports each system call it makes.
 *
 * A libsockit function that takes a `const struct sockit_trace *` reports every socket call
 * it makes as one strace-style line ("bind(3, 0.0.0.0:8080) = 0", "send(5, 64) = 64",
 * "connect(3, 127.0.0.1:9) = -1 ECONNREFUSED (Connection refused)") by calling LINE(CTX, TEXT)
 * on the calling thread, before it returns. NULL means no tracing, and then no line is even
 * formatted. The hook is borrowed for the call (nothing keeps a pointer to it); TEXT has no
 * newline and is valid only during the call; LINE may print it, keep a copy, or drop it.
 *
 * This header is the hook alone, so that code which only passes a hook along (a buffer, a
 * protocol engine) need not include the socket API. */
#ifndef SOCKIT_TRACE_H
#define SOCKIT_TRACE_H

#ifdef __cplusplus
extern "C" {
#endif

struct sockit_trace {
    void (*line)(void *ctx, const char *text);
    void *ctx; /* the caller's, handed back to LINE */
};

#ifdef __cplusplus
}
#endif

#endif

/* Header layering, checked when this file compiles: code that needs buffers (a protocol
 * engine) gets the trace hook with them but not the socket API. */
#include "sockit/buf.h"

#ifdef SOCKIT_SOCKET_H
#error "sockit/buf.h must not include sockit/socket.h"
#endif
#ifndef SOCKIT_TRACE_H
#error "sockit/buf.h declares functions that take a trace hook: it includes sockit/trace.h"
#endif

#include <criterion/criterion.h>

Test(headers, buf_h_brings_the_trace_hook_but_not_the_socket_api)
{
    struct sockit_trace none = { 0 };
    struct sockit_buf b;

    sockit_buf_init(&b, 16);
    cr_expect_eq(sockit_buf_len(&b), 0);
    cr_expect_null(none.line, "a zeroed hook traces nothing");
}

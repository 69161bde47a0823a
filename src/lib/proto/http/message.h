/* What request and response heads share (RFC 9112 sections 2 and 5): finding where a head
 * ends, its field lines, and the comma-separated lists in field values. Internal to the
 * library: the request parser, the response parser and the WebSocket handshake use it. */
#ifndef SOCKIT_HTTP_MESSAGE_H
#define SOCKIT_HTTP_MESSAGE_H

#include <stddef.h>

#include "chars.h"
#include "sockit/http.h"

/* Where the head in D[0, N) ends (one past its final LF) in *END: 1; 0 if it has not ended;
 * or -SOCKIT_EHTTP_* (a bare LF, a first line over SOCKIT_HTTP_MAX_LINE, a header section
 * over SOCKIT_HTTP_MAX_FIELDS_BYTES). LFs before FROM were checked by an earlier call. */
int sockit__http_head_end(const char *d, size_t n, size_t from, size_t *end);

/* The HTTP-version "HTTP/1.1" in the 8 bytes at P: its minor version in *MINOR (0 or 1: 1.2
 * and later read as 1.1); -SOCKIT_EHTTP_VERSION if malformed, _UNSUPPORTED if not 1.x. */
int sockit__http_version(const char *p, int *minor);

/* The field lines from P to the head's end END (its final CRLF included) into FIELDS (room
 * for SOCKIT_HTTP_MAX_FIELDS), their count in *NFIELDS. 0 or -SOCKIT_EHTTP_*. */
int sockit__http_fields(const char *p, const char *end, struct sockit_http_field *fields,
                        size_t *nfields);

/* The value of the first of FIELDS[0, N) named NAME (case-insensitive), or NULL. */
const struct sockit_http_str *sockit__http_field_in(const struct sockit_http_field *fields,
                                                    size_t n, const char *name);

/* How many of FIELDS[0, N) are named NAME. */
size_t sockit__http_field_count(const struct sockit_http_field *fields, size_t n, const char *name);

/* Call FN for each comma-separated element of every one of FIELDS[0, N) named NAME, without
 * the whitespace around it (empty ones skipped), until FN returns non-zero: that value, or 0. */
int sockit__http_each_element(const struct sockit_http_field *fields, size_t n, const char *name,
                              int (*fn)(struct sockit_http_str el, void *ctx), void *ctx);

/* Whether FIELDS[0, N) named NAME list the element TOKEN (case-insensitive). */
bool sockit__http_lists(const struct sockit_http_field *fields, size_t n, const char *name,
                        const char *token);

#endif

/* sockit/http.h — HTTP/1.1 (RFC 9110, RFC 9112) as parts of a sans-I/O engine: a request-head
 * parser, a chunked-body decoder, a message-head writer and HTTP dates. No sockets, no clock,
 * no allocation: everything works on the caller's bytes, so it is unit-tested and fuzzed on
 * bytes alone (fuzz/fuzz_http.c), and the file server (and later the WebSocket upgrade) joins
 * it to a stream through the engine contract (sockit/engine.h).
 *
 * The parser is strict where leniency lets two parsers read one byte stream differently
 * (request smuggling): CRLF line ends only, no obs-fold, no whitespace before a colon, one
 * well-formed Content-Length, never Content-Length with Transfer-Encoding, chunked last,
 * Host present once in HTTP/1.1 and equal to an absolute-form target's authority. Each
 * refusal is a -SOCKIT_EHTTP_* code (sockit/error.h) with the status to answer it with. */
#ifndef SOCKIT_HTTP_H
#define SOCKIT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKIT_HTTP_MAX_LINE         (8 * 1024)  /* request line, CRLF included: longer is 414 */
#define SOCKIT_HTTP_MAX_FIELDS_BYTES (64 * 1024) /* the header section: larger is 431 */
#define SOCKIT_HTTP_MAX_FIELDS       100         /* header fields: more is 431 */

/* Bytes borrowed from the caller's buffer: not NUL-terminated, valid while the buffer is. */
struct sockit_http_str {
    const char *p;
    size_t len;
};

enum sockit_http_method {
    SOCKIT_HTTP_OTHER = 0, /* a well-formed method this parser does not name (501) */
    SOCKIT_HTTP_GET,
    SOCKIT_HTTP_HEAD,
    SOCKIT_HTTP_POST,
    SOCKIT_HTTP_PUT,
    SOCKIT_HTTP_DELETE,
    SOCKIT_HTTP_CONNECT,
    SOCKIT_HTTP_OPTIONS,
    SOCKIT_HTTP_TRACE,
    SOCKIT_HTTP_PATCH,
};

/* How the request's body is framed (RFC 9112 section 6). */
enum sockit_http_body {
    SOCKIT_HTTP_BODY_NONE = 0,
    SOCKIT_HTTP_BODY_LENGTH,  /* content_length bytes follow the head */
    SOCKIT_HTTP_BODY_CHUNKED, /* chunked: decode with sockit_http_chunked_decode */
};

struct sockit_http_field {
    struct sockit_http_str name;  /* as sent (compare case-insensitively) */
    struct sockit_http_str value; /* without the whitespace around it */
};

/* A parsed request head. Every sockit_http_str points into the parsed buffer (but one
 * path, below). */
struct sockit_http_request {
    enum sockit_http_method method;
    struct sockit_http_str method_name; /* as sent */
    struct sockit_http_str target;      /* as sent */
    struct sockit_http_str path;        /* still percent-encoded; "*" for OPTIONS *; "/"
                                           (static) for an absolute-form without a path */
    struct sockit_http_str query;       /* after '?' (without it); len 0 if none */
    struct sockit_http_str host;        /* the Host field, or an absolute-form's authority */
    int minor;                          /* HTTP/1.MINOR: 0 or 1 (1.2 and later read as 1.1) */
    enum sockit_http_body body;
    uint64_t content_length; /* SOCKIT_HTTP_BODY_LENGTH */
    bool keep_alive;         /* the client keeps the connection open after the response */
    bool expect_continue;    /* Expect: 100-continue */
    size_t nfields;
    struct sockit_http_field fields[SOCKIT_HTTP_MAX_FIELDS];
};

/* Parse a request head at the start of DATA[0, LEN). Returns the bytes the head takes (the
 * final empty line included, and any empty lines before the request line, which RFC 9112
 * asks a server to skip) and fills *REQ; 0 if the head is not complete yet (call again with
 * more bytes; REQ is untouched); or -SOCKIT_EHTTP_* (sockit_http_error_status gives the
 * status to answer with). SEEN is how many bytes of DATA an earlier call with the same start
 * already looked at and answered 0 for (the engine contract's seen, picohttpparser's
 * last_len), so a head that arrives a byte at a time is scanned once; 0 is always correct.
 * An incomplete head is refused as soon as it breaks a rule or a limit. */
long sockit_http_parse_request(const char *data, size_t len, size_t seen,
                               struct sockit_http_request *req);

/* The first field named NAME (case-insensitive) in REQ, or NULL. */
const struct sockit_http_str *sockit_http_field(const struct sockit_http_request *req,
                                                const char *name);

/* Whether S equals the NUL-terminated LIT, ignoring ASCII case. */
bool sockit_http_str_eq(struct sockit_http_str s, const char *lit);

/* The status to answer a -SOCKIT_EHTTP_* code with (400, 414, 431, 417, 501, 505); 400 for
 * any other code. */
int sockit_http_error_status(int code);

/* The reason phrase of STATUS ("Not Found"), or "" for one this module does not name. */
const char *sockit_http_reason(int status);

/* Turn a request's PATH (sockit_http_request.path) into a file name relative to the served
 * root, in OUT (CAP bytes, NUL-terminated): percent-decoded once, empty and "." segments
 * dropped, ".." resolved but never above the root; "" is the root itself. Refused with
 * -SOCKIT_EHTTP_PATH: a bad escape, %00, an encoded '/', a control byte, ".." above the root;
 * with -SOCKIT_EHTTP_HIDDEN: a segment starting with '.' unless HIDDEN; -ENAMETOOLONG if OUT
 * is too small. Returns the length of OUT. The file system is not consulted (symlinks are
 * the opener's business: openat2 RESOLVE_BENEATH). */
long sockit_http_path_normalize(struct sockit_http_str path, char *out, size_t cap, bool hidden);

/* One byte range of a representation: [first, last], both included. */
struct sockit_http_range {
    uint64_t first, last;
};

#define SOCKIT_HTTP_MAX_RANGES 16

/* Read a Range field's VALUE against a representation of SIZE bytes (RFC 9110 section 14.1).
 * Returns the number of satisfiable ranges put in OUT (at most SOCKIT_HTTP_MAX_RANGES, in
 * the order asked, each clipped to SIZE); 0 to ignore the field and send the whole (another
 * unit, bad syntax, more ranges than the limit or ranges that overlap: one request may not
 * make the server send a byte twice); or -1 when none is satisfiable (416). */
int sockit_http_ranges_parse(struct sockit_http_str value, uint64_t size,
                             struct sockit_http_range out[SOCKIT_HTTP_MAX_RANGES]);

/* ---- chunked bodies (RFC 9112 section 7.1) --------------------------------------------- */

/* Decoder state: zero it (or sockit_http_chunked_init) before the first byte of a body. */
struct sockit_http_chunked {
    int state;
    uint64_t left;   /* payload bytes left in the current chunk */
    unsigned digits; /* hex digits of the current chunk size */
    size_t line;     /* bytes of the current size or trailer line; of the trailer section */
    size_t trailers;
    bool done; /* the last chunk and the trailer section are consumed */
};

void sockit_http_chunked_init(struct sockit_http_chunked *c);

/* Consume chunked framing and payload from DATA[0, LEN). Returns the bytes consumed (all of
 * LEN unless a payload run or the end of the body comes first), or -SOCKIT_EHTTP_CHUNK for
 * malformed framing (a size that is not hex or over 2^60, a chunk extension or trailer line
 * over 4 KiB, trailers over 8 KiB in all, bare CR or LF). *PAYLOAD is set to the payload
 * bytes among those consumed (len 0 if none: at most one run per call). Once C->done, the
 * body is over and nothing more is consumed: what follows is the next message. */
long sockit_http_chunked_decode(struct sockit_http_chunked *c, const char *data, size_t len,
                                struct sockit_http_str *payload);

/* ---- writing heads ---------------------------------------------------------------------- */

/* A message head being written into the caller's buffer. Every step checks what it writes
 * (a field name must be a token, a value may hold no CR, LF or NUL) so that what the writer
 * emits, the parser accepts; a step that does not fit or is refused marks the head failed,
 * and sockit_http_head_end says so. */
struct sockit_http_head {
    char *buf;
    size_t cap, len;
    int err; /* 0, -ENOSPC or -EINVAL: the first failure */
};

void sockit_http_head_init(struct sockit_http_head *h, char *buf, size_t cap);

/* "HTTP/1.MINOR STATUS REASON\r\n". */
void sockit_http_head_status(struct sockit_http_head *h, int minor, int status);

/* "METHOD TARGET HTTP/1.MINOR\r\n": METHOD a token, TARGET visible ASCII. */
void sockit_http_head_request(struct sockit_http_head *h, const char *method,
                              struct sockit_http_str target, int minor);

/* "NAME: VALUE\r\n". */
void sockit_http_head_field(struct sockit_http_head *h, const char *name,
                            struct sockit_http_str value);

/* "NAME: N\r\n" for a decimal N. */
void sockit_http_head_field_u64(struct sockit_http_head *h, const char *name, uint64_t n);

/* The closing "\r\n". Returns the head's length, or the first failure (-ENOSPC, -EINVAL). */
long sockit_http_head_end(struct sockit_http_head *h);

/* ---- dates (RFC 9110 section 5.6.7) ----------------------------------------------------- */

#define SOCKIT_HTTP_DATE_LEN 29 /* "Sun, 06 Nov 1994 08:49:37 GMT" */

/* Write T as an IMF-fixdate into OUT (SOCKIT_HTTP_DATE_LEN bytes and a NUL). */
void sockit_http_date_format(time_t t, char out[SOCKIT_HTTP_DATE_LEN + 1]);

/* Parse an HTTP date: IMF-fixdate, or the obsolete RFC 850 and asctime forms a recipient must
 * also accept. Returns 0 and *T, or -EINVAL. */
int sockit_http_date_parse(struct sockit_http_str s, time_t *t);

#ifdef __cplusplus
}
#endif

#endif

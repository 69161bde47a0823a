/* sockit/error.h — the one error convention of libsockit.
 *
 * Every function returns >= 0 on success and a negative code on failure: -errno for a
 * failed system call, or -SOCKIT_E* (below) for errors that have no errno. The library
 * never prints and never exits; callers turn a code into text with sockit_strerror(). */
#ifndef SOCKIT_ERROR_H
#define SOCKIT_ERROR_H

#ifdef __cplusplus
extern "C" {
#endif

/* sockit's own codes start far above any errno value, so -code never collides. Each module
 * owns a range of SOCKIT_E_RANGE codes from its base, reserved before its first code exists,
 * so that no code ever changes value when another module adds one. A module's codes start at
 * its base and end with SOCKIT_E_<MODULE>_END (one past its last), as core's do below; each
 * range with codes has its texts in error.c, which checks that no range overflows. */
#define SOCKIT_E_RANGE 100

enum sockit_errcode {
    SOCKIT_E_FIRST = 10000,

    /* core (src/lib/core: endpoints, sockets, I/O): 10000-10099 */
    SOCKIT_E_CORE = SOCKIT_E_FIRST,
    SOCKIT_EEMPTY = SOCKIT_E_CORE, /* endpoint text is empty */
    SOCKIT_ETOOLONG,               /* endpoint text longer than SOCKIT_ENDPOINT_MAX */
    SOCKIT_ECTRL,                  /* control character or space inside an endpoint */
    SOCKIT_ESCHEME,                /* unknown scheme before "://" or ":" */
    SOCKIT_ENOPORT,                /* HOST without ":PORT" */
    SOCKIT_EPORT,                  /* port not a decimal number 0..65535 */
    SOCKIT_EHOST,                  /* host is neither an IP literal nor a valid host name */
    SOCKIT_EIPV4,                  /* dotted-decimal that is not a valid IPv4 address */
    SOCKIT_EIPV6,                  /* bracketed text that is not a valid IPv6 address */
    SOCKIT_EBRACKET,               /* unbalanced or misplaced '[' / ']' */
    SOCKIT_EV6BRACKETS,            /* IPv6 literal written without brackets */
    SOCKIT_EPATHEMPTY,             /* unix endpoint with an empty path */
    SOCKIT_EPATHLONG,              /* unix path longer than SOCKIT_UNIX_PATH_MAX bytes */
    SOCKIT_ENONAME,                /* host name does not resolve */
    SOCKIT_ENOADDR,                /* host resolves, but to no usable address */
    SOCKIT_ERESOLVE,               /* name resolution failed for another reason */
    SOCKIT_EAGAIN_RESOLVE,         /* temporary failure in name resolution */
    SOCKIT_ETRUNC,                 /* datagram larger than the receive buffer: truncated */
    SOCKIT_EDGRAMSIZE,             /* datagram larger than the family's maximum payload */
    SOCKIT_ETYPE,                  /* operation does not fit the endpoint's socket type */
    SOCKIT_EZONE,                  /* IPv6 zone names no network interface */
    SOCKIT_ENOTSOCK_PATH,          /* unix path exists and is not a socket */
    SOCKIT_EIFNAME,                /* packet: interface name empty, too long or with / : */
    SOCKIT_E_CORE_END,

    /* server (src/lib/server: sockit/server.h): 10200-10299 */
    SOCKIT_E_SERVER = SOCKIT_E_FIRST + 2 * SOCKIT_E_RANGE,
    SOCKIT_EFULL = SOCKIT_E_SERVER, /* client turned away: the server is at max_clients */
    SOCKIT_EIDLE,                   /* client closed: it sent nothing for idle_ms */
    SOCKIT_E_SERVER_END,

    /* http (src/lib/proto/http: sockit/http.h): 10300-10399. The status each is answered
     * with is sockit_http_error_status's. */
    SOCKIT_E_HTTP = SOCKIT_E_FIRST + 3 * SOCKIT_E_RANGE,
    SOCKIT_EHTTP_LINE = SOCKIT_E_HTTP, /* request line longer than 8 KiB (414) */
    SOCKIT_EHTTP_HEAD,                 /* header section over 64 KiB (431) */
    SOCKIT_EHTTP_FIELDS,               /* more than 100 header fields (431) */
    SOCKIT_EHTTP_BARE_LF,              /* a line ends in LF without CR (400) */
    SOCKIT_EHTTP_BARE_CR,              /* CR not followed by LF (400) */
    SOCKIT_EHTTP_METHOD,               /* method is not a token (400) */
    SOCKIT_EHTTP_TARGET,               /* malformed request target (400) */
    SOCKIT_EHTTP_VERSION,              /* malformed HTTP version (400) */
    SOCKIT_EHTTP_VERSION_UNSUPPORTED,  /* HTTP major version other than 1 (505) */
    SOCKIT_EHTTP_FIELD_NAME,           /* header name is empty or not a token (400) */
    SOCKIT_EHTTP_SPACE_COLON,          /* whitespace between a header name and ':' (400) */
    SOCKIT_EHTTP_OBS_FOLD,             /* a header line starts with whitespace (400) */
    SOCKIT_EHTTP_FIELD_VALUE,          /* control character in a header value (400) */
    SOCKIT_EHTTP_CONTENT_LENGTH,       /* Content-Length malformed, repeated or too large (400) */
    SOCKIT_EHTTP_CL_TE,                /* both Content-Length and Transfer-Encoding (400) */
    SOCKIT_EHTTP_TE,                   /* Transfer-Encoding not ending in chunked, or 1.0 (400) */
    SOCKIT_EHTTP_TE_UNKNOWN,           /* a transfer coding other than chunked (501) */
    SOCKIT_EHTTP_HOST,                 /* Host missing (1.1), repeated or malformed (400) */
    SOCKIT_EHTTP_HOST_MISMATCH,        /* absolute-form target naming another host (400) */
    SOCKIT_EHTTP_EXPECT,               /* an expectation other than 100-continue (417) */
    SOCKIT_EHTTP_CHUNK,                /* malformed chunked body framing (400) */
    SOCKIT_EHTTP_PATH,                 /* path with %00, %2F, a control byte or .. above the root */
    SOCKIT_EHTTP_HIDDEN,               /* path through a hidden (dot) name, not served (404) */
    SOCKIT_EHTTP_STATUS,               /* malformed status line in a response */
    SOCKIT_E_HTTP_END,

    /* ws (src/lib/proto/ws: sockit/ws.h): 10400-10499. A handshake code is answered with
     * sockit_ws_error_status's HTTP status, a frame code with sockit_ws_error_close_code's. */
    SOCKIT_E_WS = SOCKIT_E_FIRST + 4 * SOCKIT_E_RANGE,
    SOCKIT_EWS_UPGRADE = SOCKIT_E_WS, /* not a WebSocket upgrade: method, version, fields (400) */
    SOCKIT_EWS_VERSION,               /* Sec-WebSocket-Version missing or not 13 (426) */
    SOCKIT_EWS_KEY,                   /* Sec-WebSocket-Key missing, repeated or malformed (400) */
    SOCKIT_EWS_ORIGIN,                /* Origin not allowed (403) */
    SOCKIT_EWS_HANDSHAKE,             /* the server's answer is not a valid 101 upgrade */
    SOCKIT_EWS_ACCEPT,                /* the server's Sec-WebSocket-Accept does not match */
    SOCKIT_EWS_RSV,                   /* a reserved bit set without an extension (1002) */
    SOCKIT_EWS_OPCODE,                /* a reserved opcode (1002) */
    SOCKIT_EWS_MASK,                  /* a client frame unmasked, or a server frame masked (1002) */
    SOCKIT_EWS_CONTROL,               /* a control frame over 125 bytes or fragmented (1002) */
    SOCKIT_EWS_CONTINUATION, /* continuation outside a message, or a new one inside (1002) */
    SOCKIT_EWS_LENGTH,       /* a length with the top bit set or not in shortest form (1002) */
    SOCKIT_EWS_TOO_BIG,      /* a message over the size limit (1009) */
    SOCKIT_EWS_UTF8,         /* invalid UTF-8 in a text message or close reason (1007) */
    SOCKIT_EWS_CLOSE_CODE,   /* close frame with an invalid code or 1-byte payload (1002) */
    SOCKIT_EWS_AFTER_CLOSE,  /* a frame after the close frame (1002) */
    SOCKIT_EWS_DEFLATE,      /* compressed data that does not inflate (1007) */
    SOCKIT_EWS_URL,          /* a ws:// URL with a bad path or a fragment */
    SOCKIT_E_WS_END,

    /* The game protocol (src/lib/proto/game): a packet refused, and why. */
    SOCKIT_E_GAME = SOCKIT_E_FIRST + 5 * SOCKIT_E_RANGE, /* 10500 */
    SOCKIT_EGAME_PROTOCOL = SOCKIT_E_GAME,               /* not this protocol's id */
    SOCKIT_EGAME_VERSION,                                /* another protocol version */
    SOCKIT_EGAME_TYPE,                                   /* an unknown packet type */
    SOCKIT_EGAME_SHORT,    /* shorter than its fields, or a request not padded */
    SOCKIT_EGAME_LONG,     /* bytes left over after its fields, or over 1200 bytes */
    SOCKIT_EGAME_RANGE,    /* a count or index out of range */
    SOCKIT_EGAME_COOKIE,   /* a connect cookie forged, for another address, or expired */
    SOCKIT_EGAME_BASELINE, /* a delta against a snapshot not held */
    SOCKIT_EGAME_FULL,     /* the server is full */
    SOCKIT_E_GAME_END,

    /* Capture, decode and pcap files (src/lib/capture). */
    SOCKIT_E_CAPTURE = SOCKIT_E_FIRST + 7 * SOCKIT_E_RANGE, /* 10700 */
    SOCKIT_ECAP_FILTER = SOCKIT_E_CAPTURE,                  /* invalid filter expression */
    SOCKIT_ECAP_FILE,     /* not a pcap or pcapng file, or a damaged one */
    SOCKIT_ECAP_LINKTYPE, /* a link type the decoder or the file writer does not know */
    SOCKIT_ECAP_RECORD,   /* a pcap record longer than its snap length or 256 KiB */
    SOCKIT_ECAP_IFACE,    /* no such network interface */
    SOCKIT_E_CAPTURE_END,

    /* Reserved ranges, no codes yet. */
    SOCKIT_E_LOOP = SOCKIT_E_FIRST + 1 * SOCKIT_E_RANGE,   /* 10100 src/lib/loop */
    SOCKIT_E_IMPAIR = SOCKIT_E_FIRST + 6 * SOCKIT_E_RANGE, /* 10600 src/lib/proto/impair */
    SOCKIT_E_END = SOCKIT_E_FIRST + 8 * SOCKIT_E_RANGE,    /* one past every reserved code */

    SOCKIT_E_LAST = SOCKIT_E_CORE_END, /* as before the ranges: one past the last core code */
};

/* Text for a code returned by any libsockit function (negative), e.g. "Connection refused"
 * or "port is not a number from 0 to 65535". Always a static string; thread-safe. */
const char *sockit_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif

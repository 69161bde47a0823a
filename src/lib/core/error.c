/* Error texts for libsockit's codes: -errno from the C library, -SOCKIT_E* from our table. */
#include <limits.h>
#include <string.h>

#include "sockit/error.h"

static const char *const core_texts[SOCKIT_E_CORE_END - SOCKIT_E_CORE] = {
    [SOCKIT_EEMPTY - SOCKIT_E_CORE] = "empty endpoint",
    [SOCKIT_ETOOLONG - SOCKIT_E_CORE] = "endpoint is too long",
    [SOCKIT_ECTRL - SOCKIT_E_CORE] = "space or control character in endpoint",
    [SOCKIT_ESCHEME - SOCKIT_E_CORE] =
        "unknown scheme (expected tcp://, udp://, unix:, unix-dgram: or packet:)",
    [SOCKIT_ENOPORT - SOCKIT_E_CORE] = "missing port (expected HOST:PORT)",
    [SOCKIT_EPORT - SOCKIT_E_CORE] = "port is not a number from 0 to 65535",
    [SOCKIT_EHOST - SOCKIT_E_CORE] = "invalid host name",
    [SOCKIT_EIPV4 - SOCKIT_E_CORE] = "invalid IPv4 address",
    [SOCKIT_EIPV6 - SOCKIT_E_CORE] = "invalid IPv6 address",
    [SOCKIT_EBRACKET - SOCKIT_E_CORE] =
        "unbalanced brackets (write IPv6 as [ADDRESS]:PORT, e.g. [::1]:8080)",
    [SOCKIT_EV6BRACKETS - SOCKIT_E_CORE] =
        "IPv6 address must be in brackets (e.g. tcp://[::1]:8080)",
    [SOCKIT_EPATHEMPTY - SOCKIT_E_CORE] = "empty unix socket path",
    [SOCKIT_EPATHLONG - SOCKIT_E_CORE] = "unix socket path is longer than 107 bytes",
    [SOCKIT_ENONAME - SOCKIT_E_CORE] = "host name does not resolve",
    [SOCKIT_ENOADDR - SOCKIT_E_CORE] = "host has no address of a usable family",
    [SOCKIT_ERESOLVE - SOCKIT_E_CORE] = "name resolution failed",
    [SOCKIT_EAGAIN_RESOLVE - SOCKIT_E_CORE] = "temporary failure in name resolution",
    [SOCKIT_ETRUNC - SOCKIT_E_CORE] = "datagram truncated: larger than the receive buffer",
    [SOCKIT_EDGRAMSIZE - SOCKIT_E_CORE] =
        "datagram too large (UDP payload max is 65507 bytes over IPv4, 65527 over IPv6)",
    [SOCKIT_ETYPE - SOCKIT_E_CORE] = "operation does not fit this endpoint type",
    [SOCKIT_EZONE - SOCKIT_E_CORE] = "no such network interface (the IPv6 zone after '%')",
    [SOCKIT_ENOTSOCK_PATH - SOCKIT_E_CORE] =
        "the path exists and is not a socket (remove it or choose another)",
    [SOCKIT_EIFNAME - SOCKIT_E_CORE] =
        "invalid interface name (1 to 15 characters, no '/' or ':'; 'any' for all)",
};

static const char *const server_texts[SOCKIT_E_SERVER_END - SOCKIT_E_SERVER] = {
    [SOCKIT_EFULL - SOCKIT_E_SERVER] = "server at its client limit",
    [SOCKIT_EIDLE - SOCKIT_E_SERVER] = "client idle for too long",
};

static const char *const http_texts[SOCKIT_E_HTTP_END - SOCKIT_E_HTTP] = {
    [SOCKIT_EHTTP_LINE - SOCKIT_E_HTTP] = "HTTP request line longer than 8 KiB",
    [SOCKIT_EHTTP_HEAD - SOCKIT_E_HTTP] = "HTTP header section larger than 64 KiB",
    [SOCKIT_EHTTP_FIELDS - SOCKIT_E_HTTP] = "more than 100 HTTP header fields",
    [SOCKIT_EHTTP_BARE_LF - SOCKIT_E_HTTP] = "HTTP line ends in LF without CR",
    [SOCKIT_EHTTP_BARE_CR - SOCKIT_E_HTTP] = "CR not followed by LF in an HTTP head",
    [SOCKIT_EHTTP_METHOD - SOCKIT_E_HTTP] = "HTTP method is not a token",
    [SOCKIT_EHTTP_TARGET - SOCKIT_E_HTTP] = "malformed HTTP request target",
    [SOCKIT_EHTTP_VERSION - SOCKIT_E_HTTP] = "malformed HTTP version",
    [SOCKIT_EHTTP_VERSION_UNSUPPORTED - SOCKIT_E_HTTP] = "HTTP version not supported",
    [SOCKIT_EHTTP_FIELD_NAME - SOCKIT_E_HTTP] = "HTTP header name is empty or not a token",
    [SOCKIT_EHTTP_SPACE_COLON - SOCKIT_E_HTTP] = "whitespace before the colon of an HTTP header",
    [SOCKIT_EHTTP_OBS_FOLD - SOCKIT_E_HTTP] = "HTTP header line starts with whitespace (folding)",
    [SOCKIT_EHTTP_FIELD_VALUE - SOCKIT_E_HTTP] = "control character in an HTTP header value",
    [SOCKIT_EHTTP_CONTENT_LENGTH - SOCKIT_E_HTTP] =
        "Content-Length malformed, repeated or too large",
    [SOCKIT_EHTTP_CL_TE - SOCKIT_E_HTTP] = "both Content-Length and Transfer-Encoding",
    [SOCKIT_EHTTP_TE - SOCKIT_E_HTTP] = "Transfer-Encoding that does not end in chunked",
    [SOCKIT_EHTTP_TE_UNKNOWN - SOCKIT_E_HTTP] = "transfer coding not implemented",
    [SOCKIT_EHTTP_HOST - SOCKIT_E_HTTP] = "Host header missing, repeated or malformed",
    [SOCKIT_EHTTP_HOST_MISMATCH - SOCKIT_E_HTTP] = "request target names another host than Host",
    [SOCKIT_EHTTP_EXPECT - SOCKIT_E_HTTP] = "expectation other than 100-continue",
    [SOCKIT_EHTTP_CHUNK - SOCKIT_E_HTTP] = "malformed chunked body",
    [SOCKIT_EHTTP_PATH - SOCKIT_E_HTTP] =
        "path holds %00, an encoded slash, a control character or .. above the root",
    [SOCKIT_EHTTP_HIDDEN - SOCKIT_E_HTTP] = "path leads through a hidden name",
    [SOCKIT_EHTTP_STATUS - SOCKIT_E_HTTP] = "malformed HTTP status line",
};

static const char *const game_texts[SOCKIT_E_GAME_END - SOCKIT_E_GAME] = {
    [SOCKIT_EGAME_PROTOCOL - SOCKIT_E_GAME] = "not a sockit game packet (protocol id)",
    [SOCKIT_EGAME_VERSION - SOCKIT_E_GAME] = "game protocol version not supported",
    [SOCKIT_EGAME_TYPE - SOCKIT_E_GAME] = "unknown game packet type",
    [SOCKIT_EGAME_SHORT - SOCKIT_E_GAME] = "game packet too short (or a request not padded)",
    [SOCKIT_EGAME_LONG - SOCKIT_E_GAME] = "game packet too long, or bytes after its fields",
    [SOCKIT_EGAME_RANGE - SOCKIT_E_GAME] = "game packet field out of range",
    [SOCKIT_EGAME_COOKIE - SOCKIT_E_GAME] = "game connect cookie invalid or expired",
    [SOCKIT_EGAME_BASELINE - SOCKIT_E_GAME] = "game snapshot delta against an unknown baseline",
    [SOCKIT_EGAME_FULL - SOCKIT_E_GAME] = "game server full",
};

static const char *const capture_texts[SOCKIT_E_CAPTURE_END - SOCKIT_E_CAPTURE] = {
    [SOCKIT_ECAP_FILTER - SOCKIT_E_CAPTURE] = "invalid filter expression",
    [SOCKIT_ECAP_FILE - SOCKIT_E_CAPTURE] = "not a pcap or pcapng file, or a damaged one",
    [SOCKIT_ECAP_LINKTYPE - SOCKIT_E_CAPTURE] = "link type not supported",
    [SOCKIT_ECAP_RECORD - SOCKIT_E_CAPTURE] =
        "packet record longer than the file's snap length or 256 KiB",
    [SOCKIT_ECAP_IFACE - SOCKIT_E_CAPTURE] = "no such network interface",
};

static const char *const ws_texts[SOCKIT_E_WS_END - SOCKIT_E_WS] = {
    [SOCKIT_EWS_UPGRADE - SOCKIT_E_WS] = "not a WebSocket upgrade request",
    [SOCKIT_EWS_VERSION - SOCKIT_E_WS] = "WebSocket version missing or not 13",
    [SOCKIT_EWS_KEY - SOCKIT_E_WS] =
        "Sec-WebSocket-Key missing, repeated or not 16 bytes in base64",
    [SOCKIT_EWS_ORIGIN - SOCKIT_E_WS] = "WebSocket Origin not allowed",
    [SOCKIT_EWS_HANDSHAKE - SOCKIT_E_WS] = "the server did not switch to WebSocket",
    [SOCKIT_EWS_ACCEPT - SOCKIT_E_WS] = "wrong Sec-WebSocket-Accept from the server",
    [SOCKIT_EWS_RSV - SOCKIT_E_WS] = "WebSocket frame with a reserved bit set",
    [SOCKIT_EWS_OPCODE - SOCKIT_E_WS] = "WebSocket frame with a reserved opcode",
    [SOCKIT_EWS_MASK - SOCKIT_E_WS] = "WebSocket frame masked the wrong way for its sender",
    [SOCKIT_EWS_CONTROL - SOCKIT_E_WS] = "WebSocket control frame over 125 bytes or fragmented",
    [SOCKIT_EWS_CONTINUATION - SOCKIT_E_WS] = "WebSocket fragments out of order",
    [SOCKIT_EWS_LENGTH - SOCKIT_E_WS] = "WebSocket frame length too large or not in shortest form",
    [SOCKIT_EWS_TOO_BIG - SOCKIT_E_WS] = "WebSocket message over the size limit",
    [SOCKIT_EWS_UTF8 - SOCKIT_E_WS] = "invalid UTF-8 in a WebSocket text message or close reason",
    [SOCKIT_EWS_CLOSE_CODE - SOCKIT_E_WS] = "WebSocket close frame with an invalid code",
    [SOCKIT_EWS_AFTER_CLOSE - SOCKIT_E_WS] = "WebSocket frame after the close frame",
    [SOCKIT_EWS_DEFLATE - SOCKIT_E_WS] = "compressed WebSocket message that does not inflate",
    [SOCKIT_EWS_URL - SOCKIT_E_WS] = "ws:// URL path with a space, a control byte or a #fragment",
};

/* One row per module that has codes; error.h reserves the range of every module. */
static const struct {
    int base, end;
    const char *const *texts; /* indexed by code - base */
} modules[] = {
    { SOCKIT_E_CORE, SOCKIT_E_CORE_END, core_texts },
    { SOCKIT_E_SERVER, SOCKIT_E_SERVER_END, server_texts },
    { SOCKIT_E_HTTP, SOCKIT_E_HTTP_END, http_texts },
    { SOCKIT_E_WS, SOCKIT_E_WS_END, ws_texts },
    { SOCKIT_E_GAME, SOCKIT_E_GAME_END, game_texts },
    { SOCKIT_E_CAPTURE, SOCKIT_E_CAPTURE_END, capture_texts },
};

_Static_assert(SOCKIT_E_CORE_END <= SOCKIT_E_LOOP, "core's codes overflow into the loop's range");
_Static_assert(SOCKIT_E_SERVER_END <= SOCKIT_E_HTTP, "server's codes overflow into http's range");
_Static_assert(SOCKIT_E_HTTP_END <= SOCKIT_E_WS, "http's codes overflow into ws's range");
_Static_assert(SOCKIT_E_WS_END <= SOCKIT_E_GAME, "ws's codes overflow into the game's range");
_Static_assert(SOCKIT_E_GAME_END <= SOCKIT_E_IMPAIR, "game's codes overflow into the next range");
_Static_assert(SOCKIT_E_CAPTURE_END <= SOCKIT_E_END, "capture's codes overflow the last range");

static const char *module_text(int e)
{
    for (size_t i = 0; i < sizeof(modules) / sizeof(modules[0]); i++) {
        if (e >= modules[i].base && e < modules[i].end)
            return modules[i].texts[e - modules[i].base];
    }
    return NULL; /* reserved, but not (yet) a code */
}

const char *sockit_strerror(int code)
{
    int e = code < 0 ? (code == INT_MIN ? INT_MAX : -code) : code;
    const char *text =
        e >= SOCKIT_E_FIRST && e < SOCKIT_E_END ? module_text(e) : strerrordesc_np(e);

    return text ? text : "unknown error";
}

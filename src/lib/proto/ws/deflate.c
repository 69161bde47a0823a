/* permessage-deflate's compression (RFC 7692 section 7.2) for sockit/ws.h, on zlib: raw
 * DEFLATE flushed at each message's end, its empty-block tail taken off on the way out and
 * put back on the way in. zlib's states are allocated when a direction is first used and
 * dropped after each message when that direction has no context takeover, so an idle
 * connection holds no compression memory unless takeover needs it. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "sockit/error.h"
#include "sockit/ws.h"

#define CHUNK_MAX (1u << 30) /* bytes given to zlib per call: its counts are unsigned ints */
#define OUT_MIN   1024       /* the least room asked of an output buffer */

static const uint8_t tail[4] = { 0x00, 0x00, 0xff, 0xff };

/* One direction: a zlib stream, on or not yet. */
struct way {
    z_stream z;
    bool on;
    bool reset;     /* no context takeover: a fresh state for every message */
    int bits;       /* zlib's windowBits (9..15: zlib refuses 8 for raw DEFLATE) */
    bool ended;     /* inflate: the message held a final block; the rest of it is ignored */
    int err;        /* the error that broke this direction, else 0 */
    size_t *memory; /* the context's count of zlib's bytes */
};

struct sockit_ws_deflate {
    struct way out, in; /* we compress with OUT and inflate with IN */
    size_t memory;
};

/* ---- zlib's memory, counted ------------------------------------------------------------ */

/* A size header before each block, so that free knows what it gives back. */
struct block {
    size_t size;
    max_align_t align[];
};

static voidpf counted_alloc(voidpf opaque, uInt items, uInt size)
{
    size_t n = (size_t)items * size;
    struct block *b = malloc(sizeof(*b) + n);

    if (!b)
        return Z_NULL;
    b->size = n;
    *(size_t *)opaque += n;
    return b->align;
}

static void counted_free(voidpf opaque, voidpf p)
{
    struct block *b = (struct block *)((char *)p - offsetof(struct block, align));

    *(size_t *)opaque -= b->size;
    free(b);
}

/* ---- the context ---------------------------------------------------------------------- */

static void way_init(struct way *w, bool reset, int bits, size_t *memory)
{
    w->reset = reset;
    w->bits = bits < 9 ? 9 : bits;
    w->memory = memory;
}

int sockit_ws_deflate_new(struct sockit_ws_deflate **out, const struct sockit_ws_deflate_params *p,
                          bool server)
{
    int sb = p->server_max_window_bits, cb = p->client_max_window_bits;

    if (sb < 8 || sb > 15 || cb < 8 || cb > 15)
        return -EINVAL;
    struct sockit_ws_deflate *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    way_init(&d->out, server ? p->server_no_context_takeover : p->client_no_context_takeover,
             server ? sb : cb, &d->memory);
    way_init(&d->in, server ? p->client_no_context_takeover : p->server_no_context_takeover,
             server ? cb : sb, &d->memory);
    *out = d;
    return 0;
}

static void way_end(struct way *w, bool compress)
{
    if (!w->on)
        return;
    if (compress)
        deflateEnd(&w->z);
    else
        inflateEnd(&w->z);
    w->on = false;
}

void sockit_ws_deflate_free(struct sockit_ws_deflate *d)
{
    if (!d)
        return;
    way_end(&d->out, true);
    way_end(&d->in, false);
    free(d);
}

size_t sockit_ws_deflate_memory(const struct sockit_ws_deflate *d)
{
    return d->memory;
}

/* Start W's stream if it is not on: zlib's state is allocated here. */
static int way_start(struct way *w, bool compress)
{
    int rc;

    if (w->on)
        return 0;
    w->z = (z_stream){ .zalloc = counted_alloc, .zfree = counted_free, .opaque = w->memory };
    /* hash bits = window bits, as zlib's defaults (15, memLevel 8): memory in proportion */
    rc = compress ? deflateInit2(&w->z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -w->bits, w->bits - 7,
                                 Z_DEFAULT_STRATEGY)
                  : inflateInit2(&w->z, -w->bits);
    if (rc != Z_OK)
        return rc == Z_MEM_ERROR ? -ENOMEM : -EINVAL;
    w->on = true;
    w->ended = false;
    return 0;
}

/* A message is over: without context takeover, the state goes (the next one starts afresh). */
static void way_message_end(struct way *w, bool compress)
{
    if (w->reset)
        way_end(w, compress);
    else if (!compress && w->ended)
        inflateReset(&w->z); /* after a final block the peer's stream starts anew too */
    w->ended = false;
}

/* Room for at least one more byte at OUT's tail, up to WANT (within its limit): the bytes
 * there, or 0 when the limit is reached. */
static size_t room(struct sockit_buf *out, size_t want, int *err)
{
    size_t len = sockit_buf_len(out), left = out->limit - len;

    *err = 0;
    if (len >= out->limit)
        return 0;
    if (want > left)
        want = left;
    if (want < OUT_MIN && left >= OUT_MIN)
        want = OUT_MIN;
    if (out->cap - out->tail < want && (*err = sockit_buf_reserve(out, want)) < 0)
        return 0;
    return out->cap - out->tail < left ? out->cap - out->tail : left;
}

/* ---- compressing ------------------------------------------------------------------------- */

/* Deflate IN[0, LEN) with a sync flush, appending to OUT. */
static int deflate_flush(z_stream *z, const uint8_t *in, size_t len, struct sockit_buf *out)
{
    int err;

    for (;;) {
        size_t k = len < CHUNK_MAX ? len : CHUNK_MAX;
        size_t n = room(out, k / 2 + 64, &err);
        if (n == 0)
            return err ? err : -ENOBUFS;
        z->next_in = (Bytef *)in;
        z->avail_in = (uInt)k;
        z->next_out = out->data + out->tail;
        z->avail_out = (uInt)(n < CHUNK_MAX ? n : CHUNK_MAX);
        uInt before = z->avail_out;
        int rc = deflate(z, k == len ? Z_SYNC_FLUSH : Z_NO_FLUSH);
        out->tail += before - z->avail_out;
        in += k - z->avail_in;
        len -= k - z->avail_in;
        if (rc != Z_OK && rc != Z_BUF_ERROR)
            return -EINVAL;
        if (len == 0 && z->avail_out > 0)
            return 0; /* all in, and the flush is whole: it did not fill the room */
    }
}

int sockit_ws_deflate_message(struct sockit_ws_deflate *d, const void *data, size_t len,
                              struct sockit_buf *out)
{
    struct way *w = &d->out;
    size_t start = sockit_buf_len(out);
    int err;

    if (w->err)
        return w->err;
    if ((err = way_start(w, true)) || (err = deflate_flush(&w->z, data, len, out)))
        return w->err = err;
    if (sockit_buf_len(out) == start) {
        /* nothing new since the last flush (an empty message): zlib writes nothing, and an
         * empty stored block's first byte stands for the message (RFC 7692 section 7.2.3.6) */
        if ((err = sockit_buf_append(out, tail, 1)))
            return w->err = err;
    } else if (sockit_buf_len(out) - start < 4 || memcmp(out->data + out->tail - 4, tail, 4)) {
        return w->err = -EINVAL;
    } else {
        out->tail -= 4; /* a sync flush ends with 00 00 ff ff: the peer puts it back */
    }
    way_message_end(w, true);
    return 0;
}

/* ---- inflating ----------------------------------------------------------------------------- */

/* The outcome of one inflate call: 1 to go on, 0 when all is in, or an error. */
static int inflated(struct way *w, int rc, size_t len)
{
    if (rc == Z_STREAM_END) {
        w->ended = true; /* a final block: what follows in this message is ignored */
        return 0;
    }
    if (rc == Z_MEM_ERROR)
        return -ENOMEM;
    if (rc != Z_OK && rc != Z_BUF_ERROR)
        return -SOCKIT_EWS_DEFLATE;
    if (w->z.avail_out > 0 && len == 0)
        return 0; /* all in, and zlib stopped with room left: nothing more to give */
    return rc == Z_BUF_ERROR && w->z.avail_out > 0 ? -SOCKIT_EWS_DEFLATE : 1;
}

/* Inflate IN[0, LEN) into OUT until all of it is in and zlib has nothing more to give. Once
 * OUT is full, a one-byte probe tells whether more would come: too big. */
static int inflate_all(struct way *w, const uint8_t *in, size_t len, struct sockit_buf *out)
{
    z_stream *z = &w->z;
    uint8_t probe;
    int rc = w->ended ? 0 : 1;

    while (rc == 1) {
        size_t k = len < CHUNK_MAX ? len : CHUNK_MAX;
        size_t n = room(out, 2 * k + 64, &rc);
        if (rc < 0)
            return rc;
        z->next_in = (Bytef *)in;
        z->avail_in = (uInt)k;
        z->next_out = n ? out->data + out->tail : &probe;
        z->avail_out = (uInt)(n == 0 ? 1 : n < CHUNK_MAX ? n : CHUNK_MAX);
        uInt before = z->avail_out;
        rc = inflate(z, Z_SYNC_FLUSH);
        if (n == 0 && z->avail_out == 0)
            return -SOCKIT_EWS_TOO_BIG;
        out->tail += n ? before - z->avail_out : 0;
        in += k - z->avail_in;
        len -= k - z->avail_in;
        rc = inflated(w, rc, len);
    }
    return rc;
}

int sockit_ws_inflate(struct sockit_ws_deflate *d, const uint8_t *in, size_t len, bool last,
                      struct sockit_buf *out)
{
    struct way *w = &d->in;
    int err;

    if (w->err)
        return w->err;
    if ((err = way_start(w, false)) || (err = inflate_all(w, in, len, out)) ||
        (last && (err = inflate_all(w, tail, sizeof(tail), out))))
        return w->err = err;
    if (last)
        way_message_end(w, false);
    return 0;
}

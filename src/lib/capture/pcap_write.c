/* The pcap file writer: classic pcap with nanosecond timestamps, records gathered in a 1 MiB
 * buffer and written in large blocks, so a capture pays one write() per megabyte, not per
 * packet. After a failed write the file is cut back to its last whole record. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sockit/decode.h"
#include "sockit/error.h"
#include "sockit/pcap.h"

#define PCAP_MAGIC_NS 0xa1b23c4du /* classic pcap, nanosecond timestamps, our byte order */
#define BUF_SIZE      (1024 * 1024)
#define NS_PER_S      1000000000u

struct file_header {
    uint32_t magic;
    uint16_t version_major, version_minor;
    int32_t thiszone; /* always 0: timestamps are UTC */
    uint32_t sigfigs; /* always 0 */
    uint32_t snaplen;
    uint32_t linktype;
};

struct record_header {
    uint32_t sec, nsec, caplen, wirelen;
};

_Static_assert(sizeof(struct file_header) == 24, "the pcap file header is 24 bytes");
_Static_assert(sizeof(struct record_header) == 16, "a pcap record header is 16 bytes");
_Static_assert(SOCKIT_PCAP_MAX_RECORD + sizeof(struct record_header) <= BUF_SIZE,
               "the largest record fits the buffer");

struct sockit_pcap_writer {
    int fd;
    int err; /* the first failed write: every later call returns it */
    uint32_t snaplen;
    uint64_t written; /* bytes in the file */
    size_t used;      /* bytes in buf */
    uint8_t buf[];
};

static bool known_linktype(int linktype)
{
    switch (linktype) {
    case SOCKIT_LINK_ETHERNET:
    case SOCKIT_LINK_RAW:
    case SOCKIT_LINK_LINUX_SLL:
    case SOCKIT_LINK_LINUX_SLL2: return true;
    }
    return false;
}

/* write() BUF[0..LEN) over short writes and EINTR, counting what went in *DONE. */
static int write_all(int fd, const uint8_t *buf, size_t len, size_t *done)
{
    while (*done < len) {
        ssize_t n = write(fd, buf + *done, len - *done);
        if (n > 0)
            *done += (size_t)n;
        else if (n == 0)
            return -EIO; /* a file that takes nothing and says no error: do not spin */
        else if (errno != EINTR)
            return -errno;
    }
    return 0;
}

/* A write failed after DONE bytes of the buffer went out: if they end inside a record, cut
 * that record off the file so that it ends on a whole one. A pipe cannot be cut (lseek fails
 * with ESPIPE): its reader sees the end in the middle of a record. */
static void cut_partial_record(struct sockit_pcap_writer *w, size_t done)
{
    size_t off = 0, partial;
    off_t pos;

    for (;;) {
        struct record_header h;
        memcpy(&h, w->buf + off, sizeof(h));
        if (off + sizeof(h) + h.caplen > done)
            break;
        off += sizeof(h) + h.caplen;
    }
    partial = done - off;
    if (partial == 0 || (pos = lseek(w->fd, 0, SEEK_CUR)) < 0)
        return;
    if (ftruncate(w->fd, pos - (off_t)partial) == 0 &&
        lseek(w->fd, pos - (off_t)partial, SEEK_SET) >= 0)
        w->written -= partial;
}

static int flush_buffer(struct sockit_pcap_writer *w)
{
    size_t done = 0;
    int err = write_all(w->fd, w->buf, w->used, &done);

    w->written += done;
    if (err < 0) {
        cut_partial_record(w, done);
        w->err = err;
    }
    w->used = 0; /* after an error, what did not go is dropped */
    return err;
}

static int write_file_header(int fd, int linktype, uint32_t snaplen)
{
    struct file_header h = {
        .magic = PCAP_MAGIC_NS,
        .version_major = 2,
        .version_minor = 4,
        .snaplen = snaplen,
        .linktype = (uint32_t)linktype,
    };
    size_t done = 0;

    return write_all(fd, (const uint8_t *)&h, sizeof(h), &done);
}

int sockit_pcap_writer_open(struct sockit_pcap_writer **out, int fd, int linktype, uint32_t snaplen)
{
    struct sockit_pcap_writer *w;
    int err;

    *out = NULL;
    if (!known_linktype(linktype))
        return -SOCKIT_ECAP_LINKTYPE;
    if (snaplen > SOCKIT_PCAP_MAX_RECORD)
        return -EINVAL;
    if (snaplen == 0)
        snaplen = SOCKIT_PCAP_MAX_RECORD;
    if (!(w = malloc(sizeof(*w) + BUF_SIZE)))
        return -ENOMEM;
    if ((err = write_file_header(fd, linktype, snaplen)) < 0) {
        free(w);
        return err;
    }
    *w = (struct sockit_pcap_writer){ .fd = fd,
                                      .snaplen = snaplen,
                                      .written = sizeof(struct file_header) };
    *out = w;
    return 0;
}

int sockit_pcap_write(struct sockit_pcap_writer *w, uint64_t ts_ns, const void *data,
                      uint32_t caplen, uint32_t wirelen)
{
    struct record_header h = { (uint32_t)(ts_ns / NS_PER_S), (uint32_t)(ts_ns % NS_PER_S), caplen,
                               wirelen };
    int err;

    if (w->err)
        return w->err;
    if (caplen > w->snaplen)
        return -SOCKIT_ECAP_RECORD;
    if (caplen > wirelen)
        return -EINVAL;
    if (w->used + sizeof(h) + caplen > BUF_SIZE && (err = flush_buffer(w)) < 0)
        return err;
    memcpy(w->buf + w->used, &h, sizeof(h));
    if (caplen)
        memcpy(w->buf + w->used + sizeof(h), data, caplen);
    w->used += sizeof(h) + caplen;
    return 0;
}

int sockit_pcap_flush(struct sockit_pcap_writer *w)
{
    return w->err ? w->err : flush_buffer(w);
}

uint64_t sockit_pcap_written(const struct sockit_pcap_writer *w)
{
    return w->written;
}

int sockit_pcap_writer_close(struct sockit_pcap_writer *w)
{
    int err;

    if (!w)
        return 0;
    err = sockit_pcap_flush(w);
    if (close(w->fd) < 0 && err == 0)
        err = -errno;
    free(w);
    return err;
}

/* sockit/pcap.h — capture files and filter programs.
 *
 * The writer is ours (it is on the capture's hot path): classic pcap with nanosecond
 * timestamps (magic 0xa1b23c4d), records gathered in a buffer and written in large blocks.
 * Reading goes through Debian's libpcap (pcap_open_offline), which knows pcap and pcapng in
 * both byte orders and both timestamp precisions; filters are tcpdump's language compiled by
 * libpcap (pcap_compile on a dead handle) into a classic BPF program, for SO_ATTACH_FILTER on a
 * socket or for matching records read from a file. */
#ifndef SOCKIT_PCAP_H
#define SOCKIT_PCAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SOCKIT_PCAP_MAX_RECORD (256 * 1024) /* larger records are refused (SOCKIT_ECAP_RECORD) */

/* ---- writing ----------------------------------------------------------------------------- */

struct sockit_pcap_writer;

/* Start a pcap file on FD (the writer takes FD and closes it in sockit_pcap_writer_close)
 * for LINKTYPE (enum sockit_linktype) and SNAPLEN (0: SOCKIT_PCAP_MAX_RECORD, more is
 * -EINVAL): writes the file header at once. Returns 0 and the writer in *OUT, or -errno /
 * -SOCKIT_ECAP_LINKTYPE; on failure FD is still the caller's. FD should block: a write
 * that meets EAGAIN fails. One writer is used from one thread. */
int sockit_pcap_writer_open(struct sockit_pcap_writer **out, int fd, int linktype,
                            uint32_t snaplen);

/* Append one record: TS_NS (nanoseconds since the epoch), the CAPLEN captured bytes at DATA
 * of a WIRELEN-byte packet. Buffered: the bytes are copied (DATA is not kept), and written
 * when the 1 MiB buffer is full. Returns 0, -SOCKIT_ECAP_RECORD (CAPLEN over the snap
 * length), -EINVAL (CAPLEN over WIRELEN), or -errno from write() (a full disk is -ENOSPC).
 * A write error is final: the records that reached the file stay in it, whole (a record cut
 * in the middle is cut off the file again when FD is a regular file), the rest of the buffer
 * is dropped, and every later call returns the same error. */
int sockit_pcap_write(struct sockit_pcap_writer *w, uint64_t ts_ns, const void *data,
                      uint32_t caplen, uint32_t wirelen);

/* Write what is buffered (a capture calls it when it has waited long enough, so a reader at
 * the other end of a pipe sees packets). Returns 0 or -errno, as sockit_pcap_write. */
int sockit_pcap_flush(struct sockit_pcap_writer *w);

/* Bytes written to the file so far (header included, buffered bytes not). */
uint64_t sockit_pcap_written(const struct sockit_pcap_writer *w);

/* Flush, close the fd and free W (NULL is a no-op). Returns 0 or the first error. */
int sockit_pcap_writer_close(struct sockit_pcap_writer *w);

/* ---- reading ----------------------------------------------------------------------------- */

struct sockit_pcap_reader;

struct sockit_pcap_record {
    uint64_t ts_ns;      /* nanoseconds since the epoch (microsecond files: * 1000) */
    uint32_t caplen;     /* bytes at DATA (at most the snap length) */
    uint32_t wirelen;    /* bytes the packet had */
    const uint8_t *data; /* valid until the next read or close */
};

/* Open PATH ("-": standard input, which is left open at close), pcap or pcapng, in either
 * byte order and timestamp precision. Returns 0 and the reader in *OUT, or -errno (the file
 * cannot be opened: -ENOENT, -EACCES, -EISDIR...) or -SOCKIT_ECAP_FILE (it is not a capture
 * file, or its header is cut short); ERR (if not NULL) receives strerror's or libpcap's
 * explanation. A file header with a snap length of 0 or one over the link type's maximum
 * reads as that maximum (262144 for Ethernet), as in libpcap, tcpdump and Wireshark. One
 * reader is used from one thread. */
int sockit_pcap_reader_open(struct sockit_pcap_reader **out, const char *path, char *err,
                            size_t errsize);

/* The file's link type (pcap LINKTYPE_* number, SOCKIT_LINK_RAW for raw IP) and snap
 * length. */
int sockit_pcap_reader_linktype(const struct sockit_pcap_reader *r);
uint32_t sockit_pcap_reader_snaplen(const struct sockit_pcap_reader *r);

/* Keep only records that match the tcpdump filter EXPR from now on (it replaces any filter
 * before; NULL or "" keeps every record), compiled for the file's link type and snap length.
 * Returns 0, or -SOCKIT_ECAP_FILTER with libpcap's reason in ERR (the filter before stays),
 * or -ENOMEM. */
int sockit_pcap_reader_filter(struct sockit_pcap_reader *r, const char *expr, char *err,
                              size_t errsize);

/* The next (matching) record into *REC: 1, 0 at the end, or < 0: -SOCKIT_ECAP_FILE for a
 * damaged file (a record header or data cut short; ERR has libpcap's words), or
 * -SOCKIT_ECAP_RECORD for a record over its link type's maximum (262144 for most) or over
 * SOCKIT_PCAP_MAX_RECORD. A classic pcap record over the file's snap length but under those
 * comes back cut to the snap length, as libpcap salvages it (pcapng refuses it:
 * -SOCKIT_ECAP_RECORD). An error is final: later calls return it again. */
int sockit_pcap_read(struct sockit_pcap_reader *r, struct sockit_pcap_record *rec, char *err,
                     size_t errsize);

/* Close the file (not stdin) and free R (NULL is a no-op). */
void sockit_pcap_reader_close(struct sockit_pcap_reader *r);

/* ---- filters ----------------------------------------------------------------------------- */

struct sock_fprog;

/* Compile the tcpdump filter EXPR for frames of LINKTYPE (a pcap LINKTYPE_* number) cut at
 * SNAPLEN (0: SOCKIT_PCAP_MAX_RECORD) into *PROG (its filter array is malloc'd: free with
 * sockit_bpf_free), ready for SO_ATTACH_FILTER on a socket that sees frames of that link
 * type (a cooked socket needs sockit_bpf_fix_cooked first). The program returns SNAPLEN for
 * a frame it accepts, 0 for one it drops; an empty or NULL EXPR gives the one instruction
 * "ret #SNAPLEN". Host names in EXPR are resolved now. Returns 0, or -SOCKIT_ECAP_FILTER
 * with the reason in ERR ("syntax error", "unknown host 'x'", ...; *PROG is then empty), or
 * -ENOMEM. Safe from any thread. */
int sockit_bpf_compile(struct sock_fprog *prog, const char *expr, int linktype, uint32_t snaplen,
                       char *err, size_t errsize);

/* Run PROG (from sockit_bpf_compile) over one frame of CAPLEN bytes at DATA, WIRELEN on the
 * wire, as the kernel would: true if it accepts the frame. A load past CAPLEN drops the
 * frame. A program rewritten by sockit_bpf_fix_cooked is for the kernel only: its ancillary
 * loads drop every frame here. */
bool sockit_bpf_match(const struct sock_fprog *prog, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen);

/* Free PROG's array and empty it (NULL, or an empty PROG, is a no-op). */
void sockit_bpf_free(struct sock_fprog *prog);

/* Rewrite PROG, compiled for SOCKIT_LINK_LINUX_SLL or SOCKIT_LINK_LINUX_SLL2, for
 * SO_ATTACH_FILTER on a cooked (SOCK_DGRAM) packet socket, whose filter sees the packet
 * from its network header with no cooked header before it. As libpcap does for itself
 * (pcap-linux.c, fix_program): a load past the cooked header moves back by its length (16
 * or 20 bytes), a load of a header field the kernel knows becomes an ancillary load
 * (SKF_AD_PKTTYPE, SKF_AD_PROTOCOL, SKF_AD_IFINDEX); unlike libpcap, a program that loads
 * the packet length ("len", "greater", "less") is refused, since the kernel's length lacks
 * the cooked header. Returns 0, -SOCKIT_ECAP_LINKTYPE for another link type, or
 * -SOCKIT_ECAP_FILTER when the program reads other bytes of the cooked header (its link
 * addresses, say): PROG is then unchanged, and the caller filters in user space with it. */
int sockit_bpf_fix_cooked(struct sock_fprog *prog, int linktype);

#ifdef __cplusplus
}
#endif

#endif

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
 * for LINKTYPE (enum sockit_linktype) and SNAPLEN: writes the file header. Returns 0 and the
 * writer in *OUT, or -errno / -SOCKIT_ECAP_LINKTYPE. */
int sockit_pcap_writer_open(struct sockit_pcap_writer **out, int fd, int linktype,
                            uint32_t snaplen);

/* Append one record: TS_NS (nanoseconds since the epoch), the CAPLEN captured bytes at DATA
 * of a WIRELEN-byte packet. Buffered: the bytes are copied. Returns 0 or -errno (a full disk
 * is -ENOSPC; the records before it are in the file). */
int sockit_pcap_write(struct sockit_pcap_writer *w, uint64_t ts_ns, const void *data,
                      uint32_t caplen, uint32_t wirelen);

/* Write what is buffered. Returns 0 or -errno. */
int sockit_pcap_flush(struct sockit_pcap_writer *w);

/* Bytes written to the file so far (header included, buffered bytes not). */
uint64_t sockit_pcap_written(const struct sockit_pcap_writer *w);

/* Flush, close the fd and free W (NULL is a no-op). Returns 0 or the first error. */
int sockit_pcap_writer_close(struct sockit_pcap_writer *w);

/* ---- reading ----------------------------------------------------------------------------- */

struct sockit_pcap_reader;

struct sockit_pcap_record {
    uint64_t ts_ns;      /* nanoseconds since the epoch (microsecond files: * 1000) */
    uint32_t caplen;     /* bytes at DATA */
    uint32_t wirelen;    /* bytes the packet had */
    const uint8_t *data; /* valid until the next read or close */
};

/* Open PATH ("-": standard input), pcap or pcapng. Returns 0 and the reader in *OUT, or
 * -errno (the file cannot be opened) or -SOCKIT_ECAP_FILE (it is not a capture file); ERR
 * (if not NULL) receives libpcap's explanation. */
int sockit_pcap_reader_open(struct sockit_pcap_reader **out, const char *path, char *err,
                            size_t errsize);

/* The file's link type (pcap LINKTYPE_* number) and snap length. */
int sockit_pcap_reader_linktype(const struct sockit_pcap_reader *r);
uint32_t sockit_pcap_reader_snaplen(const struct sockit_pcap_reader *r);

/* Keep only records that match the tcpdump filter EXPR from now on. Returns 0, or
 * -SOCKIT_ECAP_FILTER with libpcap's reason in ERR. */
int sockit_pcap_reader_filter(struct sockit_pcap_reader *r, const char *expr, char *err,
                              size_t errsize);

/* The next (matching) record into *REC: 1, 0 at the end, or < 0: -SOCKIT_ECAP_FILE for a
 * damaged file (ERR says where), -SOCKIT_ECAP_RECORD for a record over the limits. */
int sockit_pcap_read(struct sockit_pcap_reader *r, struct sockit_pcap_record *rec, char *err,
                     size_t errsize);

void sockit_pcap_reader_close(struct sockit_pcap_reader *r);

/* ---- filters ----------------------------------------------------------------------------- */

struct sock_fprog;

/* Compile the tcpdump filter EXPR for frames of LINKTYPE cut at SNAPLEN into *PROG (its
 * filter array is malloc'd: free with sockit_bpf_free), ready for SO_ATTACH_FILTER. An empty
 * or NULL EXPR accepts everything. Returns 0, or -SOCKIT_ECAP_FILTER with the reason in ERR
 * ("syntax error", "unknown host 'x'", ...), or -ENOMEM. */
int sockit_bpf_compile(struct sock_fprog *prog, const char *expr, int linktype, uint32_t snaplen,
                       char *err, size_t errsize);

/* Run PROG over one frame, as the kernel would: true if it accepts the frame. */
bool sockit_bpf_match(const struct sock_fprog *prog, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen);

void sockit_bpf_free(struct sock_fprog *prog);

/* Rewrite PROG, compiled for LINKTYPE (LINUX_SLL or LINUX_SLL2), for a SOCK_DGRAM packet socket,
 * whose filter sees frames without the cooked header: offsets into the header become the
 * kernel's SKF_AD_* ancillary loads, as libpcap does. Returns 0, or -SOCKIT_ECAP_FILTER when
 * the program cannot run there (then filter in user space). */
int sockit_bpf_fix_cooked(struct sock_fprog *prog, int linktype);

#ifdef __cplusplus
}
#endif

#endif

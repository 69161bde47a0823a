/* Internals shared by the capture files: libpcap's DLT numbers beside the pcap LINKTYPE
 * numbers of the API, the compiler on a DLT, and the reader on an open FILE (the fuzzer's way
 * in, from memory). */
#ifndef SOCKIT_CAPTURE_INTERNAL_H
#define SOCKIT_CAPTURE_INTERNAL_H

#include <stdint.h>
#include <stdio.h>

struct sock_fprog;
struct sockit_pcap_reader;

/* libpcap speaks DLT_* numbers, files and our API LINKTYPE_* numbers; they are the same but
 * for a few, of which raw IP (LINKTYPE_RAW 101, DLT_RAW 12) is the one met on Linux. */
int sockit__linktype_to_dlt(int linktype);
int sockit__dlt_to_linktype(int dlt);

/* sockit_bpf_compile for frames of libpcap's DLT (what pcap_datalink says). */
int sockit__bpf_compile_dlt(struct sock_fprog *prog, const char *expr, int dlt, uint32_t snaplen,
                            char *err, size_t errsize);

/* sockit_pcap_reader_open on FP, already open: the reader owns FP from the call on (it is
 * closed on failure too, unless it is stdin). */
int sockit__pcap_reader_from_file(struct sockit_pcap_reader **out, FILE *fp, char *err,
                                  size_t errsize);

#endif

/* Test support for the pcap tests (test_pcap.c, test_pcap_filter.c): a set of frames crafted
 * byte by byte (Ethernet with IPv4/IPv6, UDP/TCP/ICMP/ICMPv6, ARP, an 802.1Q tag, one cut
 * short by the snap length), a scratch folder removed at the end of each test, files written
 * with our writer, and the lines another program (tshark, tcpdump, editcap) prints. */
#ifndef SOCKIT_TEST_PCAP_FRAMES_H
#define SOCKIT_TEST_PCAP_FRAMES_H

#include <stddef.h>
#include <stdint.h>

struct frame {
    uint8_t bytes[256];
    uint32_t caplen, wirelen;
    uint64_t ts_ns; /* each frame's own, with nanoseconds; none the same */
};

#define MAX_FRAMES 16

/* The crafted frames into F[MAX_FRAMES]; returns how many. */
int frames_build(struct frame *f);

/* A scratch folder for one test: tmp_open in .init, tmp_close (removes it all) in .fini. */
void tmp_open(void);
void tmp_close(void);

/* NAME inside the scratch folder, in one of four rotating static buffers. */
const char *tmp_path(const char *name);

/* Write F[0..N) with sockit's writer to PATH (asserts on failure). */
void frames_write(const char *path, const struct frame *f, int n, int linktype);

/* Run CMD with popen (its stderr is the caller's to redirect) and keep up to MAX of its
 * lines (without their newline) in LINES, each cut to 127 bytes; returns how many it printed.
 * Asserts that CMD exits 0. */
#define TOOL_LINE 128
int tool_lines(const char *cmd, char (*lines)[TOOL_LINE], int max);

/* TS_NS as tshark and tcpdump print an epoch time with nanoseconds: "1700000000.000000042". */
void ts_text(uint64_t ts_ns, char *out, size_t size);

#endif

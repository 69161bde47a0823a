/* libFuzzer target for sockit/pcap.h's reader and filters: the input is a capture file (pcap
 * or pcapng, any byte order and precision), opened from memory. On any input:
 *
 *   - opening and reading never crash, leak, or fail with a code the header does not name;
 *   - a record is never over SOCKIT_PCAP_MAX_RECORD nor over the file's snap length;
 *   - filter programs run on each record copied to a buffer of exactly CAPLEN bytes, so that
 *     ASan sees any read past it; a program fixed for a cooked socket (ancillary loads)
 *     matches nothing in user space;
 *   - the end, or an error, is final: the next read returns the same;
 *   - a reader filtered with an expression compiled for the file's own link type returns
 *     exactly the records that the same program accepts when matched by hand. */
#include <linux/filter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/lib/capture/capture_internal.h"
#include "sockit/decode.h"
#include "sockit/error.h"
#include "sockit/pcap.h"

#define MAX_INPUT   (1024 * 1024)
#define READER_EXPR "ip or ip6 or arp"

struct programs {
    struct sock_fprog ether, sll2, cooked;
};

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_pcap: %s\n", what);
    abort();
}

static struct sock_fprog compile(const char *expr, int linktype)
{
    struct sock_fprog prog;
    char err[256];

    if (sockit_bpf_compile(&prog, expr, linktype, 0, err, sizeof(err)) < 0)
        fail(err);
    return prog;
}

/* Compiled once: libpcap's compiler is slow next to reading a small file. */
static const struct programs *programs(void)
{
    static struct programs p;
    static bool ready;

    if (!ready) {
        p.ether = compile("tcp port 80 or (udp and len > 100) or (vlan and icmp) or "
                          "(ip6 and tcp[tcpflags] & tcp-syn != 0) or arp",
                          SOCKIT_LINK_ETHERNET);
        p.sll2 =
            compile("ifindex 2 and inbound and (udp port 53 or icmp6)", SOCKIT_LINK_LINUX_SLL2);
        p.cooked = compile("ifindex 2 and (udp port 53 or icmp6)", SOCKIT_LINK_LINUX_SLL2);
        if (sockit_bpf_fix_cooked(&p.cooked, SOCKIT_LINK_LINUX_SLL2) != 0)
            fail("the cooked program could not be fixed");
        ready = true;
    }
    return &p;
}

/* Decode REC as LINKTYPE and write it both ways, as `sockit capture -r` does. */
static void decode(const uint8_t *data, const struct sockit_pcap_record *rec, int linktype)
{
    struct sockit_pkt pkt;
    char text[1024], json[2048];

    if (sockit_pkt_decode(&pkt, linktype, data, rec->caplen, rec->wirelen) < 0)
        return; /* a link type the decoder does not know: capture -r refuses the file */
    sockit_pkt_summary(&pkt, text, sizeof(text));
    sockit_pkt_json(&pkt, json, sizeof(json));
}

/* Run the fixed programs, and MINE (if any), over REC, and decode it as LINKTYPE: whether
 * MINE accepts it. */
static bool filter(const struct sockit_pcap_record *rec, const struct sock_fprog *mine,
                   int linktype)
{
    const struct programs *p = programs();
    uint8_t *copy = malloc(rec->caplen ? rec->caplen : 1); /* exactly CAPLEN bytes */
    bool match = false;

    memcpy(copy, rec->data, rec->caplen);
    sockit_bpf_match(&p->ether, copy, rec->caplen, rec->wirelen);
    sockit_bpf_match(&p->sll2, copy, rec->caplen, rec->wirelen);
    if (sockit_bpf_match(&p->cooked, copy, rec->caplen, rec->wirelen))
        fail("a program with ancillary loads matched in user space");
    if (mine)
        match = sockit_bpf_match(mine, copy, rec->caplen, rec->wirelen);
    decode(copy, rec, linktype);
    free(copy);
    return match;
}

/* Read R to its end; returns the records MINE accepts (all of them without MINE). */
static int read_all(struct sockit_pcap_reader *r, const struct sock_fprog *mine)
{
    struct sockit_pcap_record rec;
    uint32_t snaplen = sockit_pcap_reader_snaplen(r);
    char err[256];
    int rc, matched = 0;

    while ((rc = sockit_pcap_read(r, &rec, err, sizeof(err))) == 1) {
        if (rec.caplen > SOCKIT_PCAP_MAX_RECORD)
            fail("a record over SOCKIT_PCAP_MAX_RECORD");
        if (rec.caplen > snaplen)
            fail("a record over the file's snap length");
        matched += filter(&rec, mine, sockit_pcap_reader_linktype(r)) || !mine;
    }
    if (rc != 0 && rc != -SOCKIT_ECAP_FILE && rc != -SOCKIT_ECAP_RECORD)
        fail("a read error outside the documented codes");
    if (sockit_pcap_read(r, &rec, NULL, 0) != rc)
        fail("the end or an error was not final");
    return matched;
}

static struct sockit_pcap_reader *open_memory(char *buf, size_t size)
{
    struct sockit_pcap_reader *r;
    FILE *fp = fmemopen(buf, size, "rb");
    int rc;

    if (!fp)
        fail("fmemopen");
    rc = sockit__pcap_reader_from_file(&r, fp, NULL, 0); /* R owns FP from here */
    if (rc != 0 && rc != -SOCKIT_ECAP_FILE)
        fail("an open error outside the documented codes");
    return rc == 0 ? r : NULL;
}

/* Every record, matched by hand with READER_EXPR compiled for the file's link type; then
 * the reader filtered by the same expression: the same count. */
static void compare_filtered(char *buf, size_t size)
{
    struct sockit_pcap_reader *r = open_memory(buf, size);
    struct sock_fprog mine;
    int by_hand;

    if (!r)
        return;
    if (sockit_bpf_compile(&mine, READER_EXPR, sockit_pcap_reader_linktype(r),
                           sockit_pcap_reader_snaplen(r), NULL, 0) < 0) {
        read_all(r, NULL); /* a link type libpcap cannot filter: read it all the same */
        sockit_pcap_reader_close(r);
        return;
    }
    by_hand = read_all(r, &mine);
    sockit_pcap_reader_close(r);
    sockit_bpf_free(&mine);
    r = open_memory(buf, size);
    if (sockit_pcap_reader_filter(r, READER_EXPR, NULL, 0) != 0)
        fail("the reader's filter failed where sockit_bpf_compile did not");
    if (read_all(r, NULL) != by_hand)
        fail("the filtered reader and the program by hand disagree");
    sockit_pcap_reader_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf;

    if (size == 0 || size > MAX_INPUT)
        return 0;
    buf = malloc(size);
    memcpy(buf, data, size);
    compare_filtered(buf, size);
    free(buf);
    return 0;
}

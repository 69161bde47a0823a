/* Filter programs: tcpdump's language compiled by libpcap on a dead handle into classic BPF
 * for SO_ATTACH_FILTER, matched in user space by libpcap's interpreter, and rewritten for a
 * cooked (SOCK_DGRAM) packet socket the way libpcap's pcap-linux.c does for itself. */
#include <errno.h>
#include <limits.h>
#include <linux/filter.h>
#include <pcap/pcap.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture_internal.h"
#include "sockit/decode.h"
#include "sockit/error.h"
#include "sockit/pcap.h"

/* libpcap's program and the kernel's are the same array under two names. */
_Static_assert(sizeof(struct bpf_insn) == sizeof(struct sock_filter), "bpf_insn is sock_filter");
_Static_assert(offsetof(struct bpf_insn, code) == offsetof(struct sock_filter, code) &&
                   offsetof(struct bpf_insn, jt) == offsetof(struct sock_filter, jt) &&
                   offsetof(struct bpf_insn, jf) == offsetof(struct sock_filter, jf) &&
                   offsetof(struct bpf_insn, k) == offsetof(struct sock_filter, k),
               "bpf_insn and sock_filter lay out their fields alike");

int sockit__linktype_to_dlt(int linktype)
{
    return linktype == SOCKIT_LINK_RAW ? DLT_RAW : linktype;
}

int sockit__dlt_to_linktype(int dlt)
{
    return dlt == DLT_RAW ? SOCKIT_LINK_RAW : dlt;
}

static int say(char *err, size_t errsize, const char *text)
{
    if (err && errsize)
        snprintf(err, errsize, "%s", text);
    return -SOCKIT_ECAP_FILTER;
}

static int accept_all(struct sock_fprog *prog, uint32_t snaplen)
{
    struct sock_filter ret = BPF_STMT(BPF_RET | BPF_K, snaplen);

    if (!(prog->filter = malloc(sizeof(ret))))
        return -ENOMEM;
    prog->filter[0] = ret;
    prog->len = 1;
    return 0;
}

/* Copy libpcap's program into a malloc'd one of the kernel's type. */
static int copy_program(struct sock_fprog *prog, const struct bpf_program *bp, char *err,
                        size_t errsize)
{
    if (bp->bf_len > USHRT_MAX) /* sock_fprog counts in an unsigned short */
        return say(err, errsize, "filter too complex: over 65535 instructions");
    if (!(prog->filter = malloc(bp->bf_len * sizeof(*prog->filter))))
        return -ENOMEM;
    memcpy(prog->filter, bp->bf_insns, bp->bf_len * sizeof(*prog->filter));
    prog->len = (unsigned short)bp->bf_len;
    return 0;
}

int sockit__bpf_compile_dlt(struct sock_fprog *prog, const char *expr, int dlt, uint32_t snaplen,
                            char *err, size_t errsize)
{
    struct bpf_program bp;
    pcap_t *dead;
    int rc;

    *prog = (struct sock_fprog){ 0 };
    if (snaplen == 0 || snaplen > SOCKIT_PCAP_MAX_RECORD)
        snaplen = SOCKIT_PCAP_MAX_RECORD; /* libpcap would return 0 for a snap length of 0 */
    if (!expr || !*expr)
        return accept_all(prog, snaplen);
    if (!(dead = pcap_open_dead(dlt, (int)snaplen)))
        return -ENOMEM;
    if (pcap_compile(dead, &bp, expr, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        rc = say(err, errsize, pcap_geterr(dead));
    } else {
        rc = copy_program(prog, &bp, err, errsize);
        pcap_freecode(&bp);
    }
    pcap_close(dead);
    return rc;
}

int sockit_bpf_compile(struct sock_fprog *prog, const char *expr, int linktype, uint32_t snaplen,
                       char *err, size_t errsize)
{
    return sockit__bpf_compile_dlt(prog, expr, sockit__linktype_to_dlt(linktype), snaplen, err,
                                   errsize);
}

bool sockit_bpf_match(const struct sock_fprog *prog, const uint8_t *data, uint32_t caplen,
                      uint32_t wirelen)
{
    return bpf_filter((const struct bpf_insn *)prog->filter, data, wirelen, caplen) != 0;
}

void sockit_bpf_free(struct sock_fprog *prog)
{
    if (!prog)
        return;
    free(prog->filter);
    *prog = (struct sock_fprog){ 0 };
}

/* ---- cooked sockets ---------------------------------------------------------------------- */

/* The cooked header's fields the kernel offers a SOCK_DGRAM socket's filter as ancillary
 * data, by the offset a program for the cooked link type loads them from. */
static const struct {
    int linktype;
    uint32_t offset, ancillary;
} cooked_fields[] = {
    { SOCKIT_LINK_LINUX_SLL, 0, SKF_AD_PKTTYPE },   /* sll_pkttype */
    { SOCKIT_LINK_LINUX_SLL, 14, SKF_AD_PROTOCOL }, /* sll_protocol */
    { SOCKIT_LINK_LINUX_SLL2, 0, SKF_AD_PROTOCOL }, /* sll2_protocol */
    { SOCKIT_LINK_LINUX_SLL2, 4, SKF_AD_IFINDEX },  /* sll2_if_index */
    { SOCKIT_LINK_LINUX_SLL2, 10, SKF_AD_PKTTYPE }, /* sll2_pkttype */
};

/* Where the load at K of a cooked frame is in the socket's packet, which starts at the
 * network header: past the header, K less its length; a header field the kernel knows, its
 * ancillary offset; ancillary data already, K. False for the rest of the header. */
static bool cooked_offset(uint32_t k, int linktype, uint32_t *out)
{
    uint32_t hdrlen = linktype == SOCKIT_LINK_LINUX_SLL2 ? 20 : 16;

    if (k >= (uint32_t)SKF_AD_OFF || k >= hdrlen) {
        *out = k >= (uint32_t)SKF_AD_OFF ? k : k - hdrlen;
        return true;
    }
    for (size_t i = 0; i < sizeof(cooked_fields) / sizeof(cooked_fields[0]); i++) {
        if (cooked_fields[i].linktype == linktype && cooked_fields[i].offset == k) {
            *out = (uint32_t)SKF_AD_OFF + cooked_fields[i].ancillary;
            return true;
        }
    }
    return false;
}

/* Rewrite one instruction into *OUT; false if the kernel cannot run it on a cooked socket. */
static bool cooked_insn(const struct sock_filter *in, int linktype, struct sock_filter *out)
{
    *out = *in;
    if (BPF_CLASS(in->code) != BPF_LD && BPF_CLASS(in->code) != BPF_LDX)
        return true;
    switch (BPF_MODE(in->code)) {
    case BPF_ABS:
    case BPF_IND:
    case BPF_MSH: return cooked_offset(in->k, linktype, &out->k);
    case BPF_LEN:
        return false; /* the kernel's length lacks the cooked header: "len > N" would be off */
    }
    return true;
}

int sockit_bpf_fix_cooked(struct sock_fprog *prog, int linktype)
{
    struct sock_filter scratch;

    if (linktype != SOCKIT_LINK_LINUX_SLL && linktype != SOCKIT_LINK_LINUX_SLL2)
        return -SOCKIT_ECAP_LINKTYPE;
    for (unsigned i = 0; i < prog->len; i++) /* all or nothing: PROG stays usable in user space */
        if (!cooked_insn(&prog->filter[i], linktype, &scratch))
            return -SOCKIT_ECAP_FILTER;
    for (unsigned i = 0; i < prog->len; i++)
        cooked_insn(&prog->filter[i], linktype, &prog->filter[i]);
    return 0;
}
